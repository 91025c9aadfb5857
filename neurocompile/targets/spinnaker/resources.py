"""SpiNNaker's per-core resource model (sPyNNaker 1!7.4.1): what a core holding a slice needs.

SpiNNaker (sPyNNaker 1!7.4.1; paths inside site-packages/spynnaker/pyNN):
- neurons: atoms per core, `core_limits.neurons` (sPyNNaker DEFAULT_MAX_ATOMS_PER_CORE = 256);
  sources may have their own (`mapping.atoms_per_core`, e.g. Poisson 500:
  models/spike_source/spike_source_poisson.py DEFAULT_MAX_ATOMS_PER_CORE).
- input: SpiNNaker has no input-axon table. The analogous per-core structures are the master
  population table (one entry per incoming *population*, one address-list entry per projection,
  doubled when delay extensions are used; models/neuron/master_pop_table.py
  get_master_population_table_size: 8 B + 20 B per pre-population + 4 B per projection) and the
  synaptic matrices (below). We model those, not an axon count.
- synapse memory (SDRAM, per chip): one synaptic matrix per incoming projection on *every* core of
  the post population, covering *all* neurons of the pre population (synaptic_matrix_app.py:
  matrix size = pre_vertex.n_atoms * max row bytes; delayed matrix * n_delay_stages). A row is
  header (synapse_io.py _N_HEADER_WORDS = 3 words) + synapse words; static synapses are one 32-bit
  word each (synapse_dynamics_static.py get_n_words_for_static_connections; the word is 16-bit
  weight | delay bits | synapse type bits | post index bits, get_static_synaptic_data); plastic
  (pair STDP, weight-only) rows are ceil(n/2) fixed-plastic words + ceil((8 + 2n)/4) plastic words
  (synapse_dynamics_stdp.py __get_n_connections, _n_header_bytes). The maximum row length is the
  largest number of synapses from one pre neuron onto one post core, over all post cores of the
  projection (connectors' get_n_connections_from_pre_vertex_maximum), so all cores reserve the same
  row length. Rows longer than POP_TABLE_MAX_ROW_LENGTH = 256 words are refused
  (master_pop_table.py get_allowed_row_length). Matrices start on 16-byte boundaries
  (get_next_allowed_address). Neuron parameters are stored too (n * neuron_bytes).
  NOT modelled (estimate): recording buffers, system/provenance/bit-field regions.
- DTCM per core (ESTIMATE): neuron state n * neuron_bytes (IF_curr_exp: 15 words per neuron = 9
  neuron model + 1 threshold + 5 synapse type, measured from the installed neuron_impl.structs),
  ring buffers 2**(atom_bits + type_bits + delay_bits) * 2 B (synapses.c:
  `spin1_malloc(ring_buffer_size * sizeof(uint16_t))`; delay_bits from max_delay_steps_incoming,
  population_vertex.py), and the master population table and address list (copied to DTCM by
  population_table_binary_search_impl.c). Not modelled: code, stack, heap bookkeeping, bit fields.
- delay slots: in-core slots = 2**(ring_buffer_bits - atom_bits - type_bits)
  (population_vertex.py __update_max_delay, MAX_RING_BUFFER_BITS = 14); delay-extension cores add
  (max_steps_extended / max_steps_in_core - 1) times that (delay_support_adder.py,
  DelayExtensionVertex MAX_SLOTS). Fewer neurons per core buy longer delays.
"""
from __future__ import annotations

import numpy as np

from neurocompile.errors import BoardError
from neurocompile.ir.network import Network, Population
from neurocompile.passes.resources import ProjStats, Target, n_bits_array

