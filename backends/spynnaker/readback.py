"""What sPyNNaker 1!7.4.1 mapped, read back after ``sim.run`` (before ``sim.end``).

Imported only inside the sPyNNaker subprocess (``pynn_script.py --mapping``). The synaptic-matrix
decode is the one ``tests/test_spinnaker_weight_scaling.py`` established: the ring-buffer shifts
from the synapse-parameters region (word 7 on, ``population_machine_synapses.
_write_synapse_parameters``) in the data-spec database (the bytes the loader would copy to SDRAM),
and per projection the synapse words sliced out of the synaptic-matrix region at the offsets
sPyNNaker reserved for it (undelayed and delay-extension blocks), decoded by sPyNNaker's own reader
``synapse_io.convert_to_connections``; for static rows the 16-bit weight is also taken from the raw
word (``word >> 16``) and both must agree.

Everything is returned in PyNN ids (the exported order); the backend maps them back to ours. The
matrices are numpy arrays (the script saves them to an .npz beside the JSON).
"""
from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np


def _placements(pops: dict[str, Any]) -> tuple[dict[str, list], list[dict]]:
    from spynnaker.pyNN.data import SpynnakerDataView

    per_pop: dict[str, list] = {}
    by_app = {id(p._vertex): name for name, p in pops.items()}  # pylint: disable=protected-access
    for name, pop in pops.items():
        rows = []
        for mv in sorted(pop._vertex.machine_vertices, key=lambda v: (v.vertex_slice.lo_atom, v.label or "")):
            pl = SpynnakerDataView.get_placement_of_vertex(mv)
            rows.append({"lo": int(mv.vertex_slice.lo_atom), "hi": int(mv.vertex_slice.hi_atom),
                         "x": int(pl.x), "y": int(pl.y), "p": int(pl.p), "vertex": type(mv).__name__})
        per_pop[name] = rows
    every = []
    for pl in SpynnakerDataView.iterate_placemements():
        app = pl.vertex.app_vertex
        owner = by_app.get(id(app))
        if owner is None and app is not None:
            # delay extensions belong to the population they delay
            src = getattr(app, "source_vertex", None)
            owner = by_app.get(id(src))
            kind = "delay_extension" if owner is not None else "system"
        else:
            kind = "population" if owner is not None else "system"
        every.append({"x": int(pl.x), "y": int(pl.y), "p": int(pl.p), "kind": kind, "population": owner,
                      "vertex": type(pl.vertex).__name__})
    return per_pop, every


def _tables(getter_name: str) -> dict[str, int] | None:
    from spynnaker.pyNN.data import SpynnakerDataView

    try:
        tables = getattr(SpynnakerDataView, getter_name)()
    except Exception:  # not produced in this run (e.g. no pre-compression)
        return None
    return {f"{t.x},{t.y}": int(t.number_of_entries) for t in tables.routing_tables}


def _drop_entries() -> dict[str, int] | None:
    """Per chip, uncompressed entries that send nowhere (no core, no link): PACMAN routes one tree
    per application vertex and, on chips of that tree, adds such an entry for every machine vertex
    whose packets have no target there, so they are dropped instead of default-routed
    (application_router._convert_a_route, ensure_all_source / _Targets.ensure_source)."""
    from spynnaker.pyNN.data import SpynnakerDataView

    try:
        tables = SpynnakerDataView.get_uncompressed()
    except Exception:
        return None
    return {f"{t.x},{t.y}": sum(1 for e in t.multicast_routing_entries if e.spinnaker_route == 0)
            for t in tables.routing_tables}


#: Blocks up to this many synapses are decoded twice (ours and sPyNNaker's reader) and must agree;
#: larger static undelayed blocks use only the vectorised decode (sPyNNaker's reader loops in Python
#: per row: 85 s for 1M synapses).
CROSS_CHECK_SYNAPSES = 50_000


