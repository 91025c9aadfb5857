#!/usr/bin/env python
"""Run a network exported by neurocompile on SpiNNaker with stock sPyNNaker (PyNN 0.13).

Needs only ``pyNN.spiNNaker`` (sPyNNaker 1!7.4.1) and numpy: no neurocompile import. The network
is in ``network.json`` (populations, projections, plan) and ``network.npz`` (arrays) beside this
file. Usage::

    python run_pynn.py [--data DIR] [--steps N] [--spikes OUT.npz] [--no-plan] [--stock-synapses]

sPyNNaker reads its machine from its own configuration (``~/.spynnaker.cfg``,
``$XDG_CONFIG_HOME/.spynnaker.cfg`` or ``./spynnaker.cfg``): ``[Machine] machine_name = ...`` and
``version = 5`` for a board, ``spalloc_server = ...`` for a multi-board machine, or
``virtual_board = True`` to map without hardware (no spikes are produced then).

What the script applies from neurocompile's plan (``--no-plan`` drops the first three and lets
sPyNNaker partition and place on its own):

* neurons per core (``set_max_atoms_per_core``) and the neuron order that makes each of our core
  slices a contiguous range of ids (``perm_<pop>`` in the npz: PyNN id k is our neuron perm[k];
  recorded spikes are mapped back to our ids);
* ``add_placement_constraint(x, y)`` for a population whose slices are all on one chip, and for
  one spread over several chips the chip of each core (``pin_slices``);
* ``max_expected_summed_weight`` per population, forcing the ring-buffer shifts neurocompile chose,
  so the uint16 weights sPyNNaker writes are the ones neurocompile quantized (kept with --no-plan).

Host-side speed (same bytes; ``--stock-synapses`` and ``--no-plan`` use sPyNNaker's own code): static
projections get ``SortedRowsStaticSynapse`` and ``SortedListConnector`` (subclasses of sPyNNaker's
classes), and this process's ``synapse_io._get_row_data`` is replaced by ``row_data_static``
(a module attribute set here, only on sPyNNaker 1!7.4.1; no installed file is changed).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

LIF_PARAMS = ("tau_m", "cm", "v_rest", "v_reset", "v_thresh", "tau_refrac", "tau_syn_E", "tau_syn_I",
              "i_offset")


def _value(data, p, key):
    """A parameter: a scalar in the JSON, or an array in the npz (already in PyNN id order)."""
    v = p["params"][key]
    if isinstance(v, str):
        return data[v]
    return v


def sorted_rows_static_synapse():
    """A SortedRowsStaticSynapse (sorted_rows_static_synapse_class) with sPyNNaker's defaults."""
    return sorted_rows_static_synapse_class()()


