"""Our plan beside what sPyNNaker mapped, with every difference listed.

``compare(compiled, spec, got, notes)`` -> the ``mapping.json`` document (report.json's
``spynnaker`` object; every field in docs/report-schema.md)::

    ours:      per population slices (PyNN id ranges after our renumbering, chip, core index),
               cores (neuron + delay-extension), chips used, routing entries per chip (after
               PACMAN-style merging: the count compared; also raw and without defaultable), shifts
    spynnaker: per population machine vertices (lo..hi, x, y, p), cores by kind, chips used,
               routing entries per chip (uncompressed, of them drop entries, pre-compressed,
               compressed by PACMAN's host pair compressor), shifts per synapse core
    weights:   per projection: synapses, equal (bool), n_weight_mismatch, n_delay_mismatch
    differences: one line per difference (slices, chips, routing entries, shifts, weights, delays)
    notes:     what of our plan sPyNNaker cannot express (e.g. per-slice chip placement)

Our core index is an application-core index on the chip; sPyNNaker's ``p`` a processor id (core 0
is the monitor), so cores are compared by chip only.
"""
from __future__ import annotations

from typing import Any

import numpy as np


def _our_side(compiled: Any, spec: dict) -> dict[str, Any]:
    from neurocompile.passes.topology import grid_of

    s, pl, rt = compiled.slices, compiled.placements, compiled.routing
    pops: dict[str, list] = {}
    for p in spec["populations"]:
        name, off = p["name"], s.offset[p["name"]]
        lo, rows = 0, []
        for j in range(s.n_slices_of(name)):
            n = int(s.neurons(name, j).size)
            where = pl.of(off + j) if pl is not None else None
            rows.append({"lo": lo, "hi": lo + n - 1, "x": None if where is None else where[0],
                         "y": None if where is None else where[1], "core": None if where is None else where[2],
                         "extra_cores": int(s.extra_cores[off + j])})
            lo += n
        pops[name] = rows
    coords = grid_of(compiled.board).coords

    def per_chip(counts: Any) -> dict[str, int] | None:
        if rt is None or counts is None or not counts.size:
            return None
        return {f"{int(coords[c][0])},{int(coords[c][1])}": int(counts[c]) for c in np.flatnonzero(counts)}

    # PACMAN's "uncompressed" tables come from merged_routing_table_generator: consecutive machine
    # vertices with one route already merged, defaultable entries kept; ours after the same merge
    # is `entries_merged`, the one compared (docs/spynnaker-backend.md, "Routing entries").
    return {"populations": pops,
            "cores_used": int(s.n_slices + int(s.extra_cores.sum())),
            "chips_used": pl.chips_used if pl is not None else None,
            "routing_entries": per_chip(None if rt is None else rt.entries_merged),
            "routing_entries_raw": per_chip(None if rt is None else rt.entries_raw),
            "routing_entries_without_defaultable": per_chip(None if rt is None else rt.entries),
            "ring_buffer_shifts": {p["name"]: p.get("ring_buffer_shifts") for p in spec["populations"]
                                   if p.get("ring_buffer_shifts") is not None}}


