"""Partitioning: split every population into core slices that satisfy all per-core limits at once.

A slice is (population, sorted array of neuron indices); every neuron is in exactly one slice.

Per population (`_partition_population`):
1. Every neuron alone must fit a core (its own fan-in, input axons, synapse bits, DTCM, SDRAM,
   row length, delay). A neuron that does not is *unsplittable*: recorded as a violation (the
   resource check raises it), and the population falls back to plain neuron-count slices.
2. Lower bound on the number of parts k0 from the additive resources (neurons, fan-in).
3. An ordering of the neurons and k0 initial groups:
   - contiguous: index order, k0 groups of equal load (what sPyNNaker does, but balanced);
   - METIS (pymetis recursive bisection, seeded): k0-way partition of the population's
     connectivity graph (below); neurons ordered by part.
   The graph we cut: vertices are neurons of the population (above `metis_vertices` neurons,
   blocks of consecutive neurons weighted by size: coarsening for 1M-neuron populations), edges
   (a) recurrent synapses inside the population and (b) shared presynaptic input, as a *path
   expansion* of each presynaptic neuron's target set (its targets sorted, consecutive ones
   joined): cutting the targets of one source into c parts cuts >= c - 1 of its path edges, so
   METIS keeps neurons with common inputs together (fewer input axons / rows / routes).
   The graph is built from a seeded sample of presynaptic neurons (all their synapses) with
   clip(4 * neurons, 20,000, `metis_synapses` = 50,000) synapses, so METIS costs ~0.1 s per
   population whatever its size; both groupings are then scored on a *disjoint* sample (no
   over-fitting to the sample) and METIS is used only if its cut is < 95% of the contiguous one.
4. Groups are fitted to the additive limits (a group's overflow tail is carried into the next
   group), then every part is evaluated exactly (`population_usage`). A part over any limit is
   split into ceil(1.05 * worst usage/limit ratio) pieces along the ordering; repeat until all fit
   (terminates: single neurons fit). Then adjacent parts are merged back pairwise where the merge
   fits (two rounds), which undoes over-splitting of non-additive resources (input axons).
5. Loihi output axons depend on the partition of the targets: after all populations are split,
   slices with too many output axons are split by their neurons' (additive) output-axon counts;
   this is repeated (4 rounds) because splitting a target changes its sources' counts.

Deterministic for a seed: METIS runs with `Options(seed=ctx.seed)`, sampling uses
`np.random.default_rng(ctx.seed)`, everything else is ordered.
6. SpiNNaker (option `uniform_slices`, default on for SpiNNaker boards): all slices of a population
   but the last get the same size, cut along the ordering, so that sPyNNaker's fixed-size splitter
   can reproduce them after the population is renumbered (`contiguous_order`).

Options (ctx.options): `max_neurons_per_core` (int or {population: int}), `partition_method`
("auto" | "contiguous" | "metis"), `metis_vertices` (default 20,000), `metis_synapses` (50,000).
"""
from __future__ import annotations

import math
import multiprocessing as mp
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pymetis
import scipy.sparse as sp

from neurocompile.ir.network import Network, Population
from neurocompile.passes.pipeline import CompileContext
from neurocompile.passes.resources import (
    HINTS, PopUsage, Target, Violation, population_usage, proj_stats, target_of)

METIS_VERTICES = 20_000
METIS_SYNAPSES = 50_000
METIS_MIN_SYNAPSES = 20_000
METIS_MIN_GAIN = 0.95
METIS_UFACTOR = 10  # max part imbalance 1.010 (METIS default 30)


