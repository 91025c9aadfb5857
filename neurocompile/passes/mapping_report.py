"""`mapping_report(net, ctx)`: the mapping section of report.json (placement, utilization, traffic).

Keys (all JSON-serialisable):
- `slices`: per slice {id, population, slice, n_neurons, start, stop, ranges, chip, core, extra_cores}
- `cores`: per placed slice, every per-core resource {resource: {value, limit}}
- `chips`: per used chip {chip, cores {value, limit}, sdram_bytes {value, limit} (SpiNNaker),
  router_entries {value, limit, merged, raw} (SpiNNaker)}
- `summary`: cores/chips used vs lower bound and available, max utilization per resource,
  inter-chip spike traffic (spikes/s, once per destination chip), hop-weighted traffic, average hop
  count, the same for the sPyNNaker-style baseline placement, link traversals/s and max link load
  (spikes/s on one link), max routing entries per chip, routing key bits.
- `resources`: per resource {unit, description, provenance} ("estimate" marks modelled sizes).
- `violations`: what the resource check found (empty when it passed).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from neurocompile.ir.network import Network
from neurocompile.passes.partition import Partition
from neurocompile.passes.pipeline import CompileContext
from neurocompile.passes.placement import PlacementResult, chip_capacity, slice_demands
from neurocompile.passes.resources import RESOURCES, Target
from neurocompile.passes.routing import RoutingResult


def _f(x: Any) -> Any:
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating, float)):
        return round(float(x), 6)
    return x


def mapping_report(net: Network, ctx: CompileContext) -> dict[str, Any]:
    part: Partition | None = ctx.partition
    if part is None:
        return {}
    t: Target = ctx.target
    pl: PlacementResult | None = ctx.placement
    rt: RoutingResult | None = ctx.routing
    grid = pl.grid if pl is not None else None
    slices, cores = [], []
    max_util: dict[str, float] = {}
    for s in part.slices:
        c = int(pl.chip_of[s.id]) if pl is not None else -1
        chip = [int(grid.coords[c, 0]), int(grid.coords[c, 1])] if c >= 0 else None
        core = int(pl.core_of[s.id]) if pl is not None else -1
        slices.append({"id": s.id, "population": s.population, "slice": s.index, "n_neurons": s.n_neurons,
                       "start": s.start, "stop": s.stop, "ranges": s.ranges(), "chip": chip, "core": core,
                       "extra_cores": int(part.extra_cores[s.id])})
        use = part.slice_usage(s)
        entry = {"slice": s.id, "chip": chip, "core": core}
        for r, (v, lim) in use.items():
            entry[r] = {"value": v, "limit": lim}
            if lim:
                max_util[r] = max(max_util.get(r, 0.0), v / lim)
        cores.append(entry)
    summary: dict[str, Any] = {
        "slices": len(part.slices),
        "cores_used": int(len(part.slices) + part.extra_cores.sum()),
        "cores_lower_bound": part.lower_bound_cores,
        "partition_methods": dict(part.method),
        "max_utilization": {k: round(v, 4) for k, v in sorted(max_util.items())},
    }
    chips_out = []
    if pl is not None:
        dem_c, dem_s = slice_demands(part, t)
        cap = chip_capacity(t, grid)
        placed = pl.chip_of >= 0
        used_c = np.bincount(pl.chip_of[placed], weights=dem_c[placed], minlength=grid.n_chips)
        used_s = np.bincount(pl.chip_of[placed], weights=dem_s[placed], minlength=grid.n_chips)
        used = np.flatnonzero(used_c > 0)
        for c in used:
            e: dict[str, Any] = {"chip": [int(grid.coords[c, 0]), int(grid.coords[c, 1])],
                                 "cores": {"value": int(used_c[c]), "limit": int(cap[c])}}
            e.update(t.family.chip_resources(t, float(used_s[c])))
            if rt is not None and rt.entries is not None:
                e["router_entries"] = {"value": int(rt.entries[c]), "limit": t.router_entries,
                                       "merged": int(rt.entries_merged[c]), "raw": int(rt.entries_raw[c])}
            chips_out.append(e)
        # chips that route but hold no slice still have tables
        if rt is not None and rt.entries is not None:
            for c in np.flatnonzero((rt.entries_raw > 0) & (used_c == 0)):
                chips_out.append({"chip": [int(grid.coords[c, 0]), int(grid.coords[c, 1])],
                                  "cores": {"value": 0, "limit": int(cap[c])},
                                  "router_entries": {"value": int(rt.entries[c]), "limit": t.router_entries,
                                                     "merged": int(rt.entries_merged[c]),
                                                     "raw": int(rt.entries_raw[c])}})
        per_chip = int(cap.max()) if cap.size else 0
        lb_chips = -(-part.lower_bound_cores // per_chip) if per_chip else 0
        if t.sdram_bytes:
            lb_chips = max(lb_chips, int(-(-dem_s.sum() // t.sdram_bytes)))
        summary.update({
            "cores_available": int(cap.sum()),
            "chips_used": int(used.size),
            "chips_lower_bound": lb_chips,
            "chips_available": grid.n_chips,
            "unplaced_slices": int(pl.unplaced.size),
            "inter_chip_spikes_per_s": _f(pl.traffic["inter_chip_spikes_per_s"]),
            "hop_weighted_spikes_per_s": _f(pl.traffic["hop_weighted_spikes_per_s"]),
            "average_hops": _f(pl.traffic["average_hops"]),
            "placement_cost": _f(pl.cost),
            "baseline_spynnaker_style": {
                "inter_chip_spikes_per_s": _f(pl.baseline_traffic["inter_chip_spikes_per_s"]),
                "hop_weighted_spikes_per_s": _f(pl.baseline_traffic["hop_weighted_spikes_per_s"]),
                "average_hops": _f(pl.baseline_traffic["average_hops"]),
                "placement_cost": _f(pl.baseline_cost),
            },
        })
    if rt is not None:
        summary["link_traversals_per_s"] = _f(rt.link_traversals_per_s)
        summary["max_link_load_spikes_per_s"] = _f(float(rt.link_load.max()) if rt.link_load is not None
                                                   and rt.link_load.size else 0.0)
        if rt.entries is not None:
            summary["max_routing_entries_per_chip"] = int(rt.entries.max(initial=0))
            summary["max_routing_entries_before_default_routes"] = int(rt.entries_merged.max(initial=0))
            summary["router_entries_limit"] = t.router_entries
            summary["key_bits"] = rt.key_bits
    return {
        "summary": summary,
        "slices": slices,
        "cores": cores,
        "chips": chips_out,
        "resources": {k: {"unit": u, "description": d, "provenance": p} for k, (u, d, p) in RESOURCES.items()},
        "violations": [v.to_dict() for v in ctx.violations],
    }