def sorted_rows_static_synapse_class():
    """sPyNNaker's StaticSynapse with two host-side methods replaced by equivalents: the rows of a
    synaptic block built by one stable sort instead of a boolean mask over the whole block per
    row, and the read-back of a block (virtual-board connection holders) by one ``repeat``.

    7.4.1's ``AbstractSDRAMSynapseDynamics.convert_per_connection_data_to_rows`` computes
    ``data[connection_row_indices == i][:max_n_synapses]`` for every row i: rows x connections
    per post core, 75 % of ``sim.run`` at 10,000 neurons / 1.1M synapses (host data generation on
    a virtual board). A stable argsort keeps each row's connections in their original order, so
    every row, and therefore every byte sPyNNaker writes, is the same (the backend's readback
    checks the weights bit for bit). A subclass, passed as ``synapse_type``: sPyNNaker itself is
    not patched; ``--stock-synapses`` uses ``sim.StaticSynapse``."""
    from spynnaker.pyNN.models.neuron.synapse_dynamics import SynapseDynamicsStatic

    class SortedRowsStaticSynapse(SynapseDynamicsStatic):
        same_rows_as_stock = True  # rows as 7.4.1's (tested): row_data_static may replace them

        def convert_per_connection_data_to_rows(self, connection_row_indices, n_rows, data, max_n_synapses):
            rows = np.asarray(connection_row_indices)
            order = np.argsort(rows, kind="stable")
            bounds = np.searchsorted(rows[order], np.arange(n_rows + 1))
            ordered = data[order]
            return [ordered[bounds[i]:min(bounds[i + 1], bounds[i] + max_n_synapses)].reshape(-1)
                    for i in range(n_rows)]

        def read_static_synaptic_data(self, n_synapse_types, ff_size, ff_data, max_atoms_per_core):
            # 7.4.1 builds the source column with one numpy.repeat per row; on a virtual board every
            # Projection keeps a connection holder that reads each generated block back this way
            # (9 % of sim.run at 10,000 neurons). One repeat gives the same column.
            from spynnaker.pyNN.models.neuron.synapse_dynamics.synapse_dynamics_static import (
                NUMPY_CONNECTORS_DTYPE, get_n_bits)
            n_synapse_type_bits = get_n_bits(n_synapse_types)
            n_neuron_id_bits = get_n_bits(max_atoms_per_core)
            data = np.concatenate(ff_data)
            connections = np.zeros(data.size, dtype=NUMPY_CONNECTORS_DTYPE)
            sizes = np.asarray(ff_size).reshape(len(ff_size), -1)[:, 0]
            connections["source"] = np.repeat(np.arange(len(ff_size)), sizes)
            connections["target"] = data & ((1 << n_neuron_id_bits) - 1)
            connections["weight"] = (data >> 16) & 0xFFFF
            connections["delay"] = (data & 0xFFFF) >> (n_neuron_id_bits + n_synapse_type_bits)
            return connections

    return SortedRowsStaticSynapse


def row_data_static(stock_get_row_data):
    """A same-bytes replacement of sPyNNaker 1!7.4.1's module function
    ``spynnaker.pyNN.models.neuron.synapse_io._get_row_data`` (called by ``synapse_io.get_synapses``
    for the undelayed and the delayed matrix of every (projection, post core) block).

    7.4.1 builds every row in Python: the dynamics' rows (one array per row), a padding array per
    row and one ``numpy.concatenate`` per row, then one over all rows: n_rows (10,000 at 10,000
    neurons, times 80 blocks) of each. For static rows of ``SynapseDynamicsStatic`` (not padded,
    rows built the stock way or by ``SortedRowsStaticSynapse``) this computes the same words in
    one pass: the fixed-fixed word of 7.4.1's ``get_static_synaptic_data`` (same expression),
    each row's connections in their original order (stable sort) cut to ``max_row_n_synapses``,
    laid out as 7.4.1 lays out a row: [plastic-plastic size 0, fixed-fixed size, fixed-plastic
    size 0, words..., zeros up to ``max_row_n_words``]. Anything else (plastic rows, padded rows,
    other dynamics, no rows, a row longer than ``max_row_n_words``) goes to ``stock_get_row_data``,
    7.4.1's own function. tests/test_spynnaker_rows.py compares both on random blocks.
    """
    from spynnaker.pyNN.models.neuron.synapse_dynamics import (
        AbstractSDRAMSynapseDynamics, SynapseDynamicsStatic)
    from spynnaker.pyNN.models.neuron.synapse_dynamics.synapse_dynamics_static import get_n_bits

    stock_rows = AbstractSDRAMSynapseDynamics.convert_per_connection_data_to_rows
    stock_static = SynapseDynamicsStatic.get_static_synaptic_data

    def _get_row_data(connections, row_indices, n_rows, n_synapse_types, synapse_dynamics,
                      max_row_n_synapses, max_row_n_words, max_atoms_per_core):
        cls = type(synapse_dynamics)
        if (not isinstance(synapse_dynamics, SynapseDynamicsStatic) or n_rows <= 0
                or cls.get_static_synaptic_data is not stock_static
                or synapse_dynamics.pad_to_length is not None
                or not (cls.convert_per_connection_data_to_rows is stock_rows
                        or getattr(cls, "same_rows_as_stock", False))):
            return stock_get_row_data(connections, row_indices, n_rows, n_synapse_types,
                                      synapse_dynamics, max_row_n_synapses, max_row_n_words,
                                      max_atoms_per_core)
        n_neuron_id_bits = get_n_bits(max_atoms_per_core)
        neuron_id_mask = (1 << n_neuron_id_bits) - 1
        n_synapse_type_bits = get_n_bits(n_synapse_types)
        # SynapseDynamicsStatic.get_static_synaptic_data's word, same expression
        fixed_fixed = (
            ((np.rint(np.abs(connections["weight"])).astype(np.uint32) & 0xFFFF) << 16) |
            (connections["delay"].astype(np.uint32) << (n_neuron_id_bits + n_synapse_type_bits)) |
            (connections["synapse_type"].astype(np.uint32) << n_neuron_id_bits) |
            (connections["target"] & neuron_id_mask))
        rows = np.asarray(row_indices).astype(np.int64)
        keep = (rows >= 0) & (rows < n_rows)          # 7.4.1 never matches other indices
        rows, words = rows[keep], fixed_fixed.astype(np.uint32)[keep]
        order = np.argsort(rows, kind="stable")       # a row keeps its connections' order
        rows, words = rows[order], words[order]
        counts = np.bincount(rows, minlength=n_rows)
        sizes = np.minimum(counts, max_row_n_synapses)  # data[rows == i][:max_n_synapses]
        if sizes.size and int(sizes.max()) > max_row_n_words:
            return stock_get_row_data(connections, row_indices, n_rows, n_synapse_types,
                                      synapse_dynamics, max_row_n_synapses, max_row_n_words,
                                      max_atoms_per_core)  # 7.4.1 raises there (negative padding)
        pos = np.arange(rows.size) - (np.cumsum(counts) - counts)[rows]
        cut = pos < max_row_n_synapses
        out = np.zeros((n_rows, 3 + max_row_n_words), dtype=np.uint32)
        out[:, 1] = sizes
        out[rows[cut], 3 + pos[cut]] = words[cut]
        return out.reshape(-1)

    _get_row_data.replaces = stock_get_row_data
    return _get_row_data