def _decode_static_undelayed(block: bytes, max_words: int, id_bits: int, type_bits: int, lo_atom: int,
                             max_delay: int, per_ms: float):
    """(source, target, delay ms, uint16 weight) of an undelayed static block, as sPyNNaker's
    ``synapse_io._read_static_data`` + ``read_static_synaptic_data`` read it: row i holds the
    synapses of pre atom i: ``[0, n, 0, word * n, padding]``, word = weight << 16 | delay <<
    (id_bits + type_bits) | type << id_bits | target - lo; delay 0 means the post's max delay."""
    rows = np.frombuffer(block, "<u4").reshape(-1, max_words + 3)
    n = rows[:, 1].astype(np.int64)
    mask = np.arange(max_words)[None, :] < n[:, None]
    words = rows[:, 3:][mask].astype(np.int64)
    src = np.repeat(np.arange(rows.shape[0], dtype=np.int64), n)
    tgt = (words & ((1 << id_bits) - 1)) + lo_atom
    ticks = (words & 0xFFFF) >> (id_bits + type_bits)
    ticks[ticks == 0] = max_delay
    return src, tgt, ticks.astype(np.float64) / per_ms, words >> 16  # ms as _rescale_connections


def _compressed() -> dict[str, int] | None:
    try:
        from pacman.operations.router_compressors.pair_compressor import pair_compressor

        tables = pair_compressor(accept_overflow=True, c_sort=True)
    except Exception as e:  # reported, not fatal: the rest of the readback stands
        return {"error": f"{type(e).__name__}: {e}"}
    return {f"{t.x},{t.y}": int(t.number_of_entries) for t in tables.routing_tables}


def _matrices(pops: dict[str, Any], projs: dict[str, Any]) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, list]]:
    from pacman.utilities.utility_calls import get_n_bits
    from spinn_front_end_common.interface.ds import DsSqlliteDatabase
    from spynnaker.pyNN.data import SpynnakerDataView
    from spynnaker.pyNN.models.neuron.synapse_io import convert_to_connections

    per_ms = float(SpynnakerDataView.get_simulation_time_step_per_ms())
    by_post: dict[str, list] = {}
    for name, proj in projs.items():
        by_post.setdefault(proj.post.label, []).append((name, proj))
    out: dict[str, dict[str, list[np.ndarray]]] = {n: {"pre": [], "post": [], "delay": [], "w16": [], "core": []}
                                       for n in projs}
    cores: dict[str, list] = {}
    with DsSqlliteDatabase() as ds:
        for post_name, plist in by_post.items():
            app = pops[post_name]._vertex  # pylint: disable=protected-access
            cores[post_name] = []
            for mv in app.machine_vertices:
                sreg = getattr(mv, "SYNAPSE_REGIONS", None)
                if sreg is None:
                    continue
                pl = SpynnakerDataView.get_placement_of_vertex(mv)
                regions = {num: content for num, _ptr, content
                           in ds.get_region_pointers_and_content(pl.x, pl.y, pl.p)}
                if regions.get(sreg.synapse_params) is None:
                    continue  # a shared synapse core: the lead core holds the matrices
                sp = np.frombuffer(bytes(regions[sreg.synapse_params]), "<u4")
                n_types = int(sp[1])
                shifts = [int(x) for x in sp[7:7 + n_types]]
                core_id = len(cores[post_name])
                cores[post_name].append({"x": int(pl.x), "y": int(pl.y), "p": int(pl.p),
                                         "lo": int(mv.vertex_slice.lo_atom), "hi": int(mv.vertex_slice.hi_atom),
                                         "ring_buffer_shifts": shifts})
                content = regions.get(sreg.synaptic_matrix)
                content = bytes(content) if content is not None else b""
                matrices = mv._synaptic_matrices._SynapticMatrices__matrices
                for pname, proj in plist:
                    s_info = proj._synapse_information
                    m = matrices.get((proj._projection_edge, s_info))
                    if m is None:
                        continue
                    scales = np.asarray(m._SynapticMatrixApp__weight_scales, dtype=float)
                    mri = m._SynapticMatrixApp__max_row_info
                    mapc = m._SynapticMatrixApp__max_atoms_per_core
                    id_bits = get_n_bits(mapc)
                    blocks = []
                    if m._SynapticMatrixApp__syn_mat_offset is not None:
                        o = m._SynapticMatrixApp__syn_mat_offset
                        blocks.append((False, content[o:o + m._SynapticMatrixApp__matrix_size],
                                       mri.undelayed_max_words))
                    if m._SynapticMatrixApp__delay_syn_mat_offset is not None:
                        o = m._SynapticMatrixApp__delay_syn_mat_offset
                        blocks.append((True, content[o:o + m._SynapticMatrixApp__delay_matrix_size],
                                       mri.delayed_max_words))
                    scale = scales[s_info.synapse_type]
                    static = type(s_info.synapse_dynamics).__name__ == "SynapseDynamicsStatic"
                    max_delay = app.splitter.max_support_delay()
                    lo = mv.vertex_slice.lo_atom
                    for delayed, block, max_words in blocks:
                        fast = None
                        if static and not delayed and len(block):
                            fast = _decode_static_undelayed(block, max_words, id_bits, get_n_bits(n_types),
                                                            lo, max_delay, per_ms)
                        if fast is not None and len(fast[0]) > CROSS_CHECK_SYNAPSES:
                            src, tgt, dly, w16 = fast  # large: our vectorised decode only
                        else:
                            conns = convert_to_connections(
                                s_info, mv.vertex_slice, proj._projection_edge.pre_vertex.n_atoms,
                                max_words, n_types, scales, block, delayed, max_delay, mapc)
                            src = np.asarray(conns["source"], dtype=np.int64)
                            tgt = np.asarray(conns["target"], dtype=np.int64)
                            dly = np.asarray(conns["delay"], dtype=np.float64)
                            w16 = np.rint(np.asarray(conns["weight"], dtype=float) * scale).astype(np.int64)
                            if fast is not None and not all(np.array_equal(a, b) for a, b in
                                                            zip(fast, (src, tgt, dly, w16))):
                                raise RuntimeError(f"projection {pname}: raw synapse words disagree with "
                                                   f"sPyNNaker's reader on core {pl.x},{pl.y},{pl.p}")
                        conns = {"source": src, "target": tgt, "delay": dly}
                        rec = out[pname]
                        rec["pre"].append(np.asarray(conns["source"], dtype=np.int64))
                        rec["post"].append(np.asarray(conns["target"], dtype=np.int64))
                        rec["delay"].append(np.asarray(conns["delay"], dtype=np.float64))
                        rec["w16"].append(np.asarray(w16, dtype=np.int64))
                        rec["core"].append(np.full(len(src), core_id, dtype=np.int64))
    dtypes = {"pre": np.int64, "post": np.int64, "delay": np.float64, "w16": np.int64, "core": np.int64}
    arrays = {n: {k: (np.concatenate(v) if v else np.zeros(0, dtypes[k])) for k, v in rec.items()}
              for n, rec in out.items()}
    return arrays, cores


