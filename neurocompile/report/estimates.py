"""Energy and latency estimates before deploying: the board's sourced costs x the network's activity.

Activity is counted per simulated second from per-neuron firing rates and the placement:
synaptic events = sum over synapses of the presynaptic rate (spikes x fan-out), neuron updates =
non-source neurons x steps, inter-chip spikes and hops from where each slice sits (once per
destination chip; per slice on a multicast family, where one key carries every spike of a slice,
else per neuron). At compile time the rates are an explicit assumption (the placement's own,
`resources.firing_rates`); after `simulate` they are the run's spike counts. The costs come only
from the board file (boards/energy.py); docs/energy.md says how rough the result is.
"""
from __future__ import annotations

from typing import Any

import numba
import numpy as np

from neurocompile.boards.energy import EnergyModel, StepTime
from neurocompile.ir.network import Network

ASSUMED_RATES = ("assumed rates (compile time): each neuron at 10 Hz, Poisson sources at their rate, spike arrays "
                 "at their own count (--option 'rates={\"pop\": Hz}' overrides); run simulate -o DIR for measured activity")


def _global_slice(slices: Any, pop: str, idx: np.ndarray) -> np.ndarray:
    return slices.offset[pop] + np.asarray(slices.labels[pop], dtype=np.int64)[idx]


def activity(net: Network, slices: Any, chip_xy: np.ndarray, hops: np.ndarray, chip_id_at: np.ndarray,
             rates: dict[str, np.ndarray], multicast: bool) -> tuple[dict[str, float], np.ndarray, np.ndarray]:
    """Per simulated second: totals by activity name; per slice synaptic events/s and neurons updated."""
    n_slices = slices.n_slices
    steps_per_s = 1000.0 / net.dt_ms
    ok = (chip_xy[:, 0] >= 0) if n_slices else np.zeros(0, bool)
    chip_of = np.full(n_slices, -1, dtype=np.int64)
    chip_of[ok] = chip_id_at[chip_xy[ok, 0], chip_xy[ok, 1]]
    n_chips = int(hops.shape[0])
    syn_per_slice = np.zeros(n_slices)
    upd_per_slice = np.zeros(n_slices)
    slice_rate = np.zeros(n_slices)
    spikes = updates = 0.0
    for name, pop in net.populations.items():
        r = np.asarray(rates[name], dtype=np.float64)
        spikes += float(r.sum())
        gs = _global_slice(slices, name, np.arange(pop.size))
        slice_rate += np.bincount(gs, weights=r, minlength=n_slices)
        if not pop.neuron_model.is_source:
            updates += pop.size * steps_per_s
            upd_per_slice += np.bincount(gs, minlength=n_slices)
    n_units = n_slices if multicast else net.n_neurons
    # (unit, destination chip) pairs a packet goes to, deduplicated: a bitmap when it is small
    # (scatter, no sort), else sorted keys
    bitmap = np.zeros((n_units, n_chips), dtype=bool) if n_units * n_chips <= 50_000_000 else None
    pairs = []
    for proj in net.projections.values():
        if bitmap is not None or n_chips < 2:   # one pass over the synapses, no temporaries
            gs_pre = _global_slice(slices, proj.pre, np.arange(net.populations[proj.pre].size))
            gs_post = _global_slice(slices, proj.post, np.arange(net.populations[proj.post].size))
            events = np.zeros(n_slices)   # this projection's, added to the total as bincount's were
            _projection_activity(proj.pre_idx, proj.post_idx, np.asarray(rates[proj.pre], dtype=np.float64),
                                 gs_pre, gs_post, chip_of, events,
                                 bitmap if bitmap is not None else np.zeros((0, 0), dtype=bool),
                                 n_chips >= 2, multicast, _pop_offset(net, proj.pre))
            syn_per_slice += events
            continue
        r_pre = np.asarray(rates[proj.pre], dtype=np.float64)[proj.pre_idx]
        post_s = _global_slice(slices, proj.post, proj.post_idx)
        syn_per_slice += np.bincount(post_s, weights=r_pre, minlength=n_slices)
        pre_s = _global_slice(slices, proj.pre, proj.pre_idx)
        src_c, dst_c = chip_of[pre_s], chip_of[post_s]
        cross = (src_c >= 0) & (dst_c >= 0) & (src_c != dst_c)
        # the unit a packet is sent for: the slice (one key, multicast) or the neuron (its own axon)
        unit = pre_s[cross] if multicast else proj.pre_idx[cross].astype(np.int64) + _pop_offset(net, proj.pre)
        if bitmap is not None:
            bitmap[unit, dst_c[cross]] = True
        else:
            pairs.append(np.unique(unit * n_chips + dst_c[cross]))
    if bitmap is not None:
        unit, dst = np.nonzero(bitmap)
    elif pairs:
        keys = np.unique(np.concatenate(pairs))
        unit, dst = keys // n_chips, keys % n_chips
    else:
        unit = dst = np.zeros(0, dtype=np.int64)
    if multicast:
        rate_u, src = slice_rate[unit], chip_of[unit]
    else:
        all_r = np.concatenate([np.asarray(rates[p], dtype=np.float64) for p in net.populations] or [np.zeros(0)])
        all_c = np.concatenate([chip_of[_global_slice(slices, p, np.arange(net.populations[p].size))]
                                for p in net.populations] or [np.zeros(0, np.int64)])
        rate_u, src = all_r[unit], all_c[unit]
    inter = float(rate_u.sum())
    chip_hops = float((rate_u * hops[src, dst]).sum()) if unit.size else 0.0
    totals = {"synaptic_events": float(syn_per_slice.sum()), "neuron_updates": updates, "spikes": spikes,
              "inter_chip_spikes": inter, "chip_hops": chip_hops, "router_passes": spikes + chip_hops}
    return totals, syn_per_slice, upd_per_slice


