"""Our plan beside what sPyNNaker mapped, with every difference listed.

``compare(compiled, spec, got, notes)`` -> the ``mapping.json`` document::

    ours:      per population slices (PyNN id ranges after our renumbering, chip, core index),
               cores (neuron + delay-extension), chips used, routing entries per chip, shifts
    spynnaker: per population machine vertices (lo..hi, x, y, p), cores by kind, chips used,
               routing entries per chip (uncompressed, pre-compressed), shifts per synapse core
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
    routing = None
    if rt is not None and rt.entries_raw.size:
        coords = grid_of(compiled.board).coords
        routing = {f"{int(coords[c][0])},{int(coords[c][1])}": int(rt.entries_raw[c])
                   for c in np.flatnonzero(rt.entries_raw)}
    return {"populations": pops,
            "cores_used": int(s.n_slices + int(s.extra_cores.sum())),
            "chips_used": pl.chips_used if pl is not None else None,
            "routing_entries": routing,
            "routing_entries_after_merge": (None if rt is None or not rt.entries.size else
                                            {f"{int(c[0])},{int(c[1])}": int(rt.entries[i])
                                             for i, c in enumerate(grid_of(compiled.board).coords)
                                             if rt.entries[i]}),
            "ring_buffer_shifts": {p["name"]: p.get("ring_buffer_shifts") for p in spec["populations"]
                                   if p.get("ring_buffer_shifts") is not None}}


def compare_weights(compiled: Any, spec: dict, got: dict) -> tuple[dict[str, Any], list[str]]:
    """Per projection, our (pre, post, delay ms, uint16) multiset vs the matrix sPyNNaker wrote."""
    import numpy as np

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
    chips = sorted(set(r_o) | set(r_t))
    r_diff = [c for c in chips if r_o.get(c, 0) != r_t.get(c, 0)]
    if r_diff:
        diffs.append(f"routing entries differ on {len(r_diff)} chip(s), e.g. {r_diff[0]}: ours "
                     f"{r_o.get(r_diff[0], 0)}, sPyNNaker {r_t.get(r_diff[0], 0)} (max ours "
                     f"{max(r_o.values(), default=0)}, sPyNNaker {max(r_t.values(), default=0)})")
    weights, wdiffs = compare_weights(compiled, spec, got)
    diffs += wdiffs
    return {"format": "neurocompile-spynnaker-mapping", "version": 1, "ours": ours,
            "spynnaker": {k: v for k, v in got.items() if k != "matrices"},
            "weights": weights, "weights_equal": all(w.get("equal") for w in weights.values()),
            "differences": diffs, "notes": list(notes)}
