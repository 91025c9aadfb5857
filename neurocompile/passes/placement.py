"""Placement: put slices on (chip, core) minimising expected inter-chip spike traffic x hops.

Traffic model. Every neuron fires at a rate (`resources.firing_rates`: `ctx.options["rates"]`
when given, else Poisson `rate`, spike-array counts, 10 Hz for neurons). For a source slice a and
a target slice b (a != b) with at least one synapse a -> b:
- SpiNNaker: one routing key per slice, so *every* spike of a is multicast to every chip that
  holds a target of a: w_ab = total rate of a (spikes/s).
- Loihi: spikes go through per-neuron output axons: w_ab = sum of the rates of the neurons of a
  that have a synapse onto b (summed over projections).
The reported inter-chip traffic counts each spike once per destination chip (multicast):
SpiNNaker sum_a rate_a * |chips(targets of a) - chip(a)|; Loihi sum over (a, chip c) of
min(rate_a, sum of w_ab over b on c). Hops are those of the route the router takes
(`topology.hop_matrix`).

Objective: SpiNNaker, sum_a rate_a * sum over the distinct chips c holding a target of a of
hops(chip(a), c) -- exactly the multicast traffic above, hop-weighted (every spike is copied once
per destination chip); Loihi, sum over pairs w_ab * hops(chip(a), chip(b)).

Algorithm (deterministic per seed):
1. Three initial placements:
   - sPyNNaker-style (PACMAN ApplicationPlacer, connectivity-blind): populations in declaration
     order; each starts on the first chip (x-major) with space and continues to neighbouring chips
     (link order), `spynnaker_style_placement`. Good when declaration order follows connectivity.
   - recursive bisection: the slice graph is split in two with METIS (pymetis, seeded, target
     weights = the two halves' core capacities) while the compact set of chips needed (breadth-first
     from the first chip) is split in two halves by hop distance to two far-apart poles; recurse
     down to single chips. Good for modular / clustered graphs whatever their declaration order.
   - graph order: slices in reverse Cuthill-McKee order of the slice graph (connected slices
     adjacent), filled onto chips in breadth-first order from the first chip. Good for chains/rings.
2. Simulated annealing from the cheapest start (option `placement_starts="all"`: from each of the
   three, slower, sometimes better); the cheapest placement seen wins. Annealing
   (numba, seeded RNG): move a slice to a chip with room, else swap it with a slice there; the
   target chip is the chip of a random graph neighbour (60%) or a chip 1-3 random link steps away
   inside the region (the start's chips and their rim; `anneal_walk`); the cost change of a move
   is exact and incremental (per-source counts of targets per chip); the temperature starts at
   1.0 x the mean |cost change| of such moves (`anneal_temperature`) and cools geometrically by 1e-4; the best
   state is kept, so the result is never worse than sPyNNaker-style placement. Work is capped
   (`placement_effort`, default 1.0 -> min(400 moves per slice, 5e8 / (mean degree + 1)) moves),
   so 4,000 slices of a 1M-neuron network place in ~5-8 s of CPU.
Capacities: application cores per chip (`chip_limits.cores`; Ethernet chips
`chip_limits.ethernet_chip_cores` when the board gives it) and SDRAM per chip (`sdram_bytes`,
SpiNNaker). Slices needing a delay-extension core take two cores. Slices that do not fit anywhere
stay unplaced (chip -1) and the resource check reports them.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
import pymetis
import scipy.sparse as sp
from scipy.sparse.csgraph import reverse_cuthill_mckee

from neurocompile.ir.network import Network
from neurocompile.passes.partition import NeuronSet, Partition, Slice
from neurocompile.passes.pipeline import CompileContext
from neurocompile.passes.resources import Target, firing_rates, group_by_part
from neurocompile.passes.topology import Grid, grid_of
from neurocompile.targets import TargetFamily

ANNEAL_WALK = 3  # 0: random target chips anywhere in the region; k > 0: at most k link steps away
ANNEAL_T0 = 1.0  # initial temperature, as a fraction of the mean |cost change| of random moves


@dataclass(frozen=True)
class PlacedSlice(NeuronSet):
    """One slice on one core (`report.json` placement entry)."""

    population: str
    slice: int
    neurons: np.ndarray
    chip: tuple[int, int] | None
    core: int                 # application core index on the chip (0-based), -1 if unplaced
    extra_cores: int = 0      # delay-extension cores placed next to it (SpiNNaker)

    def to_dict(self) -> dict[str, Any]:
        return {"population": self.population, "slice": self.slice, "start": self.start, "stop": self.stop,
                "n_neurons": self.n_neurons, "ranges": self.ranges(),
                "chip": list(self.chip) if self.chip is not None else None, "core": self.core,
                "extra_cores": self.extra_cores}


# ------------------------------------------------------------------------------------- slice graph
@numba.njit(cache=True)
def _pairs_kernel(pre, post, pre_lab, post_lab, n_pre_parts, n_post_parts, rate):
    n = pre.shape[0]
    start, order = group_by_part(post, post_lab, n_post_parts)
    cap = min(n, n_pre_parts * n_post_parts)
    A = np.empty(cap, dtype=np.int64)
    B = np.empty(cap, dtype=np.int64)
    W = np.empty(cap, dtype=np.float64)
    C = np.empty(cap, dtype=np.int64)
    stamp_a = np.full(n_pre_parts, -1, dtype=np.int64)
    idx_a = np.zeros(n_pre_parts, dtype=np.int64)
    stamp_i = np.full(rate.shape[0], -1, dtype=np.int64)
    m = 0
    for p in range(n_post_parts):
        for j in range(start[p], start[p + 1]):
            k = order[j]
            i = pre[k]
            a = pre_lab[i]
            if stamp_a[a] != p:
                stamp_a[a] = p
                idx_a[a] = m
                A[m] = a
                B[m] = p
                W[m] = 0.0
                C[m] = 0
                m += 1
            if stamp_i[i] != p:
                stamp_i[i] = p
                W[idx_a[a]] += rate[i]
                C[idx_a[a]] += 1
    return A[:m], B[:m], W[:m], C[:m]


@numba.njit(cache=True)
def _pairs_kernel_by_pre(pre, post, pre_lab, post_lab, n_pre_parts, n_post_parts, rate
                         ):  # pragma: no cover - compiled
    """`_pairs_kernel` for synapses sorted by pre: one sequential pass, pairs found through a
    dense (pre part x post part) table instead of a gather by post part (a cache miss per
    synapse at 10**7 synapses). Pairs come out in another order; their sums are the same (each
    pair adds its neurons' rates in presynaptic order either way) and slice_graph sorts them."""
    n = pre.shape[0]
    cap = min(n, n_pre_parts * n_post_parts)
    A = np.empty(cap, dtype=np.int64)
    B = np.empty(cap, dtype=np.int64)
    W = np.empty(cap, dtype=np.float64)
    C = np.empty(cap, dtype=np.int64)
    at = np.full(n_pre_parts * n_post_parts, -1, dtype=np.int64)
    stamp_p = np.full(n_post_parts, -1, dtype=np.int64)
    m = 0
    for k in range(n):
        i = pre[k]
        p = post_lab[post[k]]
        if stamp_p[p] == i:
            continue
        stamp_p[p] = i
        a = pre_lab[i]
        q = at[a * n_post_parts + p]
        if q < 0:
            q = m
            at[a * n_post_parts + p] = m
            A[m] = a
            B[m] = p
            W[m] = 0.0
            C[m] = 0
            m += 1
        W[q] += rate[i]
        C[q] += 1
    return A[:m], B[:m], W[:m], C[:m]


DENSE_PAIR_TABLE_MAX = 1 << 24   # pre parts x post parts for the dense pair table (128 MB)


@dataclass
class SliceGraph:
    """Directed slice pairs with traffic, and the symmetric weights placement minimises."""

    src: np.ndarray          # pair source slice
    dst: np.ndarray          # pair target slice
    rate: np.ndarray         # spikes/s from src neurons that have synapses onto dst (Loihi weight)
    axons: np.ndarray        # distinct src neurons with synapses onto dst
    slice_rate: np.ndarray   # total rate per slice
    weights: sp.csr_matrix   # symmetric w_ab + w_ba, no diagonal (Loihi cost; proposals for both)
    out_ptr: np.ndarray      # directed a -> b (a != b), CSR by source
    out_idx: np.ndarray
    in_ptr: np.ndarray       # the same edges, CSR by target (sources of each slice)
    in_idx: np.ndarray


def slice_graph(net: Network, part: Partition, t: Target, rates: dict[str, np.ndarray]) -> SliceGraph:
    S = len(part.slices)
    slice_rate = np.zeros(S)
    for name in net.populations:
        slice_rate[part.offset[name]:part.offset[name] + int(part.labels[name].max()) + 1] = np.bincount(
            part.labels[name], weights=rates[name], minlength=int(part.labels[name].max()) + 1)
    As, Bs, Ws, Cs = [], [], [], []
    for proj in net.projections.values():
        if not proj.n_synapses:
            continue
        pl, ql = part.labels[proj.pre], part.labels[proj.post]
        n_a, n_b = int(pl.max()) + 1, int(ql.max()) + 1
        kernel = (_pairs_kernel_by_pre if proj.sorted_by_pre and n_a * n_b <= DENSE_PAIR_TABLE_MAX
                  else _pairs_kernel)
        A, B, W, C = kernel(proj.pre_idx, proj.post_idx, pl.astype(np.int64), ql.astype(np.int64),
                            n_a, n_b, rates[proj.pre].astype(np.float64))
        As.append(A + part.offset[proj.pre])
        Bs.append(B + part.offset[proj.post])
        Ws.append(W)
        Cs.append(C)
    if As:
        A, B, W, C = (np.concatenate(x) for x in (As, Bs, Ws, Cs))
        key = A * S + B
        uniq, inv = np.unique(key, return_inverse=True)
        W = np.bincount(inv, weights=W)
        C = np.bincount(inv, weights=C).astype(np.int64)
        A, B = uniq // S, uniq % S
    else:
        A = B = C = np.zeros(0, dtype=np.int64)
        W = np.zeros(0)
    off = A != B
    w = np.maximum(slice_rate[A[off]], 1e-9) if t.family.multicast else np.maximum(W[off], 1e-9)
    m = sp.coo_matrix((w, (A[off], B[off])), shape=(S, S)).tocsr()
    m = (m + m.T).tocsr()
    m.sum_duplicates()
    a_off, b_off = A[off], B[off]
    o = np.lexsort((b_off, a_off))
    out_ptr = np.searchsorted(a_off[o], np.arange(S + 1)).astype(np.int64)
    out_idx = b_off[o].astype(np.int64)
    o = np.lexsort((a_off, b_off))
    in_ptr = np.searchsorted(b_off[o], np.arange(S + 1)).astype(np.int64)
    in_idx = a_off[o].astype(np.int64)
    return SliceGraph(A, B, W, C, slice_rate, m, out_ptr, out_idx, in_ptr, in_idx)


# ------------------------------------------------------------------------------------- capacities
def chip_capacity(t: Target, grid: Grid) -> np.ndarray:
    cap = np.full(grid.n_chips, t.cores_per_chip, dtype=np.int64)
    if t.ethernet_chip_cores is not None:
        cap[grid.ethernet] = t.ethernet_chip_cores
    if grid.cores_missing is not None:
        cap -= grid.cores_missing  # dead cores (board topology.dead_cores)
    return cap


def slice_demands(part: Partition, t: Target) -> tuple[np.ndarray, np.ndarray]:
    cores = 1 + part.extra_cores
    sdram = np.zeros(len(part.slices), dtype=np.int64)
    if "sdram_bytes" in t.family.core_resources:  # SDRAM is shared per chip
        for name, u in part.usage.items():
            sdram[part.offset[name]:part.offset[name] + u.sizes.shape[0]] = u.usage["sdram_bytes"]
    return cores.astype(np.int64), sdram


def _bfs_chip_order(grid: Grid, start: int = 0) -> list[int]:
    nb = grid.neighbours
    seen = np.zeros(grid.n_chips, dtype=bool)
    out: list[int] = []
    for s in [start] + list(range(grid.n_chips)):
        if seen[s]:
            continue
        q = deque([s])
        seen[s] = True
        while q:
            c = q.popleft()
            out.append(c)
            for link in grid.links:
                d = int(nb[c, link])
                if d >= 0 and not seen[d]:
                    seen[d] = True
                    q.append(d)
    return out


def _fill(order: np.ndarray, chips: list[int], dem_c: np.ndarray, dem_s: np.ndarray, cap: np.ndarray,
          sdram_cap: float) -> np.ndarray:
    """Slices in `order` onto chips in `chips` order (first chip with room from the current one)."""
    chip_of = np.full(dem_c.shape[0], -1, dtype=np.int64)
    used_c = np.zeros(cap.shape[0], dtype=np.int64)
    used_s = np.zeros(cap.shape[0])
    ci = 0
    for a in order:
        j = ci
        while j < len(chips) and not (used_c[chips[j]] + dem_c[a] <= cap[chips[j]]
                                      and used_s[chips[j]] + dem_s[a] <= sdram_cap):
            j += 1
        if j == len(chips):
            continue
        c = chips[j]
        chip_of[a] = c
        used_c[c] += dem_c[a]
        used_s[c] += dem_s[a]
        ci = j
    return chip_of


def spynnaker_style_placement(part: Partition, t: Target, grid: Grid) -> np.ndarray:
    """PACMAN ApplicationPlacer-like: per population, start at the first chip (x-major) with space,
    then continue to neighbouring chips (link order); connectivity is ignored."""
    dem_c, dem_s = slice_demands(part, t)
    cap = chip_capacity(t, grid)
    sdram_cap = float(t.sdram_bytes) if t.sdram_bytes is not None else np.inf
    used_c = np.zeros(grid.n_chips, dtype=np.int64)
    used_s = np.zeros(grid.n_chips)
    chip_of = np.full(len(part.slices), -1, dtype=np.int64)
    xmajor = sorted(range(grid.n_chips), key=lambda c: (int(grid.coords[c, 0]), int(grid.coords[c, 1])))
    nb = grid.neighbours

    def fits(c: int, a: int) -> bool:
        return used_c[c] + dem_c[a] <= cap[c] and used_s[c] + dem_s[a] <= sdram_cap

    for name in part.labels:
        slices = [s.id for s in part.slices_of(name)]
        if not slices:
            continue
        cur = next((c for c in xmajor if fits(c, slices[0])), None)
        frontier: deque[int] = deque()
        seen: set[int] = set()
        for a in slices:
            while cur is not None and not fits(cur, a):
                for link in grid.links:
                    d = int(nb[cur, link])
                    if d >= 0 and d not in seen:
                        seen.add(d)
                        frontier.append(d)
                nxt = None
                while frontier:
                    d = frontier.popleft()
                    if fits(d, a):
                        nxt = d
                        break
                cur = nxt if nxt is not None else next((c for c in xmajor if fits(c, a)), None)
            if cur is None:
                continue
            chip_of[a] = cur
            used_c[cur] += dem_c[a]
            used_s[cur] += dem_s[a]
    return chip_of


def _bisect_chips(chips: np.ndarray, H: np.ndarray, cap: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split a chip set into two compact halves of ~equal capacity, using hop distances only
    (works on tori): two far-apart poles, chips sorted by which pole is nearer."""
    sub = H[np.ix_(chips, chips)]
    p = int(np.argmax(sub[0]))
    q = int(np.argmax(sub[p]))
    key = sub[p] - sub[q]
    order = np.lexsort((chips, key))
    c = np.cumsum(cap[chips[order]])
    cut = int(np.searchsorted(c, c[-1] / 2.0)) + 1
    cut = min(max(cut, 1), len(chips) - 1)
    return chips[order[:cut]], chips[order[cut:]]


def _metis_bisect(w: sp.csr_matrix, ids: np.ndarray, dem: np.ndarray, frac: float, seed: int) -> np.ndarray:
    """Two-way METIS split of the slices `ids` (side 0 gets ~frac of the demand); bool side-1 mask."""
    sub = w[ids][:, ids].tocsr()
    sub.eliminate_zeros()
    if sub.nnz == 0 or ids.size < 2:
        c = np.cumsum(dem[ids])
        return c > frac * c[-1]
    data = np.maximum(1, np.round(sub.data / sub.data.max() * 1000)).astype(np.int64)
    adj = pymetis.CSRAdjacency(sub.indptr.astype(np.int64), sub.indices.astype(np.int64))
    _, parts = pymetis.part_graph(2, adj, vweights=dem[ids].astype(np.int64), eweights=data,
                                  tpwgts=[frac, 1.0 - frac], options=pymetis.Options(seed=seed, ufactor=5))
    return np.asarray(parts, dtype=np.int64) == 1


def _rebalance(w: sp.csr_matrix, ids: np.ndarray, side: np.ndarray, dem: np.ndarray, caps: tuple[int, int]) -> None:
    """Move the least-attached slices off an over-full side (in place)."""
    for s_from in (0, 1):
        over = int(dem[ids[side == bool(s_from)]].sum()) - caps[s_from]
        if over <= 0:
            continue
        members = np.flatnonzero(side == bool(s_from))
        other = ids[side != bool(s_from)]
        sub = w[ids[members]]
        to_other = np.asarray(sub[:, other].sum(axis=1)).ravel() if other.size else np.zeros(members.size)
        to_own = np.asarray(sub[:, ids[members]].sum(axis=1)).ravel()
        for j in members[np.argsort(to_own - to_other, kind="stable")]:
            if over <= 0:
                break
            side[j] = not side[j]
            over -= int(dem[ids[j]])


def _recursive_bisection(g: SliceGraph, grid: Grid, dem_c: np.ndarray, dem_s: np.ndarray, cap: np.ndarray,
                         sdram_cap: float, seed: int) -> np.ndarray:
    """Recursive bisection of the slice graph onto a compact set of chips (METIS, seeded)."""
    S = dem_c.shape[0]
    chip_of = np.full(S, -1, dtype=np.int64)
    if S == 0:
        return chip_of
    total = int(dem_c.sum())
    need_s = float(dem_s.sum())
    order = _bfs_chip_order(grid)
    c = np.cumsum(cap[order])
    n = int(np.searchsorted(c, total)) + 1
    if np.isfinite(sdram_cap) and sdram_cap > 0:
        n = max(n, int(np.ceil(need_s / sdram_cap)))
    chips = np.array(order[:min(n, grid.n_chips)], dtype=np.int64)
    w = g.weights.tocsr()
    stack = [(np.arange(S, dtype=np.int64), chips)]
    while stack:
        ids, region = stack.pop()
        if ids.size == 0:
            continue
        if region.size == 1 or ids.size == 1:
            # fill the region's chips in order (SDRAM/cores checked; overflow left for _repair)
            used_c = {int(ch): 0 for ch in region}
            used_s = {int(ch): 0.0 for ch in region}
            for a in ids:
                for ch in region:
                    ch = int(ch)
                    if used_c[ch] + dem_c[a] <= cap[ch] and used_s[ch] + dem_s[a] <= sdram_cap:
                        chip_of[a] = ch
                        used_c[ch] += int(dem_c[a])
                        used_s[ch] += float(dem_s[a])
                        break
            continue
        A, B = _bisect_chips(region, grid.hops, cap)
        ca, cb = int(cap[A].sum()), int(cap[B].sum())
        side = _metis_bisect(w, ids, dem_c, ca / (ca + cb), seed)
        _rebalance(w, ids, side, dem_c, (ca, cb))
        stack.append((ids[~side], A))
        stack.append((ids[side], B))
    return _repair(chip_of, grid, dem_c, dem_s, cap, sdram_cap)


def _repair(chip_of: np.ndarray, grid: Grid, dem_c: np.ndarray, dem_s: np.ndarray, cap: np.ndarray,
            sdram_cap: float) -> np.ndarray:
    """Put slices left without a chip (SDRAM/rounding) on the nearest chip with room."""
    used_c = np.bincount(chip_of[chip_of >= 0], weights=dem_c[chip_of >= 0], minlength=grid.n_chips)
    used_s = np.bincount(chip_of[chip_of >= 0], weights=dem_s[chip_of >= 0], minlength=grid.n_chips)
    placed = chip_of[chip_of >= 0]
    anchor = int(placed[0]) if placed.size else 0
    for a in np.flatnonzero(chip_of < 0):
        room = np.flatnonzero((used_c + dem_c[a] <= cap) & (used_s + dem_s[a] <= sdram_cap))
        if room.size == 0:
            continue
        ch = int(room[np.argmin(grid.hops[anchor, room])])
        chip_of[a] = ch
        used_c[ch] += dem_c[a]
        used_s[ch] += dem_s[a]
    return chip_of


# ------------------------------------------------------------------------------------- annealing
# mode 0 ("linear", Loihi): cost = sum over pairs w_ab * hops(chip a, chip b) (symmetric CSR).
# mode 1 ("multicast", SpiNNaker): cost = sum_a rate_a * sum over distinct chips c holding a target
#   of a of hops(chip a, c) -- every spike is sent once to each destination chip. cnt[a, c] counts
#   the targets of a on chip c; `in_*` lists the sources of each slice.
@numba.njit(cache=True)
def _delta_linear(a, X, Y, chip_of, indptr, indices, w, H):
    d = 0.0
    for e in range(indptr[a], indptr[a + 1]):
        cb = chip_of[indices[e]]
        if cb >= 0:
            d += w[e] * (H[Y, cb] - H[X, cb])
    return d


@numba.njit(cache=True)
def _delta_mc(a, X, Y, chip_of, out_ptr, out_idx, in_ptr, in_idx, rate, cnt, H, stamp, tag):
    d = 0.0
    ra = rate[a]
    if ra > 0.0:
        for e in range(out_ptr[a], out_ptr[a + 1]):
            c = chip_of[out_idx[e]]
            if c >= 0 and stamp[c] != tag:
                stamp[c] = tag
                d += ra * (H[Y, c] - H[X, c])
    for e in range(in_ptr[a], in_ptr[a + 1]):
        s = in_idx[e]
        cs = chip_of[s]
        if cs < 0:
            continue
        if cnt[s, X] == 1:
            d -= rate[s] * H[cs, X]
        if cnt[s, Y] == 0:
            d += rate[s] * H[cs, Y]
    return d


@numba.njit(cache=True)
def _cost_linear(chip_of, indptr, indices, w, H):
    c = 0.0
    for a in range(chip_of.shape[0]):
        if chip_of[a] < 0:
            continue
        for e in range(indptr[a], indptr[a + 1]):
            b = indices[e]
            if b > a and chip_of[b] >= 0:
                c += w[e] * H[chip_of[a], chip_of[b]]
    return c


@numba.njit(cache=True)
def _counts(chip_of, out_ptr, out_idx, n_chips):
    cnt = np.zeros((chip_of.shape[0], n_chips), dtype=np.int32)
    for a in range(chip_of.shape[0]):
        for e in range(out_ptr[a], out_ptr[a + 1]):
            c = chip_of[out_idx[e]]
            if c >= 0:
                cnt[a, c] += 1
    return cnt


@numba.njit(cache=True)
def _cost_mc(chip_of, out_ptr, out_idx, rate, H, n_chips):
    stamp = np.full(n_chips, -1, dtype=np.int64)
    c = 0.0
    for a in range(chip_of.shape[0]):
        ca = chip_of[a]
        if ca < 0 or rate[a] == 0.0:
            continue
        for e in range(out_ptr[a], out_ptr[a + 1]):
            cb = chip_of[out_idx[e]]
            if cb >= 0 and stamp[cb] != a:
                stamp[cb] = a
                c += rate[a] * H[ca, cb]
    return c


@numba.njit(cache=True)
def _apply(a, X, Y, chip_of, members, n_mem, pos, used_c, used_s, dem_c, dem_s, mode, in_ptr, in_idx, cnt):
    p = pos[a]
    last = members[X, n_mem[X] - 1]
    members[X, p] = last
    pos[last] = p
    n_mem[X] -= 1
    used_c[X] -= dem_c[a]
    used_s[X] -= dem_s[a]
    members[Y, n_mem[Y]] = a
    pos[a] = n_mem[Y]
    n_mem[Y] += 1
    used_c[Y] += dem_c[a]
    used_s[Y] += dem_s[a]
    chip_of[a] = Y
    if mode == 1:
        for e in range(in_ptr[a], in_ptr[a + 1]):
            s = in_idx[e]
            cnt[s, X] -= 1
            cnt[s, Y] += 1


@numba.njit(cache=True)
def _propose(a, X, chip_of, indptr, indices, nbrs, links, in_region, cand, walk):
    """Target chip for slice a on chip X: the chip of a random graph neighbour (60%), else a chip
    1..walk random link steps away (walk > 0) or any chip of the region (walk == 0)."""
    deg = indptr[a + 1] - indptr[a]
    if deg > 0 and np.random.random() < 0.6:
        return chip_of[indices[indptr[a] + np.random.randint(deg)]]
    if walk == 0:
        if cand.shape[0] == 0:
            return -1
        return cand[np.random.randint(cand.shape[0])]
    if links.shape[0] == 0:
        return -1
    Y = X
    for _ in range(1 + np.random.randint(walk)):
        nb = nbrs[Y, links[np.random.randint(links.shape[0])]]
        if nb >= 0:
            Y = nb
    if not in_region[Y]:
        return -1
    return Y


@numba.njit(cache=True)
def _anneal(chip_of, core_cap, sdram_cap, dem_c, dem_s, mode, indptr, indices, w,
            out_ptr, out_idx, in_ptr, in_idx, rate, H, nbrs, links, in_region, cand, walk, n_iter, seed, t_factor):
    np.random.seed(seed)
    n = chip_of.shape[0]
    n_chips = core_cap.shape[0]
    max_m = 1
    for c in range(n_chips):
        if core_cap[c] > max_m:
            max_m = core_cap[c]
    members = np.full((n_chips, max_m + 1), -1, dtype=np.int64)  # +1: a swap passes through max_m + 1
    n_mem = np.zeros(n_chips, dtype=np.int64)
    pos = np.full(n, -1, dtype=np.int64)
    used_c = np.zeros(n_chips, dtype=np.int64)
    used_s = np.zeros(n_chips, dtype=np.float64)
    movable = np.empty(n, dtype=np.int64)
    n_mov = 0
    for a in range(n):
        c = chip_of[a]
        if c >= 0:
            members[c, n_mem[c]] = a
            pos[a] = n_mem[c]
            n_mem[c] += 1
            used_c[c] += dem_c[a]
            used_s[c] += dem_s[a]
            movable[n_mov] = a
            n_mov += 1
    if mode == 1:
        cnt = _counts(chip_of, out_ptr, out_idx, n_chips)
        cost = _cost_mc(chip_of, out_ptr, out_idx, rate, H, n_chips)
    else:
        cnt = np.zeros((1, 1), dtype=np.int32)
        cost = _cost_linear(chip_of, indptr, indices, w, H)
    stamp = np.full(n_chips, -1, dtype=np.int64)
    tag = 0
    best = chip_of.copy()
    best_cost = cost
    if n_mov < 2 or n_iter <= 0:
        return best, best_cost
    # temperature from the mean |delta| of the moves the loop proposes
    s = 0.0
    k = 0
    for _ in range(400):
        a = movable[np.random.randint(n_mov)]
        Y = _propose(a, chip_of[a], chip_of, indptr, indices, nbrs, links, in_region, cand, walk)
        if Y >= 0 and Y != chip_of[a]:
            if mode == 1:
                tag += 1
                s += abs(_delta_mc(a, chip_of[a], Y, chip_of, out_ptr, out_idx, in_ptr, in_idx, rate, cnt, H,
                                   stamp, tag))
            else:
                s += abs(_delta_linear(a, chip_of[a], Y, chip_of, indptr, indices, w, H))
            k += 1
    T0 = t_factor * s / max(k, 1) + 1e-12
    ratio = 1e-4
    last_snap = 0
    for it in range(n_iter):
        T = T0 * ratio ** (it / n_iter)
        a = movable[np.random.randint(n_mov)]
        X = chip_of[a]
        Y = _propose(a, X, chip_of, indptr, indices, nbrs, links, in_region, cand, walk)
        if Y < 0 or Y == X:
            continue
        c = -1
        if not (used_c[Y] + dem_c[a] <= core_cap[Y] and used_s[Y] + dem_s[a] <= sdram_cap):
            if n_mem[Y] == 0:
                continue
            c = members[Y, np.random.randint(n_mem[Y])]
            if (used_c[Y] - dem_c[c] + dem_c[a] > core_cap[Y] or used_c[X] - dem_c[a] + dem_c[c] > core_cap[X]
                    or used_s[Y] - dem_s[c] + dem_s[a] > sdram_cap or used_s[X] - dem_s[a] + dem_s[c] > sdram_cap):
                continue
        if mode == 1:
            tag += 1
            d = _delta_mc(a, X, Y, chip_of, out_ptr, out_idx, in_ptr, in_idx, rate, cnt, H, stamp, tag)
        else:
            d = _delta_linear(a, X, Y, chip_of, indptr, indices, w, H)
        if c >= 0:
            # swap: move a first (c is still on Y), then c (a is already on Y): exact sequential deltas
            used_c[Y] -= dem_c[c]
            used_s[Y] -= dem_s[c]
            _apply(a, X, Y, chip_of, members, n_mem, pos, used_c, used_s, dem_c, dem_s, mode, in_ptr, in_idx, cnt)
            used_c[Y] += dem_c[c]
            used_s[Y] += dem_s[c]
            if mode == 1:
                tag += 1
                d += _delta_mc(c, Y, X, chip_of, out_ptr, out_idx, in_ptr, in_idx, rate, cnt, H, stamp, tag)
            else:
                d += _delta_linear(c, Y, X, chip_of, indptr, indices, w, H)
            if d > 0 and np.random.random() >= np.exp(-d / T):
                _apply(a, Y, X, chip_of, members, n_mem, pos, used_c, used_s, dem_c, dem_s, mode, in_ptr, in_idx,
                       cnt)
                continue
            _apply(c, Y, X, chip_of, members, n_mem, pos, used_c, used_s, dem_c, dem_s, mode, in_ptr, in_idx, cnt)
        else:
            if d > 0 and np.random.random() >= np.exp(-d / T):
                continue
            _apply(a, X, Y, chip_of, members, n_mem, pos, used_c, used_s, dem_c, dem_s, mode, in_ptr, in_idx, cnt)
        cost += d
        if cost < best_cost - 1e-9 and it - last_snap >= n:
            best[:] = chip_of
            best_cost = cost
            last_snap = it
    if mode == 1:
        final = _cost_mc(chip_of, out_ptr, out_idx, rate, H, n_chips)
    else:
        final = _cost_linear(chip_of, indptr, indices, w, H)
    if final <= best_cost:
        return chip_of.copy(), final
    return best, best_cost


def placement_cost(g: SliceGraph, chip_of: np.ndarray, grid: Grid, family: TargetFamily) -> float:
    """The objective: multicast hop-weighted traffic (SpiNNaker) or pairwise (Loihi)."""
    if family.multicast:
        return float(_cost_mc(chip_of.astype(np.int64), g.out_ptr, g.out_idx, g.slice_rate, grid.hops,
                              grid.n_chips))
    w = g.weights
    return float(_cost_linear(chip_of.astype(np.int64), w.indptr.astype(np.int64), w.indices.astype(np.int64),
                              w.data, grid.hops))


def traffic(g: SliceGraph, chip_of: np.ndarray, grid: Grid, family: TargetFamily) -> dict[str, float]:
    """Inter-chip spikes/s (once per destination chip), hop-weighted spikes/s, average hops."""
    A, B = g.src, g.dst
    ok = (A != B) & (chip_of[A] >= 0) & (chip_of[B] >= 0)
    A, B, W = A[ok], B[ok], g.rate[ok]
    ca, cb = chip_of[A], chip_of[B]
    inter = ca != cb
    A, cb, ca, W = A[inter], cb[inter], ca[inter], W[inter]
    n_chips = grid.n_chips
    key = A * n_chips + cb
    uniq, inv = np.unique(key, return_inverse=True)
    src = uniq // n_chips
    dst_chip = uniq % n_chips
    if family.multicast:
        f = g.slice_rate[src]
    else:
        f = np.minimum(g.slice_rate[src], np.bincount(inv, weights=W))
    h = grid.hops[chip_of[src], dst_chip] if uniq.size else np.zeros(0)
    total = float(f.sum())
    hop_w = float((f * h).sum())
    return {"inter_chip_spikes_per_s": total, "hop_weighted_spikes_per_s": hop_w,
            "average_hops": hop_w / total if total else 0.0}


# ------------------------------------------------------------------------------------- pass
@dataclass
class PlacementResult:
    chip_of: np.ndarray          # per global slice: chip id or -1
    core_of: np.ndarray          # per global slice: application core index or -1
    grid: Grid
    graph: SliceGraph
    cost: float
    baseline_cost: float
    traffic: dict[str, float]
    baseline_traffic: dict[str, float]
    unplaced: np.ndarray         # global slice ids that did not fit
    method: str = ""             # which start (and whether annealing) won


def place_slices(net: Network, part: Partition, t: Target, seed: int, options: dict[str, Any],
                 rates: dict[str, np.ndarray] | None = None) -> PlacementResult:
    grid = grid_of(t.board)
    dem_c, dem_s = slice_demands(part, t)
    cap = chip_capacity(t, grid)
    S = len(part.slices)
    if int(dem_c.sum()) > int(cap.sum()):
        # More cores than the board has: no placement can succeed and the resource check will
        # say so. Skip the slice graph, which grows as slices squared (0.1 billion pairs, >10 GB,
        # for the full microcircuit on a Loihi 2 board), and fill the board sPyNNaker's way.
        base = spynnaker_style_placement(part, t, grid)
        g = empty_slice_graph(S)
        none = traffic(g, base, grid, t.family)
        return PlacementResult(base, _cores_on_chips(base, dem_c, S), grid, g, 0.0, 0.0, none, none,
                               np.flatnonzero(base < 0), "spynnaker_style (the slices exceed the board)")
    rates = rates if rates is not None else firing_rates(net, options)
    g = slice_graph(net, part, t, rates)
    sdram_cap = float(t.sdram_bytes) if t.sdram_bytes is not None else np.inf
    base = spynnaker_style_placement(part, t, grid)
    seed32 = int(seed) & 0x7FFFFFFF
    starts = {"recursive_bisection": _recursive_bisection(g, grid, dem_c, dem_s, cap, sdram_cap, seed32)}
    if S and g.weights.nnz:
        order = reverse_cuthill_mckee(g.weights, symmetric_mode=True)
        starts["graph_order"] = _fill(order, _bfs_chip_order(grid), dem_c, dem_s, cap, sdram_cap)
    w = g.weights
    indptr, indices = w.indptr.astype(np.int64), w.indices.astype(np.int64)
    cost_base = placement_cost(g, base, grid, t.family)
    effort = float(options.get("placement_effort", 1.0))
    mode = 1 if t.family.multicast else 0
    avg_deg = (g.out_idx.size * 2 if mode == 1 else w.nnz) / max(S, 1)
    n_iter = int(min(400 * S, 5e8 / (avg_deg + 1)) * effort)
    # candidates ordered by (placed slices, -cost); by default only the cheapest start is annealed
    best = (int((base >= 0).sum()), -cost_base, "spynnaker_style", base)
    starts["spynnaker_style"] = base
    keyed = sorted(((int((ch >= 0).sum()), -placement_cost(g, ch, grid, t.family), name)
                    for name, ch in starts.items()), reverse=True)
    n_starts = len(keyed) if options.get("placement_starts", "best") == "all" else 1
    for placed_n, neg_cost, name in keyed:
        if (placed_n, neg_cost) > best[:2]:
            best = (placed_n, neg_cost, name, starts[name])
    if grid.n_chips == 1:
        n_starts = 0  # one chip: nothing to improve
    for _, _, name in keyed[:n_starts]:
        start = starts[name]
        region = np.unique(start[start >= 0])
        nb = grid.neighbours[region]
        in_region = np.zeros(grid.n_chips, dtype=np.bool_)
        in_region[region] = True
        in_region[nb[nb >= 0]] = True  # the region and its rim
        chip_of, _ = _anneal(start.astype(np.int64).copy(), cap, sdram_cap, dem_c, dem_s.astype(np.float64), mode,
                             indptr, indices, w.data.astype(np.float64), g.out_ptr, g.out_idx, g.in_ptr, g.in_idx,
                             g.slice_rate.astype(np.float64), grid.hops, grid.neighbours,
                             np.array(grid.links, dtype=np.int64), in_region, np.flatnonzero(in_region),
                             int(options.get("anneal_walk", ANNEAL_WALK)), n_iter, seed32,
                             float(options.get("anneal_temperature", ANNEAL_T0)))
        key = (int((chip_of >= 0).sum()), -placement_cost(g, chip_of, grid, t.family), name + "+annealing", chip_of)
        if key[:2] > best[:2]:
            best = key
    _, neg_cost, method, chip_of = best
    cost = -neg_cost
    core_of = _cores_on_chips(chip_of, dem_c, S)
    return PlacementResult(chip_of, core_of, grid, g, cost, cost_base, traffic(g, chip_of, grid, t.family),
                           traffic(g, base, grid, t.family), np.flatnonzero(chip_of < 0), method)


def _cores_on_chips(chip_of: np.ndarray, dem_c: np.ndarray, S: int) -> np.ndarray:
    """First core of each slice: slices fill their chip in slice order."""
    core_of = np.full(S, -1, dtype=np.int64)
    for c in np.unique(chip_of[chip_of >= 0]):
        members = np.flatnonzero(chip_of == c)
        core_of[members] = np.concatenate([[0], np.cumsum(dem_c[members])[:-1]])
    return core_of


def empty_slice_graph(S: int) -> SliceGraph:
    """A slice graph with no pairs (placement of a partition that cannot fit)."""
    z = np.zeros(0, dtype=np.int64)
    ptr = np.zeros(S + 1, dtype=np.int64)
    return SliceGraph(z, z, np.zeros(0), z, np.zeros(S), sp.csr_matrix((S, S)), ptr, z, ptr.copy(), z)


def placement(net: Network, ctx: CompileContext) -> Network:
    """Pass: place the partition's slices (ctx.placement, ctx.placed)."""
    part: Partition = ctx.partition
    t: Target = ctx.target
    res = place_slices(net, part, t, ctx.seed, ctx.options)
    ctx.placement = res
    placed = []
    for s in part.slices:
        c = int(res.chip_of[s.id])
        chip = (int(res.grid.coords[c, 0]), int(res.grid.coords[c, 1])) if c >= 0 else None
        placed.append(PlacedSlice(s.population, s.index, s.neurons, chip, int(res.core_of[s.id]),
                                  int(part.extra_cores[s.id])))
    ctx.placed = placed
    n_chips = len(np.unique(res.chip_of[res.chip_of >= 0]))
    gain = (1 - res.cost / res.baseline_cost) * 100 if res.baseline_cost else 0.0
    ctx.info(f"{len(part.slices) - res.unplaced.size:,} slices on {n_chips} chips ({res.method}); hop-weighted "
             f"traffic {res.cost:,.0f} spikes*hops/s vs {res.baseline_cost:,.0f} for sPyNNaker-style placement "
             f"({gain:.1f}% lower)")
    if res.unplaced.size:
        ctx.warn(f"{res.unplaced.size:,} slices do not fit on {t.name} (cores or SDRAM per chip)")
    return net


def slices_on_chips(chip_of: np.ndarray, slices: list[Slice]) -> dict[int, list[Slice]]:
    out: dict[int, list[Slice]] = {}
    for s in slices:
        c = int(chip_of[s.id])
        if c >= 0:
            out.setdefault(c, []).append(s)
    return out