def compare_weights(compiled: Any, spec: dict, got: dict) -> tuple[dict[str, Any], list[str]]:
    """Per projection, our (pre, post, delay ticks, uint16) multiset vs the matrix sPyNNaker wrote."""
    from neurocompile.targets.spinnaker.quantize import raw_weights

    net, out, diffs = compiled.network, {}, []
    perms: dict[str, np.ndarray] = {}
    for p in spec["populations"]:
        inv = np.arange(p["size"])
        if p.get("perm"):
            order = np.asarray(_load_perm(compiled, p["name"]), dtype=np.int64)
            inv = np.empty(p["size"], dtype=np.int64)
            inv[order] = np.arange(p["size"])
        perms[p["name"]] = inv
    dt = float(net.dt_ms)
    for q in spec["projections"]:
        proj = net.projections[q["name"]]
        ours = np.stack([perms[proj.pre][proj.pre_idx], perms[proj.post][proj.post_idx],
                         np.rint(proj.delay.astype(np.float64)).astype(np.int64),
                         raw_weights(net, proj).astype(np.int64)], axis=1)
        m = got["matrices"].get(q["name"], {})
        theirs = np.stack([np.asarray(m.get("pre", []), dtype=np.int64),
                           np.asarray(m.get("post", []), dtype=np.int64),
                           np.rint(np.asarray(m.get("delay", []), dtype=float) / dt).astype(np.int64),
                           np.asarray(m.get("w16", []), dtype=np.int64)], axis=1).reshape(-1, 4)
        rec: dict[str, Any] = {"n_ours": int(ours.shape[0]), "n_spynnaker": int(theirs.shape[0])}
        if ours.shape[0] != theirs.shape[0]:
            rec["equal"] = False
            diffs.append(f"projection {q['name']!r}: {ours.shape[0]} synapses ours, {theirs.shape[0]} in "
                         f"sPyNNaker's matrix")
        else:
            a = ours[np.lexsort(ours[:, ::-1].T)]
            b = theirs[np.lexsort(theirs[:, ::-1].T)]
            # compare weights on (pre, post, delay) order, then delays on (pre, post, weight) order
            n_w = int(np.count_nonzero(a[:, 3] != b[:, 3]))
            a2 = ours[np.lexsort((ours[:, 2], ours[:, 3], ours[:, 1], ours[:, 0]))]
            b2 = theirs[np.lexsort((theirs[:, 2], theirs[:, 3], theirs[:, 1], theirs[:, 0]))]
            n_d = int(np.count_nonzero(a2[:, 2] != b2[:, 2]))
            n_pp = int(np.count_nonzero(np.any(a[:, :2] != b[:, :2], axis=1)))
            rec.update({"equal": bool(np.array_equal(a, b)), "n_weight_mismatch": n_w,
                        "n_delay_mismatch": n_d, "n_endpoint_mismatch": n_pp})
            if not rec["equal"]:
                diffs.append(f"projection {q['name']!r}: generated synapses differ from ours "
                             f"({n_w} weight, {n_d} delay, {n_pp} pre/post mismatches after sorting)")
        out[q["name"]] = rec
    return out, diffs


_PERM_CACHE: dict[tuple[int, str], np.ndarray] = {}


def _load_perm(compiled: Any, pop: str) -> np.ndarray:
    from neurocompile.backends.spynnaker.lower import slice_layout

    key = (id(compiled), pop)
    if key not in _PERM_CACHE:
        _PERM_CACHE[key] = slice_layout(compiled, pop)[0]
    return _PERM_CACHE[key]


def compare(compiled: Any, spec: dict, got: dict, notes: list[str]) -> dict[str, Any]:
    ours = _our_side(compiled, spec)
    diffs: list[str] = []
    for name, rows in ours["populations"].items():
        theirs = [r for r in got["populations"].get(name, [])]
        ranges_o = [(r["lo"], r["hi"]) for r in rows]
        ranges_t = sorted({(r["lo"], r["hi"]) for r in theirs})
        if ranges_o != ranges_t:
            diffs.append(f"population {name!r}: our slices {ranges_o[:6]} vs sPyNNaker's cores {ranges_t[:6]}")
        chip_t = {(r["lo"], r["hi"]): (r["x"], r["y"]) for r in theirs}
        moved = [(lo, hi) for (lo, hi), r in zip(ranges_o, rows)
                 if (lo, hi) in chip_t and (r["x"], r["y"]) != chip_t[(lo, hi)]]
        if moved:
            diffs.append(f"population {name!r}: {len(moved)} slice(s) on another chip than ours, e.g. "
                         f"{moved[0]} ours {(rows[ranges_o.index(moved[0])]['x'], rows[ranges_o.index(moved[0])]['y'])}"
                         f" sPyNNaker {chip_t[moved[0]]}")
    if ours["chips_used"] is not None and ours["chips_used"] != got["chips_used"]:
        diffs.append(f"chips used: ours {ours['chips_used']}, sPyNNaker {got['chips_used']}")
    n_t = sum(v for k, v in got["cores_by_kind"].items() if k != "system")
    if ours["cores_used"] != n_t:
        diffs.append(f"application cores: ours {ours['cores_used']}, sPyNNaker {n_t} "
                     f"({got['cores_by_kind']})")
    for name, shifts in ours["ring_buffer_shifts"].items():
        for core in got["synaptic_cores"].get(name, []):
            if core["ring_buffer_shifts"][:2] != shifts:
                diffs.append(f"population {name!r}: ring-buffer shifts ours {shifts}, sPyNNaker "
                             f"{core['ring_buffer_shifts']} on core {core['x']},{core['y']},{core['p']}")
    r_o, r_t = ours["routing_entries"] or {}, got["routing_entries_uncompressed"] or {}
    drop = got.get("routing_entries_drop") or {}
    chips = sorted(set(r_o) | set(r_t))
    r_diff = [c for c in chips if r_o.get(c, 0) != r_t.get(c, 0)]
    if r_diff:
        # PACMAN's drop entries (no core, no link) have no counterpart in our per-slice trees
        only_drop = [c for c in r_diff if r_t.get(c, 0) - drop.get(c, 0) == r_o.get(c, 0)]
        c0 = r_diff[0]
        diffs.append(f"routing entries differ on {len(r_diff)} chip(s), e.g. {c0}: ours "
                     f"{r_o.get(c0, 0)}, sPyNNaker {r_t.get(c0, 0)} of which {drop.get(c0, 0)} drop "
                     f"entries (max ours {max(r_o.values(), default=0)}, sPyNNaker "
                     f"{max(r_t.values(), default=0)}); on {len(only_drop)} of them the difference is "
                     f"exactly PACMAN's drop entries")
    weights, wdiffs = compare_weights(compiled, spec, got)
    diffs += wdiffs
    return {"format": "neurocompile-spynnaker-mapping", "version": 1, "ours": ours,
            "spynnaker": {k: v for k, v in got.items() if k != "matrices"},
            "weights": weights, "weights_equal": all(w.get("equal") for w in weights.values()),
            "differences": diffs, "notes": list(notes)}


