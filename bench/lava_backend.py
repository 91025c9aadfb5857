"""The lava backend per bundled model: lowering, Lava start-up and speed against our simulator.

    .venv/bin/python bench/lava_backend.py                 # every model at CI scale, ~3 min
    .venv/bin/python bench/lava_backend.py --crossover     # Dense vs Sparse by density

Per model (compiled for a Loihi 2 board; steps 0 = the model's own protocol length): lowering time (IR -> process specs), Lava start-up (compile +
spawn one OS process per Lava process), Lava steps/s (run only), our simulator's steps/s
(loihi2 mode, Simulation.run after build), the ratio, and peak memory: ours as tracemalloc's
peak over build + run, Lava's as the peak of the summed PSS (proportional set size: pages shared
after fork counted once) of its child processes, sampled every 0.1 s, plus the parent's traced
peak. The two rasters and final u, v must be identical
or the bench exits non-zero -- except for plastic networks (CA3: pair STDP through Lava's
LearningDense, approximate by design, docs/plasticity.md 4.1), for which the last column says how
many of our spikes Lava shares and how many it adds.

--crossover: one 400-input -> 400-LIF projection (2% input rate) at several densities, run as
Dense and as Sparse (delays 1) and as DelayDense / DelaySparse (delays 1..8); prints steps/s.
"""
from __future__ import annotations

import argparse
import os
import sys
import threading
import time
import tracemalloc
import warnings

import numpy as np

from neurocompile.backends.lava import run_lowered
from neurocompile.backends.lava.lowering import lower
from neurocompile.backends.sim import Simulation
from neurocompile.backends.sim.loihi2_mode import Loihi2Mode
from neurocompile.boards import load_board
from neurocompile.compiler import compile_network
from neurocompile.ir.network import Network
from neurocompile.plugins import get_model

MODELS = {  # model: (board, options, steps)
    "synfire": ("loihi2-oheo-gulch", {}, 300),
    "place_recognition": ("loihi2-kapoho-point", {"n_places": 4, "places_per_module": 2, "epochs": 1}, 40),
    "motion": ("loihi2-kapoho-point", {"n_movies": 2, "size": 16}, 60),
    "ca3": ("loihi2-kapoho-point", {}, 0),
}


def _descendants_pss(pid: int) -> int:
    kids, total = {pid}, 0
    procs = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                procs.append((int(d), int(fields[1]), int(fields[21])))
            except (OSError, IndexError):
                pass
    changed = True
    while changed:
        changed = False
        for p, pp, _ in procs:
            if pp in kids and p not in kids:
                kids.add(p)
                changed = True
    for p, _, _ in procs:   # PSS: pages shared after fork are divided among their sharers
        if p in kids and p != pid:
            try:
                with open(f"/proc/{p}/smaps_rollup") as f:
                    for line in f:
                        if line.startswith("Pss:"):
                            total += int(line.split()[1]) * 1024
                            break
            except OSError:
                pass
    return total


class RssSampler:
    def __enter__(self):
        self.peak, self._stop = 0, threading.Event()

        def loop():
            while not self._stop.is_set():
                self.peak = max(self.peak, _descendants_pss(os.getpid()))
                self._stop.wait(0.1)

        self._t = threading.Thread(target=loop, daemon=True)
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()


def compare(net: Network, ours, lava) -> None:
    for name, pop in net.populations.items():
        if not np.array_equal(ours.raster(name, pop.size), lava.raster(name, pop.size)):
            raise SystemExit(f"MISMATCH {net.name}: spikes of {name!r}")
        for var in ("u", "v") if name in ours.final_state else ():
            if not np.array_equal(ours.final_state[name][var], lava.final_state[name][var]):
                raise SystemExit(f"MISMATCH {net.name}: final {var} of {name!r}")


def agreement(net: Network, ours, lava) -> str:
    """Plastic networks: our spikes Lava shares, and the spikes it adds, over all LIF populations."""
    same = total = extra = 0
    for name, pop in net.populations.items():
        if name in ours.final_state:
            a, b = ours.raster(name, pop.size), lava.raster(name, pop.size)
            same, total, extra = same + int((a & b).sum()), total + int(a.sum()), extra + int((b & ~a).sum())
    return f"plastic: {same}/{total} shared, +{extra}"


