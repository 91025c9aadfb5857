"""How far CA3 on the lava backend (pair STDP through LearningDense) is from our loihi2 mode.

    .venv/bin/python bench/lava_plasticity.py                        # functional, grid_map, stress (~3 min)
    .venv/bin/python bench/lava_plasticity.py --protocols functional --bap-shift 1

Per published protocol (models/ca3/protocol.py): operations decoded correctly on each backend,
then per population our spikes, Lava's, how many are shared, missed and added, then the learnt
weights of both plastic projections (ours: `weights(include_pending=True)`, since Lava applies
potentiation at once). --bap-shift N is an experiment, not the lowering: it delays the post
spikes into the rule N steps more than the IR's dendritic delay (docs/plasticity.md 4.1).
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from neurocompile.backends.lava import run_lowered
from neurocompile.backends.lava.lowering import lower
from neurocompile.backends.sim import MODES, Simulation
from neurocompile.models.ca3 import protocol as P


def measure(name: str, bap_shift: int = 0) -> None:
    sched = P.PUBLISHED[name]()
    ours = P.run(sched, "loihi2")
    net = ours.network
    low = lower([net])
    for k in low.plastic.values():
        low.arrays[f"conn{k}_bap_delay"] = low.arrays[f"conn{k}_bap_delay"] + bap_shift
    t0 = time.perf_counter()
    (res,), _ = run_lowered(low, [net.seed], sched.steps, timeout=None)
    wall = time.perf_counter() - t0
    st, ids = res.spikes["output"]
    dec = P.decode(sched.operations, st, ids, sched.n_cues, sched.steps)
    ok = [d.result == e for d, e in zip(dec, ours.expected)]
    print(f"\n{name} ({len(ok)} operations, {sched.steps} steps, bap shift {bap_shift}, Lava {wall:.0f} s): "
          f"correct ours {ours.n_correct}/{len(ok)}, Lava {sum(ok)}/{len(ok)}; Lava wrong: "
          f"{[i for i, c in enumerate(ok) if not c]}")
    print(f"  {'population':<12} {'ours':>5} {'lava':>5} {'shared':>6} {'missed':>6} {'added':>6}")
    tot = np.zeros(5, int)
    for pop, r in ours.rasters.items():
        lr = res.raster(pop, r.shape[1])
        row = np.array([r.sum(), lr.sum(), (r & lr).sum(), (r & ~lr).sum(), (lr & ~r).sum()])
        tot += row
        print(f"  {pop:<12} " + " ".join(f"{v:>{w}}" for v, w in zip(row, (5, 5, 6, 6, 6))))
    print(f"  {'all':<12} " + " ".join(f"{v:>{w}}" for v, w in zip(tot, (5, 5, 6, 6, 6)))
          + f"   shared {tot[2] / tot[0]:.3f} of ours")
    sim = Simulation(net, MODES["loihi2"](), net.seed)
    sim.run(sched.steps)
    for pname, w in res.weights.items():
        mine = sim.plastic[pname].weights(include_pending=True)
        w_max = net.projections[pname].plasticity.w_max
        learnt_same = np.mean((w > w_max / 2) == (mine > w_max / 2))
        print(f"  {pname}: w_max {w_max:g}; |lava - ours| mean {np.abs(w - mine).mean():.1f}, max "
              f"{np.abs(w - mine).max()}; Lava max {w.max()}; same learnt/not-learnt state "
              f"{learnt_same:.3f} of {w.size} synapses")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--protocols", default="functional,grid_map,stress")
    ap.add_argument("--bap-shift", type=int, default=0)
    args = ap.parse_args(argv)
    for name in args.protocols.split(","):
        measure(name, args.bap_shift)
    return 0


if __name__ == "__main__":
    sys.exit(main())
