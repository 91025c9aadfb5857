"""SpiNNaker routing: PACMAN-style zoned keys, one multicast tree per source slice, table entries
per chip after merging and default-route removal (details and sources: neurocompile/passes/routing.py).
"""
from __future__ import annotations

import numpy as np

from neurocompile.ir.network import Network
from neurocompile.passes.partition import Partition
from neurocompile.passes.placement import PlacementResult
from neurocompile.passes.resources import HINTS, Target, Violation, allocator_bits_needed
from neurocompile.passes.routing import RoutingResult, grid_args, merge_count, route_trees


def route_spinnaker(net: Network, part: Partition, t: Target, pl: PlacementResult) -> RoutingResult:
    res = RoutingResult("spinnaker")
    grid = pl.grid
    S = len(part.slices)
    # keys
    senders = [name for name in net.populations if any(p.n_synapses for p in net.projections_from(name))]
    n_slices = {name: len(part.slices_of(name)) for name in net.populations}
    atom_bits = allocator_bits_needed(max((s.n_neurons for s in part.slices), default=1))
    machine_bits = allocator_bits_needed(max((n_slices[n] for n in senders), default=1))
    app_bits = allocator_bits_needed(len(senders))
    total = app_bits + machine_bits + atom_bits
    key_limit = int(t.m["key_bits"])
    res.key_bits = {"population": app_bits, "slice": machine_bits, "neuron": atom_bits, "total": total,
                    "limit": key_limit}
    if total > key_limit:
        res.violations.append(Violation(
            subject=f"network {net.name!r}", resource="key_bits", needed=total, limit=key_limit,
            where=f"({app_bits} population + {machine_bits} slice + {atom_bits} neuron bits)", per="per key",
            board=t.name, hint=HINTS["key_bits"]))
    else:
        mask = ((1 << key_limit) - 1) ^ ((1 << atom_bits) - 1)
        for ai, name in enumerate(senders):
            for s in part.slices_of(name):
                res.keys[s.id] = ((ai << (machine_bits + atom_bits)) | (s.index << atom_bits), mask)
    # destinations per source slice: (chip, core) of every placed target slice, nearest chip first
    g = pl.graph
    A, B = g.src, g.dst
    ok = (pl.chip_of[A] >= 0) & (pl.chip_of[B] >= 0)
    A, B = A[ok], B[ok]
    dchip = pl.chip_of[B]
    dcore = pl.core_of[B]
    dist = grid.hops[pl.chip_of[A], dchip] if A.size else np.zeros(0, dtype=np.int64)
    o = np.lexsort((dcore, dchip, dist, A))
    A, dchip, dcore = A[o], dchip[o], dcore[o]
    ptr = np.searchsorted(A, np.arange(S + 1)).astype(np.int64)
    e_slice, e_chip, e_route, e_def, load, trav = route_trees(
        ptr, dchip.astype(np.int64), dcore.astype(np.int64), pl.chip_of.astype(np.int64),
        g.slice_rate.astype(np.float64), *grid_args(grid), grid.n_chips)
    res.link_load = load
    res.link_traversals_per_s = float(trav)
    res.entries_raw = np.bincount(e_chip, minlength=grid.n_chips).astype(np.int64)
    pop_index = {name: i for i, name in enumerate(net.populations)}
    slice_pop = np.array([pop_index[s.population] for s in part.slices], dtype=np.int64)
    slice_idx = np.array([s.index for s in part.slices], dtype=np.int64)
    max_idx = np.array([n_slices[name] - 1 for name in net.populations], dtype=np.int64)
    o = np.lexsort((slice_idx[e_slice], slice_pop[e_slice], e_chip))
    merged, kept = merge_count(e_chip[o], slice_pop[e_slice][o], slice_idx[e_slice][o], e_route[o], e_def[o],
                                max_idx, grid.n_chips)
    res.entries_merged = merged
    res.entries = kept
    lim = t.router_entries
    if lim is not None:
        for c in np.flatnonzero(kept > lim):
            res.violations.append(Violation(
                subject=f"chip {grid.chip_name(int(c))}", resource="router_entries", needed=int(kept[c]),
                limit=lim, where=(f"on one chip ({int(res.entries_raw[c]):,} before merging same routes and "
                                  f"dropping default routes)"), per="per chip", board=t.name,
                hint=HINTS["router_entries"]))
    return res
