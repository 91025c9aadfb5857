"""Evaluation: Recall@N and PR-AUC of the modular SNN ensemble vs. a SAD baseline, with ablations.

    python -m neurocompile.models.place_recognition.evaluate --places 300          # full table
    python -m neurocompile.models.place_recognition.evaluate --places 50 --ci      # CI scale

Everything runs on a procedurally generated route (routes.py): two reference traverses train the
modules (and the SAD database), a calibration traverse chooses the hyperactive-neuron threshold,
a query traverse with appearance change is evaluated. Rows of the table:

- SAD: sum of absolute differences between the query's and each reference image (same 28 x 28
  patch-normalised images the SNN sees), the smaller over the two reference traverses.
- Modular SNN ensemble with / without hyperactive-neuron regularisation (the paper's method).
- Single SNN: one network with as many excitatory neurons as the whole ensemble, trained on all
  places for the same number of presentations per neuron, with / without regularisation.

Metrics: Recall@N = fraction of queries whose true place is among the N best-scoring places
(ties broken by a seeded random order); PR-AUC: each query's best match is accepted when its
score (SNN: place score; SAD: minus the distance) is >= a threshold; sweeping the threshold over
all scores gives precision = correct accepted / accepted, recall = correct accepted / queries
(every query has a true place); the area is the trapezoidal integral starting at (R=0, P=1).
Ground truth tolerance is 0 (only the exact place counts), as in the paper's Nordland results.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import asdict
from typing import Any

import numpy as np


# ----- metrics -----------------------------------------------------------------------------------
def rank_places(scores: np.ndarray, seed: int = 0) -> np.ndarray:
    """(n_q, n_places) place indices, best first; ties broken by a seeded random order."""
    scores = np.asarray(scores, dtype=np.float64)
    tie = np.random.default_rng(seed).random(scores.shape)
    return np.lexsort((tie, -scores), axis=1)


def recall_at_n(scores: np.ndarray, true_places: np.ndarray, ns=(1, 5), seed: int = 0) -> dict[int, float]:
    order = rank_places(scores, seed)
    true_places = np.asarray(true_places)
    return {n: float(np.mean((order[:, :n] == true_places[:, None]).any(axis=1))) for n in ns}


def precision_recall(scores: np.ndarray, true_places: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Precision and recall of accepting each query's best match when its score >= threshold."""
    scores = np.asarray(scores, dtype=np.float64)
    best = rank_places(scores, seed)[:, 0]
    conf = scores[np.arange(len(scores)), best]
    correct = best == np.asarray(true_places)
    order = np.argsort(-conf, kind="stable")
    conf, correct = conf[order], correct[order]
    tp = np.cumsum(correct)
    accepted = np.arange(1, len(conf) + 1)
    last = np.r_[conf[1:] != conf[:-1], True]     # thresholds at each distinct score
    precision = np.r_[1.0, tp[last] / accepted[last]]
    recall = np.r_[0.0, tp[last] / len(conf)]
    return precision, recall


def pr_auc(scores: np.ndarray, true_places: np.ndarray, seed: int = 0) -> float:
    p, r = precision_recall(scores, true_places, seed)
    return float(np.sum(np.diff(r) * (p[1:] + p[:-1]) / 2.0))


def metrics(scores: np.ndarray, true_places: np.ndarray, seed: int = 0) -> dict[str, float]:
    rec = recall_at_n(scores, true_places, (1, 5), seed)
    return {"R@1": rec[1], "R@5": rec[5], "PR-AUC": pr_auc(scores, true_places, seed)}


