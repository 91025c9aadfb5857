"""Resource model: what one core holding a slice of a population needs, as the target stores it.

A *slice* is a set of neurons of one population placed on one core. For every per-core resource
this module estimates the amount the target would use and names the limit it is checked against.
No hardware number lives in this file: every limit and every storage-format constant is read from
the `Board` (its `core_limits`, `chip_limits`, `delays`, `number_format`, and the `mapping` section
listed in its target family's `mapping_fields`). A board without a needed field fails with a `BoardError` that names
the field and where its value comes from.

What differs per chip family (which resources exist, how a synapse row or a synapse block is
stored, delay reach) lives in the family's package and is documented there, with sources:
`neurocompile/targets/spinnaker/resources.py` (sPyNNaker 1!7.4.1) and
`neurocompile/targets/loihi2/resources.py` (nengo-loihi's block model, applied to Loihi 2).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numba
import numpy as np

from neurocompile.boards.schema import Board
from neurocompile.errors import BoardError
from neurocompile.ir.network import Network, Population, Projection
from neurocompile.targets import TargetFamily, family_of

# --------------------------------------------------------------------------------------- board
# Fields of the board's `mapping` section the passes read. Value: (meaning, where the number comes from).
OPTIONAL_MAPPING_FIELDS = {
    "atoms_per_core": "per IR model neurons per core when it differs from core_limits.neurons "
                      "(sPyNNaker SpikeSourcePoisson DEFAULT_MAX_ATOMS_PER_CORE = 500)",
}


def mapping_section(board: Board) -> dict[str, Any]:
    return dict(board.mapping or {})


def _need_mapping(board: Board, key: str) -> Any:
    sec = mapping_section(board)
    if key not in sec:
        meaning, source = family_of(board).mapping_fields[key]
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
    family: TargetFamily               # the board's target package (neurocompile.targets)
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
        return self.family.delay_supported(self, pop, np.asarray(n))


def target_of(board: Board) -> Target:
    family = family_of(board)
    sec = mapping_section(board)
    m: dict[str, Any] = {}
    for key in family.mapping_fields:
        m[key] = _need_mapping(board, key)
    neurons = _need_limit(board, "core_limits", "neurons")
    limits = dict(board.core_limits)
    cores = int(board.chip_limits.get("cores", board.cores_per_chip))
    eth = board.chip_limits.get("ethernet_chip_cores")
    if eth is None:
        eth = sec.get("ethernet_chip_cores")
    for (x, y), n in board.topology.cores_missing().items():
        have = int(eth) if eth is not None and (x, y) in board.topology.ethernet_chips else cores
        if n >= have:
            raise BoardError(f"{board.source_file}: board {board.name!r}: topology.dead_cores leaves chip "
                             f"({x}, {y}) no application core ({n} dead of {have})")
    family.prepare_mapping(board, m)
    return Target(
        board=board, family=family, neurons_per_core=neurons,
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
    names = list(t.family.core_resources)
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
def _row_bits(m, bpw, blk, hdr, word):  # pragma: no cover - compiled
    """Bits of one pre neuron's row of m synapses into one part: blocks of `blk` synapses of
    `bpw` bits plus a header, each rounded up to whole words."""
    nfull = m // blk
    rem = m - nfull * blk
    bits = nfull * (((blk * bpw + hdr + word - 1) // word) * word)
    if rem > 0:
        bits += ((rem * bpw + hdr + word - 1) // word) * word
    return bits


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
            tb += _row_bits(cu + cd, bpw, blk, hdr, word)
            if want_out:
                out[i] += 1
            cnt_u[i] = 0
            cnt_d[i] = 0
        row_u[p] = ru
        row_d[p] = rd
        bits[p] = tb
    return fan_in, distinct, row_u, row_d, bits, maxd, out


@numba.njit(cache=True)
def _proj_part_stats_by_pre(pre, post, delay, label, n_parts, n_pre, split_part, bpw_part,
                            blk, hdr, word, want_out):  # pragma: no cover - compiled
    """`_proj_part_stats` for synapses sorted by pre: one sequential pass, row by row, with only
    the per-part counters (a few hundred) accessed at random; the general kernel's gather by part
    misses cache on every synapse of a large projection (~40 ns each at 10**7 synapses)."""
    n = pre.shape[0]
    fan_in = np.zeros(n_parts, dtype=np.int64)
    distinct = np.zeros(n_parts, dtype=np.int64)
    row_u = np.zeros(n_parts, dtype=np.int64)
    row_d = np.zeros(n_parts, dtype=np.int64)
    bits = np.zeros(n_parts, dtype=np.int64)
    maxd = np.zeros(n_parts, dtype=np.int64)
    cnt_u = np.zeros(n_parts, dtype=np.int64)
    cnt_d = np.zeros(n_parts, dtype=np.int64)
    touched = np.empty(n_parts, dtype=np.int64)
    out = np.zeros(n_pre if want_out else 0, dtype=np.int32)
    k = 0
    while k < n:
        i = pre[k]
        nt = 0
        while k < n and pre[k] == i:
            p = label[post[k]]
            d = delay[k]
            fan_in[p] += 1
            if d > maxd[p]:
                maxd[p] = d
            if cnt_u[p] == 0 and cnt_d[p] == 0:
                touched[nt] = p
                nt += 1
            if d <= split_part[p]:
                cnt_u[p] += 1
            else:
                cnt_d[p] += 1
            k += 1
        for t in range(nt):
            p = touched[t]
            cu = cnt_u[p]
            cd = cnt_d[p]
            distinct[p] += 1
            if cu > row_u[p]:
                row_u[p] = cu
            if cd > row_d[p]:
                row_d[p] = cd
            bits[p] += _row_bits(cu + cd, bpw_part[p], blk, hdr, word)
            cnt_u[p] = 0
            cnt_d[p] = 0
        if want_out:
            out[i] += nt
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


def proj_stats(t: Target, net: Network, proj: Projection, label: np.ndarray, n_parts: int,
               part_sizes: np.ndarray, want_out: bool = False) -> ProjStats:
    post_pop = net.populations[proj.post]
    n_pre = net.populations[proj.pre].size
    split, bpw, blk, hdr, word = t.family.synapse_layout(t, proj, post_pop, part_sizes)
    kernel = _proj_part_stats_by_pre if proj.sorted_by_pre else _proj_part_stats
    res = kernel(proj.pre_idx, proj.post_idx, proj.delay, label.astype(np.int64), int(n_parts),
                 int(n_pre), split, bpw, blk, hdr, word, bool(want_out))
    fan_in, distinct, ru, rd, bits, maxd, out = res
    return ProjStats(fan_in, distinct, ru, rd, bits, maxd, out if want_out else None)


# --------------------------------------------------------------------------------------- usage
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
    t.family.add_usage(t, net, pop, label, sizes, stats, max_delay, usage, out_counts)
    limits = {}
    for r in core_resource_names(t):
        lim = core_limit(t, pop, r, sizes)
        if lim is not None:
            limits[r] = lim
    t.family.extra_limits(t, sizes, usage, limits)
    return PopUsage(sizes, usage, limits, stats, np.zeros(n_parts, dtype=np.int64))


# --------------------------------------------------------------------------------------- rates
DEFAULT_RATE_HZ = 10.0  # documented default firing rate for neurons without a rate (see placement docs)


def firing_rates(net: Network, options: dict[str, Any]) -> dict[str, np.ndarray]:
    """Per population, per neuron firing rate in Hz.

    `options["rates"]` (population -> Hz, scalar or per-neuron array, e.g. from a simulation run)
    wins; otherwise Poisson sources use their `rate` parameter, spike arrays their own spike count
    over their span, a delay relay (passes/delays.py) the rate of the neuron it copies (it fires
    once per spike of it), and every other neuron DEFAULT_RATE_HZ (10 Hz, a typical cortical rate).
    """
    from neurocompile.passes.delays import is_relay  # delays imports this module

    given = options.get("rates") or {}
    out: dict[str, np.ndarray] = {}
    for pop in net.populations.values():  # a relay stage comes after what feeds it
        feed = next(iter(net.projections_into(pop.name)), None) if is_relay(pop) else None
        if pop.name in given:
            r = np.broadcast_to(np.asarray(given[pop.name], dtype=np.float64), (pop.size,)).copy()
        elif feed is not None and feed.pre in out:
            r = np.zeros(pop.size)
            r[feed.post_idx] = out[feed.pre][feed.pre_idx]
        elif pop.model in ("poisson", "poisson_fast"):
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
