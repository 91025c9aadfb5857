"""The microcircuit through neurocompile.pynn: build, compile and simulation cost, and rates.

    .venv/bin/python bench/microcircuit.py --scale 0.1 --boards spinn-5 loihi2-kapoho-point
    .venv/bin/python bench/microcircuit.py --scale 0.1 --modes float spinnaker  # SpiNNaker board: float and its arithmetic
    .venv/bin/python bench/microcircuit.py --scale 1 --phase simulate --modes float spinnaker --t-sim 1000
    .venv/bin/python bench/microcircuit.py --scale 1 --phase compile --boards spinnaker-24board

`--phase simulate` runs the simulator on the network as built (no compile: the float mode, and
the spinnaker mode with sPyNNaker's own host rule for the ring-buffer shifts, which is what the
compile's quantizer applies too); `--phase compile` only compiles. Each phase in its own process
gives each its own peak memory.

Per board (or mode): seconds to build the PyNN network (connectors, weights, delays), to compile
(all passes), simulated-second wall time, peak RSS of the process, and each population's rate
next to NEST's full-scale means. NEST 3.10 via pyNN.nest measured 86 s (1 thread) / 45 s (2 threads)
per simulated second at scale 0.1 on this 2-core machine (issue 14); run the same script with
`python models/microcircuit/microcircuit.py simulator=nest scale=0.1` where NEST is installed.
"""
from __future__ import annotations

import argparse
import resource
import time

from neurocompile.boards import load_board
from neurocompile.compiler import compile_network
from neurocompile.errors import NeurocompileError
from neurocompile.models.microcircuit import REFERENCE_RATES
from neurocompile.plugins import get_backend, get_model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=0.1)
    ap.add_argument("--t-sim", type=float, default=1000.0, help="simulated ms")
    ap.add_argument("--boards", nargs="+", default=["spinn-5"])
    ap.add_argument("--modes", nargs="+", default=[None], help="sim modes (default: the board's)")
    ap.add_argument("--background", default="dc", choices=("dc", "poisson"))
    ap.add_argument("--phase", default="all", choices=("all", "simulate", "compile"))
    ap.add_argument("--build-scales", nargs="+", type=float, default=None,
                    help="only build the network at these scales (k_scale = scale) and print the cost "
                         "per synapse: the connectors must stay linear in the synapses made")
    args = ap.parse_args()
    if args.build_scales:
        return build_sweep(args.build_scales, args.background)
    t0 = time.perf_counter()
    net = get_model("microcircuit").build(scale=args.scale, t_sim=args.t_sim, background=args.background)
    t_build = time.perf_counter() - t0
    print(f"scale {args.scale}: {net.n_neurons:,} neurons, {net.n_synapses:,} synapses, "
          f"built in {t_build:.1f} s")
    print("board/mode | compile s | wall s per simulated s | " + " ".join(REFERENCE_RATES) + " (Hz)")
    print("NEST full-scale means | | | " + " ".join(f"{r:.2f}" for r in REFERENCE_RATES.values()))
    if args.phase == "simulate":
        return simulate_only(net, args)
    if args.phase == "compile":
        for board in args.boards:
            t0 = time.perf_counter()
            try:
                compiled = compile_network(net, load_board(board), seed=net.seed)
            except NeurocompileError as e:   # e.g. does not fit: the error the CLI prints
                print(f"{board} | refused after {time.perf_counter() - t0:.1f} s | {e}", flush=True)
                continue
            passes = compiled.report.get("passes", [])
            print(f"{board} | compiled in {time.perf_counter() - t0:.1f} s | chips {compiled.placements.chips_used} | "
                  + ", ".join(f"{p['pass']} {p['seconds']:.1f}" for p in passes), flush=True)
        print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
        return
    for board in args.boards:
        for mode in args.modes:
            t0 = time.perf_counter()
            compiled = compile_network(net, load_board(board), seed=net.seed)
            t_compile = time.perf_counter() - t0
            steps = int(round(args.t_sim / net.dt_ms))
            result = get_backend("sim").build(compiled, {"mode": mode} if mode else {}).run(steps)
            counts = result.spike_counts()
            rates = [counts[p] / net.populations[p].size / (args.t_sim / 1000.0) for p in REFERENCE_RATES]
            per_s = result.wall_s / (args.t_sim / 1000.0)
            print(f"{board}/{result.mode} | {t_compile:.1f} | {per_s:.1f} | " + " ".join(f"{r:.2f}" for r in rates))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:.0f} MB")


TRANSIENT_MS = 200.0   # start-up transient left out of the steady-state rates


def simulate_only(net, args) -> None:
    """Simulator cost without compiling: construction, wall time per simulated second, rates."""
    from neurocompile.backends.sim import MODES, Simulation

    steps = int(round(args.t_sim / net.dt_ms))
    for mode in [m or "float" for m in args.modes]:
        t0 = time.perf_counter()
        sim = Simulation(net, MODES[mode](), net.seed)
        t_build = time.perf_counter() - t0
        result = sim.run(steps)
        counts = result.spike_counts()
        rates = [counts[p] / net.populations[p].size / (args.t_sim / 1000.0) for p in REFERENCE_RATES]
        per_s = result.wall_s / (args.t_sim / 1000.0)
        print(f"sim/{mode} | set-up {t_build:.1f} s | {per_s:.2f} s per simulated s | "
              f"{result.synaptic_events / (args.t_sim / 1000.0):.3g} events per simulated s | "
              + " ".join(f"{r:.2f}" for r in rates), flush=True)
        if args.t_sim > 2 * TRANSIENT_MS:   # the paper's rates are of the steady state
            first = int(round(TRANSIENT_MS / net.dt_ms))
            late = [int((result.spikes[p][0] >= first).sum()) / net.populations[p].size
                    / ((args.t_sim - TRANSIENT_MS) / 1000.0) for p in REFERENCE_RATES]
            print(f"sim/{mode} after the first {TRANSIENT_MS:g} ms | | | | "
                  + " ".join(f"{r:.2f}" for r in late), flush=True)
        del sim, result
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


def build_sweep(scales: list[float], background: str) -> None:
    """Build time and memory per synapse as the network grows (synapses grow as scale**2)."""
    import subprocess
    import sys

    print("scale | neurons | synapses | build s | ns per synapse | peak RSS MB (own process)")
    for scale in scales:
        code = ("import resource, time; from neurocompile.plugins import get_model; t = time.perf_counter(); "
                f"net = get_model('microcircuit').build(scale={scale!r}, background={background!r}); "
                "dt = time.perf_counter() - t; "
                "print(net.n_neurons, net.n_synapses, dt, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
        n, syn, secs, rss = int(out[-4]), int(out[-3]), float(out[-2]), float(out[-1])
        print(f"{scale} | {n:,} | {syn:,} | {secs:.1f} | {secs / syn * 1e9:.0f} | {rss:.0f}")


if __name__ == "__main__":
    main()
