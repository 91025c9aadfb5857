"""Resource model: what one core holding a slice of a population needs, as the target stores it.

A *slice* is a set of neurons of one population placed on one core. For every per-core resource
this module estimates the amount the target would use and names the limit it is checked against.
No hardware number lives in this file: every limit and every storage-format constant is read from
the `Board` (its `core_limits`, `chip_limits`, `delays`, `number_format`, and the `mapping` section
listed in `MAPPING_FIELDS`). A board without a needed field fails with a `BoardError` that names
the field and where its value comes from.

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

Loihi (nengo-loihi nengo_loihi/block.py, decoded from nxsdk_obfuscation; all limits per core):
- neurons (compartments), input axons, output axons, synapse memory bits, from `core_limits`.
- input axons: one per distinct presynaptic neuron per projection targeting the core, two if the
  projection learns (block.py Synapse.idxs_per_synapse).
- output axons: for each neuron, one per (projection, destination core) it has synapses to
  (nengo-loihi counts Axon.axon_slots over a block's axons); needs the post partition.
- synapse memory: per input axon, its n synapses on the core are stored in blocks of
  `synapse_block_synapses` (n_synapses + 1 = 64); a block costs n * bits_per_weight + 10 header
  bits (4 synapse_idx_bits + 6 n_synapses_bits), rounded up to a 64-bit word
  (SynapseConfig.bits_per_axon). bits_per_weight = weight_bits + delay_bits + index_bits
  (sparse "compression 0"; index_bits = smallest of INDEX_BITS_MAP = [0, 6, .., 12] that holds
  ceil(log2(neurons on the core)); weight_bits = the board's number_format.weight_bits, or the
  projection's `num_weight_bits`). delay_bits = ceil(log2(max hardware delay + 1)) is OUR ESTIMATE
  (nengo-loihi never sets delay_bits; Lava's DelayDense uses 6 bits for 0..63). Loihi 2 uses the
  same formula with the board's (assumed) parameters: an ESTIMATE.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any

import numba
import numpy as np

from neurocompile.boards.schema import Board
from neurocompile.errors import BoardError
from neurocompile.ir.network import Network, Population, Projection

# --------------------------------------------------------------------------------------- board
# Fields of the board's `mapping` section the passes read. Value: (meaning, where the number comes from).
MAPPING_FIELDS: dict[str, dict[str, tuple[str, str]]] = {
    "spinnaker": {
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
    },
    "loihi": {
        "synapse_block_synapses": ("synapses per synapse block of one axon",
                                   "nengo-loihi block.py SynapseConfig n_synapses = 63, +1"),
        "synapse_block_header_bits": ("header bits per synapse block",
                                      "nengo-loihi block.py bits_per_axon: synapse_idx_bits 4 + n_synapses_bits 6"),
        "synapse_word_bits": ("synapse memory word (blocks round up to it)",
                              "nengo-loihi block.py bits_per_axon rounds to 64 bits"),
        "synapse_index_bits": ("allowed index widths (list)",
                               "nengo-loihi block.py SynapseConfig.INDEX_BITS_MAP = [0, 6, 7, 8, 9, 10, 11, 12]"),
        "learning_axon_slots": ("input axon slots per axon of a learning projection",
                                "nengo-loihi block.py Synapse.idxs_per_synapse = 2 when learning"),
    },
}
OPTIONAL_MAPPING_FIELDS = {
    "atoms_per_core": "per IR model neurons per core when it differs from core_limits.neurons "
                      "(sPyNNaker SpikeSourcePoisson DEFAULT_MAX_ATOMS_PER_CORE = 500)",
}


def family_group(board: Board) -> str:
    return "spinnaker" if board.family == "spinnaker" else "loihi"


def mapping_section(board: Board) -> dict[str, Any]:
    return dict(getattr(board, "mapping", None) or {})


def with_mapping(board: Board, mapping: dict[str, Any]) -> Board:
    """A copy of `board` carrying a `mapping` section (until the schema reads it from YAML)."""
    b = copy.copy(board)
    object.__setattr__(b, "mapping", dict(mapping))
    return b


def _need_mapping(board: Board, key: str) -> Any:
    sec = mapping_section(board)
    if key not in sec:
        meaning, source = MAPPING_FIELDS[family_group(board)][key]
        raise BoardError(
            f"{board.source_file}: board {board.name!r} has no field 'mapping.{key}' ({meaning}), which "
            f"the partition/placement passes need; add it to the board file (value and source: {source})")
    return sec[key]


def _need_limit(board: Board, section: str, key: str) -> int:
    d = board.core_limits if section == "core_limits" else board.chip_limits
    if key not in d:
        raise BoardError(f"{board.source_file}: board {board.name!r} has no field '{section}.{key}', which the "
                         f"mapping passes need")
    return int(d[key])


def get_n_bits(n_values: int) -> int:
    """sPyNNaker utility_calls.get_n_bits: bits to represent n values (0 -> 0, 1 -> 1)."""
    if n_values <= 0:
        return 0
    if n_values == 1:
        return 1
    return int(math.ceil(math.log2(n_values)))


def n_bits_array(n: np.ndarray) -> np.ndarray:
    """Vectorised get_n_bits."""
    n = np.asarray(n, dtype=np.int64)
    out = np.ceil(np.log2(np.maximum(n, 1))).astype(np.int64)
    out[n == 1] = 1
    out[n <= 0] = 0
    return out


def allocator_bits_needed(size: int) -> int:
    """PACMAN utility_calls.allocator_bits_needed: ceil(log2(size)), 0 for size 0 or 1."""
    return 0 if size <= 1 else int(math.ceil(math.log2(size)))


# --------------------------------------------------------------------------------------- targets
@dataclass(frozen=True)
class Target:
    """Everything the mapping passes need to know about a board, read once."""

    board: Board
    family: str                        # "spinnaker" | "loihi"
    neurons_per_core: int
    atoms_per_core: dict[str, int]
    core_limits: dict[str, int]        # resource -> per-core limit (only resources the board states)
    sdram_bytes: int | None            # per chip
    router_entries: int | None
    cores_per_chip: int
    ethernet_chip_cores: int | None
    delay_in_core: int
    delay_extended: int
    delay_extension: str
    m: dict[str, Any] = field(default_factory=dict)  # mapping section values used by the family

    @property
    def name(self) -> str:
        return self.board.name

    def neuron_limit(self, pop: Population) -> int:
        return int(self.atoms_per_core.get(pop.model, self.neurons_per_core))

    def type_bits(self, pop: Population) -> int:
        return get_n_bits(len(pop.neuron_model.receptors))

    def delay_supported(self, pop: Population, n: np.ndarray | int) -> np.ndarray:
        """Longest IR delay (steps) a core holding n neurons of `pop` can deliver."""
        n = np.asarray(n)
        if self.family != "spinnaker":
            return np.full(n.shape, self.delay_extended, dtype=np.int64)
        bits = n_bits_array(n)
        slots = 2 ** np.maximum(self.m["ring_buffer_bits"] - bits - self.type_bits(pop), 0)
        factor = (self.delay_extended // self.delay_in_core
                  if self.delay_extension == "delay_extension_cores" else 1)
        return (slots * factor).astype(np.int64)


def target_of(board: Board) -> Target:
    group = family_group(board)
    sec = mapping_section(board)
    m: dict[str, Any] = {}
    for key in MAPPING_FIELDS[group]:
        m[key] = _need_mapping(board, key)
    neurons = _need_limit(board, "core_limits", "neurons")
    limits = dict(board.core_limits)
    cores = int(board.chip_limits.get("cores", board.cores_per_chip))
    eth = board.chip_limits.get("ethernet_chip_cores")
    if eth is None:
        eth = sec.get("ethernet_chip_cores")
    if group == "loihi":
        m["index_bits"] = tuple(int(v) for v in m["synapse_index_bits"])
        m["weight_bits"] = int(board.number_format.weight_bits)
    return Target(
        board=board, family=group, neurons_per_core=neurons,
        atoms_per_core={str(k): int(v) for k, v in (sec.get("atoms_per_core") or {}).items()},
        core_limits=limits,
        sdram_bytes=board.chip_limits.get("sdram_bytes"),
        router_entries=board.chip_limits.get("router_entries"),
        cores_per_chip=cores,
        ethernet_chip_cores=int(eth) if eth is not None else None,
        delay_in_core=board.delays.max_steps_in_core,
        delay_extended=board.delays.max_steps_extended,
        delay_extension=board.delays.extension,
        m=m,
    )


# --------------------------------------------------------------------------------------- resources
# name -> (unit, description, provenance)
RESOURCES: dict[str, tuple[str, str, str]] = {
    "neurons": ("neurons", "neurons (compartments) on the core", "exact"),
    "fan_in_synapses": ("synapses", "synapses targeting the core", "exact"),
    "input_axons": ("axons", "input axons (distinct presynaptic neurons per projection)", "exact (nengo-loihi rule)"),
    "output_axons": ("axons", "output axons ((neuron, projection, destination core) triples)", "exact (nengo-loihi rule)"),
    "synapse_memory_bits": ("bits", "synaptic memory", "estimate (nengo-loihi bits_per_axon)"),
    "dtcm_bytes": ("bytes", "DTCM: neuron state + ring buffers + population table", "estimate"),
    "sdram_bytes": ("bytes", "SDRAM: synaptic matrices + population table + neuron parameters", "estimate (sPyNNaker sizes)"),
    "row_words": ("words", "longest synaptic row", "exact (sPyNNaker rule)"),
    "delay_steps": ("steps", "longest incoming delay", "exact"),
}


def core_resource_names(t: Target) -> tuple[str, ...]:
    if t.family == "spinnaker":
        names = ["neurons", "dtcm_bytes", "sdram_bytes", "row_words", "delay_steps"]
    else:
        names = ["neurons", "input_axons", "output_axons", "synapse_memory_bits", "delay_steps"]
    if "fan_in_synapses" in t.core_limits:
        names.insert(1, "fan_in_synapses")
    return tuple(names)


def core_limit(t: Target, pop: Population, resource: str, n: np.ndarray) -> np.ndarray | None:
    """Per-part limit for `resource` (array over parts), or None if the board sets none."""
    n = np.asarray(n)
    if resource == "neurons":
        return np.full(n.shape, t.neuron_limit(pop), dtype=np.int64)
    if resource == "delay_steps":
        return t.delay_supported(pop, n)
    if resource == "sdram_bytes":
        return None if t.sdram_bytes is None else np.full(n.shape, t.sdram_bytes, dtype=np.int64)
    if resource == "row_words":
        return np.full(n.shape, int(t.m["max_row_words"]), dtype=np.int64)
    lim = t.core_limits.get(resource)
    return None if lim is None else np.full(n.shape, int(lim), dtype=np.int64)


# --------------------------------------------------------------------------------------- kernels
@numba.njit(cache=True)
def group_by_part(post, label, n_parts):
    """Counting sort of synapses by their post neuron's part: synapses of part p are
    order[start[p]:start[p + 1]] (stable)."""
    n = post.shape[0]
    counts = np.zeros(n_parts + 1, dtype=np.int64)
    for k in range(n):
        counts[label[post[k]] + 1] += 1
    start = np.cumsum(counts)
    pos = start[:-1].copy()
    order = np.empty(n, dtype=np.int64)
    for k in range(n):
        p = label[post[k]]
        order[pos[p]] = k
        pos[p] += 1
    return start, order


@numba.njit(cache=True)
def _proj_part_stats(pre, post, delay, label, n_parts, n_pre, split_part, bpw_part,
                     blk, hdr, word, want_out):
    """Per post part: synapses, distinct pre neurons, longest row (undelayed/delayed), Loihi bits,
    longest delay; per pre neuron: number of distinct parts it reaches (if want_out)."""
    n = pre.shape[0]
    start, order = group_by_part(post, label, n_parts)
    fan_in = np.zeros(n_parts, dtype=np.int64)
    distinct = np.zeros(n_parts, dtype=np.int64)
    row_u = np.zeros(n_parts, dtype=np.int64)
    row_d = np.zeros(n_parts, dtype=np.int64)
    bits = np.zeros(n_parts, dtype=np.int64)
    maxd = np.zeros(n_parts, dtype=np.int64)
    cnt_u = np.zeros(n_pre, dtype=np.int32)
    cnt_d = np.zeros(n_pre, dtype=np.int32)
    touched = np.empty(n_pre, dtype=np.int64)
    out = np.zeros(n_pre if want_out else 0, dtype=np.int32)
    for p in range(n_parts):
        a = start[p]
        b = start[p + 1]
        fan_in[p] = b - a
        if a == b:
            continue
        split = split_part[p]
        nt = 0
        md = 0
        for j in range(a, b):
            k = order[j]
            i = pre[k]
            if cnt_u[i] == 0 and cnt_d[i] == 0:
                touched[nt] = i
                nt += 1
            d = delay[k]
            if d > md:
                md = d
            if d <= split:
                cnt_u[i] += 1
            else:
                cnt_d[i] += 1
        maxd[p] = md
        distinct[p] = nt
        bpw = bpw_part[p]
        full_cost = ((blk * bpw + hdr + word - 1) // word) * word
        ru = 0
        rd = 0
        tb = 0
        for t in range(nt):
            i = touched[t]
            cu = cnt_u[i]
            cd = cnt_d[i]
            if cu > ru:
                ru = cu
            if cd > rd:
                rd = cd
            m = cu + cd
            nfull = m // blk
            rem = m - nfull * blk
            tb += nfull * full_cost
            if rem > 0:
                tb += ((rem * bpw + hdr + word - 1) // word) * word
            if want_out:
                out[i] += 1
            cnt_u[i] = 0
            cnt_d[i] = 0
        row_u[p] = ru
        row_d[p] = rd
        bits[p] = tb
    return fan_in, distinct, row_u, row_d, bits, maxd, out


@dataclass
class ProjStats:
    """`_proj_part_stats` of one projection under one labelling of its post population."""

    fan_in: np.ndarray
    distinct_pre: np.ndarray
    row_undelayed: np.ndarray   # longest row (synapses) from one pre neuron, per part
    row_delayed: np.ndarray
    bits: np.ndarray
    max_delay: np.ndarray
    out_count: np.ndarray | None  # per pre neuron: distinct parts it reaches


def _loihi_bpw(t: Target, proj: Projection, part_sizes: np.ndarray) -> np.ndarray:
    wbits = int(proj.attrs.get("num_weight_bits", t.m["weight_bits"]))
    max_hw_delay = int(proj.delay.max()) - t.board.delays.min_steps if proj.n_synapses else 0
    dbits = int(math.ceil(math.log2(max_hw_delay + 1))) if max_hw_delay > 0 else 0
    idx_map = t.m["index_bits"]
    need = index_bits_needed(part_sizes)
    allowed = np.array(sorted(idx_map), dtype=np.int64)
    pos = np.searchsorted(allowed, need, side="left")
    idx = np.where(pos < allowed.size, allowed[np.minimum(pos, allowed.size - 1)], need)
    return wbits + dbits + idx


def index_bits_needed(part_sizes: np.ndarray) -> np.ndarray:
    """nengo-loihi Synapse.idx_bits: ceil(log2(max index + 1)) with max index = neurons - 1."""
    return np.ceil(np.log2(np.maximum(np.asarray(part_sizes, dtype=np.int64), 1))).astype(np.int64)


def proj_stats(t: Target, net: Network, proj: Projection, label: np.ndarray, n_parts: int,
               part_sizes: np.ndarray, want_out: bool = False) -> ProjStats:
    post_pop = net.populations[proj.post]
    n_pre = net.populations[proj.pre].size
    if t.family == "spinnaker":
        split = _in_core_slots(t, post_pop, part_sizes)  # longer delays go to delay-extension rows
        bpw = np.zeros(n_parts, dtype=np.int64)
        blk, hdr, word = 1, 0, 1
    else:
        split = np.full(n_parts, np.iinfo(np.int64).max, dtype=np.int64)
        bpw = _loihi_bpw(t, proj, part_sizes)
        blk = int(t.m["synapse_block_synapses"])
        hdr = int(t.m["synapse_block_header_bits"])
        word = int(t.m["synapse_word_bits"])
    res = _proj_part_stats(proj.pre_idx, proj.post_idx, proj.delay, label.astype(np.int64), int(n_parts),
                           int(n_pre), split, bpw, blk, hdr, word, bool(want_out))
    fan_in, distinct, ru, rd, bits, maxd, out = res
    return ProjStats(fan_in, distinct, ru, rd, bits, maxd, out if want_out else None)


def _in_core_slots(t: Target, pop: Population, n: np.ndarray) -> np.ndarray:
    """SpiNNaker in-core ring buffer slots at n neurons per core (no extension)."""
    n = np.maximum(np.asarray(n), 1)
    bits = n_bits_array(n)
    return (2 ** np.maximum(int(t.m["ring_buffer_bits"]) - bits - t.type_bits(pop), 0)).astype(np.int64)


# --------------------------------------------------------------------------------------- usage
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


@dataclass
class PopUsage:
    """Per-part usage of one population's parts (arrays indexed by part)."""

    sizes: np.ndarray
    usage: dict[str, np.ndarray]
    limits: dict[str, np.ndarray]
    stats: dict[str, ProjStats]          # incoming projection name -> stats
    extra_cores: np.ndarray              # delay-extension cores a part needs as a source (set later)

    def ratio(self) -> np.ndarray:
        """Per part: max over resources of usage / limit."""
        r = np.zeros(self.sizes.shape[0])
        for k, u in self.usage.items():
            lim = self.limits.get(k)
            if lim is None:
                continue
            r = np.maximum(r, u / np.maximum(lim, 1))
        return r

    def violations(self) -> dict[str, np.ndarray]:
        """resource -> boolean mask of parts over the limit."""
        out = {}
        for k, u in self.usage.items():
            lim = self.limits.get(k)
            if lim is not None:
                bad = u > lim
                if bad.any():
                    out[k] = bad
        return out


