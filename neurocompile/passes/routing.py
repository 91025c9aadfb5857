"""Routing: SpiNNaker multicast routing tables; Loihi chip-to-chip traffic.

SpiNNaker (matching PACMAN 1!7.4.1 where it matters for table sizes):
- Keys (`pacman/operations/routing_info_allocator_algorithms/zoned_routing_info_allocator.py`,
  non-flexible): one key space per (population, partition) with outgoing projections; key =
  population index << (machine_bits + atom_bits) | slice index << atom_bits | neuron; atom_bits =
  ceil(log2(largest slice)), machine_bits = ceil(log2(most slices of a population)) (both global,
  `allocator_bits_needed`), mask = ~(2**atom_bits - 1). All bits must fit `mapping.key_bits`.
- Routes: one multicast tree per source slice. Destinations (chips holding a target slice) are
  visited nearest first; each gets a longest-dimension-first path (`topology.path`, as
  `longest_dimension_first` in PACMAN) that joins the tree at the last chip of the path already in
  it (as `_route_pre_to_post`), so each chip has one parent. PACMAN routes per application vertex
  and then fans out inside the target group; per-slice trees are our simplification.
- Table entries per chip: one per (slice, chip) on its tree, then (1) merging of entries of
  consecutive slices of one population with identical routes into aligned power-of-two key blocks
  (`merged_routing_table_generator.py` + `AppVertexRoutingInfo.merge_machine_entries`), then
  (2) default-route elimination: an entry whose packet arrives on a link and leaves only by the
  opposite link, with no local core, is *defaultable* (`spinn_machine/routing_entry.py`:
  `(incoming_link + 3) % 6 == link_id`) — the router sends unmatched packets straight on, so the
  entry can be dropped (`ordered_covering_router_compressor/utils.py` remove_default_routes; PACMAN
  keeps them in the uncompressed table and drops them when compressing). A chip whose remaining
  entries exceed `chip_limits.router_entries` is a violation (ordered-covering compression might
  still shrink it: our count is what merging + default routes achieve without key/mask covering).
Loihi: no routing tables; we record chip-to-chip traffic and link loads along X-then-Y paths
(each spike message goes to its destination core separately).

The kernels here (multicast trees, table merging, unicast link loads) are generic; each target
family's `route` (neurocompile/targets/<family>/routing.py) chooses keys and which to use.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numba
import numpy as np

from neurocompile.ir.network import Network
from neurocompile.passes.partition import Partition
from neurocompile.passes.pipeline import CompileContext
from neurocompile.passes.placement import PlacementResult
from neurocompile.passes.resources import HINTS, Target, Violation, allocator_bits_needed
from neurocompile.passes.topology import KIND_CODE, Grid, path


@dataclass
class RoutingResult:
    family: str
    keys: dict[int, tuple[int, int]] = field(default_factory=dict)  # slice -> (key, mask)
    key_bits: dict[str, int] = field(default_factory=dict)
    entries_raw: np.ndarray | None = None          # per chip: one entry per (slice, chip)
    entries_merged: np.ndarray | None = None       # per chip: after same-route merging
    entries: np.ndarray | None = None              # per chip: after default-route removal too
    link_load: np.ndarray | None = None            # (n_chips, 6) spikes/s leaving each chip on each link
    link_traversals_per_s: float = 0.0
    violations: list[Violation] = field(default_factory=list)


# ------------------------------------------------------------------------------------- trees
@numba.njit(cache=True)
def _build_tree(src, dests, kind, w, h, wrap, coords, id_at, nbrs, links,
                in_tree, parent, plink, out_mask, touched, path_links, path_chips):
    """Multicast tree from src to all dests (sorted nearest first). Returns the touched count."""
    nt = 0
    in_tree[src] = True
    parent[src] = -1
    plink[src] = -1
    out_mask[src] = 0
    touched[nt] = src
    nt += 1
    for di in range(dests.shape[0]):
        d = dests[di]
        if in_tree[d]:
            continue
        L = path(src, d, kind, w, h, wrap, coords, id_at, nbrs, links, path_links, path_chips)
        if L < 0:
            continue
        last = -1
        for i in range(L):
            if in_tree[path_chips[i]]:
                last = i
        prev = src if last < 0 else path_chips[last]
        for i in range(last + 1, L):
            c = path_chips[i]
            lk = path_links[i]
            out_mask[prev] |= np.int64(1) << lk
            in_tree[c] = True
            parent[c] = prev
            plink[c] = lk
            out_mask[c] = 0
            touched[nt] = c
            nt += 1
            prev = c
    return nt


@numba.njit(cache=True)
def route_trees(ptr, dchips, dcores, src_chip, rate, kind, w, h, wrap, coords, id_at, nbrs, links, n_chips):
    """Trees of all slices. Returns per entry (slice, chip, route, defaultable) and link loads."""
    S = src_chip.shape[0]
    in_tree = np.zeros(n_chips, dtype=np.bool_)
    parent = np.full(n_chips, -1, dtype=np.int64)
    plink = np.full(n_chips, -1, dtype=np.int64)
    out_mask = np.zeros(n_chips, dtype=np.int64)
    core_mask = np.zeros(n_chips, dtype=np.int64)
    touched = np.empty(n_chips, dtype=np.int64)
    path_links = np.empty(n_chips + 8, dtype=np.int64)
    path_chips = np.empty(n_chips + 8, dtype=np.int64)
    cap = 1024
    e_slice = np.empty(cap, dtype=np.int64)
    e_chip = np.empty(cap, dtype=np.int64)
    e_route = np.empty(cap, dtype=np.int64)
    e_def = np.empty(cap, dtype=np.bool_)
    m = 0
    load = np.zeros((n_chips, 6), dtype=np.float64)
    traversals = 0.0
    for a in range(S):
        s = src_chip[a]
        if s < 0 or ptr[a] == ptr[a + 1]:
            continue
        dests = dchips[ptr[a]:ptr[a + 1]]
        nt = _build_tree(s, dests, kind, w, h, wrap, coords, id_at, nbrs, links,
                         in_tree, parent, plink, out_mask, touched, path_links, path_chips)
        for j in range(ptr[a], ptr[a + 1]):
            core_mask[dchips[j]] |= np.int64(1) << dcores[j]
        if m + nt > cap:
            while m + nt > cap:
                cap *= 2
            e_slice = _grow(e_slice, cap)
            e_chip = _grow(e_chip, cap)
            e_route = _grow(e_route, cap)
            e_def2 = np.empty(cap, dtype=np.bool_)
            e_def2[:m] = e_def[:m]
            e_def = e_def2
        for t in range(nt):
            c = touched[t]
            route = out_mask[c] | (core_mask[c] << 6)
            e_slice[m] = a
            e_chip[m] = c
            e_route[m] = route
            e_def[m] = plink[c] >= 0 and core_mask[c] == 0 and out_mask[c] == (np.int64(1) << plink[c])
            m += 1
            if parent[c] >= 0:
                load[parent[c], plink[c]] += rate[a]
                traversals += rate[a]
        for t in range(nt):
            c = touched[t]
            in_tree[c] = False
            parent[c] = -1
            plink[c] = -1
            out_mask[c] = 0
            core_mask[c] = 0
    return e_slice[:m], e_chip[:m], e_route[:m], e_def[:m], load, traversals


@numba.njit(cache=True)
def _grow(a, cap):
    b = np.empty(cap, dtype=a.dtype)
    b[:a.shape[0]] = a
    return b


@numba.njit(cache=True)
def merge_count(chip, pop, idx, route, dflt, max_idx, n_chips):
    """Entries per chip after PACMAN-style merging (raw sorted by chip, pop, idx); also without
    defaultable merged entries."""
    merged = np.zeros(n_chips, dtype=np.int64)
    kept = np.zeros(n_chips, dtype=np.int64)
    n = chip.shape[0]
    i = 0
    while i < n:
        # run: same chip, pop, route, consecutive idx
        j = i + 1
        while (j < n and chip[j] == chip[i] and pop[j] == pop[i] and route[j] == route[i]
               and idx[j] == idx[j - 1] + 1):
            j += 1
        n_run = j - i
        is_last = idx[j - 1] == max_idx[pop[i]]
        k = 0
        while k < n_run:
            first = idx[i + k]
            if first > 0:
                nxt = first & -first
            else:
                nxt = 1
                while nxt < n_run:
                    nxt *= 2
            if nxt <= n_run - k or is_last:
                sizes_n = min(nxt, n_run - k)
                alld = True
                for q in range(i + k, i + k + sizes_n):
                    if not dflt[q]:
                        alld = False
                merged[chip[i]] += 1
                if not alld:
                    kept[chip[i]] += 1
                k += nxt
            else:
                to_go = n_run - k
                while to_go > 0:
                    p2 = 1
                    while p2 * 2 <= to_go:
                        p2 *= 2
                    alld = True
                    for q in range(i + k, i + k + p2):
                        if not dflt[q]:
                            alld = False
                    merged[chip[i]] += 1
                    if not alld:
                        kept[chip[i]] += 1
                    to_go -= p2
                    k += p2
        i = j
    return merged, kept


@numba.njit(cache=True)
def unicast_loads(src_chip_of_pair, dst_chip, flow, kind, w, h, wrap, coords, id_at, nbrs, links, n_chips):
    load = np.zeros((n_chips, 6), dtype=np.float64)
    pl = np.empty(n_chips + 8, dtype=np.int64)
    pc = np.empty(n_chips + 8, dtype=np.int64)
    total = 0.0
    for k in range(dst_chip.shape[0]):
        s = src_chip_of_pair[k]
        L = path(s, dst_chip[k], kind, w, h, wrap, coords, id_at, nbrs, links, pl, pc)
        prev = s
        for i in range(L):
            load[prev, pl[i]] += flow[k]
            total += flow[k]
            prev = pc[i]
    return load, total


def grid_args(grid: Grid) -> tuple[Any, ...]:
    return (KIND_CODE[grid.kind], grid.width, grid.height, grid.wrap, grid.coords, grid.id_at,
            grid.neighbours, np.array(grid.links, dtype=np.int64))


# ------------------------------------------------------------------------------------- pass
def routing(net: Network, ctx: CompileContext) -> Network:
    """Pass: routing keys and tables (SpiNNaker) or link traffic (Loihi); artefact `routing`."""
    part: Partition = ctx.partition
    t: Target = ctx.target
    pl: PlacementResult = ctx.placement
    res = t.family.route(net, part, t, pl)
    ctx.routing = res
    if res.entries is not None and res.entries.size:
        c = int(np.argmax(res.entries))
        ctx.info(f"routing tables: max {int(res.entries[c]):,} entries on chip {pl.grid.chip_name(c)} "
                 f"({int(res.entries_merged[c]):,} before default routes, {int(res.entries_raw[c]):,} before "
                 f"merging); limit {t.router_entries}; key bits {res.key_bits}")
    for v in res.violations:
        ctx.warn(v.message(), v.subject)
    return net
