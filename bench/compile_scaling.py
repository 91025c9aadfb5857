"""Compile-time scaling of the mapping passes: 10k, 100k and 1M neurons at fan-in 100.

    .venv/bin/python bench/compile_scaling.py                  # 10k, 100k, 1M on spinnaker-24board
    .venv/bin/python bench/compile_scaling.py --sizes 10000 --board spinn-5

Each size runs in its own subprocess so that its peak RSS (resource.getrusage ru_maxrss, no
tracemalloc: too slow for 100M-element arrays) is clean. Reported per pass: wall time and the
process peak RSS after the pass (ru_maxrss is a high-water mark, so a pass's own peak shows as the
increase over the previous line).

Network: populations of 10,000 LIF neurons on a ring (the last one smaller if needed), plus one
Poisson population of 1,000 sources feeding the first population. Each neuron receives 100
synapses: 80 "locally clustered" from neurons whose global index is within +-2,000 of its own
(uniform offset, wrapping around the ring) and 20 "random" from neurons drawn uniformly from the
five populations centred on its own. Weights 0.1 nA, delays uniform in 1..16 steps; seeded.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

POP = 10_000
LOCAL, RANDOM, WINDOW, SPREAD = 80, 20, 2_000, 2


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def child_rss_mb() -> float:
    """Peak RSS of the largest finished child (forked partition workers share the parent's pages)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0


def cpu_s() -> float:
    a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime


def build_network(n: int, seed: int = 1):
    from neurocompile.ir.network import Network

    rng = np.random.default_rng(seed)
    net = Network(name=f"scaling-{n}", dt_ms=1.0, seed=seed)
    sizes = [POP] * (n // POP) + ([n % POP] if n % POP else [])
    starts = np.concatenate([[0], np.cumsum(sizes)])
    n_pops = len(sizes)
    for q, sz in enumerate(sizes):
        net.add_population(f"p{q}", int(sz), "lif_curr_exp")
    net.add_population("input", 1_000, "poisson", {"rate": 20.0})
    k = min(50, sizes[0])
    net.add_projection("input", "p0", rng.integers(0, 1_000, sizes[0] * k).astype(np.int32),
                       np.repeat(np.arange(sizes[0], dtype=np.int32), k), 0.2, 1)
    for q, sz in enumerate(sizes):
        post = np.arange(starts[q], starts[q] + sz, dtype=np.int64)
        loc = (np.repeat(post, LOCAL) + rng.integers(-WINDOW, WINDOW + 1, sz * LOCAL)) % n
        if n_pops > 1:
            span = min(2 * SPREAD + 1, n_pops)
            src_pop = (q + rng.integers(-(span // 2), span - span // 2, sz * RANDOM)) % n_pops
            rnd = starts[src_pop] + (rng.random(sz * RANDOM) * np.asarray(sizes)[src_pop]).astype(np.int64)
        else:
            rnd = rng.integers(0, n, sz * RANDOM)
        pre = np.concatenate([loc, rnd])
        post_l = np.concatenate([np.repeat(post - starts[q], LOCAL), np.repeat(post - starts[q], RANDOM)])
        pre_pop = np.searchsorted(starts, pre, side="right") - 1
        order = np.argsort(pre_pop, kind="stable")
        pre, post_l, pre_pop = pre[order], post_l[order], pre_pop[order]
        bounds = np.searchsorted(pre_pop, np.arange(n_pops + 1))
        delays = rng.integers(1, 17, pre.shape[0]).astype(np.int32)
        for s in range(n_pops):
            a, b = bounds[s], bounds[s + 1]
            if a == b:
                continue
            net.add_projection(f"p{s}", f"p{q}", (pre[a:b] - starts[s]).astype(np.int32),
                               post_l[a:b].astype(np.int32), 0.1, delays[a:b])
    return net


def network_bytes(net) -> int:
    """The network's own size: every array it holds (synapse tables and per-neuron parameters)."""
    total = 0
    for pop in net.populations.values():
        total += sum(v.nbytes for v in pop.params.values() if isinstance(v, np.ndarray))
    for proj in net.projections.values():
        total += sum(a.nbytes for a in (proj.pre_idx, proj.post_idx, proj.weight, proj.delay))
    return total


def child(n: int, board_name: str, seed: int) -> dict:
    from neurocompile.boards import load_board as mapped
    from neurocompile.errors import ResourceError
    from neurocompile.passes import default_passes as mapping_passes  # the whole compile pipeline
    from neurocompile.passes.mapping_report import mapping_report
    from neurocompile.passes.pipeline import CompileContext

    # warm the numba caches so compile time is not counted (they are cached on disk after the first run)
    t0 = time.perf_counter()
    warm = build_network(2_000, seed=seed)
    wctx = CompileContext(board=mapped(board_name), seed=seed)
    for p in mapping_passes():
        warm = p.run(warm, wctx)
    warm_s = time.perf_counter() - t0
    rss0 = rss_mb()
    t0 = time.perf_counter()
    net = build_network(n, seed=seed)
    gen_s = time.perf_counter() - t0
    rss_net = rss_mb()
    net_mb = network_bytes(net) / 2 ** 20
    ctx = CompileContext(board=mapped(board_name), seed=seed)
    rows = []
    error = None
    t_all = time.perf_counter()
    for p in mapping_passes():
        ctx.current_pass = p.name
        t1 = time.perf_counter()
        c1 = cpu_s()
        try:
            net = p.run(net, ctx)
        except ResourceError as e:
            error = str(e)
        rows.append({"pass": p.name, "seconds": round(time.perf_counter() - t1, 3), "cpu_s": round(cpu_s() - c1, 2),
                     "peak_rss_mb": round(rss_mb()), "worker_peak_rss_mb": round(child_rss_mb())})
        if error:
            break
    total = time.perf_counter() - t_all
    t1 = time.perf_counter()
    rep = mapping_report(net, ctx) if error is None else {"summary": {}}
    rows.append({"pass": "mapping_report", "seconds": round(time.perf_counter() - t1, 3), "cpu_s": 0.0,
                 "peak_rss_mb": round(rss_mb()), "worker_peak_rss_mb": round(child_rss_mb())})
    if error is None:  # report.json's energy/latency estimates (neurocompile/report/estimates.py)
        from neurocompile.report.build import _estimates

        t1 = time.perf_counter()
        _estimates(net, ctx)
        rows.append({"pass": "estimates", "seconds": round(time.perf_counter() - t1, 3), "cpu_s": 0.0,
                     "peak_rss_mb": round(rss_mb()), "worker_peak_rss_mb": round(child_rss_mb())})
    s = rep["summary"]
    return {"neurons": net.n_neurons, "synapses": net.n_synapses, "populations": len(net.populations),
            "projections": len(net.projections), "board": board_name, "warmup_s": round(warm_s, 2),
            "generate_s": round(gen_s, 2), "rss_before_mb": round(rss0), "rss_network_mb": round(rss_net),
            "network_mb": round(net_mb), "peak_over_network": round((rss_mb() - rss0) / net_mb, 2),
            "passes": rows, "compile_s": round(total, 2), "error": error, "load_avg": os.getloadavg(),
            "summary": {k: s.get(k) for k in ("slices", "cores_used", "cores_lower_bound", "chips_used",
                                              "chips_lower_bound", "inter_chip_spikes_per_s", "average_hops",
                                              "max_routing_entries_per_chip", "max_utilization")},
            "baseline": s.get("baseline_spynnaker_style")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--board", default="spinnaker-24board")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child is not None:
        print(json.dumps(child(a.child, a.board, a.seed)))
        return
    print(f"board {a.board}, {os.cpu_count()} CPUs; wall and CPU seconds (CPU includes worker processes); "
          f"RSS = process peak (MB), workers = peak of the largest forked partition worker")
    for n in [int(x) for x in a.sizes.split(",")]:
        out = subprocess.run([sys.executable, __file__, "--child", str(n), "--board", a.board, "--seed", str(a.seed)],
                             capture_output=True, text=True)
        if out.returncode != 0:
            print(f"n={n}: failed\n{out.stderr[-3000:]}")
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"\n== {r['neurons']:,} neurons, {r['synapses']:,} synapses, {r['populations']} populations, "
              f"{r['projections']} projections")
        print(f"   network generation {r['generate_s']} s (RSS {r['rss_network_mb']} MB; "
              f"{r['rss_before_mb']} MB before), numba warm-up {r['warmup_s']} s")
        for row in r["passes"]:
            print(f"   {row['pass']:<16} {row['seconds']:>8.2f} s wall {row['cpu_s']:>8.2f} s CPU   "
                  f"peak RSS {row['peak_rss_mb']:>7,} MB (workers {row['worker_peak_rss_mb']:,} MB)")
        print(f"   network's own size {r['network_mb']:,} MB; peak RSS above the pre-network baseline "
              f"{r['passes'][-1]['peak_rss_mb'] - r['rss_before_mb']:,} MB = {r['peak_over_network']}x the network")
        print(f"   all passes total {r['compile_s']} s wall; load average during the run "
              f"{', '.join(f'{x:.1f}' for x in r['load_avg'])}")
        if r["error"]:
            print(f"   ResourceError: {r['error'][:600]}")
        print(f"   result: {json.dumps(r['summary'])}")
        print(f"   sPyNNaker-style placement: {json.dumps(r['baseline'])}")


if __name__ == "__main__":
    main()
