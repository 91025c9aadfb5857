"""Paper-style results table for the HD-SNN motion model.

    python -m neurocompile.models.motion.evaluate --scale ci      # < 60 s
    python -m neurocompile.models.motion.evaluate --scale full --json out/motion_full.json

Rows: HD-SNN (delays 1..21), the no-delay baseline (all delays 1), the homogeneous-delay
baseline, chance (1/36 and 1/12 for direction only), the pruning curve, and the reduced deployable
configuration: its analytic accuracy and its spiking accuracy in our float simulator, with the
fraction of movies on which the spiking decision equals the analytic one. ``--boards`` also
compiles the deployed network for bundled boards and runs it in their arithmetic (spinnaker /
loihi2 simulator modes).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from neurocompile.models.motion import experiment


def _pct(v: float | None) -> str:
    return "" if v is None else f"{100 * v:.1f}"


NOTE_KEYS = {"local36": "local", "vote36": "vote", "agreement_with_analytic": "= analytic decision",
             "analytic_same_movies36": "analytic on these movies"}


def format_table(res: dict[str, Any]) -> str:
    sc = res["scale"]
    lines = [
        f"HD-SNN motion, scale {sc['name']!r}, seed {res['seed']}: {res['n_train_movies']} training movies "
        f"({res['train_rows']} rows), {res['n_test_movies']} held-out-image test movies; kernel "
        f"2x{sc['kernel']}x{sc['kernel']}, delays 1..{sc['n_delays']}, stride {sc['stride']}",
        "",
        "| model | input | weights | acc 36-way (%) | acc direction 12-way (%) | other readouts, 36-way (%) |",
        "|---|---|---|---|---|---|",
    ]
    for r in res["rows"]:
        notes = ", ".join(f"{NOTE_KEYS[k]} {_pct(v)}" for k, v in r["extra"].items() if k in NOTE_KEYS)
        if "l2" in r["extra"]:
            notes += f" (l2 {r['extra']['l2']:g} chosen on validation)"
        lines.append(f"| {r['what']} | {r['input']} | {r['weights']} | {_pct(r['acc36'])} | "
                     f"{_pct(r['acc12'])} | {notes} |")
    refit = any("acc36_retrained" in p for p in res["pruning"][1:])
    lines += ["", f"Pruning curve (global magnitude pruning, threshold recalibrated, input "
                  f"{sc['eval_size']}x{sc['eval_size']}{'; refit = kept weights retrained' if refit else ''}):",
              "",
              "| weights kept | # weights | acc 36 (%) | acc 12 (%) |" + (" acc 36 refit (%) | acc 12 refit (%) |" if refit else ""),
              "|---|---|---|---|" + ("---|---|" if refit else "")]
    for p in res["pruning"]:
        line = f"| {100 * p['keep']:g}% | {p['weights']} | {_pct(p['acc36'])} | {_pct(p['acc12'])} |"
        if refit:
            line += f" {_pct(p.get('acc36_retrained'))} | {_pct(p.get('acc12_retrained'))} |"
        lines.append(line)
    d = res["deployment"]
    if d:
        lines += ["", f"Deployed network: {d['neurons']} neurons, {d['synapses']} synapses, delays "
                      f"{d['delay_min']}..{d['delay_max']}; {d['movies']} movies; spiking decision = analytic "
                      f"on {100 * d['agreement']:.1f}% of them; {d['output_spikes']} output spikes; "
                      f"simulation {d['sim_wall_s']} s"]
    t = res["timings_s"]
    lines += ["", "Timings (s): " + ", ".join(f"{k} {v}" for k, v in t.items())]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m neurocompile.models.motion.evaluate",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("--scale", choices=sorted(experiment.SCALES), default="ci")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-sim", action="store_true", help="skip the spiking simulation")
    ap.add_argument("--json", type=Path, help="also write every number to this JSON file")
    ap.add_argument("--train-per-class", type=int)
    ap.add_argument("--test-per-class", type=int)
    ap.add_argument("--max-iter", type=int)
    ap.add_argument("--boards", default="",
                    help="comma-separated bundled boards: compile the deployed network for each and "
                         "run it in the simulator mode of its arithmetic (e.g. spinn-5,loihi2-oheo-gulch)")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    overrides = {k: v for k, v in {"train_per_class": args.train_per_class,
                                   "test_per_class": args.test_per_class,
                                   "max_iter": args.max_iter}.items() if v is not None}
    t0 = time.perf_counter()
    log = (lambda m: None) if args.quiet else (lambda m: print(m, file=sys.stderr, flush=True))
    boards = tuple(b for b in args.boards.split(",") if b)
    res = experiment.run(args.scale, seed=args.seed, simulate=not args.no_sim, log=log,
                         boards=boards, **overrides)
    print(format_table(res))
    print(f"\nwall time {time.perf_counter() - t0:.1f} s")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(res, indent=1, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
