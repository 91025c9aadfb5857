"""`compile`: run the pass pipeline for a board; the result is a `CompiledNetwork` (compiled.py)."""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Iterable

from neurocompile.boards.schema import Board
from neurocompile.compiled import CompiledNetwork, from_context, save_compiled
from neurocompile.errors import NeurocompileError
from neurocompile.ir.network import Network
from neurocompile.outdir import staged_output
from neurocompile.passes import CompileContext, default_passes, run_pipeline
from neurocompile.passes.pipeline import ProgressFn
from neurocompile.records import jsonable
from neurocompile.report.build import build_report
from neurocompile.targets import family_of

MODEL_OPTIONS_KEY = "compile_options"


def option_family(board: Board) -> str:
    """The key of a model's recommended options for this board: 'spinnaker' or 'loihi'."""
    return family_of(board).option_group


def merged_options(net: Network, board: Board, user: dict[str, Any] | None) -> tuple[dict[str, Any], list[str]]:
    """The model's recommended compiler options for this board family, overridden by the user's.

    A model states what its author accepts on a target (e.g. which synaptic time constant to keep
    on Loihi) in ``net.metadata["compile_options"][family]``; the user's ``--option`` wins, and
    dict-valued options ({population: value}) are merged key by key. Returns (options, the keys
    that came from the model).
    """
    from neurocompile.passes.options import check_options

    table = net.metadata.get(MODEL_OPTIONS_KEY, {})
    family = option_family(board)
    if not isinstance(table, dict) or not isinstance(table.get(family, {}), dict):
        raise NeurocompileError(f"network {net.name!r}: metadata {MODEL_OPTIONS_KEY!r} must map "
                                f"'spinnaker' / 'loihi' to an options object, got {table!r:.80}")
    recommended = dict(table.get(family, {}))
    check_options(recommended)
    merged = dict(recommended)
    for key, value in (user or {}).items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    from_model = sorted(k for k in recommended if k not in (user or {}) or isinstance(recommended[k], dict))
    check_options(merged, net)
    return merged, from_model


def compile_network(net: Network, board: Board, seed: int = 0, target: str = "",
                    progress: ProgressFn | None = None, options: dict[str, Any] | None = None) -> CompiledNetwork:
    """Run every pass for `board`; the caller's `net` is left untouched (the result carries `seed`)."""
    net = dataclasses.replace(net, seed=seed)
    merged, from_model = merged_options(net, board, options)
    ctx = CompileContext(board=board, seed=seed, options=merged)
    if from_model:
        ctx.info(f"compiler options recommended by the model for {option_family(board)} boards: "
                 f"{', '.join(from_model)} (--option overrides them)")
    compiled = run_pipeline(net, default_passes(), ctx, progress)
    report = build_report(compiled, ctx, target=target)
    report["options"] = {"effective": jsonable(merged), "from_model": from_model}
    nir_record = net.metadata.get("nir")
    if isinstance(nir_record, dict):  # how a .nir file was imported (options given, dt, approximations)
        report["nir_import"] = jsonable(nir_record)
    return from_context(compiled, ctx, report, target)


def write_compiled(result: CompiledNetwork, out_dir: str | os.PathLike[str], overwrite: bool = False,
                   inputs: Iterable[str | os.PathLike[str]] = ()) -> Path:
    """Write network + report; the directory appears only once both are complete (see outdir)."""
    with staged_output(out_dir, kind="compiled", overwrite=overwrite, inputs=inputs) as stage:
        save_compiled(result, stage)
        result.export_notes = export_for_toolchains(result, stage)
    return Path(out_dir)


def export_for_toolchains(result: CompiledNetwork, stage: Path) -> list[str]:
    """Let every installed backend that exports for this board's family write its project (e.g.
    `lava/`); a backend whose toolchain is not importable writes nothing. Returns one note each."""
    from neurocompile.plugins import backend_names, get_backend

    notes = []
    for name in backend_names():
        backend = get_backend(name)
        s = backend.supports
        if not s.export or not s.families or result.board.family not in s.families:
            continue
        ok, why = backend.available()
        if not ok:
            notes.append(f"backend {name!r} exported nothing: {why}")
        elif backend.unsupported(result):
            notes.append(f"backend {name!r} exported nothing: {'; '.join(backend.unsupported(result))}")
        else:
            try:
                written = backend.export(result, Path(stage))
            except NeurocompileError as e:  # a feature the toolchain cannot express: say which
                notes.append(f"backend {name!r} exported nothing: {e}")
                continue
            notes.append(f"backend {name!r} wrote {', '.join(sorted({p.relative_to(stage).parts[0] for p in written}))}/")
    return notes