def population_usage(t: Target, net: Network, pop: Population, label: np.ndarray, n_parts: int,
                     out_counts: np.ndarray | None = None) -> PopUsage:
    """Usage of every per-core resource for each part of `pop` under `label` (neuron -> part)."""
    sizes = np.bincount(label, minlength=n_parts).astype(np.int64)
    incoming = [p for p in net.projections_into(pop.name) if p.n_synapses]
    stats = {p.name: proj_stats(t, net, p, label, n_parts, sizes) for p in incoming}
    usage: dict[str, np.ndarray] = {"neurons": sizes.copy()}
    fan_in = np.zeros(n_parts, dtype=np.int64)
    max_delay = np.zeros(n_parts, dtype=np.int64)
    for s in stats.values():
        fan_in += s.fan_in
        max_delay = np.maximum(max_delay, s.max_delay)
    if "fan_in_synapses" in t.core_limits:
        usage["fan_in_synapses"] = fan_in
    usage["delay_steps"] = max_delay
    if t.family == "spinnaker":
        _spinnaker_usage(t, net, pop, sizes, stats, max_delay, usage)
        usage["sdram_bytes"] = usage["sdram_bytes"] + spike_array_sdram(t, pop, label, n_parts)
    else:
        axons = np.zeros(n_parts, dtype=np.int64)
        bits = np.zeros(n_parts, dtype=np.int64)
        for p in incoming:
            s = stats[p.name]
            slots = int(t.m["learning_axon_slots"]) if p.plasticity is not None else 1
            axons += s.distinct_pre * slots
            bits += s.bits
        usage["input_axons"] = axons
        usage["synapse_memory_bits"] = bits
        usage["output_axons"] = (np.bincount(label, weights=out_counts, minlength=n_parts).astype(np.int64)
                                 if out_counts is not None else np.zeros(n_parts, dtype=np.int64))
    limits = {}
    for r in core_resource_names(t):
        lim = core_limit(t, pop, r, sizes)
        if lim is not None:
            limits[r] = lim
    if t.family == "loihi":
        max_idx = max(t.m["index_bits"])
        usage["index_bits"] = index_bits_needed(sizes)
        limits["index_bits"] = np.full(n_parts, max_idx, dtype=np.int64)
    return PopUsage(sizes, usage, limits, stats, np.zeros(n_parts, dtype=np.int64))


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
        atom_bits = n_bits_array(np.maximum(sizes, 1))
        need_slots = 2 ** n_bits_array(np.maximum(max_delay, 1))
        slots = np.minimum(need_slots, in_slots)
        ring = (2 ** (atom_bits + t.type_bits(pop))) * slots * int(t.m["ring_buffer_entry_bytes"])
        dtcm = sizes * nbytes + ring + pop_table
    usage["dtcm_bytes"] = dtcm.astype(np.int64)
    usage["sdram_bytes"] = np.asarray(sdram, dtype=np.int64) * np.ones(n_parts, dtype=np.int64)
    usage["row_words"] = row_words