def install_row_data_static():
    """Make this process's ``synapse_io.get_synapses`` use ``row_data_static`` (only sPyNNaker
    1!7.4.1, the version it was checked against; otherwise nothing changes). A module attribute set
    in this process only: no installed file is touched; ``--stock-synapses`` does not call this.
    Returns whether it was installed."""
    from spynnaker._version import __version__
    from spynnaker.pyNN.models.neuron import synapse_io

    if __version__ != "1!7.4.1":
        return False
    if getattr(synapse_io._get_row_data, "replaces", None) is None:  # pylint: disable=protected-access
        synapse_io._get_row_data = row_data_static(synapse_io._get_row_data)  # pylint: disable=protected-access
    return True


def _sorted_by_pre_post(conns):
    """True when rows are in (pre, post) order: only then is 7.4.1's grouping right (and ours equal)."""
    if conns.shape[0] < 2:
        return True
    dpre, dpost = np.diff(conns[:, 0]), np.diff(conns[:, 1])
    return bool(np.all((dpre > 0) | ((dpre == 0) & (dpost >= 0))))


def sorted_list_connector_class(sim):
    """sPyNNaker's FromListConnector with ``get_n_connections_from_pre_vertex_maximum`` (the
    longest row of one pre neuron into one post core, asked while partitioning) computed as the
    longest run of equal (pre, post core) in the sorted list instead of a ``numpy.array_split``
    per pre neuron (11,000 calls, a quarter of ``sim.run`` at 10,000 neurons after
    sorted_rows_static_synapse), and ``_split_connections`` (the list filtered to the pre/post
    sizes, once per synaptic block in 7.4.1) computed once per argument set.
    Used only on a list sorted by (pre, post) (the lists run_pynn.py passes are), where 7.4.1's
    grouping (which mis-groups an unsorted list: docs/spynnaker-backend.md) gives the same
    maximum; otherwise the stock method runs. Delays are rounded to time steps as the connector
    does before they are compared with the delay range."""
    from spynnaker.pyNN.data import SpynnakerDataView

    class SortedListConnector(sim.FromListConnector):
        def get_n_connections_from_pre_vertex_maximum(self, n_post_atoms, synapse_info,
                                                      min_delay=None, max_delay=None):
            conns = self.conn_list
            if (conns.ndim != 2 or conns.shape[1] != 4 or not _sorted_by_pre_post(conns)
                    or self.column_names not in (None, ("weight", "delay"), ["weight", "delay"])):
                return super().get_n_connections_from_pre_vertex_maximum(n_post_atoms, synapse_info,
                                                                          min_delay, max_delay)
            if min_delay is not None and max_delay is not None:
                d = (np.rint(conns[:, 3] * SpynnakerDataView.get_simulation_time_step_per_ms())
                     * SpynnakerDataView.get_simulation_time_step_ms())
                conns = conns[(d >= min_delay) & (d <= max_delay)]
            if conns.shape[0] == 0:
                return 0
            pre = conns[:, 0].astype(np.int64)
            core = (conns[:, 1] // n_post_atoms).astype(np.int64)
            # sorted by (pre, post), so (pre, post core) is sorted too: its longest run
            key = pre * (int(core.max()) + 1) + core
            bounds = np.concatenate(([0], np.flatnonzero(np.diff(key)) + 1, [key.size]))
            return int(np.diff(bounds).max())

        def _split_connections(self, n_pre_atoms, n_post_atoms, post_slices):
            # 7.4.1 filters and copies the whole list on every call (once per post core and
            # projection, 80 calls over 1.1M synapses at 10,000 neurons): the same arguments on
            # the same list give the same arrays, so the first call's result is kept (the list's
            # arrays are only ever set with conn_list, which makes a new array). 7.4.1's only
            # caller, create_synaptic_block, indexes the arrays and never writes to them.
            key = (n_pre_atoms, n_post_atoms, list(post_slices))
            cached = getattr(self, "_nc_split", None)
            if cached is not None and cached[0] is self.conn_list and cached[1] == key:
                return cached[2]
            out = super()._split_connections(n_pre_atoms, n_post_atoms, post_slices)
            self._nc_split = (self.conn_list, key, out)
            return out

    return SortedListConnector


def build(sim, spec, data, use_plan=True, stock_synapses=False):
    """Create populations and projections; return {name: Population}, {name: Projection}."""
    pops, projs = {}, {}
    for p in spec["populations"]:
        name, n = p["name"], p["size"]
        if p["model"] == "spike_array":
            indptr, times = data[p["params"]["spike_indptr"]], data[p["params"]["spike_times_ms"]]
            spike_times = [times[indptr[i]:indptr[i + 1]].tolist() for i in range(n)]
            cell = sim.SpikeSourceArray(spike_times=spike_times)
            pop = sim.Population(n, cell, label=name)
        elif p["model"] == "poisson":
            kw = {"rate": _value(data, p, "rate"), "start": _value(data, p, "start_ms")}
            if p["params"].get("duration_ms") is not None:
                kw["duration"] = _value(data, p, "duration_ms")
            pop = sim.Population(n, sim.SpikeSourcePoisson(**kw), label=name)
        elif p["model"] == "lif_curr_exp":
            cell = sim.IF_curr_exp(**{k: _value(data, p, k) for k in LIF_PARAMS})
            extra = {}
            if p.get("max_expected_summed_weight") is not None:
                extra["max_expected_summed_weight"] = p["max_expected_summed_weight"]
            if use_plan and p.get("n_synapse_cores") is not None:
                extra["n_synapse_cores"] = int(p["n_synapse_cores"])  # combined cores, as planned
            pop = sim.Population(n, cell, label=name, additional_parameters=extra or None)
            pop.initialize(v=_value(data, p, "v_init"))
        else:
            raise SystemExit(f"population {name!r}: model {p['model']!r} has no PyNN counterpart here")
        if use_plan and p.get("max_atoms_per_core"):
            pop.set_max_atoms_per_core(int(p["max_atoms_per_core"]))
        if use_plan and p.get("placement") is not None:
            pop.add_placement_constraint(*p["placement"])
        if use_plan and p.get("slice_chips"):
            pin_slices(pop, p["slice_chips"])
        for var in p.get("record", []):
            pop.record(var)
        pops[name] = pop
    list_connector = sim.FromListConnector if stock_synapses else sorted_list_connector_class(sim)
    for q in spec["projections"]:
        conns = data[q["connections"]]  # (n, 4) float64: pre id, post id, |weight| nA, delay ms
        connector = list_connector(conns)
        if q.get("stdp") is not None:
            s = q["stdp"]
            synapse = sim.STDPMechanism(
                timing_dependence=sim.SpikePairRule(tau_plus=s["tau_plus"], tau_minus=s["tau_minus"],
                                                    A_plus=s["a_plus"], A_minus=s["a_minus"]),
                weight_dependence=sim.AdditiveWeightDependence(w_min=s["w_min"], w_max=s["w_max"]))
        else:
            synapse = sim.StaticSynapse() if stock_synapses else sorted_rows_static_synapse()
        projs[q["name"]] = sim.Projection(pops[q["pre"]], pops[q["post"]], connector,
                                          synapse_type=synapse, receptor_type=q["receptor"],
                                          label=q["name"])
    return pops, projs


def pin_slices(pop, slice_chips):
    """Put each core of `pop` on the chip our plan chose for it.

    ``add_placement_constraint`` fixes the whole population on one chip (PACMAN's
    ``ApplicationPlacer._do_fixed_location`` places each same-chip group of a fixed application
    vertex where the group's first machine vertex with a fixed location says, and a machine vertex
    without one inherits the application vertex's). So the population is constrained to the chip
    of its first slice, and a splitter that wraps sPyNNaker's own one gives every machine vertex it
    creates the chip of its slice (``slice_chips``: [first PyNN id, x, y] per slice).
    """
    from spynnaker.pyNN.extra_algorithms.splitter_components import (
        SplitterPopulationVertexFixed, SplitterPopulationVertexNeuronsSynapses)
    from pacman.model.partitioner_splitters import SplitterFixedLegacy

    app = pop._vertex  # pylint: disable=protected-access
    if p_is_population_vertex(app):
        base = SplitterPopulationVertexFixed if app.use_combined_core else SplitterPopulationVertexNeuronsSynapses
    else:
        base = SplitterFixedLegacy
    starts = np.asarray([int(s[0]) for s in slice_chips])
    chips = [(int(s[1]), int(s[2])) for s in slice_chips]

    class PinnedSplitter(base):
        def create_machine_vertices(self, chip_counter):
            super().create_machine_vertices(chip_counter)
            for mv in self.governed_app_vertex.machine_vertices:
                j = int(np.searchsorted(starts, mv.vertex_slice.lo_atom, side="right")) - 1
                mv.set_fixed_location(*chips[j])

    x, y = chips[0]
    pop.add_placement_constraint(x, y)
    app.splitter = PinnedSplitter()


def p_is_population_vertex(app):
    from spynnaker.pyNN.models.neuron import PopulationVertex
    return isinstance(app, PopulationVertex)


def collect_spikes(spec, data, pops, steps):
    """{population: (steps, our neuron ids)} from the recorded spike trains."""
    dt = spec["dt_ms"]
    out = {}
    for p in spec["populations"]:
        if "spikes" not in p.get("record", []):
            continue
        block = pops[p["name"]].get_data("spikes")
        st, ids = [], []
        for k, train in enumerate(block.segments[0].spiketrains):
            idx = int(train.annotations.get("source_index", k))
            t = np.rint(np.asarray(train.magnitude, dtype=float) / dt).astype(np.int64)
            st.append(t)
            ids.append(np.full(t.size, idx, dtype=np.int64))
        st_a = np.concatenate(st) if st else np.zeros(0, np.int64)
        id_a = np.concatenate(ids) if ids else np.zeros(0, np.int64)
        perm = data[p["perm"]] if p.get("perm") else None
        if perm is not None:
            id_a = perm[id_a]
        keep = st_a < steps
        order = np.lexsort((id_a[keep], st_a[keep]))
        out[p["name"]] = (st_a[keep][order], id_a[keep][order])
    return out


def collect_v(spec, data, pops, steps):
    """{population: (steps, n) membrane voltage in mV, columns in our neuron order}."""
    out = {}
    for p in spec["populations"]:
        if "v" not in p.get("record", []):
            continue
        sig = pops[p["name"]].get_data("v").segments[0].filter(name="v")[0]
        arr = np.asarray(sig.magnitude, dtype=np.float64)[:steps]
        ids = np.asarray(sig.array_annotations.get("channel_index", np.arange(arr.shape[1])), dtype=np.int64)
        full = np.full((arr.shape[0], p["size"]), np.nan)
        full[:, ids] = arr
        if p.get("perm"):
            ours = np.empty_like(full)
            ours[:, data[p["perm"]]] = full
            full = ours
        out[p["name"]] = full
    return out


def _peak_rss_mb(resource):
    """This process's own peak RSS: VmHWM of /proc/self/status (per address space, so it starts
    afresh at exec). ru_maxrss is not: Linux carries it across fork + exec, so a child started by
    a big parent reports the parent's RSS when its own peak is lower."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(Path(__file__).resolve().parent),
                    help="directory holding network.json and network.npz (default: beside this file)")
    ap.add_argument("--steps", type=int, default=None, help="timesteps to run (default: from network.json)")
    ap.add_argument("--spikes", default=None, help="write recorded spikes here (.npz)")
    ap.add_argument("--no-plan", action="store_true",
                    help="let sPyNNaker partition and place (keeps the forced ring-buffer shifts)")
    ap.add_argument("--stock-synapses", action="store_true",
                    help="sPyNNaker's StaticSynapse, FromListConnector and synapse_io._get_row_data "
                         "as they are (default with --no-plan), instead of versions computing the "
                         "same host data faster (sorted_rows_static_synapse, "
                         "sorted_list_connector_class, row_data_static)")
    ap.add_argument("--mapping", default=None,
                    help="(neurocompile backend) write what sPyNNaker mapped to this JSON; imports "
                         "neurocompile.backends.spynnaker.readback")
    args = ap.parse_args(argv)
    d = Path(args.data)
    spec = json.loads((d / "network.json").read_text())
    steps = int(args.steps if args.steps is not None else spec["steps"])
    timing = {}
    with np.load(d / "network.npz", allow_pickle=False) as z:
        data = {k: z[k] for k in z.files}
    import pyNN.spiNNaker as sim

    stock = args.stock_synapses or args.no_plan
    fast_rows = False if stock else install_row_data_static()
    t0 = time.perf_counter()
    sim.setup(timestep=spec["dt_ms"])
    pops, projs = build(sim, spec, data, use_plan=not args.no_plan, stock_synapses=stock)
    timing["build_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    sim.run(steps * spec["dt_ms"])
    timing["run_s"] = time.perf_counter() - t0
    import resource
    timing["peak_rss_mb"] = _peak_rss_mb(resource)
    if args.mapping:
        from neurocompile.backends.spynnaker.readback import read_back
        t0 = time.perf_counter()
        mapping = read_back(sim, spec, pops, projs)
        timing["readback_s"] = time.perf_counter() - t0
        mapping["timing"] = timing
        matrices = mapping.pop("matrices")
        names = sorted(matrices)
        mapping["matrix_projections"] = names
        np.savez(str(Path(args.mapping).with_suffix(".npz")),
                 **{f"m{i}_{k}": v for i, n in enumerate(names) for k, v in matrices[n].items()})
        Path(args.mapping).write_text(json.dumps(mapping))
    if args.spikes:
        # a virtual board runs nothing: there are no spikes to read back
        arrays = {"virtual_board": np.array(_virtual())}
        if not _virtual():
            for name, (st, ids) in collect_spikes(spec, data, pops, steps).items():
                arrays[f"steps_{name}"], arrays[f"ids_{name}"] = st, ids
            for name, v in collect_v(spec, data, pops, steps).items():
                arrays[f"v_{name}"] = v
        np.savez(args.spikes, **arrays)
    sim.end()
    print(json.dumps({"timing": timing, "row_data_static": fast_rows}))
    return 0


def _virtual():
    from spinn_utilities.config_holder import get_config_bool
    return bool(get_config_bool("Machine", "virtual_board"))


if __name__ == "__main__":
    sys.exit(main())
