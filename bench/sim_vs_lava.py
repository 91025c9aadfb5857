"""Speed of the sim backend's `loihi2` mode against Lava 0.10 fixed_pt on the same networks.

    .venv/bin/python bench/sim_vs_lava.py                  # defaults, < 10 min on 2 cores
    .venv/bin/python bench/sim_vs_lava.py --steps 2000 --lava-steps 100 --no-brian2

Networks (weights are already-legal int8, mixed sign, weight_exp -2; 10% density):
  ff-1000, ff-10000 : N spike-array inputs (2% firing per step) -> N loihi2_lif (~6% firing)
  rec-5000          : 5,000 inputs -> 5,000 loihi2_lif with a 10% recurrent projection (~35%)
Lava runs (through the lava backend, backends/lava) each projection as `Sparse` and as `Dense`
(--lava-conn); Dense is the faster there.
For each: our steps/s (Simulation.run wall time, numba already compiled), Lava steady-state
steps/s (compilation and process start-up are timed apart by the backend and reported
separately), the ratio, synaptic events per second of our run, peak traced memory of our build +
run (tracemalloc) and the process's max RSS. The outputs of both over the Lava steps are
compared: identical spike rasters at every step and identical final u and v, or the bench fails.
Brian2 (float LIF, same connectivity, runtime=numpy or cython) is printed for context only.
"""
from __future__ import annotations

import argparse
import gc
import os
import resource
import sys
import time
import tracemalloc
import warnings

import numpy as np

from neurocompile.backends.sim import Simulation
from neurocompile.backends.sim.loihi2_mode import Loihi2Mode
from neurocompile.ir.network import Network

DENSITY, INPUT_RATE = 0.10, 0.02