def delay_extension_cores(t: Target, net: Network, slices_of_pop: dict[str, np.ndarray],
                          part_sizes: dict[str, np.ndarray], predicted: dict[str, Any] | None = None
                          ) -> dict[str, np.ndarray]:
    """SpiNNaker: delay-extension cores per source part. sPyNNaker gives a pre population ONE
    delay-extension vertex as soon as any of its synapses needs a delay beyond the in-core slots
    of its target core, split exactly like the pre population: one extra core per core of the pre
    population (delay_support_adder.py, splitter_delay_vertex_slice.py create_machine_vertices).
    `predicted` (ctx.delays.extensions from the delay legalization pass) adds its
    populations too."""
    out = {name: np.zeros(len(sz), dtype=np.int64) for name, sz in part_sizes.items()}
    if t.family != "spinnaker" or t.delay_extension != "delay_extension_cores":
        return out
    needs_ext = set(predicted or {})
    for proj in net.projections.values():
        if not proj.n_synapses or proj.pre in needs_ext:
            continue
        post = net.populations[proj.post]
        slots = _in_core_slots(t, post, part_sizes[proj.post])
        if np.any(proj.delay > slots[slices_of_pop[proj.post][proj.post_idx]]):
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


# --------------------------------------------------------------------------------------- rates
DEFAULT_RATE_HZ = 10.0  # documented default firing rate for neurons without a rate (see placement docs)


