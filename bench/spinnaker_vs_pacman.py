"""Our compile + sPyNNaker with our plan vs sPyNNaker alone, on modular random networks.

    .venv/bin/python bench/spinnaker_vs_pacman.py --sizes 10000 [--models ...] [--compile-only 50000]
        [--out DIR] [--timeout 1800]

`--models` (default: the four bundled models at the CI scale of the tests) maps each on SpiNN-5
both ways; `--compile-only N` runs only our compile of the N-neuron modular network (time, peak
RSS, traffic and its lower bound): sPyNNaker's own mapping at 50,000 neurons needs more than
17.9 GB (DESIGN.md s.2) and is not run.

Network: one IF_curr_exp population of N neurons in 10 modules of N/10 neurons each, the module
members drawn at random (so declaration order says nothing about modules), fan-in 100, 90 % of
each neuron's synapses from its own module, weights 0.05..0.15 nA, delays 1..8 steps; plus a
Poisson population of N/10 sources at 10 Hz with 10 synapses onto each neuron. Both paths go to
the same loadable state on a virtual SpiNN-5 (sPyNNaker's `sim.run` on a virtual board: mapping
and host-side data generation; nothing is loaded): with our plan (`compile` + the spynnaker
backend) and sPyNNaker alone (`--no-plan`: its partitioner and ApplicationPlacer, no constraints;
our forced ring-buffer shifts kept, which changes nothing in its cost).

Reported per size and path: wall time (ours includes our compile), peak RSS of the sPyNNaker
process (and of this process, which ran our compile), chips and cores used, max routing entries
per chip (PACMAN's uncompressed tables) and inter-chip traffic / hop-weighted traffic of our model
on the placement each path actually made.
"""
from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

import numpy as np