class NeuronSet:
    """Views of a sorted `neurons` index array shared by slices and placed slices."""

    neurons: np.ndarray

    @property
    def n_neurons(self) -> int:
        return int(self.neurons.shape[0])

    @property
    def start(self) -> int:
        return int(self.neurons[0])

    @property
    def stop(self) -> int:
        return int(self.neurons[-1]) + 1

    def ranges(self) -> list[list[int]]:
        """Compressed [first, last] (inclusive) runs of consecutive neurons."""
        n = self.neurons
        if n.size == 0:
            return []
        breaks = np.flatnonzero(np.diff(n) != 1)
        starts = np.concatenate([[0], breaks + 1])
        ends = np.concatenate([breaks, [n.size - 1]])
        return [[int(n[a]), int(n[b])] for a, b in zip(starts, ends)]


@dataclass(frozen=True)
class Slice(NeuronSet):
    """Neurons of one population mapped to one core."""

    id: int                 # global slice id (index in Partition.slices)
    population: str
    index: int              # index among the population's slices
    neurons: np.ndarray     # sorted neuron indices (int32)


@dataclass
class Partition:
    slices: list[Slice]
    labels: dict[str, np.ndarray]        # population -> slice index (within population) per neuron
    offset: dict[str, int]               # population -> global id of its slice 0
    usage: dict[str, PopUsage]           # final per-slice usage, per population
    method: dict[str, str]               # population -> "single" | "contiguous" | "metis" | "fallback"
    extra_cores: np.ndarray              # per global slice: delay-extension cores it needs (SpiNNaker)
    lower_bound_cores: int
    violations: list[Violation] = field(default_factory=list)

    def global_labels(self, pop: str) -> np.ndarray:
        return self.labels[pop].astype(np.int64) + self.offset[pop]

    def local_index(self, pop: str) -> np.ndarray:
        """Position of each neuron inside its slice."""
        lab = self.labels[pop]
        out = np.empty(lab.shape[0], dtype=np.int64)
        for s in self.slices_of(pop):
            out[s.neurons] = np.arange(s.n_neurons)
        return out

    def slices_of(self, pop: str) -> list[Slice]:
        n = int(self.labels[pop].max()) + 1 if self.labels[pop].size else 0
        return self.slices[self.offset[pop]:self.offset[pop] + n]

    def slice_usage(self, s: Slice) -> dict[str, tuple[int, int | None]]:
        u = self.usage[s.population]
        return {r: (int(v[s.index]), int(u.limits[r][s.index]) if r in u.limits else None)
                for r, v in u.usage.items()}


def split_projection(part: Partition, net: Network, proj_name: str) -> dict[str, np.ndarray]:
    """Per synapse of a projection: (pre slice, position in it, post slice, position in it)."""
    proj = net.projections[proj_name]
    return {
        "pre_slice": part.global_labels(proj.pre)[proj.pre_idx],
        "pre_local": part.local_index(proj.pre)[proj.pre_idx],
        "post_slice": part.global_labels(proj.post)[proj.post_idx],
        "post_local": part.local_index(proj.post)[proj.post_idx],
    }


def contiguous_order(part: Partition, pop: str) -> np.ndarray:
    """A permutation of the population's neurons that makes every slice a contiguous index range
    (slice 0 first). A backend whose tool only cuts populations into fixed-size index ranges
    (sPyNNaker: max_atoms_per_core) creates the population in this order and renumbers the
    projections with `np.argsort(order)`; with `uniform_slices` (the SpiNNaker default) all slices
    but the last have the same size, so max_atoms_per_core = the first slice's size reproduces them."""
    return np.concatenate([s.neurons for s in part.slices_of(pop)]).astype(np.int64)


# ------------------------------------------------------------------------------------- helpers
def neuron_cap(t: Target, pop: Population, options: dict[str, Any]) -> int:
    cap = t.neuron_limit(pop)
    user = options.get("max_neurons_per_core")
    if isinstance(user, dict):
        user = user.get(pop.name)
    if user is not None:
        cap = min(cap, int(user))
    return max(1, cap)


