"""Text lines for report.json `estimates` (shared by `report` and `simulate`).

A line starting with "#" is a heading; leading spaces are the indent. Every component says
whether its cost was measured on the chip by its authors or is simulated/assumed, and where from.
"""
from __future__ import annotations

import math
from typing import Any

_PREFIX = [(1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""), (1e-3, "m"), (1e-6, "u"), (1e-9, "n"), (1e-12, "p"),
           (1e-15, "f")]


_PER = {"chip_used": "chip(s) used", "core_used": "core(s) used", "chip": "chip(s)", "board": "board(s)",
        "system": "system"}


def si(x: Any, unit: str) -> str:
    """4.3e-08, 'J' -> '43 nJ' (3 significant digits)."""
    if not isinstance(x, (int, float)) or not math.isfinite(x):
        return f"? {unit}"
    if x == 0:
        return f"0 {unit}"
    for scale, p in _PREFIX:
        if abs(x) >= scale * 0.9995:
            return f"{x / scale:.3g} {p}{unit}"
    return f"{x:.3g} {unit}"


def _num(x: Any) -> str:
    return f"{x:,.0f}" if isinstance(x, (int, float)) and math.isfinite(x) and abs(x) >= 1 else f"{x:.3g}"


def estimate_lines(est: Any, title: str = "Estimates on the chip (rough: docs/energy.md)",
                   sources: bool = True) -> list[str]:
    """Total, one line per component (measured or not) and the time per step; with `sources`, where
    each number comes from (long: `report --all` shows them, docs/energy.md lists them)."""
    if not isinstance(est, dict):
        return []
    if "unavailable" in est and "energy" not in est:
        return [f"#{title}", f"  not available: {est['unavailable']}"]
    e, lat = est.get("energy") or {}, est.get("latency") or {}
    lines = [f"#{title}", f"  activity: {e.get('activity_source', '?')}"]
    power = e.get("watts_while_running")
    lines.append(f"  energy: {si(e.get('joules_per_simulated_second'), 'J')} per simulated second"
                 + (f" ({si(power, 'W')} while running)" if isinstance(power, (int, float)) else ""))
    comps = sorted(e.get("components") or [], key=lambda c: -(c.get("joules_per_simulated_second") or 0.0))
    for c in comps:
        kind = "measured" if c.get("measured") else "not measured"
        if "units" in c:  # a static power: watts x units x wall seconds per simulated second
            per = _PER.get(str(c.get("counts", "")).split(" ")[0], "")
            what = (f"{si(c.get('joules_per_event'), 'W')} x {c['units']} {per}"
                    f" x {c.get('wall_seconds_per_simulated_second', 0):.3g} s")
        else:
            what = f"{_num(c.get('count_per_simulated_second'))}/s x {si(c.get('joules_per_event'), 'J')}"
        lines.append(f"    {c.get('name')}: {what} = {si(c.get('joules_per_simulated_second'), 'J')}/s, {kind}")
        if sources:
            lines.append(f"      source: {c.get('source')}")
    if lat:
        rt = lat.get("realtime_factor")
        speed = (f"{rt:.3g}x faster than real time" if isinstance(rt, (int, float)) and rt > 1.0005 else
                 f"{1 / rt:.3g}x slower than real time" if isinstance(rt, (int, float)) and 0 < rt < 0.9995 else
                 "real time")
        lines.append(f"  time per step: {si(lat.get('seconds_per_step'), 's')} ({speed}), "
                     f"{'measured' if lat.get('measured') else 'not measured'}")
        lines.append(f"    basis: {lat.get('basis')}")
        if sources:
            lines.append(f"    source: {lat.get('source')}")
    if not sources:
        lines.append("  measured: by the cited authors on the chip; not measured: pre-silicon, design figure or "
                     "ASSUMPTION. Sources: --all, docs/energy.md")
    return lines