def firing_rates(net: Network, options: dict[str, Any]) -> dict[str, np.ndarray]:
    """Per population, per neuron firing rate in Hz.

    `options["rates"]` (population -> Hz, scalar or per-neuron array, e.g. from a simulation run)
    wins; otherwise Poisson sources use their `rate` parameter, spike arrays their own spike count
    over their span, and every other neuron DEFAULT_RATE_HZ (10 Hz, a typical cortical rate).
    """
    given = options.get("rates") or {}
    out: dict[str, np.ndarray] = {}
    for pop in net.populations.values():
        if pop.name in given:
            r = np.broadcast_to(np.asarray(given[pop.name], dtype=np.float64), (pop.size,)).copy()
        elif pop.model == "poisson":
            r = pop.param("rate").astype(np.float64)
        elif pop.model == "spike_array" and "spike_indptr" in pop.params:
            steps = np.asarray(pop.params["spike_steps"], dtype=np.int64)
            span_s = (int(steps.max()) + 1) * net.dt_ms / 1000.0 if steps.size else 1.0
            r = np.diff(np.asarray(pop.params["spike_indptr"], dtype=np.int64)) / span_s
        else:
            r = np.full(pop.size, DEFAULT_RATE_HZ)
        out[pop.name] = r
    return out


# --------------------------------------------------------------------------------------- violations
_PHRASE = {
    "neurons": "neurons",
    "fan_in_synapses": "incoming synapses",
    "input_axons": "input axons",
    "output_axons": "output axons",
    "synapse_memory_bits": "bits of synapse memory",
    "index_bits": "synapse index bits",
    "dtcm_bytes": "bytes of DTCM",
    "sdram_bytes": "bytes of SDRAM",
    "row_words": "words in one synaptic row",
    "delay_steps": "steps of delay",
    "cores": "cores",
    "router_entries": "routing table entries",
    "key_bits": "routing key bits",
}


