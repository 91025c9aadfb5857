"""What `simulate -o DIR` writes: spikes.npz, traces.npz, summary.json and raster.png."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from neurocompile.report.raster import plot_raster, raster_title
from neurocompile.report.run_notes import spike_metadata

SIM_SUMMARY_VERSION = 1


def simulation_summary(result: Any, net: Any, backend: str, board: str) -> dict[str, Any]:
    duration_s = result.steps * result.dt_ms / 1000.0
    pops = []
    for name, pop in net.populations.items():
        count = int(result.spikes[name][0].size)
        pops.append({"name": name, "size": pop.size, "spikes": count,
                     "mean_rate_hz": round(count / (pop.size * duration_s), 4) if duration_s else 0.0})
    return {
        "summary_version": SIM_SUMMARY_VERSION,
        "network": net.name,
        "board": board,
        "backend": backend,
        "mode": result.mode,
        "seed": result.seed,
        "steps": result.steps,
        "dt_ms": result.dt_ms,
        "synaptic_events": result.synaptic_events,
        "wall_seconds": round(result.wall_s, 4),
        "steps_per_second": round(result.steps / result.wall_s, 1) if result.wall_s > 0 else None,
        "populations": pops,
    }


def write_simulation(out: Path, result: Any, net: Any, summary: dict[str, Any]) -> None:
    arrays = {}
    order = [n for n in net.populations if n in result.spikes]  # the network's order, on every backend
    for name in order + [n for n in result.spikes if n not in net.populations]:
        steps, ids = result.spikes[name]
        arrays[f"{name}/steps"] = steps
        arrays[f"{name}/neurons"] = ids
    np.savez(out / "spikes.npz", **arrays, **spike_metadata(result.dt_ms))  # dt_ms and units beside the spikes
    traces = {f"{p}/{v}": a for p, vs in result.traces.items() for v, a in vs.items()}
    if traces:
        np.savez(out / "traces.npz", **traces)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    sizes = {name: pop.size for name, pop in net.populations.items()}
    plot_raster(out / "raster.png", result.spikes, sizes, result.dt_ms, result.steps,
                raster_title(summary["network"], summary["board"], summary["mode"], summary["backend"],
                             summary["seed"], summary["steps"]))