def read_back(sim: Any, spec: dict, pops: dict[str, Any], projs: dict[str, Any]) -> dict[str, Any]:
    """Placements, routing-table sizes, cores/chips used and synaptic matrices of this run."""
    per_pop, every = _placements(pops)
    app_cores = [p for p in every if p["kind"] != "system"]
    chips = sorted({(p["x"], p["y"]) for p in app_cores})
    matrices, syn_cores = _matrices(pops, projs)
    uncompressed = _tables("get_uncompressed")
    precompressed = _tables("get_precompressed")
    return {
        "populations": per_pop,
        "placements": every,
        "cores_used": len(app_cores),
        "cores_by_kind": dict(Counter(p["kind"] for p in every)),
        "chips_used": len(chips),
        "chips": [list(c) for c in chips],
        "routing_entries_uncompressed": uncompressed,
        "routing_entries_precompressed": precompressed,
        "routing_entries_drop": _drop_entries(),  # of the uncompressed ones: route to nowhere
        # on-chip compression does not run on a virtual board (and on a board only above 1023
        # entries): PACMAN's host pair compressor, the algorithm of PairOnChipRouterCompression
        # (c_sort as on chip), on the same tables
        "routing_entries_compressed": _compressed(),
        "synaptic_cores": syn_cores,
        "matrices": matrices,  # {projection: {pre, post, delay (ms), w16, core}: numpy arrays}
    }
