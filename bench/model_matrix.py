"""Compile every bundled model for every bundled board: what fits, how much of the board it uses.

    .venv/bin/python bench/model_matrix.py                       # models at their CLI defaults
    .venv/bin/python bench/model_matrix.py --param place_recognition:n_places=300

Each cell is what ``neurocompile compile <model> --board <board>`` does with the same options:
the cores and chips used, the busiest resource's utilization, the compile time, and the number of
warnings; or, for a model that does not fit, the first line of its resource error.
"""
from __future__ import annotations

import argparse
import sys
import time

from neurocompile.boards.registry import board_files, load_board
from neurocompile.compiler import compile_network
from neurocompile.errors import NeurocompileError
from neurocompile.plugins import model_entries
from neurocompile.inputs import load_target, parse_options


def cell(net, board_name: str, seed: int) -> dict:
    board = load_board(board_name)
    t0 = time.perf_counter()
    try:
        result = compile_network(net, board, seed=seed, target=net.name)
    except NeurocompileError as e:
        return {"fits": False, "error": str(e).splitlines()[0], "s": time.perf_counter() - t0}
    mapping = result.report["mapping"]["summary"]
    util = mapping.get("max_utilization", {})
    busiest = max(util, key=util.get) if util else "-"
    chips = len(result.report["mapping"]["chips"])
    return {"fits": True, "cores": mapping["cores_used"], "chips": chips, "busiest": busiest,
            "util": util.get(busiest, 0.0), "s": time.perf_counter() - t0,
            "warnings": sum(d.level == "warning" for d in result.diagnostics),
            "format": result.network.number_format}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=",".join(sorted(model_entries())))
    ap.add_argument("--boards", default=",".join(sorted(board_files())))
    ap.add_argument("--param", action="append", default=[], metavar="MODEL:KEY=VALUE")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    params: dict[str, list[str]] = {}
    for p in args.param:
        model, kv = p.split(":", 1)
        params.setdefault(model, []).append(kv)
    print("| model | board | result | cores | chips | busiest resource | compile s | warnings |")
    print("|---|---|---|---|---|---|---|---|")
    for model in args.models.split(","):
        opts = parse_options(params.get(model, []))
        net = load_target(model, opts, seed=args.seed)
        for board in args.boards.split(","):
            c = cell(net, board, args.seed)
            if c["fits"]:
                print(f"| {model} | {board} | fits ({c['format']}) | {c['cores']} | {c['chips']} | "
                      f"{c['busiest']} {c['util']:.0%} | {c['s']:.1f} | {c['warnings']} |")
            else:
                print(f"| {model} | {board} | **does not fit**: {c['error']} | - | - | - | {c['s']:.1f} | - |")
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