def random_pairs(rng: np.random.Generator, n_pre: int, n_post: int, density: float):
    """About density * n_pre * n_post distinct (pre, post) pairs, without an n^2 temporary."""
    want = int(density * n_pre * n_post)
    lin = np.unique(rng.integers(0, n_pre * n_post, int(want * 1.06) + 16, dtype=np.int64))
    lin = rng.permutation(lin)[:want]
    lin.sort()
    return (lin // n_post).astype(np.int32), (lin % n_post).astype(np.int32)


def legal_weights(rng: np.random.Generator, n: int) -> np.ndarray:
    """Mixed-sign int8 weights Lava keeps unchanged (even values in [-256, 254], 8 bits)."""
    return rng.integers(-128, 128, n) * 2


def make_net(kind: str, n: int, steps: int, seed: int = 0) -> Network:
    rng = np.random.default_rng(seed)
    net = Network(name=f"{kind}-{n}", seed=seed)
    fire = rng.random((steps, n)) < INPUT_RATE
    st, nid = np.nonzero(fire)
    order = np.argsort(nid, kind="stable")
    counts = np.bincount(nid, minlength=n)
    trains = np.split(st[order], np.cumsum(counts)[:-1])
    net.add_spike_source("in", trains)
    # thresholds tuned for ~5% firing per step (feed-forward) and ~30% (recurrent, like DESIGN §1)
    lif = {"du": 410, "dv": 410, "vth": 5 * n if kind == "ff" else 3000, "bias_mant": 0}
    net.add_population("lif", n, "loihi2_lif", lif)
    pre, post = random_pairs(rng, n, n, DENSITY)
    # excitatory-leaning input so the layer fires at a few percent
    w_in = rng.integers(0, 128, pre.size) * 2
    net.add_projection("in", "lif", pre, post, w_in, 1, name="in->lif",
                       attrs={"weight_exp": -2 if kind == "ff" else -3, "num_weight_bits": 8})
    if kind == "rec":
        pre, post = random_pairs(rng, n, n, DENSITY)
        net.add_projection("lif", "lif", pre, post, legal_weights(rng, pre.size), 1,
                           name="lif->lif", attrs={"weight_exp": -4, "num_weight_bits": 8})
    return net


def warm_up() -> None:
    """Compile (or load from cache) the numba kernels outside any timing."""
    net = Network(name="warm")
    net.add_spike_source("s", [[0], [1]])
    net.add_population("n", 2, "loihi2_lif", {"du": 1, "vth": 0})
    net.add_projection("s", "n", [0, 1], [0, 1], [2, 2], [1, 2], attrs={"weight_exp": -1})
    net.add_projection("n", "n", [0, 1], [1, 0], [2, 2], 1)
    Simulation(net, Loihi2Mode()).run(5)


def run_ours(net: Network, steps: int, trace_memory: bool):
    gc.collect()
    if trace_memory:
        tracemalloc.start()
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # legal weights: nothing may be changed silently
        sim = Simulation(net, Loihi2Mode())
    build = time.perf_counter() - t0
    res = sim.run(steps)
    peak = 0
    if trace_memory:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return res, build, peak


def run_lava(net: Network, steps: int, sparse: bool):
    """The lava backend on `net` (Sparse or Dense forced); (SimResult, timings, n_processes)."""
    from neurocompile.backends.lava import run_lowered
    from neurocompile.backends.lava.lowering import lower

    low = lower([net], kind=lambda _n, _p: "sparse" if sparse else "dense")
    results, timings = run_lowered(low, [net.seed], steps, timeout=None)
    return results[0], timings, low.n_processes


def compare(net: Network, ours, lava) -> str:
    for name, pop in net.populations.items():
        if pop.model != "loihi2_lif":
            continue
        r, theirs = ours.raster(name, pop.size), lava.raster(name, pop.size)
        if not np.array_equal(r, theirs):
            t = int(np.argmax(np.any(r != theirs, axis=1)))
            raise SystemExit(f"MISMATCH {net.name}: spikes of {name!r} differ first at step {t}")
        for var, ref in (("u", lava.final_state[name]["u"]), ("v", lava.final_state[name]["v"])):
            if not np.array_equal(ours.final_state[name][var], ref):
                raise SystemExit(f"MISMATCH {net.name}: final {var} of {name!r} differs")
    return "identical"


def brian2_rate(kind: str, n: int, steps: int, seed: int = 0) -> tuple[float, str]:
    """Steps/s of an equivalent float network in Brian2 (context only)."""
    import brian2 as b2

    b2.start_scope()
    target = os.environ.get("BRIAN2_TARGET", "cython")
    try:
        b2.prefs.codegen.target = target
    except Exception:  # pragma: no cover
        target = "numpy"
        b2.prefs.codegen.target = target
    b2.defaultclock.dt = 1 * b2.ms
    rng = np.random.default_rng(seed)
    inp = b2.PoissonGroup(n, rates=INPUT_RATE * 1000 * b2.Hz)
    eqs = "dv/dt = (I - v) / (10*ms) : 1\ndI/dt = -I / (10*ms) : 1"
    g = b2.NeuronGroup(n, eqs, threshold="v > 1", reset="v = 0", method="exact")
    pre, post = random_pairs(rng, n, n, DENSITY)
    s1 = b2.Synapses(inp, g, "w : 1", on_pre="I += w")
    s1.connect(i=pre, j=post)
    s1.w = rng.random(pre.size) * 0.1
    objs = [inp, g, s1]
    if kind == "rec":
        pre, post = random_pairs(rng, n, n, DENSITY)
        s2 = b2.Synapses(g, g, "w : 1", on_pre="I += w")
        s2.connect(i=pre, j=post)
        s2.w = (rng.random(pre.size) - 0.5) * 0.1
        objs.append(s2)
    net = b2.Network(*objs)
    net.run(2 * b2.ms)  # code generation / compilation outside the timing
    t0 = time.perf_counter()
    net.run(steps * b2.ms)
    return steps / (time.perf_counter() - t0), target


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=2000, help="steps timed in our simulator")
    ap.add_argument("--lava-steps", type=int, default=None,
                    help="steps run in Lava and compared (default: 300 at 1k, 100 at 5k/10k)")
    ap.add_argument("--nets", default="ff-1000,ff-10000,rec-5000",
                    help="comma list of kind-N with kind ff or rec")
    ap.add_argument("--no-lava", action="store_true")
    ap.add_argument("--lava-conn", choices=("sparse", "dense", "both"), default="both",
                    help="Lava connection process for the projections (default: both, since "
                         "Lava's Dense is the faster of the two at these sizes)")
    ap.add_argument("--no-brian2", action="store_true")
    ap.add_argument("--brian2-steps", type=int, default=500)
    ap.add_argument("--repeats", type=int, default=3,
                    help="timed runs of our sim (and of Lava at N <= 1000); the best is kept")
    args = ap.parse_args(argv)

    warm_up()
    print(f"cpus {os.cpu_count()}, load average at start {os.getloadavg()[0]:.1f}")
    rows = []
    t_all = time.perf_counter()
    for spec in args.nets.split(","):
        kind, n = spec.split("-")
        n = int(n)
        lava_steps = args.lava_steps or (300 if n <= 1000 else 100)
        steps = max(args.steps, lava_steps)
        t0 = time.perf_counter()
        net = make_net(kind, n, steps)
        gen = time.perf_counter() - t0
        # best of a few runs (fresh Simulation each): the machine may be shared
        runs = [run_ours(net, args.steps, trace_memory=False) for _ in range(args.repeats)]
        res, build, _ = min(runs, key=lambda r: r[0].wall_s)
        ours_sps = args.steps / res.wall_s
        ev_s = res.synaptic_events / res.wall_s
        spikes = res.spike_counts()["lif"] / (args.steps * n)
        _, _, peak = run_ours(net, min(args.steps, 200), trace_memory=True)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        row = dict(net=spec, synapses=net.n_synapses, gen_s=gen, build_s=build, ours_sps=ours_sps,
                   events_s=ev_s, lif_rate=spikes, peak_mb=peak / 2**20, rss_mb=rss)
        print(f"\n== {spec}: {net.n_synapses:,} synapses (generated in {gen:.1f} s)")
        print(f"  ours   : {ours_sps:10,.0f} steps/s over {args.steps} steps (best of "
              f"{args.repeats}), build {build:.2f} s, "
              f"{ev_s / 1e6:,.1f} M synaptic events/s, LIF firing {100 * spikes:.1f}%/step")
        print(f"           peak traced memory (build + 200 steps) {peak / 2**20:,.0f} MB, "
              f"process max RSS so far {rss:,.0f} MB")
        if not args.no_lava:
            ours_short, _, _ = run_ours(net, lava_steps, trace_memory=False)
            for conn in (("sparse", "dense") if args.lava_conn == "both" else (args.lava_conn,)):
                reps = args.repeats if n <= 1000 else 1  # a 10k Lava run costs ~10-40 s
                lruns = [run_lava(net, lava_steps, sparse=conn == "sparse") for _ in range(reps)]
                verdict = [compare(net, ours_short, lr[0]) for lr in lruns][0]
                _, timing, n_proc = min(lruns, key=lambda r: r[1]["run_s"])
                lava_sps = lava_steps / timing["run_s"]
                child_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
                row[f"lava_{conn}"] = lava_sps
                print(f"  lava   : {lava_sps:10,.1f} steps/s over {lava_steps} steps "
                      f"({conn.capitalize()}, fixed_pt; start-up (compile + spawn) {timing['startup_s']:.1f} s, "
                      f"{n_proc} processes, child max RSS so far {child_rss:,.0f} MB)")
                print(f"  ratio  : {ours_sps / lava_sps:10,.0f}x vs Lava {conn.capitalize():<6}   "
                      f"outputs over {lava_steps} steps: {verdict} (spike rasters every step, "
                      f"final u and v)")
        if not args.no_brian2:
            try:
                b_sps, target = brian2_rate(kind, n, args.brian2_steps)
                row.update(brian2_sps=b_sps)
                print(f"  brian2 : {b_sps:10,.0f} steps/s (float LIF, {target} target; context only)")
            except ImportError:
                print("  brian2 : not installed (pip install brian2)")
        rows.append(row)
    print(f"\ntotal bench time {time.perf_counter() - t_all:.0f} s, load average at end "
          f"{os.getloadavg()[0]:.1f}")
    print("\nnet        ours steps/s  Lava Sparse  ratio  Lava Dense  ratio  M events/s  peak MB")
    for r in rows:
        ls, ld = r.get("lava_sparse", float("nan")), r.get("lava_dense", float("nan"))
        print(f"{r['net']:<10} {r['ours_sps']:12,.0f} {ls:12,.1f} {r['ours_sps'] / ls:6,.0f}x "
              f"{ld:11,.1f} {r['ours_sps'] / ld:6,.0f}x {r['events_s'] / 1e6:11,.1f} "
              f"{r['peak_mb']:8,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