def sad_scores(query: np.ndarray, references: list[np.ndarray]) -> np.ndarray:
    """Minus the sum of absolute differences to the closest reference image of every place."""
    q = np.asarray(query, dtype=np.float64).reshape(len(query), -1)
    dist = None
    for ref in references:
        r = np.asarray(ref, dtype=np.float64).reshape(len(ref), -1)
        d = np.empty((len(q), len(r)))
        step = max(1, 2_000_000 // max(1, r.size))   # chunks of ~16 MB
        for a in range(0, len(q), step):
            d[a:a + step] = np.abs(q[a:a + step, None, :] - r[None, :, :]).sum(axis=2)
        dist = d if dist is None else np.minimum(dist, d)
    return -dist


def template_scores(query: np.ndarray, references: list[np.ndarray]) -> np.ndarray:
    """The best the SNN's encoding allows with a perfect readout: each reference image as one
    neuron's weights (non-negative, normalised to a fixed sum, as STDP leaves them), driven by the
    query's pixel intensities (the Poisson rates); score = the larger dot product of the traverses.

    It is a ceiling, not a competitor: learned weights correlate ~0.85 with their best training
    image, and spikes add noise and module-selection errors on top (docs/models/place_recognition.md).
    """
    q = np.asarray(query, dtype=np.float64).reshape(len(query), -1)
    best = None
    for ref in references:
        r = np.asarray(ref, dtype=np.float64).reshape(len(ref), -1)
        w = r / np.maximum(r.sum(axis=1, keepdims=True), 1e-12)
        s = q @ w.T
        best = s if best is None else np.maximum(best, s)
    return best


# ----- the experiment ----------------------------------------------------------------------------
def run_experiment(n_places: int = 300, places_per_module: int = 25, seed: int = 0,
                   cfg: Any = None, query: str | None = None, references: tuple[str, ...] | None = None,
                   single: bool = True, single_neurons: int | None = None,
                   single_epochs: int | None = None, deploy_check: int = 5,
                   boards: tuple[str, ...] = (), board_queries: int = 60,
                   log=print) -> dict[str, Any]:
    """Train, calibrate and evaluate; returns a JSON-serialisable dict of results and timings."""
    from neurocompile.models.place_recognition import routes
    from neurocompile.models.place_recognition.train import SNNConfig, fit, place_scores

    cfg = cfg or SNNConfig()
    query = query or routes.DEFAULT_QUERY
    references = tuple(references or routes.DEFAULT_REFERENCE)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    ds = routes.make_dataset(n_places, seed, reference=references, query=query)
    timings["generate"] = time.perf_counter() - t0
    truth = np.arange(n_places)
    refs = [r.images for r in ds.reference]
    rows: dict[str, dict[str, Any]] = {}

    t = time.perf_counter()
    rows["SAD"] = metrics(sad_scores(ds.query.images, refs), truth, seed)
    rows["Template dot product (SNN encoding, ideal readout)"] = metrics(
        template_scores(ds.query.images, refs), truth, seed)
    timings["sad"] = time.perf_counter() - t
    log(f"generated {n_places} places x {len(refs) + 2} traverses in {timings['generate']:.1f} s; "
        f"SAD R@1 {rows['SAD']['R@1']:.3f}")

    def evaluate_snn(label: str, module_size: int, c: SNNConfig) -> Any:
        t = time.perf_counter()
        fitted = fit(ds, c, module_size, seed)
        ens = fitted.ensemble
        timings[f"{label}: train"] = fitted.timings["train"]
        timings[f"{label}: calibrate"] = fitted.timings["calibrate"]
        t1 = time.perf_counter()
        from neurocompile.models.place_recognition.train import STREAM_QUERY, infer
        q_counts = infer(ens, ds.query.images, seed=seed, stream=STREAM_QUERY)
        timings[f"{label}: query"] = time.perf_counter() - t1
        n_removed = int((ens.assignments >= 0).sum() - ens.keep_mask().sum())
        reg = metrics(place_scores(ens, q_counts), truth, seed)
        noreg = metrics(place_scores(ens, q_counts, 0), truth, seed)
        info = {"modules": ens.n_modules, "exc_per_module": ens.n_exc,
                "hyperactive_threshold": ens.hyperactive_threshold, "removed_neurons": n_removed,
                "assigned_neurons": int((ens.assignments >= 0).sum()),
                "spikes_per_query": float(q_counts.reshape(n_places, -1).sum(1).mean()),
                "calibration": ens.calibration}
        rows[f"{label}, regularised"] = {**reg, **info}
        rows[f"{label}, no regularisation"] = {**noreg, **info, "hyperactive_threshold": 0,
                                               "removed_neurons": 0}
        log(f"{label}: {ens.n_modules} x {ens.n_exc} exc, trained in {timings[f'{label}: train']:.1f} s, "
            f"R@1 {reg['R@1']:.3f} (T {ens.hyperactive_threshold}, {n_removed} removed) / "
            f"{noreg['R@1']:.3f} without regularisation ({time.perf_counter() - t:.1f} s)")
        return ens, q_counts

    ens, q_counts = evaluate_snn("Modular SNN ensemble", places_per_module, cfg)
    n_modules = ens.n_modules
    if single and n_modules > 1:
        n_single = single_neurons or cfg.n_exc * n_modules
        # Same number of presentations per neuron as a module's neurons get.
        ep = single_epochs or max(1, math.ceil(cfg.epochs * places_per_module / n_places))
        evaluate_snn("Single SNN", n_places, cfg.replace(n_exc=n_single, epochs=ep))

    deploy = None
    if deploy_check > 0:
        t = time.perf_counter()
        deploy = check_deployment(ens, ds.query.images, truth, q_counts,
                                  np.linspace(0, n_places - 1, deploy_check).round().astype(int), seed)
        timings["deploy check"] = time.perf_counter() - t
        log(f"deployed IR vs numpy: top-1 agreement {deploy['agreement_independent']:.2f} "
            f"(independent Poisson draws), {deploy['agreement_matched']:.2f} with the simulator's "
            f"input spikes ({deploy['identical_counts']}/{deploy['queries']} identical spike counts)")
    on_boards = None
    if boards and board_queries > 0:
        t = time.perf_counter()
        qs = np.linspace(0, n_places - 1, min(board_queries, n_places)).round().astype(int)
        on_boards = deployed_on_boards(ens, ds.query.images, truth, refs, qs, list(boards), seed)
        timings["boards"] = time.perf_counter() - t
        log("deployed: " + ", ".join(f"{k} R@1 {v['R@1']:.3f}" for k, v in on_boards["rows"].items()))
    chance = {"R@1": 1.0 / n_places, "R@5": min(1.0, 5.0 / n_places), "PR-AUC": float("nan")}
    timings["total"] = time.perf_counter() - t0
    return {"n_places": n_places, "places_per_module": places_per_module, "modules": n_modules,
            "seed": seed, "query": query, "references": list(references),
            "calibration": "query condition, separate traverse seed",
            "config": asdict(cfg), "rows": rows, "chance": chance, "deploy": deploy, "boards": on_boards,
            "timings": timings}


def check_deployment(ens: Any, images: np.ndarray, truth: np.ndarray, numpy_counts: np.ndarray,
                     queries: np.ndarray, seed: int = 0) -> dict[str, Any]:
    """Run the deployed IR network in the float simulator for some queries; compare top-1 places.

    Two comparisons: (a) with the numpy inference's own Poisson draws (independent noise:
    statistical agreement), (b) with numpy inference fed the simulator's input spike trains
    (tests that the IR network computes exactly what numpy computes: identical spike counts).
    """
    from neurocompile.backends.sim import FloatMode, Simulation
    from neurocompile.ir import validate_network
    from neurocompile.models.place_recognition.deploy import (build_inference_network, readout,
                                                              set_query, simulator_rasters)
    from neurocompile.models.place_recognition.train import infer, place_scores

    net = build_inference_network(ens, images[queries[0]], seed=seed)
    validate_network(net)
    steps = ens.cfg.steps
    agree_ind = agree_match = identical = correct_sim = 0
    per_query = []
    for qi in queries:
        set_query(net, ens, images[qi])
        sim_seed = seed * 1000 + int(qi)
        res = Simulation(net, FloatMode(), sim_seed).run(steps)
        sim_top = int(np.argmax(readout(net, res.spikes)))
        np_top = int(np.argmax(place_scores(ens, numpy_counts[qi:qi + 1])[0]))
        ras = simulator_rasters(net, sim_seed, steps)
        matched = infer(ens, images[qi:qi + 1],
                        rasters=np.stack([ras[k] for k in range(ens.n_modules)])[None])
        match_top = int(np.argmax(place_scores(ens, matched)[0]))
        same = all(np.array_equal(matched[0, k], np.bincount(res.spikes[f"m{k}_exc"][1],
                                                              minlength=ens.n_exc))
                   for k in range(ens.n_modules))
        agree_ind += sim_top == np_top
        agree_match += sim_top == match_top
        identical += same
        correct_sim += sim_top == truth[qi]
        per_query.append({"query": int(qi), "sim_top1": sim_top, "numpy_top1": np_top,
                          "numpy_matched_top1": match_top, "identical_counts": bool(same)})
    n = len(queries)
    return {"queries": n, "agreement_independent": agree_ind / n, "agreement_matched": agree_match / n,
            "identical_counts": identical, "sim_correct": correct_sim / n,
            "network": net.summary(), "per_query": per_query}


def deployed_on_boards(ens: Any, images: np.ndarray, truth: np.ndarray, references: list[np.ndarray],
                       queries: np.ndarray, boards: list[str], seed: int = 0) -> dict[str, Any]:
    """The deployed inference network for `queries`, in float and compiled for each board.

    Each board's network is what ``neurocompile compile place_recognition --board B`` produces
    (the full pipeline with the model's recommended options) and runs in the simulator mode of the
    board's arithmetic; the float row runs the uncompiled network. Every row sees the same input
    spikes (same simulation seed per query). SAD is scored on the same queries. Returns metrics
    per row and each row's top-1 agreement with float.
    """
    from neurocompile.backends.sim import FloatMode, Simulation, mode_for
    from neurocompile.boards.registry import load_board
    from neurocompile.compiler import compile_network
    from neurocompile.models.place_recognition.deploy import build_inference_network, readout, set_query

    base = build_inference_network(ens, images[queries[0]], seed=seed)
    runs: dict[str, tuple[Any, Any]] = {"float": (base, FloatMode)}
    compile_info: dict[str, Any] = {}
    for name in boards:
        board = load_board(name)
        result = compile_network(base, board, seed=seed, target="place_recognition")
        net = result.network
        runs[name] = (net, lambda net=net, board=board: mode_for(net, board, None))
        compile_info[name] = {"number_format": net.number_format,
                              "warnings": sum(d.level == "warning" for d in result.diagnostics),
                              "cores": result.report["mapping"]["summary"]["cores_used"]}
    scores = {row: np.zeros((len(queries), len(references[0]))) for row in runs}
    steps = ens.cfg.steps
    for i, qi in enumerate(queries):
        for row, (net, make_mode) in runs.items():
            set_query(net, ens, images[qi])
            res = Simulation(net, make_mode(), seed * 1000 + int(qi)).run(steps)
            scores[row][i] = readout(net, res.spikes)
    t = truth[queries]
    rows = {"SAD (same queries)": metrics(sad_scores(images[queries], references), t, seed)}
    top_float = np.argmax(scores["float"], axis=1)
    for row, sc in scores.items():
        label = "SNN float" if row == "float" else f"SNN on {row} ({runs[row][0].number_format})"
        rows[label] = {**metrics(sc, t, seed),
                       "top1_agreement_with_float": float(np.mean(np.argmax(sc, axis=1) == top_float)),
                       **compile_info.get(row, {})}
    return {"queries": int(len(queries)), "rows": rows}


# ----- reporting ---------------------------------------------------------------------------------
def format_table(res: dict[str, Any]) -> str:
    lines = [f"Place recognition on a procedural route: {res['n_places']} places, query "
             f"'{res['query']}' vs references {' + '.join(repr(r) for r in res['references'])}",
             f"{res['modules']} modules x {res['places_per_module']} places, "
             f"{res['config']['n_exc']} exc + {res['config']['n_exc']} inh neurons per module, "
             f"seed {res['seed']}", ""]
    head = f"{'method':<44} {'R@1':>6} {'R@5':>6} {'PR-AUC':>7}   notes"
    lines += [head, "-" * len(head)]
    for name, row in res["rows"].items():
        note = ""
        if "modules" in row:
            note = f"{row['modules']} x {row['exc_per_module']} exc"
            if row.get("removed_neurons"):
                note += (f", {row['removed_neurons']} hyperactive removed (firing for >= "
                         f"{row['hyperactive_threshold']} reference images)")
            elif name.endswith(", regularised"):
                note += ", calibration chose no removal"
        lines.append(f"{name:<44} {row['R@1']:>6.3f} {row['R@5']:>6.3f} {row['PR-AUC']:>7.3f}   {note}")
    ch = res["chance"]
    lines.append(f"{'chance':<44} {ch['R@1']:>6.3f} {ch['R@5']:>6.3f} {'-':>7}")
    b = res.get("boards")
    if b:
        lines += ["", f"Deployed network, float vs each board's arithmetic ({b['queries']} queries, "
                      f"same input spikes in every row):",
                  f"{'network':<44} {'R@1':>6} {'R@5':>6} {'PR-AUC':>7}   top-1 = float"]
        for name, row in b["rows"].items():
            agree = row.get("top1_agreement_with_float")
            lines.append(f"{name:<44} {row['R@1']:>6.3f} {row['R@5']:>6.3f} {row['PR-AUC']:>7.3f}   "
                         f"{'' if agree is None else f'{agree:.0%}'}")
    d = res.get("deploy")
    if d:
        lines += ["", f"Deployed IR network ({d['network']['neurons']:,} neurons incl. inputs, "
                      f"{d['network']['synapses']:,} synapses) in the float simulator, "
                      f"{d['queries']} queries: top-1 agrees with numpy inference on "
                      f"{d['agreement_independent']:.0%} (independent Poisson draws) and "
                      f"{d['agreement_matched']:.0%} (same input spikes; "
                      f"{d['identical_counts']}/{d['queries']} identical spike counts)"]
    tm = res["timings"]
    lines += ["", "time: " + ", ".join(f"{k} {v:.1f} s" for k, v in tm.items())]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from neurocompile.models.place_recognition import routes
    from neurocompile.models.place_recognition.train import SNNConfig

    defaults = SNNConfig()
    ap = argparse.ArgumentParser(
        prog="python -m neurocompile.models.place_recognition.evaluate",
        description="Modular SNN place recognition (Hussaini et al. 2023) on a procedural route: "
                    "Recall@1/5 and PR-AUC vs SAD, with ablations (single network, regularisation).")
    ap.add_argument("--places", type=int, default=300, help="places on the route (default 300)")
    ap.add_argument("--places-per-module", type=int, default=25)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=defaults.epochs)
    ap.add_argument("--steps", type=int, default=defaults.steps, help="presentation steps (1 ms)")
    ap.add_argument("--n-exc", type=int, default=defaults.n_exc, help="excitatory neurons per module")
    ap.add_argument("--query", default=routes.DEFAULT_QUERY, choices=sorted(routes.CONDITIONS))
    ap.add_argument("--references", nargs="+", default=list(routes.DEFAULT_REFERENCE),
                    choices=sorted(routes.CONDITIONS))
    ap.add_argument("--no-single", action="store_true", help="skip the single-network ablation")
    ap.add_argument("--single-neurons", type=int, default=None,
                    help="excitatory neurons of the single network (default: the ensemble's total)")
    ap.add_argument("--single-epochs", type=int, default=None)
    ap.add_argument("--deploy-check", type=int, default=5,
                    help="queries run through the deployed IR network in the float simulator")
    ap.add_argument("--boards", default="spinn-5,loihi2-oheo-gulch",
                    help="comma-separated boards whose arithmetic the deployed network is run in "
                         "('' for none)")
    ap.add_argument("--board-queries", type=int, default=60,
                    help="queries (evenly spaced) run in float and on each board")
    ap.add_argument("--ci", action="store_true",
                    help="CI scale: fewer epochs, 2 deployment queries (use with --places 50)")
    ap.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = ap.parse_args(argv)
    cfg = defaults.replace(epochs=args.epochs, steps=args.steps, n_exc=args.n_exc)
    if args.ci:
        cfg = cfg.replace(epochs=min(cfg.epochs, CI_EPOCHS))
        args.deploy_check = min(args.deploy_check, 2)
    res = run_experiment(args.places, args.places_per_module, args.seed, cfg, args.query,
                         tuple(args.references), single=not args.no_single,
                         single_neurons=args.single_neurons, single_epochs=args.single_epochs,
                         deploy_check=args.deploy_check,
                         boards=tuple(b for b in args.boards.split(",") if b),
                         board_queries=args.board_queries, log=lambda s: print(s, file=sys.stderr))
    print(format_table(res))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1, default=float)
    return 0


CI_EPOCHS = 20

if __name__ == "__main__":
    sys.exit(main())
