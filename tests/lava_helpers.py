"""Test adapter over the lava backend (backends/lava): rasters and final u, v as plain arrays.

Not a second lowering: it calls `neurocompile.backends.lava.lowering.lower` and `run_lowered`, the
code `neurocompile simulate --backend lava` runs. The backend itself is pinned by hand-built Lava
networks in tests/test_lava_backend.py.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from neurocompile.backends.lava import run_lowered
from neurocompile.backends.lava.lowering import lower
from neurocompile.ir.network import Network, Projection

SparseChoice = bool | Callable[[Network, Projection], bool]


@dataclass
class LavaRun:
    steps: int
    spikes: dict[str, np.ndarray]          # (steps, n) bool per population
    u: dict[str, np.ndarray]
    v: dict[str, np.ndarray]
    kinds: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    n_processes: int = 0


def run_lava(nets: Network | Sequence[Network], steps: int, *, pack: bool = True,
             sparse: SparseChoice = False, seeds: Sequence[int] | None = None) -> LavaRun | list[LavaRun]:
    """Run one network (-> LavaRun) or a batch in one Lava session (-> list); `sparse` forces
    Sparse/DelaySparse (True, or per projection) instead of Dense/DelayDense."""
    single = isinstance(nets, Network)
    batch = [nets] if single else list(nets)

    def kind(net, proj):
        return "sparse" if (sparse(net, proj) if callable(sparse) else sparse) else "dense"

    low = lower(batch, pack=pack, kind=kind)
    results, timings = run_lowered(low, [n.seed for n in batch] if seeds is None else seeds, steps)
    out = []
    for i, (net, r) in enumerate(zip(batch, results)):
        out.append(LavaRun(steps, {p: r.raster(p, pop.size) for p, pop in net.populations.items()},
                           {p: s["u"] for p, s in r.final_state.items()},
                           {p: s["v"] for p, s in r.final_state.items()}, low.kinds[i], timings,
                           low.n_processes))
    return out[0] if single else out
