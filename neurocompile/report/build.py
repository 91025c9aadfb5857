"""The `report.json` document (report.schema.json, docs/report-schema.md; bump REPORT_VERSION on change)."""
from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

from neurocompile import __version__
from neurocompile.errors import NeurocompileError, clip, shorten
from neurocompile.ir.network import Network
from neurocompile.passes.mapping_report import mapping_report
from neurocompile.passes.pipeline import CompileContext
from neurocompile.report.schema import check_report

REPORT_VERSION = 2  # 2: placement entries are slices (start/stop bound them, `ranges` lists them); `mapping`


def _utilization(net: Network, ctx: CompileContext) -> dict[str, Any]:
    placement = ctx.placed
    board = ctx.board
    per_core = board.core_limits.get("neurons", 0)
    cores_per_chip = board.chip_limits.get("cores", board.cores_per_chip)
    chips = Counter(tuple(s.chip) for s in placement)
    neurons = [s.n_neurons for s in placement]  # slices need not be contiguous
    part = ctx.partition
    # The partitioner's bound (per-model capacity: 500 Poisson sources per SpiNNaker core, not
    # 256), so a bound never exceeds the answer; fill is relative to each slice's own capacity.
    if part is not None:
        lower_bound_cores = int(part.lower_bound_cores)
        caps = {name: u.limits["neurons"] for name, u in part.usage.items()}
        fills = [s.n_neurons / float(caps[s.population][s.slice]) for s in placement
                 if s.population in caps and s.slice < caps[s.population].shape[0]]
    else:
        lower_bound_cores = -(-net.n_neurons // per_core) if per_core else None
        fills = [n / per_core for n in neurons] if per_core else []
    return {
        "cores_used": len(placement),
        "cores_available": board.n_cores,
        "cores_lower_bound": lower_bound_cores,
        "chips_used": len(chips),
        "chips_available": board.n_chips,
        "chips_lower_bound": -(-lower_bound_cores // cores_per_chip) if lower_bound_cores else None,
        "neurons_per_core_max": max(neurons, default=0),
        "neurons_per_core_limit": per_core,
        "mean_core_neuron_fill": round(sum(fills) / len(fills), 4) if fills else 0.0,
        "cores_per_chip_max": max(chips.values(), default=0),
    }


def build_report(net: Network, ctx: CompileContext, target: str = "") -> dict[str, Any]:
    placement = ctx.placed
    return {
        "report_version": REPORT_VERSION,
        "tool": {"name": "neurocompile", "version": __version__},
        "target": target or net.name,
        "seed": ctx.seed,
        "network": net.summary(),
        # where a model's trained weights came from (neurocompile/cache.py), when it trains
        "trained_weights": net.metadata.get("trained_weights"),
        "board": ctx.board.summary() | {"file": os.path.basename(ctx.board.source_file)},
        "passes": ctx.timings,
        "diagnostics": [d.to_dict() for d in ctx.diagnostics],
        "populations": [
            {"name": p.name, "model": p.model, "size": p.size,
             "slices": sum(1 for s in placement if s.population == p.name)}
            for p in net.populations.values()
        ],
        "projections": [
            {"name": pr.name, "pre": pr.pre, "post": pr.post, "receptor": pr.receptor,
             "synapses": pr.n_synapses, "plastic": pr.plasticity is not None}
            for pr in net.projections.values()
        ],
        "placement": [s.to_dict() for s in placement],
        "utilization": _utilization(net, ctx),
        "mapping": mapping_report(net, ctx),
        "quantization": {
            "number_format": net.number_format,
            "projections": ctx.quantization.projections,
            "populations": ctx.quantization.populations,
            "ring_buffer_shifts": ctx.quantization.ring_buffer_shifts,
        },
        "delays": {
            "extensions": ctx.delays.extensions,
            "relays": ctx.delays.relays,
        },
        "estimates": _estimates(net, ctx),
    }


def _estimates(net: Network, ctx: CompileContext) -> dict[str, Any]:
    """Energy/latency from the board's costs and the rates the placement assumed (report/estimates.py)."""
    from neurocompile.compiled import Placements, Slices
    from neurocompile.passes.resources import firing_rates
    from neurocompile.report.estimates import ASSUMED_RATES, estimate

    if ctx.partition is None or ctx.placement is None:
        return {"unavailable": "the network was not partitioned and placed"}
    sl, pl = Slices.from_partition(ctx.partition), Placements.from_result(ctx.placement)
    grid = ctx.placement.grid  # its hop matrix is already computed (placement)
    cores = int(sl.n_slices + int(sl.extra_cores.sum()))
    return estimate(ctx.board.energy, ctx.board, net, sl, pl.chip, grid.hops, grid.id_at,
                    firing_rates(net, ctx.options), ctx.target.family.multicast, ASSUMED_RATES, cores)


def write_report(report: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(report, indent=2, allow_nan=False) + "\n")


def read_report(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a report from a compile output directory or a report.json path."""
    p = Path(path)
    if p.is_dir():
        p = p / "report.json"
    if not p.is_file():
        raise NeurocompileError(f"no report at {str(p)!r}; run 'neurocompile compile ... -o DIR' first")
    try:
        report = json.loads(p.read_bytes())
    except RecursionError:
        raise NeurocompileError(f"{p}: not a valid report (JSON nested too deeply)") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise NeurocompileError(f"{p}: not a valid report (invalid JSON: {clip(e)})") from None
    if not isinstance(report, dict) or "report_version" not in report:
        raise NeurocompileError(f"{p}: not a neurocompile report (no report_version field)")
    if report["report_version"] != REPORT_VERSION or isinstance(report["report_version"], bool):
        raise NeurocompileError(f"{p}: report_version {shorten(report['report_version'])} is not supported "
                                f"(this neurocompile reads version {REPORT_VERSION})")
    check_report(report, str(p))  # report.schema.json: the first bad field, in one line
    return report
