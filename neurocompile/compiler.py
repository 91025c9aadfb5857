"""`compile`: run the pass pipeline for a board and write the compiled network and report."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from neurocompile.boards.schema import Board
from neurocompile.ir.fileformat import save_network
from neurocompile.ir.network import Network
from neurocompile.outdir import staged_output
from neurocompile.passes import CompileContext, default_passes, run_pipeline
from neurocompile.passes.pipeline import ProgressFn
from neurocompile.report.build import build_report, write_report

COMPILED_NETWORK_FILE = "network.ncnet"
REPORT_FILE = "report.json"


@dataclass
class CompileResult:
    network: Network
    context: CompileContext
    report: dict[str, Any]


def compile_network(net: Network, board: Board, seed: int = 0, target: str = "",
                    progress: ProgressFn | None = None, options: dict[str, Any] | None = None) -> CompileResult:
    net.seed = seed
    ctx = CompileContext(board=board, seed=seed, options=dict(options or {}))
    compiled = run_pipeline(net, default_passes(), ctx, progress)
    report = build_report(compiled, ctx, target=target)
    return CompileResult(compiled, ctx, report)


def write_compiled(result: CompileResult, out_dir: str | os.PathLike[str]) -> Path:
    """Write network + report; the directory appears only once both are complete."""
    with staged_output(out_dir) as stage:
        save_network(result.network, stage / COMPILED_NETWORK_FILE)
        write_report(result.report, stage / REPORT_FILE)
    return Path(out_dir)
