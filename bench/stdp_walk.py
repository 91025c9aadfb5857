"""Speed of the deferred pair-STDP row walk (backends/sim/stdp.py) in each arithmetic.

    .venv/bin/python bench/stdp_walk.py                     # all three modes, ~1 min on 2 cores
    .venv/bin/python bench/stdp_walk.py --modes float --repeats 9 --n 2000
    .venv/bin/python bench/stdp_walk.py --cold              # also: first-call (compile) time

One random plastic projection, N pre x N post at density p (default 1000 x 1000, p = 0.1, i.e.
100k synapses, delays 1..10 steps), driven directly through `PairSTDP.step(t, pre, post)` with
pre-drawn Bernoulli spike sets (pre and post rates in Hz, dt = 1 ms), so only the STDP work is
timed (no neuron update, no propagation). Per mode (float: FloatPairSTDP on float64 nA;
loihi2: Loihi2PairSTDP on integer mantissas; spinnaker: SpinnakerPairSTDP on uint16 words):

* steps/s over the whole drive (post logging + pre row walks + the Python call per step);
* pre-spike row walks/s (pre spikes processed per second) and synapse updates/s (fan-out summed);
* pending walks/s: `weights(include_pending=True)`, a walk of every row.

Each figure is the median of --repeats runs on fresh state (numba compiled before timing), per
CPU second of the driving thread (steadier than wall time on a shared machine; wall steps/s are
printed too); the spread (max - min) / median is printed as the noise. --cold starts a fresh interpreter per mode
with an empty NUMBA_CACHE_DIR and times import, then build + first steps + first pending walk
(JIT compile), then again with that cache filled (cache=True load); wall and CPU seconds (CPU
time is the steadier figure on a shared machine).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

MODES = ("float", "loihi2", "spinnaker")
SPIN_SHIFT = 5  # ring-buffer shift: one uint16 step = 2**(5-15) nA, w_max 1 nA = 1024 steps


def build(mode: str, n: int, density: float, seed: int = 0):
    """The mode's PairSTDP on a random n x n projection."""
    from neurocompile.backends.sim.loihi2_stdp import Loihi2PairSTDP
    from neurocompile.backends.sim.spinnaker_stdp import SpinnakerPairSTDP
    from neurocompile.backends.sim.propagation import PreSortedSynapses
    from neurocompile.backends.sim.stdp import FloatPairSTDP
    from neurocompile.ir.network import Network, STDPRule

    rng = np.random.default_rng(seed)
    m = int(density * n * n)
    lin = np.unique(rng.integers(0, n * n, int(m * 1.06) + 16, dtype=np.int64))
    lin = np.sort(rng.permutation(lin)[:m])
    pre, post = lin // n, lin % n
    delay = rng.integers(1, 11, pre.size)
    net = Network(name=f"stdp-{mode}", dt_ms=1.0)
    net.add_spike_source("pre", [[] for _ in range(n)])
    if mode == "loihi2":
        net.add_population("post", n, "loihi2_lif", {"du": 4095, "dv": 4095})
        w0 = rng.integers(0, 255, pre.size).astype(float)
        rule = STDPRule(20.0, 20.0, 2.0, 2.4, 0.0, 254.0)
        pr = net.add_projection("pre", "post", pre, post, w0, delay, receptor="input", plasticity=rule)
        syn = PreSortedSynapses.build(pr, n, pr.weight.astype(np.int64))
        return Loihi2PairSTDP(pr, syn, net)
    net.add_population("post", n, "lif_curr_exp", {})
    rule = STDPRule(20.0, 20.0, 0.01, 0.012, 0.0, 1.0)
    if mode == "spinnaker":
        raw0 = rng.integers(0, 1025, pre.size)
        pr = net.add_projection("pre", "post", pre, post, raw0 * 2.0 ** (SPIN_SHIFT - 15), delay,
                                receptor="excitatory", plasticity=rule)
        syn = PreSortedSynapses.build(pr, n, raw0.astype(np.int64))
        return SpinnakerPairSTDP(pr, syn, net, shift=SPIN_SHIFT)
    pr = net.add_projection("pre", "post", pre, post, rng.uniform(0.0, 1.0, pre.size), delay,
                            receptor="excitatory", plasticity=rule)
    syn = PreSortedSynapses.build(pr, n, pr.weight.copy())
    return FloatPairSTDP(pr, syn, net)


def spike_sets(n: int, steps: int, rate_hz: float, seed: int) -> list[np.ndarray]:
    fire = np.random.default_rng(seed).random((steps, n)) < rate_hz * 1e-3
    return [np.flatnonzero(row).astype(np.int64) for row in fire]


def drive(stdp, pre_sets, post_sets) -> tuple[float, float]:
    """(wall s, CPU s of this thread) for the whole drive."""
    t0, c0 = time.perf_counter(), time.thread_time()
    for t, (pre, post) in enumerate(zip(pre_sets, post_sets)):
        stdp.step(t, pre, post)
    return time.perf_counter() - t0, time.thread_time() - c0