# ------------------------------------------------------------- our traffic model on any placement
def traffic_of(compiled: Any, cores: dict[str, list[tuple[int, int, int, int]]]) -> dict[str, float]:
    """Our SpiNNaker traffic model (passes/placement.py) on a placement given as, per population,
    cores ``(lo, hi, x, y)`` over *our* neuron ids in order (lo..hi inclusive, contiguous after
    `order`): every spike of a core is multicast once to each other chip holding a target of that
    core; inter-chip spikes/s, hop-weighted spikes/s (route hops of `topology.hop_matrix`),
    average hops. Rates: `resources.firing_rates` (as the placement pass)."""
    from neurocompile.passes.resources import firing_rates
    from neurocompile.passes.topology import grid_of

    net = compiled.network
    grid = grid_of(compiled.board)
    rates = firing_rates(net, compiled.options)
    core_of: dict[str, np.ndarray] = {}
    chip_of_core: list[int] = []
    core_rate: list[float] = []
    for name, rows in cores.items():
        pop = net.populations[name]
        lab = np.full(pop.size, -1, dtype=np.int64)
        order = cores_order(compiled, name) if rows and rows[0][4] else None
        for lo, hi, x, y, _ in rows:
            neurons = (order[lo:hi + 1] if order is not None else np.arange(lo, hi + 1))
            lab[neurons] = len(chip_of_core)
            chip_of_core.append(int(grid.id_at[x, y]))
            core_rate.append(float(rates[name][neurons].sum()))
        core_of[name] = lab
    chip_arr, rate_arr = np.asarray(chip_of_core, dtype=np.int64), np.asarray(core_rate)
    keys = []
    n_chips = grid.n_chips
    for proj in net.projections.values():
        if not proj.n_synapses:
            continue
        src = core_of[proj.pre][proj.pre_idx]
        dst = core_of[proj.post][proj.post_idx]
        ok = (src >= 0) & (dst >= 0)  # a Poisson source merged into its target has no core
        keys.append(np.unique(src[ok] * n_chips + chip_arr[dst[ok]]))
    uniq = np.unique(np.concatenate(keys)) if keys else np.zeros(0, dtype=np.int64)
    src, dst = uniq // n_chips, uniq % n_chips
    inter = chip_arr[src] != dst
    src, dst = src[inter], dst[inter]
    f = rate_arr[src]
    hop_w = float((f * grid.hops[chip_arr[src], dst]).sum())
    total = float(f.sum())
    return {"inter_chip_spikes_per_s": total, "hop_weighted_spikes_per_s": hop_w,
            "average_hops": hop_w / total if total else 0.0}


def cores_order(compiled: Any, pop: str) -> np.ndarray:
    """Our order of a population's neurons (PyNN id k is our neuron order[k]) under our plan."""
    return _load_perm(compiled, pop)


def ours_as_cores(compiled: Any) -> dict[str, list[tuple]]:
    s, pl = compiled.slices, compiled.placements
    out = {}
    for name in compiled.network.populations:
        lo, rows = 0, []
        for j in range(s.n_slices_of(name)):
            n = int(s.neurons(name, j).size)
            x, y = (int(v) for v in pl.chip[s.offset[name] + j])
            rows.append((lo, lo + n - 1, x, y, True))
            lo += n
        out[name] = rows
    return out


def theirs_as_cores(got: dict, planned: bool) -> dict[str, list[tuple]]:
    """sPyNNaker's cores; with our plan PyNN ids are in our order (flag True), else identity."""
    return {name: [(r["lo"], r["hi"], r["x"], r["y"], True if planned else None) for r in rows]
            for name, rows in got["populations"].items()}