#: board `mapping` fields read here: name -> (meaning, where the number comes from)
MAPPING_FIELDS: dict[str, tuple[str, str]] = {
        "word_bytes": ("bytes per SDRAM/DTCM word", "spinn_front_end_common constants BYTES_PER_WORD = 4"),
        "row_header_words": ("header words per synaptic row", "spynnaker synapse_io.py _N_HEADER_WORDS = 3"),
        "max_row_words": ("longest synaptic row, words",
                          "spynnaker utilities/constants.py POP_TABLE_MAX_ROW_LENGTH = 256"),
        "static_words_per_synapse": ("words per static synapse",
                                     "synapse_dynamics_static.py get_n_words_for_static_connections = 1"),
        "plastic_row_header_bytes": ("plastic row header bytes (pair STDP)",
                                     "synapse_dynamics_stdp.py _n_header_bytes = ceil((4 + 2) / 4) * 4 = 8"),
        "plastic_fixed_halfwords_per_synapse": ("fixed-plastic half-words per plastic synapse",
                                                "synapse_dynamics_stdp.py __get_n_connections: 1"),
        "plastic_halfwords_per_synapse": ("plastic half-words per plastic synapse (weight only)",
                                          "synapse_structure_weight_only.py get_n_half_words_per_connection = 1"),
        "matrix_alignment_bytes": ("alignment of each synaptic matrix",
                                   "master_pop_table.py _ADDRESS_SCALE = 16"),
        "pop_table_base_bytes": ("master population table fixed bytes", "master_pop_table.py _BASE_SIZE_BYTES = 8"),
        "pop_table_entry_bytes": ("bytes per master population table entry",
                                  "master_pop_table.py sizeof(_MasterPopEntryCType) = 20"),
        "address_list_entry_bytes": ("bytes per address list entry",
                                     "master_pop_table.py sizeof(_AddressListEntryCType) = 4"),
        "ring_buffer_bits": ("bits indexing the ring buffers (atom + type + delay)",
                             "spynnaker utilities/constants.py MAX_RING_BUFFER_BITS = 14"),
        "ring_buffer_entry_bytes": ("bytes per ring buffer entry",
                                    "neural_modelling synapses.c spin1_malloc(ring_buffer_size * sizeof(uint16_t))"),
        "key_bits": ("bits in a multicast routing key", "pacman utilities/constants.py BITS_IN_KEY = 32"),
        "neuron_bytes": ("state bytes per neuron, per IR model (mapping of model -> bytes)",
                         "IF_curr_exp: 60 = 15 words from neuron_impl.structs (sPyNNaker 1!7.4.1)"),
}


def _in_core_slots(t: Target, pop: Population, n: np.ndarray) -> np.ndarray:
    """SpiNNaker in-core ring buffer slots of each part of `pop` (sizes n; no extension).

    sPyNNaker sizes every core of a population from one number, min(n_atoms, max_atoms_per_core)
    (population_vertex.py __update_max_delay), and our sPyNNaker lowering sets max_atoms_per_core
    to the largest slice (backends/spynnaker/lower.py): so all parts get the slots of the
    largest, not of their own size (a smaller last slice would otherwise hold more)."""
    n = np.asarray(n)
    biggest = max(int(n.max(initial=1)), 1)
    bits = int(n_bits_array(np.asarray([biggest]))[0])
    slots = 2 ** max(int(t.m["ring_buffer_bits"]) - bits - t.type_bits(pop), 0)
    return np.full(n.shape, slots, dtype=np.int64)