def first_call(mode: str, n: int, density: float) -> None:
    """Run in a fresh interpreter: time import, then build + first steps + first pending walk."""
    t0, c0 = time.perf_counter(), time.process_time()
    import neurocompile.backends.sim  # noqa: F401  (imports every mode's STDP module)
    t_import, c_import = time.perf_counter() - t0, time.process_time() - c0
    stdp = build(mode, n, density)
    t1, c1 = time.perf_counter(), time.process_time()
    stdp.step(0, np.array([0], dtype=np.int64), np.array([0], dtype=np.int64))
    stdp.step(5, np.array([0, 1], dtype=np.int64), np.array([1], dtype=np.int64))
    stdp.weights(include_pending=True)
    t_first, c_first = time.perf_counter() - t1, time.process_time() - c1
    print(json.dumps({"import_s": t_import, "first_calls_s": t_first, "import_cpu_s": c_import,
                      "first_calls_cpu_s": c_first}))


def cold(modes, n: int, density: float) -> None:
    print(f"\nfirst call (numba compile or cache load), fresh interpreter, {n} x {n} p={density}; "
          f"wall s (CPU s):")
    print(f"{'mode':10s} {'empty cache: import':>22s} {'first calls':>16s} {'filled cache: import':>22s} "
          f"{'first calls':>16s}")
    for mode in modes:
        with tempfile.TemporaryDirectory() as cache:
            env = {**os.environ, "NUMBA_CACHE_DIR": cache}
            got = []
            for _ in range(2):  # empty cache, then the cache the first run wrote
                out = subprocess.run([sys.executable, __file__, "--first-call", mode, "--n", str(n),
                                      "--density", str(density)], env=env, check=True,
                                     capture_output=True, text=True).stdout
                got.append(json.loads(out.strip().splitlines()[-1]))
        cells = [f"{g[k + '_s']:.2f} ({g[k + '_cpu_s']:.2f})" for g in got for k in ("import", "first_calls")]
        print(f"{mode:10s} {cells[0]:>22s} {cells[1]:>16s} {cells[2]:>22s} {cells[3]:>16s}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--density", type=float, default=0.1)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--pre-rate", type=float, default=20.0, help="Hz")
    ap.add_argument("--post-rate", type=float, default=20.0, help="Hz")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--cold", action="store_true", help="also time the first call in a fresh process")
    ap.add_argument("--cold-only", action="store_true", help="only the first-call timing")
    ap.add_argument("--first-call", choices=MODES, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.first_call:
        first_call(a.first_call, a.n, a.density)
        return
    if a.cold_only:
        cold(a.modes, a.n, a.density)
        return
    pre_sets = spike_sets(a.n, a.steps, a.pre_rate, 1)
    post_sets = spike_sets(a.n, a.steps, a.post_rate, 2)
    n_pre_spikes = sum(s.size for s in pre_sets)
    print(f"{a.n} x {a.n} p={a.density}, {a.steps} steps, pre {a.pre_rate:g} Hz ({n_pre_spikes} pre "
          f"spikes), post {a.post_rate:g} Hz, median of {a.repeats}; noise = (max - min) / median")
    print("figures per CPU second of the driving thread (wall-clock steps/s for reference)")
    print(f"{'mode':10s} {'synapses':>9s} {'steps/s':>9s} {'noise':>6s} {'row walks/s':>12s} "
          f"{'syn upd/s':>10s} {'pending/s':>10s} {'noise':>6s} {'wall steps/s':>13s} {'noise':>6s}")
    for mode in a.modes:
        warm = build(mode, 50, 0.2)
        drive(warm, spike_sets(50, 50, 100.0, 3), spike_sets(50, 50, 100.0, 4))
        warm.weights(include_pending=True)
        walls, cpus, pend = [], [], []
        for _ in range(a.repeats):
            stdp = build(mode, a.n, a.density)
            wall, cpu = drive(stdp, pre_sets, post_sets)
            walls.append(wall)
            cpus.append(cpu)
            c0 = time.thread_time()
            stdp.weights(include_pending=True)
            pend.append(time.thread_time() - c0)
        fan = np.diff(stdp.syn.indptr)
        n_upd = int(sum(fan[s].sum() for s in pre_sets))
        w, c, p = statistics.median(walls), statistics.median(cpus), statistics.median(pend)
        print(f"{mode:10s} {stdp.syn.post.size:9d} {a.steps / c:9.0f} {(max(cpus) - min(cpus)) / c:6.1%} "
              f"{n_pre_spikes / c:12.0f} {n_upd / c:10.3g} {1 / p:10.1f} {(max(pend) - min(pend)) / p:6.1%} "
              f"{a.steps / w:13.0f} {(max(walls) - min(walls)) / w:6.1%}")
    if a.cold:
        cold(a.modes, a.n, a.density)


if __name__ == "__main__":
    main()
