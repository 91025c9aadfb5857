"""Speed of the sim backend's `loihi1` mode against nengo-loihi 1.1's EmulatorInterface.

    .venv/bin/python bench/loihi1_emulator.py                       # defaults, a few minutes on 2 cores
    .venv/bin/python bench/loihi1_emulator.py --steps 500 --emu-steps 50 --nets ff-1000

The networks of bench/sim_vs_lava.py (same generator: N spike-array inputs at 2% per step, 10%
density, ff-N feed-forward, rec-N with a 10% recurrent projection), expressed in Loihi 1's
format: loihi1_lif neurons (no refractory period), weights clipped to the mixed 8-bit range
(-254..254), weight_exp -1 (lossless per synapse; Lava's -2..-4 act on sums) and the threshold
doubled to keep the firing rates near the Loihi 2 ones. nengo-loihi runs through our nengo_loihi
backend (lowering timed apart); both outputs over the emulator's steps must be identical (spike
rasters and final u, v) or the bench fails.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sim_vs_lava import make_net  # noqa: E402  (the very networks of that bench)

from neurocompile.backends.sim import Simulation  # noqa: E402
from neurocompile.backends.sim.loihi1_mode import Loihi1Mode  # noqa: E402
from neurocompile.ir.clone import clone_population, clone_projection  # noqa: E402
from neurocompile.ir.network import Network  # noqa: E402


def to_loihi1(net: Network) -> Network:
    """The sim_vs_lava network in Loihi 1's format (see the module docstring)."""
    out = Network(name=net.name, seed=net.seed, dt_ms=net.dt_ms)
    for name, pop in net.populations.items():
        if pop.model == "loihi2_lif":
            p = {k: v for k, v in pop.params.items()}
            p["vth"] = 2 * int(np.max(p["vth"]))
            p["refract_delay"] = 0
            out.populations[name] = clone_population(pop, model="loihi1_lif", params=p)
        else:
            out.populations[name] = pop
    for name, proj in net.projections.items():
        w = np.clip(proj.weight, -254, 254)
        out.projections[name] = clone_projection(proj, weight=w, attrs={"weight_exp": -1, "num_weight_bits": 8})
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=1000, help="steps timed in our simulator")
    ap.add_argument("--emu-steps", type=int, default=None,
                    help="steps run in the emulator and compared (default: 100 at 1k, 20 above)")
    ap.add_argument("--nets", default="ff-1000,ff-10000,rec-5000")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)

    from neurocompile.backends.nengo_loihi import import_nengo_loihi
    from neurocompile.backends.nengo_loihi.lowering import lower
    from neurocompile.backends.nengo_loihi.run import run_lowered

    import_nengo_loihi()
    print(f"cpus {os.cpu_count()}, load average at start {os.getloadavg()[0]:.1f}")
    rows = []
    for spec in args.nets.split(","):
        kind, n = spec.split("-")
        n = int(n)
        emu_steps = args.emu_steps or (100 if n <= 1000 else 20)
        net = to_loihi1(make_net(kind, n, max(args.steps, emu_steps)))
        Simulation(net, Loihi1Mode()).run(2)             # numba kernels compiled outside the timing
        runs = [Simulation(net, Loihi1Mode()).run(args.steps) for _ in range(args.repeats)]
        best = min(r.wall_s for r in runs)
        ours_sps = args.steps / best
        rate = runs[0].spike_counts()["lif"] / (args.steps * n)
        t0 = time.perf_counter()
        low = lower(net)
        lower_s = time.perf_counter() - t0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            emu = run_lowered(low, net.seed, emu_steps)
        emu_sps = emu_steps / emu.wall_s
        ours = Simulation(net, Loihi1Mode()).run(emu_steps)
        same = np.array_equal(ours.raster("lif", n), emu.raster("lif", n)) and all(
            np.array_equal(ours.final_state["lif"][v], emu.final_state["lif"][v]) for v in ("u", "v"))
        if not same:
            raise SystemExit(f"MISMATCH {spec}: our loihi1 mode and nengo-loihi's emulator differ")
        rows.append((spec, net.n_synapses, rate, ours_sps, emu_sps, lower_s, emu_steps))
        print(f"{spec}: ours {ours_sps:,.0f} steps/s, emulator {emu_sps:,.1f} steps/s "
              f"(lowering {lower_s:.1f} s), identical over {emu_steps} steps")
    print("\n| network | synapses | LIF firing/step | ours (steps/s) | nengo-loihi emulator (steps/s) | ratio | "
          "emulator lowering (s) | identical |")
    print("|---|---|---|---|---|---|---|---|")
    for spec, syn, rate, o, e, low_s, k in rows:
        print(f"| {spec} | {syn:,} | {rate:.1%} | {o:,.0f} | {e:,.1f} | {o / e:,.0f}x | {low_s:.1f} | "
              f"yes ({k} steps) |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