def modular(n: int, fan_in: int = 100, modules: int = 10, inside: float = 0.9, seed: int = 0):
    from neurocompile.ir.network import Network

    rng = np.random.default_rng(seed)
    net = Network(name=f"modular_{n}", dt_ms=1.0, seed=seed)
    net.add_population("neurons", n, "lif_curr_exp", {"tau_m": 20.0, "v_thresh": -50.0})
    n_src = max(1, n // 10)
    net.add_population("drive", n_src, "poisson", {"rate": 10.0})
    member = rng.permutation(n)                      # module m = member[m*size:(m+1)*size]
    size = n // modules
    module_of = np.empty(n, dtype=np.int64)
    module_of[member] = np.minimum(np.arange(n) // size, modules - 1)
    k_in = int(round(fan_in * inside))
    post = np.repeat(np.arange(n), fan_in)
    own = np.tile(np.arange(fan_in) < k_in, n)
    mod_post = module_of[post]
    pre = np.empty(post.size, dtype=np.int64)
    # inside: a random member of the post's module; outside: any neuron of another module
    starts = np.minimum(mod_post * size, n - size)
    pre[own] = member[starts[own] + rng.integers(0, size, int(own.sum()))]
    other = (mod_post[~own] + rng.integers(1, modules, int((~own).sum()))) % modules
    pre[~own] = member[np.minimum(other * size, n - size) + rng.integers(0, size, other.size)]
    net.add_projection("neurons", "neurons", pre, post, rng.uniform(0.05, 0.15, post.size),
                       rng.integers(1, 9, post.size), receptor="excitatory", name="recurrent")
    dpost = np.repeat(np.arange(n), 10)
    net.add_projection("drive", "neurons", rng.integers(0, n_src, dpost.size), dpost, 0.2, 1,
                       receptor="excitatory", name="drive")
    return net


BUNDLED = {"synfire": {}, "ca3": {}, "place_recognition": {"n_places": 25, "epochs": 3},
           "motion": {"n_movies": 2}}


def traffic_bound(c) -> dict:
    """Lower bound of our traffic model for any placement of this network on the fewest chips
    the partition allows: every core's spikes are multicast once to each other chip holding a
    target; when every core has targets on every chip used (true here: see `cores_reaching_all`),
    inter-chip spikes/s = sum of core rates x (chips - 1), least at the fewest chips."""
    from neurocompile.passes.resources import firing_rates

    rates = firing_rates(c.network, c.options)
    total = float(sum(float(r.sum()) for r in rates.values()))
    per_chip = int(c.board.chip_limits.get("cores", c.board.cores_per_chip))
    min_chips = -(-int(c.slices.n_slices + int(c.slices.extra_cores.sum())) // per_chip)
    return {"spikes_per_s_total": total, "min_chips": min_chips,
            "inter_chip_lower_bound": total * (min_chips - 1)}


def cores_reaching_all(c) -> float:
    """Share of our cores with a target on every other chip of our placement."""
    s, pl = c.slices, c.placements
    chips = {tuple(ch) for ch in pl.chip.tolist()}
    chip_of, core_of = {}, {}
    for name, pop in c.network.populations.items():
        ch = np.zeros(pop.size, dtype=np.int64)
        co = np.zeros(pop.size, dtype=np.int64)
        for j in range(s.n_slices_of(name)):
            i = s.offset[name] + j
            ch[s.neurons(name, j)] = pl.chip[i][0] * 1000 + pl.chip[i][1]
            co[s.neurons(name, j)] = i
        chip_of[name], core_of[name] = ch, co
    reach: dict[int, set] = {}
    for proj in c.network.projections.values():
        k = np.unique(core_of[proj.pre][proj.pre_idx] * 10**7 + chip_of[proj.post][proj.post_idx])
        for src, dst in zip((k // 10**7).tolist(), (k % 10**7).tolist()):
            reach.setdefault(src, set()).add(dst)
    return float(np.mean([len(v | {int(pl.chip[i][0]) * 1000 + int(pl.chip[i][1])}) == len(chips)
                          for i, v in reach.items()]))


def row_of(runs: dict, compile_s: float) -> dict:
    row = {}
    for label in ("our_plan", "spynnaker_alone"):
        r = runs[label]
        tm = r["timing"]
        # to a loadable state: sPyNNaker's setup..run (Population/Projection + sim.run), plus,
        # for ours, our compile and lowering; interpreter start-up and the readback excluded
        row[label] = {"to_loadable_s": tm["build_s"] + tm["run_s"] + tm["lower_s"]
                      + (compile_s if label == "our_plan" else 0.0),
                      "subprocess_s": tm["subprocess_s"],
                      "spynnaker_run_s": tm.get("run_s"), "spynnaker_peak_rss_mb": tm.get("peak_rss_mb"),
                      "chips": r["chips_used"], "cores": r["cores_by_kind"],
                      "max_routing_entries": r["max_routing_entries"],
                      "inter_chip_spikes_per_s": r["traffic"]["inter_chip_spikes_per_s"],
                      "hop_weighted_spikes_per_s": r["traffic"]["hop_weighted_spikes_per_s"],
                      "weights_equal": r["weights_equal"]}
    a, b = row["our_plan"], row["spynnaker_alone"]
    row["speedup_to_loadable"] = b["to_loadable_s"] / a["to_loadable_s"]
    row["traffic_saving"] = (1 - a["inter_chip_spikes_per_s"] / b["inter_chip_spikes_per_s"]
                             if b["inter_chip_spikes_per_s"] else 0.0)
    return row


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="*", default=[10000])
    ap.add_argument("--models", nargs="*", default=list(BUNDLED))
    ap.add_argument("--compile-only", type=int, nargs="*", default=[])
    ap.add_argument("--out", default=None)
    ap.add_argument("--timeout", type=float, default=1800)
    args = ap.parse_args()
    from neurocompile.backends.spynnaker import compare_with_own_placer
    from neurocompile.boards import load_board
    from neurocompile.compiler import compile_network
    from neurocompile.plugins import get_model

    base = Path(args.out or tempfile.mkdtemp(prefix="nc-vs-pacman-")).resolve()
    board = load_board("spinn-5")  # dead cores in the board file since 2026-12-03 (was: 15 cores per chip)
    for name in args.models:
        kw = dict(BUNDLED[name])
        if name == "place_recognition":
            kw["cache_dir"] = str(base / "cache")
        net = get_model(name).build(**kw)
        t = time.perf_counter()
        c = compile_network(net, load_board("spinn-5"), seed=1, target=name)
        compile_s = time.perf_counter() - t
        runs = compare_with_own_placer(c, base / name, steps=10, timeout_s=args.timeout)
        row = {"model": name, "synapses": int(sum(p.n_synapses for p in net.projections.values())),
               "our_compile_s": compile_s, **row_of(runs, compile_s)}
        print(json.dumps(row, indent=1), flush=True)
    for n in args.compile_only:
        net = modular(n)
        t = time.perf_counter()
        c = compile_network(net, board)
        row = {"neurons": n, "synapses": int(sum(p.n_synapses for p in net.projections.values())),
               "our_compile_s": time.perf_counter() - t,
               "our_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
               "chips": c.placements.chips_used, "cores": int(c.slices.n_slices),
               "inter_chip_spikes_per_s": traffic_of_ours(c), **traffic_bound(c),
               "cores_reaching_every_other_chip": cores_reaching_all(c),
               "spynnaker": "not run (--compile-only; its own mapping needs > 17.9 GB at 50,000 neurons)"}
        print(json.dumps(row, indent=1), flush=True)
    for n in args.sizes:
        net = modular(n)
        t = time.perf_counter()
        c = compile_network(net, board)
        compile_s = time.perf_counter() - t
        parent_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        runs = compare_with_own_placer(c, base / f"n{n}", steps=10, timeout_s=args.timeout)
        row = {"neurons": n, "synapses": int(sum(p.n_synapses for p in net.projections.values())),
               "our_compile_s": compile_s, "our_compile_peak_rss_mb": parent_rss, **traffic_bound(c),
               "cores_reaching_every_other_chip": cores_reaching_all(c), **row_of(runs, compile_s)}
        print(json.dumps(row, indent=1), flush=True)


def traffic_of_ours(c) -> float:
    from neurocompile.backends.spynnaker.compare import ours_as_cores, traffic_of

    return traffic_of(c, ours_as_cores(c))["inter_chip_spikes_per_s"]


if __name__ == "__main__":
    main()