@numba.njit(cache=True)
def _projection_activity(pre_idx, post_idx, rate, gs_pre, gs_post, chip_of, syn_per_slice, bitmap,
                         crossings, multicast, unit_offset):  # pragma: no cover - compiled
    """Per target slice, the synaptic events per second (in synapse order, as np.bincount adds
    them); and, when `crossings`, mark (sending unit, destination chip) for synapses whose
    source and target slices are on different chips."""
    for k in range(pre_idx.shape[0]):
        i = pre_idx[k]
        ps = gs_post[post_idx[k]]
        syn_per_slice[ps] += rate[i]
        if crossings:
            s = gs_pre[i]
            sc, dc = chip_of[s], chip_of[ps]
            if sc >= 0 and dc >= 0 and sc != dc:
                bitmap[s if multicast else unit_offset + i, dc] = True


def _pop_offset(net: Network, name: str) -> int:
    off = 0
    for p in net.populations.values():
        if p.name == name:
            return off
        off += p.size
    raise KeyError(name)


def _latency(step: StepTime, dt_s: float, syn_per_slice: np.ndarray, upd_per_slice: np.ndarray,
             steps_per_s: float) -> dict[str, Any]:
    if step.model == "real_time":
        sec = dt_s * step.time_scale_factor
        basis = (f"real time: one timer tick of dt x time_scale_factor ({step.time_scale_factor:g}) per step; "
                 f"assumes every core finishes its work within the tick")
        return {"seconds_per_step": sec, "realtime_factor": dt_s / sec, "basis": basis, "source": step.source,
                "measured": step.measured}
    per = {c.counts: c.value for c in step.costs}
    work = (syn_per_slice / steps_per_s * per.get("synaptic_events", 0.0)
            + upd_per_slice * per.get("neuron_updates", 0.0))
    busiest = float(work.max()) if work.size else 0.0
    sec = step.barrier.value + busiest
    basis = (f"barrier {step.barrier.value:.3g} s + busiest core's work per step {busiest:.3g} s "
             f"(its synaptic events x {per.get('synaptic_events', 0.0):.3g} s + neurons x "
             f"{per.get('neuron_updates', 0.0):.3g} s); cores run in parallel, spikes in flight not counted")
    return {"seconds_per_step": sec, "realtime_factor": dt_s / sec, "basis": basis,
            "source": f"{step.source}; barrier: {step.barrier.source}",
            "measured": step.measured and step.barrier.measured}


