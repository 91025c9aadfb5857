"""What `simulate` adds beside the run: the compile's warnings (grouped as `report` groups them),
estimates from the run's own activity, and the units of spikes.npz."""
from __future__ import annotations

import json
from typing import Any

import numpy as np
from rich.console import Console

from neurocompile.report.diagnostics import group_diagnostics, group_lines
from neurocompile.report.estimates import estimate_compiled, measured_rates
from neurocompile.report.estimates_text import estimate_lines

SPIKE_UNITS = {"<population>/steps": "timestep index of each spike (time = step x dt_ms, in ms)",
               "<population>/neurons": "index of the spiking neuron within its population",
               "dt_ms": "the timestep in milliseconds"}


def spike_metadata(dt_ms: float) -> dict[str, np.ndarray]:
    """Extra spikes.npz members (no '/' in their names, so they never clash with a population's)."""
    return {"dt_ms": np.array(float(dt_ms)), "units": np.array(json.dumps(SPIKE_UNITS))}


def run_estimates(compiled: Any, result: Any) -> dict[str, Any]:
    """report.json-shaped `estimates` with the activity of this run instead of assumed rates."""
    net = compiled.network
    rates = measured_rates(net, result.spikes, result.steps)
    source = (f"measured: this run's spikes ({result.steps:,} steps of {net.dt_ms} ms, {result.mode} mode, "
              f"seed {result.seed}), synaptic events = spikes x fan-out")
    return estimate_compiled(compiled, rates, source)


def print_lines(console: Console, lines: list[str]) -> None:
    """Lines from group_lines / estimate_lines, wrapped like `neurocompile report` wraps them."""
    from neurocompile.report.text import LineWriter

    LineWriter(console).lines(lines)


def compile_warning_lines(report: dict[str, Any]) -> list[str]:
    groups = group_diagnostics(report.get("diagnostics", []))
    if not groups:
        return []
    total = sum(g.count for g in groups)
    return [f"#Compile warnings ({total} in {len(groups)} kind{'s' * (len(groups) != 1)}; "
            f"neurocompile report DIR for the full report)"] + ["  " + ln for ln in group_lines(groups)]


def run_estimate_lines(est: dict[str, Any]) -> list[str]:
    return estimate_lines(est, title="Estimates on the chip for this run's activity (rough: docs/energy.md)",
                          sources=False)