def _num(v: float | int) -> str:
    v = float(v)
    return f"{int(v):,}" if v == int(v) else f"{v:,.2f}"


@dataclass(frozen=True)
class Violation:
    """One exceeded limit: what, where, how much is needed, the limit, and what to do."""

    subject: str          # e.g. "population 'exc' slice 3", "chip (3, 4)", "network 'net'"
    resource: str         # a key of _PHRASE
    needed: float
    limit: float
    where: str            # "on one core" | "on one chip" | "on the board"
    per: str              # "per core" | "per chip" | "in all"
    board: str
    hint: str
    unsplittable: bool = False
    population: str = ""

    def message(self) -> str:
        return (f"{self.subject} needs {_num(self.needed)} {_PHRASE.get(self.resource, self.resource)} "
                f"{self.where} but {self.board} allows {_num(self.limit)} {self.per}; hint: {self.hint}")

    def to_dict(self) -> dict[str, Any]:
        return {"subject": self.subject, "resource": self.resource, "needed": float(self.needed),
                "limit": float(self.limit), "message": self.message()}


HINTS = {
    "neurons": "use a larger board or fewer neurons",
    "fan_in_synapses": "reduce the fan-in of these neurons (prune synapses)",
    "input_axons": "reduce the number of distinct presynaptic neurons (fewer or pooled inputs)",
    "output_axons": "reduce the fan-out of these neurons or the number of target cores",
    "synapse_memory_bits": "use fewer weight bits (num_weight_bits), shorter delays or prune synapses",
    "index_bits": "put fewer neurons on a core",
    "dtcm_bytes": "use fewer neurons per core (max_neurons_per_core option) or shorter delays",
    "sdram_bytes": ("split large presynaptic populations: sPyNNaker stores a row for every neuron of the whole "
                    "presynaptic population on every target core"),
    "row_words": "reduce the synapses from one presynaptic neuron onto one core (fewer neurons per core)",
    "delay_steps": "shorten delays, increase dt_ms, or put fewer neurons per core (more delay slots on SpiNNaker)",
    "cores": "use a larger board, or reduce neurons/synapses per population",
    "router_entries": ("place connected populations closer together, use fewer, larger slices, or enable "
                       "routing-table compression"),
    "key_bits": "use fewer populations or fewer slices per population",
}
