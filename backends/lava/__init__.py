"""`lava`: run a network compiled for a Loihi 2 board in Lava 0.10 (`Loihi2SimCfg(select_tag="fixed_pt")`).

Modules, one job each: lowering.py (IR -> process specs, numpy arrays), sources.py (the spikes
of the IR's sources, precomputed), processes.py (specs -> Lava processes), runtime.py (run with
probes, a timeout and cleanup), export.py (a stand-alone `lava/` project). processes.py and
runtime.py import nothing from neurocompile: export.py copies them into `run_lava.py`.

Only Lava's CPU models are used. Intel's lava-loihi extension (Loihi2HwCfg on a real chip) is
not installed here; this backend never claims a hardware run.
"""
from __future__ import annotations

import time
from typing import Any, Callable, Sequence

import numpy as np

from neurocompile.backends.sim.engine import SimResult
from neurocompile.errors import NeurocompileError
from neurocompile.ir.network import Network
from neurocompile.plugins import Backend, Runner, Supports

INSTALL_HINT = ("install lava-nc 0.10 with `pip install 'neurocompile[loihi]'` (or `pip install "
                "lava-nc==0.10.0`); lava-nc 0.10 needs Python 3.10 (>=3.10,<3.11), numpy<2 and "
                "networkx<=2.8.7")
DEFAULT_TIMEOUT_S = 600.0


class LavaError(NeurocompileError):
    """Lava failed, hung past the timeout, or is missing."""


def import_lava() -> None:
    """Import Lava once (after un-fixing a 'fork' start method: targets/loihi2/lava_env.py)."""
    from neurocompile.targets.loihi2.lava_env import prepare_lava_import

    prepare_lava_import()
    try:
        import lava.magma.core.run_configs  # noqa: F401
        import lava.proc.lif.process  # noqa: F401
    except Exception as e:  # ImportError, or lava's dataclass error on Python 3.11+
        raise LavaError(f"Lava is not importable ({type(e).__name__}: {e}); {INSTALL_HINT}") from None


def run_lowered(low: Any, seeds: Sequence[int], steps: int, *, timeout: float | None = DEFAULT_TIMEOUT_S,
                progress: Callable[[int, int], None] | None = None, chunk: int | None = None,
                hardware: bool = False) -> tuple[list[SimResult], dict[str, float]]:
    """Run lowered networks for `steps`; one SimResult per network, and the session timings."""
    from neurocompile.backends.lava.lowering import with_sources
    from neurocompile.backends.lava.processes import build
    from neurocompile.backends.lava.runtime import LavaRunError, run_built

    if steps < 1:
        raise LavaError(f"steps must be >= 1, got {steps}")
    import_lava()
    arrays = with_sources(low, seeds, steps)
    t0 = time.perf_counter()
    built = build(arrays, steps)
    build_s = time.perf_counter() - t0
    try:
        out = run_built(built, steps, timeout=timeout, progress=progress, chunk=chunk, hardware=hardware)
    except LavaRunError as e:
        raise LavaError(str(e)) from e
    src_slots = {f"src{j}": r for j, r in enumerate(built.source_rasters)}
    results = []
    for i, net in enumerate(low.nets):
        spikes, final, traces = {}, {}, {}
        for name, pop in net.populations.items():
            slot, off = low.loc[(i, name)]
            if slot.startswith("lif"):
                k = int(slot[3:])
                r = out["spikes"][k][:, off:off + pop.size]
                final[name] = {"u": out["u"][k][off:off + pop.size].copy(),
                               "v": out["v"][k][off:off + pop.size].copy()}
                rec = {v: out["traces"][(k, v)][:, off:off + pop.size].copy()
                       for v in pop.record if (k, v) in out["traces"]}
                if rec:
                    traces[name] = rec
            else:
                r = src_slots[slot][:, off:off + pop.size]
            st, ids = np.nonzero(r)
            spikes[name] = (st.astype(np.int32), ids.astype(np.int32))
        weights = {}
        for (j, pname), k in getattr(low, "plastic", {}).items():
            if j == i and k in out.get("weights", {}):
                proj = net.projections[pname]
                (_, pre_off), (_, post_off) = low.loc[(i, proj.pre)], low.loc[(i, proj.post)]
                weights[pname] = out["weights"][k][np.asarray(proj.post_idx) + post_off,
                                                   np.asarray(proj.pre_idx) + pre_off]
        results.append(SimResult(steps, int(seeds[i]), "lava-loihi2-hw" if hardware else "lava-fixed_pt",
                                 net.dt_ms, spikes, traces, final,
                                 0, out["wall_s"], weights))
    timings = {"build_s": build_s, "startup_s": out["startup_s"], "run_s": out["run_s"],
               "read_s": out["read_s"], "wall_s": out["wall_s"]}
    return results, timings


def run_networks(nets: Network | Sequence[Network], steps: int, *, seeds: Sequence[int] | None = None,
                 pack: bool = False, kind: Any = None, timeout: float | None = DEFAULT_TIMEOUT_S,
                 ) -> SimResult | list[SimResult]:
    """Run one network (-> SimResult) or several in one Lava session (-> list, see lowering: pack)."""
    from neurocompile.backends.lava.lowering import lower

    single = isinstance(nets, Network)
    batch = [nets] if single else list(nets)
    seeds = [n.seed for n in batch] if seeds is None else list(seeds)
    results, _ = run_lowered(lower(batch, pack=pack, kind=kind), seeds, steps, timeout=timeout)
    return results[0] if single else results


class LavaRunner(Runner):
    """Each run() builds a fresh Lava session and runs from step 0."""

    def __init__(self, lowered: Any, seed: int, options: dict[str, Any]) -> None:
        self.lowered, self.seed, self.options = lowered, seed, options
        self.timings: dict[str, float] = {}

    def run(self, steps: int, progress: Callable[[int, int], None] | None = None) -> SimResult:
        timeout = self.options.get("timeout", DEFAULT_TIMEOUT_S)
        chunk = max(1, steps // 20) if progress is not None else None
        results, self.timings = run_lowered(self.lowered, [self.seed], steps, timeout=timeout,
                                            progress=progress, chunk=chunk,
                                            hardware=bool(self.options.get("hardware", False)))
        return results[0]


class LavaBackend(Backend):
    name = "lava"
    description = "Lava 0.10 CPU models, Loihi2SimCfg(select_tag='fixed_pt') (bit-accurate Loihi 2)"
    supports = Supports(families=("loihi2",), number_formats=("loihi2",), plasticity=True,
                        recording=("spikes", "u", "v"), export=True)

    def available(self) -> tuple[bool, str]:
        try:
            import_lava()
        except LavaError as e:
            return False, str(e)
        return True, ""

    def build(self, compiled: Any, options: dict[str, Any]) -> LavaRunner:
        """Options: seed, timeout (seconds, None: none; default 600), pack (one LIF process)."""
        from neurocompile.backends.lava.lowering import lower

        import warnings

        from neurocompile.backends.lava.learning import bounds_note

        seed = int(options.get("seed", compiled.seed))
        low = lower([compiled.network], pack=bool(options.get("pack", False)))
        for proj in compiled.network.projections.values():
            note = bounds_note(proj) if proj.plasticity is not None else None
            if note:   # the one approximation a user must know about before reading weights
                warnings.warn(note, stacklevel=2)
        return LavaRunner(low, seed, options)

    def export(self, compiled: Any, out_dir: Any) -> list:
        from neurocompile.backends.lava.export import export

        return export(compiled, out_dir)


__all__ = ["LavaBackend", "LavaError", "LavaRunner", "run_networks", "run_lowered", "INSTALL_HINT"]