def estimate(model: EnergyModel | None, board: Any, net: Network, slices: Any, chip_xy: np.ndarray,
             hops: np.ndarray, chip_id_at: np.ndarray, rates: dict[str, np.ndarray], multicast: bool,
             activity_source: str, cores_used: int) -> dict[str, Any]:
    """report.json `estimates` (docs/report-schema.md), or {"unavailable": why}."""
    if model is None or model.step_time is None:
        return {"unavailable": f"board {board.name!r} has no energy section with step_time (docs/energy.md)"}
    if slices is None or slices.n_slices == 0:
        return {"unavailable": "nothing was placed"}
    dt_s = net.dt_ms / 1000.0
    steps_per_s = 1.0 / dt_s
    totals, syn_s, upd_s = activity(net, slices, chip_xy, hops, chip_id_at, rates, multicast)
    latency = _latency(model.step_time, dt_s, syn_s, upd_s, steps_per_s)
    wall_per_sim_s = 1.0 / latency["realtime_factor"]
    chips_used = int(np.unique(chip_xy[chip_xy[:, 0] >= 0], axis=0).shape[0])
    units = {"chip_used": chips_used, "core_used": cores_used, "chip": board.n_chips,
             "board": max(1, len(board.topology.ethernet_chips)), "system": 1}
    comps = []
    for c in model.events:
        n = totals[c.counts]
        comps.append({"name": c.name, "counts": c.counts, "count_per_simulated_second": n, "joules_per_event": c.value,
                      "joules_per_simulated_second": n * c.value, "source": c.source, "measured": c.measured})
    for c in model.static:
        n = units[c.counts] * wall_per_sim_s  # unit-seconds of wall time per simulated second
        comps.append({"name": c.name, "counts": f"{c.counts} x wall seconds", "count_per_simulated_second": n,
                      "joules_per_event": c.value, "joules_per_simulated_second": n * c.value, "source": c.source,
                      "measured": c.measured, "units": units[c.counts], "wall_seconds_per_simulated_second":
                      wall_per_sim_s})
    total = float(sum(c["joules_per_simulated_second"] for c in comps))
    return {"energy": {"joules_per_simulated_second": total, "watts_while_running": total / wall_per_sim_s,
                       "activity_source": activity_source, "activity": totals, "components": comps},
            "latency": latency}


def estimate_compiled(compiled: Any, rates: dict[str, np.ndarray], activity_source: str) -> dict[str, Any]:
    """Estimates for a CompiledNetwork (at compile time, or with a simulation's measured rates)."""
    from neurocompile.passes.topology import grid_of
    from neurocompile.targets import family_of

    board, sl, pl = compiled.board, compiled.slices, compiled.placements
    if sl is None or pl is None:
        return {"unavailable": "the network was not partitioned and placed"}
    grid = grid_of(board)
    cores = int(sl.n_slices + int(np.asarray(sl.extra_cores).sum()))
    return estimate(board.energy, board, compiled.network, sl, np.asarray(pl.chip), grid.hops, grid.id_at, rates,
                    family_of(board).multicast, activity_source, cores)


def measured_rates(net: Network, spikes: dict[str, tuple[np.ndarray, np.ndarray]], steps: int) -> dict[str, np.ndarray]:
    """Per neuron spikes/s of a run (a population the run did not record counts as silent)."""
    dur = steps * net.dt_ms / 1000.0
    out = {}
    for name, pop in net.populations.items():
        ids = spikes[name][1] if name in spikes else np.zeros(0, dtype=np.int64)
        out[name] = np.bincount(np.asarray(ids, dtype=np.int64), minlength=pop.size)[:pop.size] / dur
    return out