def spinnaker_row_words(t: Target, n_syn: int | np.ndarray, plastic: bool) -> np.ndarray:
    n = np.asarray(n_syn, dtype=np.int64)
    if not plastic:
        return n * int(t.m["static_words_per_synapse"])
    wb = int(t.m["word_bytes"])
    half_per_word = wb // 2
    fixed = -(-(n * int(t.m["plastic_fixed_halfwords_per_synapse"])) // half_per_word)
    plastic_w = -(-(int(t.m["plastic_row_header_bytes"]) + n * int(t.m["plastic_halfwords_per_synapse"]) * 2) // wb)
    return np.where(n > 0, fixed + plastic_w, 0)


def _align(x: np.ndarray | int, a: int) -> np.ndarray:
    return -(-np.asarray(x, dtype=np.int64) // a) * a


def _neuron_bytes(t: Target, pop: Population) -> int:
    nb = t.m["neuron_bytes"]
    if pop.model not in nb:
        raise BoardError(f"{t.board.source_file}: board {t.name!r}: 'mapping.neuron_bytes' has no entry for neuron "
                         f"model {pop.model!r} (population {pop.name!r}); add the per-neuron state size in bytes")
    return int(nb[pop.model])


def _spinnaker_usage(t: Target, net: Network, pop: Population, sizes: np.ndarray,
                     stats: dict[str, ProjStats], max_delay: np.ndarray, usage: dict[str, np.ndarray]) -> None:
    wb = int(t.m["word_bytes"])
    hdr = int(t.m["row_header_words"])
    align = int(t.m["matrix_alignment_bytes"])
    n_parts = sizes.shape[0]
    nbytes = _neuron_bytes(t, pop)
    sdram = sizes * nbytes
    row_words = np.zeros(n_parts, dtype=np.int64)
    pre_pops: dict[str, bool] = {}
    n_entries = 0
    in_slots = _in_core_slots(t, pop, sizes)
    for pname, s in stats.items():
        proj = net.projections[pname]
        n_pre = net.populations[proj.pre].size
        plastic = proj.plasticity is not None
        # sPyNNaker reserves the same row length on every core of the post population: the max.
        wu = int(spinnaker_row_words(t, int(s.row_undelayed.max(initial=0)), plastic))
        wd = int(spinnaker_row_words(t, int(s.row_delayed.max(initial=0)), plastic))
        # the limit applies to the projection's longest row; attribute it to the parts that have it
        row_words = np.maximum(row_words, np.maximum(spinnaker_row_words(t, s.row_undelayed, plastic),
                                                     spinnaker_row_words(t, s.row_delayed, plastic)))
        # delay stages: ceil(max_delay / in-core slots) - 1 (delay_support_adder), per part
        stages = np.maximum(-(-np.maximum(s.max_delay.max(initial=0), 1) // in_slots) - 1, 0)
        mat = _align(n_pre * (wu + hdr) * wb, align) if wu > 0 else np.int64(0)
        dmat = np.where((wd > 0) & (stages > 0), _align(n_pre * stages * (wd + hdr) * wb, align), 0)
        sdram = sdram + mat + dmat
        delayed = bool(wd > 0)
        n_entries += 1 + int(delayed)
        pre_pops[proj.pre] = pre_pops.get(proj.pre, False) or delayed
    n_vertices = sum(1 + int(d) for d in pre_pops.values())
    pop_table = (int(t.m["pop_table_base_bytes"]) + n_vertices * int(t.m["pop_table_entry_bytes"])
                 + n_entries * int(t.m["address_list_entry_bytes"])) if stats else 0
    sdram = sdram + pop_table
    # DTCM: state + ring buffers (2**(atom_bits + type_bits + delay_bits) uint16) + pop table
    if pop.neuron_model.is_source:
        dtcm = sizes * nbytes
    else:
        atom_bits = n_bits_array(np.full(sizes.shape, max(int(sizes.max(initial=1)), 1)))  # as _in_core_slots
        need_slots = 2 ** n_bits_array(np.maximum(max_delay, 1))
        slots = np.minimum(need_slots, in_slots)
        ring = (2 ** (atom_bits + t.type_bits(pop))) * slots * int(t.m["ring_buffer_entry_bytes"])
        dtcm = sizes * nbytes + ring + pop_table
    usage["dtcm_bytes"] = dtcm.astype(np.int64)
    usage["sdram_bytes"] = np.asarray(sdram, dtype=np.int64) * np.ones(n_parts, dtype=np.int64)
    usage["row_words"] = row_words


def delay_extension_cores(t: Target, net: Network, slices_of_pop: dict[str, np.ndarray],
                          part_sizes: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """SpiNNaker: delay-extension cores per source part. sPyNNaker gives a pre population ONE
    delay-extension vertex as soon as any of its synapses needs a delay beyond the in-core slots
    of its target core, split exactly like the pre population: one extra core per core of the pre
    population (delay_support_adder.py, splitter_delay_vertex_slice.py create_machine_vertices).
    The partition decides: the delay pass's prediction (ctx.delays.extensions, from the neurons
    per core allowed, before slicing) can only be larger, and the partition pass drops what is not
    needed."""
    out = {name: np.zeros(len(sz), dtype=np.int64) for name, sz in part_sizes.items()}
    if t.delay_extension != "delay_extension_cores":
        return out
    needs_ext: set[str] = set()
    for proj in net.projections.values():
        if not proj.n_synapses or proj.pre in needs_ext:
            continue
        post = net.populations[proj.post]
        slots = int(_in_core_slots(t, post, part_sizes[proj.post])[0])
        if int(proj.delay.max()) > slots:
            needs_ext.add(proj.pre)
    for name in needs_ext:
        if name in out:
            out[name][:] = 1
    return out


def spike_array_sdram(t: Target, pop: Population, label: np.ndarray, n_parts: int) -> np.ndarray:
    """ESTIMATE: one word per spike time stored for a spike_array part."""
    if pop.model != "spike_array" or "spike_indptr" not in pop.params:
        return np.zeros(n_parts, dtype=np.int64)
    per_neuron = np.diff(np.asarray(pop.params["spike_indptr"], dtype=np.int64))
    return np.bincount(label, weights=per_neuron, minlength=n_parts).astype(np.int64) * int(t.m["word_bytes"])