def population_lower_bound(t: Target, net: Network, pop: Population, options: dict[str, Any]) -> int:
    """Fewest cores `pop` can take: its neurons at the per-core capacity of its model (the same
    `neuron_cap` the partitioner fills, e.g. 500 Poisson sources per SpiNNaker core, not 256)
    and its incoming synapses at the fan-in limit. Cheap (no synapse arrays are read)."""
    cap = neuron_cap(t, pop, options)
    flim = t.core_limits.get("fan_in_synapses")
    fan_total = sum(p.n_synapses for p in net.projections_into(pop.name)) if flim else 0
    return max(-(-pop.size // cap), -(-int(fan_total) // int(flim)) if flim else 1, 1)


def core_lower_bound(t: Target, net: Network, options: dict[str, Any]) -> dict[str, int]:
    """Per population, the core lower bound of `population_lower_bound` (what partition reports)."""
    return {name: population_lower_bound(t, net, pop, options) for name, pop in net.populations.items()}


def _fan_in(net: Network, pop: Population) -> np.ndarray:
    f = np.zeros(pop.size, dtype=np.int64)
    for p in net.projections_into(pop.name):
        if p.n_synapses:
            f += np.bincount(p.post_idx, minlength=pop.size)
    return f


def _labels_from(order: np.ndarray, bounds: list[int], n: int) -> np.ndarray:
    lab = np.empty(n, dtype=np.int32)
    b = np.asarray(bounds)
    sizes = np.diff(b)
    lab[order] = np.repeat(np.arange(sizes.shape[0], dtype=np.int32), sizes)
    return lab


def _balanced_bounds(weights: np.ndarray, k: int) -> list[int]:
    """k contiguous groups of ~equal total weight (positions in the given order)."""
    n = weights.shape[0]
    c = np.concatenate([[0.0], np.cumsum(weights, dtype=np.float64)])
    targets = c[-1] * np.arange(1, k) / k
    cuts = np.searchsorted(c, targets, side="left")
    cuts = np.clip(cuts, 1, n - 1) if n > 1 else cuts
    bounds = [0] + sorted(set(int(x) for x in cuts)) + [n]
    return sorted(set(bounds))


def _fit_additive(bounds: list[int], fan_ordered: np.ndarray, cap: int, flim: int | None) -> list[int]:
    """Move each group's tail into the next group until neurons <= cap and fan-in <= flim."""
    n = fan_ordered.shape[0]
    cf = np.concatenate([[0], np.cumsum(fan_ordered)])
    targets = bounds[1:]
    out = [0]
    start = 0
    i = 0
    while start < n:
        while i < len(targets) and targets[i] <= start:
            i += 1
        desired = targets[i] if i < len(targets) else n
        e_max = min(start + cap, n)
        if flim is not None:
            e_max = min(e_max, int(np.searchsorted(cf, cf[start] + flim, side="right")) - 1)
        e_max = max(e_max, start + 1)
        e = min(desired, e_max)
        out.append(e)
        start = e
        i += 1  # a cut-short group's tail is carried into the next group
    return out


# ------------------------------------------------------------------------------------- METIS
def _coarse_graph(net: Network, pop: Population, n_vertices: int, max_syn: int, seed: int,
                  sample: int = 0) -> tuple[int, int, sp.csr_matrix]:
    """Block size b, number of vertices V and the symmetric weighted adjacency (V x V).

    Large inputs are sampled by *presynaptic neuron* (all synapses of a sampled source are kept, so
    its shared-input path stays whole); `sample` 0 and 1 are disjoint samples (fit / evaluate).
    """
    n = pop.size
    b = max(1, -(-n // n_vertices))
    V = -(-n // b)
    projs = [p for p in net.projections_into(pop.name) if p.n_synapses]
    total = sum(p.n_synapses for p in projs)
    frac = min(1.0, max_syn / total) if total else 1.0
    us, vs = [], []
    for i, p in enumerate(projs):
        if frac < 1.0:
            u = np.random.default_rng([seed, i]).random(net.populations[p.pre].size)
            keep = (u >= sample * frac) & (u < (sample + 1) * frac)
            sel = np.flatnonzero(keep[p.pre_idx])
            pre, post = p.pre_idx[sel], p.post_idx[sel]
        else:
            pre, post = p.pre_idx, p.post_idx
        post_b = (post // b).astype(np.int64)
        if p.pre == pop.name:
            us.append((pre // b).astype(np.int64))
            vs.append(post_b)
        key = pre.astype(np.int64) * V + post_b
        key.sort()
        same = (key[1:] // V) == (key[:-1] // V)
        blk = key % V
        us.append(blk[:-1][same])
        vs.append(blk[1:][same])
    if not us:
        return b, V, sp.csr_matrix((V, V), dtype=np.int64)
    u = np.concatenate(us)
    v = np.concatenate(vs)
    keep = u != v
    u, v = u[keep], v[keep]
    g = sp.coo_matrix((np.ones(u.shape[0], dtype=np.int64), (u, v)), shape=(V, V)).tocsr()
    g = (g + g.T).tocsr()
    g.sum_duplicates()
    return b, V, g


def _cut(g: sp.csr_matrix, lab: np.ndarray) -> float:
    coo = g.tocoo()
    return float(coo.data[lab[coo.row] != lab[coo.col]].sum()) / 2.0


def _metis_groups(g: sp.csr_matrix, b: int, V: int, n: int, k: int, block_load: np.ndarray,
                  seed: int) -> tuple[np.ndarray, list[int], np.ndarray]:
    """METIS k-way on the block graph: (neuron order, group bounds, block labels)."""
    vw = np.maximum(1, np.round(block_load / max(block_load.max(), 1e-12) * 1000)).astype(np.int64)
    opts = pymetis.Options(seed=int(seed) & 0x7FFFFFFF, ufactor=METIS_UFACTOR)
    adj = pymetis.CSRAdjacency(g.indptr.astype(np.int64), g.indices.astype(np.int64))
    _, parts = pymetis.part_graph(int(k), adj, vweights=vw, eweights=g.data.astype(np.int64), options=opts,
                                  recursive=True)
    parts = np.asarray(parts, dtype=np.int64)
    block_len = np.minimum(np.arange(V) * b + b, n) - np.arange(V) * b
    block_order = np.lexsort((np.arange(V), parts))
    lens = block_len[block_order]
    excl = np.concatenate([[0], np.cumsum(lens)[:-1]])
    order = (np.repeat(block_order * b - excl, lens) + np.arange(int(lens.sum()))).astype(np.int64)
    part_sizes = np.bincount(parts, weights=block_len, minlength=k).astype(np.int64)
    bounds = [0] + [int(x) for x in np.cumsum(part_sizes[part_sizes > 0])]
    return order, bounds, parts


# ------------------------------------------------------------------------------------- per population
@dataclass
class _PopResult:
    labels: np.ndarray
    n_parts: int
    method: str
    lower_bound: int
    violations: list[Violation]
    usage: PopUsage | None = None    # usage of `labels` when already evaluated


class _Log:
    """What a worker needs of the context: seed, options, and a record of info messages."""

    def __init__(self, seed: int, options: dict[str, Any]) -> None:
        self.seed = seed
        self.options = options
        self.messages: list[tuple[str, str]] = []

    def info(self, message: str, subject: str = "") -> None:
        self.messages.append((message, subject))


def _unsplittable(t: Target, net: Network, pop: Population, single: PopUsage) -> list[Violation]:
    out = []
    for r, bad in single.violations().items():
        if r == "output_axons":
            continue
        idx = np.flatnonzero(bad)
        worst = idx[np.argmax(single.usage[r][idx])]
        more = f" (and {idx.size - 1:,} more neurons)" if idx.size > 1 else ""
        subject = f"population {pop.name!r} neuron {int(worst)}{more}"
        if r == "delay_steps":
            lim = int(single.limits[r][worst])
            projs = [p.name for p in net.projections_into(pop.name) if p.n_synapses and int(p.delay.max()) > lim]
            if projs:
                subject = f"projection {projs[0]!r} into {subject}"
        out.append(Violation(
            subject=subject, resource=r,
            needed=float(single.usage[r][worst]), limit=float(single.limits[r][worst]),
            where="on one core even alone", per="per chip" if r == "sdram_bytes" else "per core", board=t.name,
            hint="this cannot be fixed by splitting the population; " + HINTS.get(r, ""),
            unsplittable=True, population=pop.name))
    return out


def _partition_population(t: Target, net: Network, pop: Population, ctx: _Log) -> _PopResult:
    n = pop.size
    opts = ctx.options
    cap = neuron_cap(t, pop, opts)
    flim = t.core_limits.get("fan_in_synapses")
    fan = _fan_in(net, pop)
    k0 = max(-(-n // cap), -(-int(fan.sum()) // flim) if flim else 1, 1)
    # 1. every neuron alone must fit
    single = population_usage(t, net, pop, np.arange(n, dtype=np.int32), n)
    single.limits["neurons"] = np.full(n, cap, dtype=np.int64)
    unsplit = _unsplittable(t, net, pop, single)
    if unsplit:
        lab = (np.arange(n) // cap).astype(np.int32)
        return _PopResult(lab, int(lab.max()) + 1, "fallback", k0, unsplit)
    if k0 == 1:
        lab = np.zeros(n, dtype=np.int32)
        u = population_usage(t, net, pop, lab, 1)
        u.limits["neurons"] = np.full(1, cap, dtype=np.int64)
        if not u.violations():
            return _PopResult(lab, 1, "single", 1, [], u)
    # 2./3. ordering and initial groups
    load = 1.0 / cap + (fan / flim if flim else 0.0) + (fan / max(fan.sum(), 1)) * 1e-3
    k = max(k0, 2)
    method = "contiguous"
    choice = opts.get("partition_method", "auto")
    graph = None
    metis_cache: dict[int, tuple[np.ndarray, list[int], np.ndarray]] = {}
    if choice != "contiguous" and n >= 4:
        n_vertices = int(opts.get("metis_vertices", METIS_VERTICES))
        contig = _labels_from(np.arange(n), _balanced_bounds(load, k), n)

        # METIS fits a sample of the graph; both groupings are scored on a disjoint sample
        n_syn = int(min(max(4 * n, METIS_MIN_SYNAPSES), opts.get("metis_synapses", METIS_SYNAPSES)))
        b, V, g = _coarse_graph(net, pop, n_vertices, n_syn, ctx.seed, sample=0)
        if g.nnz and V > k:
            _, _, g_eval = _coarse_graph(net, pop, n_vertices, n_syn, ctx.seed, sample=1)
            if not g_eval.nnz:
                g_eval = g
            block_load = np.bincount(np.arange(n) // b, weights=load, minlength=V)
            res = _metis_groups(g, b, V, n, k, block_load, ctx.seed)
            cut_c = _cut(g_eval, contig[np.arange(V) * b])
            cut_m = _cut(g_eval, res[2])
            if choice == "metis" or cut_m < METIS_MIN_GAIN * cut_c:
                method = "metis"
                graph = (b, V, g, block_load)
                metis_cache[k] = res
            ctx.info(f"population {pop.name!r}: graph cut contiguous {cut_c:,.0f} vs METIS {cut_m:,.0f} "
                     f"({V:,} vertices of {b} neurons, {k} parts); using {method}", pop.name)

    def groups(kk: int) -> tuple[np.ndarray, list[int]]:
        if method == "metis" and graph is not None and graph[1] > kk:
            gb, gV, gg, bl = graph
            if kk not in metis_cache:
                metis_cache[kk] = _metis_groups(gg, gb, gV, n, kk, bl, ctx.seed)
            o, bd, _ = metis_cache[kk]
        else:
            o, bd = np.arange(n, dtype=np.int64), _balanced_bounds(load, kk)
        return o, _fit_additive(bd, fan[o], cap, flim)

    order, bounds = groups(k)
    # 4. exact check: re-group globally when many parts fail, else split the failing parts
    for _ in range(64):
        lab = _labels_from(order, bounds, n)
        k = len(bounds) - 1
        u = population_usage(t, net, pop, lab, k)
        u.limits["neurons"] = np.full(k, cap, dtype=np.int64)
        ratio = u.ratio()
        bad = np.flatnonzero(ratio > 1.0)
        if bad.size == 0:
            break
        if bad.size > k // 4 and k < n:
            growth = min(2.0, max(1.0, 1.02 * float(np.quantile(ratio, 0.75))))
            order, bounds = groups(min(n, max(k + 1, math.ceil(k * growth))))
            continue
        wsplit = 1.0 + fan[order] / max(float(fan.mean()), 1e-12)
        new = [0]
        bad_set = set(bad.tolist())
        for j in range(k):
            a, e = bounds[j], bounds[j + 1]
            if j in bad_set and e - a > 1:
                m = min(e - a, max(2, math.ceil(1.05 * ratio[j])))
                sub = _balanced_bounds(wsplit[a:e], m)
                new.extend(a + x for x in sub[1:])
            else:
                new.append(e)
        bounds = new
    merged = _merge_adjacent(t, net, pop, order, bounds, cap, k0)
    if merged != bounds:
        bounds, u = merged, None
        lab = _labels_from(order, bounds, n)
    if _uniform_slices(t, opts):
        sizes = np.diff(bounds)
        if len(bounds) > 2 and sizes[:-1].min() != sizes.max():
            return _uniform(t, net, pop, order, int(sizes.max()), cap, method, k0)
    return _PopResult(lab, len(bounds) - 1, method, k0, [], u)


def _uniform_slices(t: Target, opts: dict[str, Any]) -> bool:
    return bool(opts.get("uniform_slices", t.family.uniform_slices))


def _uniform(t: Target, net: Network, pop: Population, order: np.ndarray, m: int, cap: int, method: str,
             k0: int) -> _PopResult:
    """Equal-size slices along the ordering (the last may be smaller), as sPyNNaker's splitter
    makes them (max_atoms_per_core = m); m shrinks until every slice fits."""
    n = pop.size
    while True:
        bounds = list(range(0, n, m)) + [n]
        lab = _labels_from(order, bounds, n)
        k = len(bounds) - 1
        u = population_usage(t, net, pop, lab, k)
        u.limits["neurons"] = np.full(k, cap, dtype=np.int64)
        if m == 1 or not u.violations():
            return _PopResult(lab, k, method, k0, [], u)
        m = max(1, min(m - 1, int(m / max(1.0, float(u.ratio().max())) * 0.98)))


def _merge_adjacent(t: Target, net: Network, pop: Population, order: np.ndarray, bounds: list[int],
                    cap: int, k0: int) -> list[int]:
    n = pop.size
    for rnd in range(4):
        k = len(bounds) - 1
        if k <= k0:
            break
        # try merging pairs (j, j+1) for j of one parity
        pairs = [j for j in range(rnd % 2, k - 1, 2) if bounds[j + 2] - bounds[j] <= cap]
        if not pairs:
            continue
        merged = [b for i, b in enumerate(bounds) if (i - 1) not in set(pairs)]
        lab = _labels_from(order, merged, n)
        km = len(merged) - 1
        u = population_usage(t, net, pop, lab, km)
        u.limits["neurons"] = np.full(km, cap, dtype=np.int64)
        ok = u.ratio() <= 1.0
        # map merged part index back: part of the pair's start
        pos = {b: i for i, b in enumerate(merged[:-1])}
        accept = [j for j in pairs if ok[pos[bounds[j]]]]
        if accept:
            drop = {j + 1 for j in accept}
            bounds = [b for i, b in enumerate(bounds) if i not in drop]
    return bounds


# ------------------------------------------------------------------------------------- Loihi out axons
MAX_OUTPUT_AXON_ROUNDS = 64  # a bound on the fixed-point loop below; real networks settle in a few
def _fix_output_axons(t: Target, net: Network, results: dict[str, _PopResult], ctx: CompileContext) -> None:
    lim = t.core_limits.get("output_axons")
    if not t.family.counts_output_axons or lim is None:
        return
    # Splitting a post population adds destination cores, so its pre populations' counts grow:
    # iterate to the fixed point (slices only ever split, so this ends), not a fixed few rounds.
    for _ in range(MAX_OUTPUT_AXON_ROUNDS):
        outc = _out_counts(t, net, results)
        changed = False
        for name, res in results.items():
            o = outc[name]
            if o.size and int(o.max()) > lim:
                continue  # unsplittable, reported later
            per = np.bincount(res.labels, weights=o, minlength=res.n_parts)
            if np.all(per <= lim):
                continue
            new_lab = np.empty_like(res.labels)
            nxt = 0
            for j in range(res.n_parts):
                members = np.flatnonzero(res.labels == j)
                if per[j] <= lim:
                    new_lab[members] = nxt
                    nxt += 1
                    continue
                piece = np.empty(members.size, dtype=np.int64)
                cur = 0
                acc = 0
                for i, v in enumerate(o[members].tolist()):
                    if acc + v > lim and acc > 0:
                        cur += 1
                        acc = 0
                    acc += v
                    piece[i] = cur
                new_lab[members] = nxt + piece
                nxt += int(piece.max()) + 1
            res.labels = new_lab
            res.n_parts = nxt
            res.usage = None
            changed = True
            ctx.info(f"population {name!r}: split to {nxt} slices to meet {lim:,} output axons per core", name)
        if not changed:
            break


def _out_counts(t: Target, net: Network, results: dict[str, _PopResult]) -> dict[str, np.ndarray]:
    outc = {name: np.zeros(net.populations[name].size, dtype=np.int64) for name in results}
    for p in net.projections.values():
        if not p.n_synapses:
            continue
        r = results[p.post]
        sizes = np.bincount(r.labels, minlength=r.n_parts)
        s = proj_stats(t, net, p, r.labels, r.n_parts, sizes, want_out=True)
        outc[p.pre] += s.out_count
    return outc


# ------------------------------------------------------------------------------------- driver
_FORK_STATE: tuple[Target, Network, int, dict[str, Any]] | None = None
PARALLEL_MIN_SYNAPSES = 2_000_000


def _worker(name: str) -> tuple[_PopResult, list[tuple[str, str]]]:
    assert _FORK_STATE is not None
    t, net, seed, options = _FORK_STATE
    log = _Log(seed, options)
    return _partition_population(t, net, net.populations[name], log), log.messages


def _partition_all(t: Target, net: Network, ctx: CompileContext) -> dict[str, _PopResult]:
    """Partition every population; in forked worker processes when the network is large.

    Populations are independent here, so the result does not depend on the number of workers
    (option `workers`, default: all CPUs for networks of >= 2M synapses, else 1).
    """
    global _FORK_STATE
    names = list(net.populations)
    workers = ctx.options.get("workers")
    if workers is None:
        workers = (os.cpu_count() or 1) if net.n_synapses >= PARALLEL_MIN_SYNAPSES else 1
    workers = max(1, min(int(workers), len(names)))
    if workers > 1 and "fork" in mp.get_all_start_methods():
        _FORK_STATE = (t, net, ctx.seed, ctx.options)
        try:
            with mp.get_context("fork").Pool(workers) as pool:
                out = pool.map(_worker, names, chunksize=1)
        finally:
            _FORK_STATE = None
    else:
        out = []
        for name in names:
            log = _Log(ctx.seed, ctx.options)
            out.append((_partition_population(t, net, net.populations[name], log), log.messages))
    results = {}
    for name, (res, messages) in zip(names, out):
        results[name] = res
        for m, subject in messages:
            ctx.info(m, subject)
    return results


# ------------------------------------------------------------------------------------- pass
def partition(net: Network, ctx: CompileContext) -> Network:
    """Pass: split populations into core slices (artefact `partition`)."""
    t = target_of(ctx.board)
    results = _partition_all(t, net, ctx)
    _fix_output_axons(t, net, results, ctx)
    outc = _out_counts(t, net, results) if t.family.counts_output_axons else {}
    slices: list[Slice] = []
    labels: dict[str, np.ndarray] = {}
    offset: dict[str, int] = {}
    usage: dict[str, PopUsage] = {}
    violations: list[Violation] = []
    for pop in net.populations.values():
        res = results[pop.name]
        offset[pop.name] = len(slices)
        labels[pop.name] = res.labels
        order = np.argsort(res.labels, kind="stable")
        sizes = np.bincount(res.labels, minlength=res.n_parts)
        starts = np.concatenate([[0], np.cumsum(sizes)])
        for j in range(res.n_parts):
            nj = np.sort(order[starts[j]:starts[j + 1]]).astype(np.int32)
            slices.append(Slice(len(slices), pop.name, j, nj))
        u = res.usage
        if u is None:
            u = population_usage(t, net, pop, res.labels, res.n_parts, outc.get(pop.name))
        elif pop.name in outc:
            u.usage["output_axons"] = np.bincount(res.labels, weights=outc[pop.name],
                                                  minlength=res.n_parts).astype(np.int64)
        u.limits["neurons"] = np.full(res.n_parts, neuron_cap(t, pop, ctx.options), dtype=np.int64)
        usage[pop.name] = u
        violations.extend(res.violations)
        if pop.name in outc and outc[pop.name].size:
            o = outc[pop.name]
            lim = t.core_limits.get("output_axons")
            if lim is not None and int(o.max()) > lim:
                worst = int(np.argmax(o))
                violations.append(Violation(
                    subject=f"population {pop.name!r} neuron {worst}", resource="output_axons",
                    needed=float(o[worst]), limit=float(lim), where="on one core even alone", per="per core",
                    board=t.name, hint="this cannot be fixed by splitting; " + HINTS["output_axons"],
                    unsplittable=True, population=pop.name))
        ctx.info(f"population {pop.name!r}: {pop.size:,} neurons in {res.n_parts} slices ({res.method}; "
                 f"lower bound {res.lower_bound})", pop.name)
    ext = t.family.delay_extension_cores(t, net, labels, {p: np.bincount(labels[p], minlength=int(labels[p].max()) + 1)
                                                 for p in labels})
    for pre in [p for p in ctx.delays.extensions if not ext.get(p, np.zeros(0)).any()]:
        # predicted from the neurons per core allowed; the slices made are smaller: more in-core ticks
        del ctx.delays.extensions[pre]
        ctx.info(f"population {pre!r}: no delay extension after all: the slices of its targets hold "
                 f"its delays in their own ring buffers", pre)
    extra = np.zeros(len(slices), dtype=np.int64)
    for name, e in ext.items():
        usage[name].extra_cores = e
        extra[offset[name]:offset[name] + e.shape[0]] = e
    lb = sum(r.lower_bound for r in results.values())
    part = Partition(slices, labels, offset, usage, {k: r.method for k, r in results.items()}, extra, lb,
                     violations)
    ctx.partition = part
    ctx.target = t
    ctx.info(f"{len(slices):,} slices (+{int(extra.sum())} delay-extension cores); core lower bound {lb:,}")
    return net