def bench_model(name: str) -> dict | None:
    board, opts, steps = MODELS[name]
    net = get_model(name).build(**opts)
    steps = steps or int(net.metadata["ca3_steps"])
    compiled = compile_network(net, load_board(board), seed=net.seed)
    q = compiled.network
    plastic = any(p.plasticity is not None for p in q.projections.values())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Simulation(q, Loihi2Mode(), compiled.seed).run(2)  # numba compiled outside the timing
        tracemalloc.start()
        t0 = time.perf_counter()
        sim = Simulation(q, Loihi2Mode(), compiled.seed)
        ours = sim.run(steps)
        ours_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    ours_sps = steps / ours.wall_s
    tracemalloc.start()
    t0 = time.perf_counter()
    low = lower([q])
    lower_s = time.perf_counter() - t0
    with RssSampler() as rss:
        results, tm = run_lowered(low, [compiled.seed], steps, timeout=None)
    parent_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    verdict = agreement(q, ours, results[0]) if plastic else "identical"
    if not plastic:
        compare(q, ours, results[0])
    lava_sps = steps / tm["run_s"]
    row = dict(model=name, neurons=q.n_neurons, synapses=q.n_synapses, steps=steps, lower_s=lower_s,
               sources_build_s=tm["build_s"], startup_s=tm["startup_s"], lava_sps=lava_sps,
               ours_sps=ours_sps, ratio=ours_sps / lava_sps, ours_mb=ours_peak / 2**20,
               lava_mb=(rss.peak + parent_peak) / 2**20, processes=low.n_processes)
    print(f"{name:<18} {row['neurons']:>7,} {row['synapses']:>9,} {steps:>5} {lower_s:8.2f} "
          f"{tm['build_s']:8.2f} {tm['startup_s']:8.2f} {lava_sps:9.1f} {ours_sps:10,.0f} "
          f"{row['ratio']:7,.0f}x {row['ours_mb']:8.1f} {row['lava_mb']:8.0f} {low.n_processes:5}  {verdict}")
    return row


def crossover(n: int = 400, steps: int = 100) -> None:
    rng = np.random.default_rng(0)
    print(f"Dense vs Sparse, {n} inputs (2% per step) -> {n} LIF, {steps} steps, steps/s (run only):")
    print("density   Dense  Sparse  DelayDense  DelaySparse")
    for density in (0.005, 0.01, 0.02, 0.05, 0.1, 0.3):
        row = []
        for delayed in (False, True):
            for kind in ("dense", "sparse"):
                net = Network(name="x", seed=1)
                fire = rng.random((steps, n)) < 0.02
                net.add_spike_source("in", [np.flatnonzero(fire[:, i]) for i in range(n)])
                net.add_population("lif", n, "loihi2_lif", {"du": 400, "dv": 400, "vth": 200})
                pre, post = np.nonzero(rng.random((n, n)) < density)
                d = rng.integers(1, 9, pre.size) if delayed else 1
                net.add_projection("in", "lif", pre, post, rng.integers(0, 128, pre.size) * 2, d)
                low = lower([net], kind=lambda _n, _p, k=kind: k)
                _, tm = run_lowered(low, [1], steps, timeout=None)
                row.append(steps / tm["run_s"])
        print(f"{density:7.3f} {row[0]:7.0f} {row[1]:7.0f} {row[2]:11.0f} {row[3]:12.0f}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--crossover", action="store_true")
    args = ap.parse_args(argv)
    print(f"cpus {os.cpu_count()}, load average at start {os.getloadavg()[0]:.1f}")
    if args.crossover:
        crossover()
        return 0
    print("model              neurons  synapses steps  lower_s  srcs_s  startup_s  lava st/s  "
          "ours st/s   ratio  ours MB  lava MB procs")
    for name in args.models.split(","):
        bench_model(name)
    print(f"load average at end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
