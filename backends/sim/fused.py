"""The engine's loop compiled whole, for static LIF networks in the float and spinnaker modes.

`Simulation.run` costs about a millisecond per step in Python overhead (a dozen numpy calls per
population, one scatter call per projection), which dominates large runs such as the cortical
microcircuit (10,000 steps per simulated second). When every population is a `FloatLIFGroup` or
a `SpinnakerLIFGroup`, no projection is plastic and no state trace is recorded, the same steps
run here in one numba function per chunk of steps, on the Simulation's own state and ring
buffers (read and written back, so runs continue either way).

Same operations in the same order as engine.py, so results are bit-identical (tests compare the
two paths): sources emit; each group takes its ring slots and updates (float: FloatLIFGroup.step;
spinnaker: fixed.lif_curr_exp_tick, the scalar form of the verified lif_curr_exp_step); the
spikes of sources, then of groups, are scattered projection by projection in `Simulation._out`
order. Source draws come from the sources' own generators (`uniforms`), drawn a chunk ahead.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Collection, Hashable

import numba
import numpy as np

from neurocompile.backends.sim.float_mode import FloatLIFGroup
from neurocompile.backends.sim.modes import NumericMode
from neurocompile.backends.sim.propagation import PreSortedSynapses
from neurocompile.backends.sim.spinnaker_mode import RING_BUFFER_MAX, SpinnakerLIFGroup
from neurocompile.ir.network import Network, Projection
from neurocompile.ir.sources import PoissonCountSource, PoissonSource, SpikeArraySource, poisson_counts
from neurocompile.targets.spinnaker.fixed import LifCurrExpState, lif_curr_exp_tick

if TYPE_CHECKING:
    from neurocompile.backends.sim.engine import Simulation

CHUNK_STEPS = 200          # source draws held ahead: CHUNK_STEPS x source neurons doubles
KIND_ARRAY, KIND_BERNOULLI, KIND_COUNT = 0, 1, 2


def fusable(sim: Simulation, record: dict[str, tuple[str, ...]]) -> bool:
    """Whether `sim` can run here: LIF groups of one kind, static synapses, spikes only."""
    if sim.layout is None or sim.plastic or any(v != "spikes" for vs in record.values() for v in vs):
        return False
    kinds = {type(g) for g in sim.groups.values()}
    if not kinds or len(kinds) > 1 or not kinds <= {FloatLIFGroup, SpinnakerLIFGroup}:
        return False
    if kinds == {FloatLIFGroup} and any(k not in ("excitatory", "inhibitory")
                                        for ch in sim.channels.values() for k in ch):
        return False
    return all(type(s) in (SpikeArraySource, PoissonSource, PoissonCountSource)
               for s in sim.sources.values())


def static_ok(net: Network, mode: NumericMode) -> bool:
    """Whether the network's structure suits the flat layout (a run may still take the step
    loop, e.g. to record traces): float/spinnaker LIF, no plasticity."""
    from neurocompile.backends.sim.float_mode import FloatMode
    from neurocompile.backends.sim.spinnaker_mode import SpinnakerMode

    return (type(mode) in (FloatMode, SpinnakerMode)
            and all(p.plasticity is None for p in net.projections.values())
            and all(p.model in ("spike_array", "poisson", "poisson_fast", "lif_curr_exp")
                    for p in net.populations.values()))


class FlatLayout:
    """All ring buffers in one array and all synapses in one set of arrays (post, weight,
    delay, indptr), so the compiled loop takes a fixed argument list whatever the network
    (numba's typed lists would cost ~2.5 s of JIT per process) and nothing is held twice: the
    engine's RingBuffers and PreSortedSynapses are views into these arrays.

    Each presynaptic row is also sorted by delay (stable; `dptr` marks where each delay starts),
    so the loop scatters delay by delay: one delay's writes land in one ring slot of the target
    population (~175 kB for the microcircuit's L4E) instead of anywhere in its ~66 MB of rings.
    Measured at full scale: ~33 instead of ~42 ns per synaptic event (bench/random_access.py
    shows why not ~5: at this spike rate a slot is rarely hit twice while it is cached). Every
    ring cell still receives its additions in the step loop's order (same projection, then
    presynaptic neuron, then row order), so floats sum bit-identically."""

    def __init__(self, net: Network, mode: NumericMode, depths: dict[str, dict[Hashable, int]]) -> None:
        self.ring_of: dict[tuple[str, Hashable], int] = {}
        base, n_of, depth = [], [], []
        total = 0
        for post, keys in depths.items():
            for key, d in keys.items():
                self.ring_of[(post, key)] = len(base)
                n = net.populations[post].size
                base.append(total)
                n_of.append(n)
                depth.append(d)
                total += d * n
        self.ring_base = np.array(base + [total], np.int64)
        self.ring_n = np.array(n_of + [0], np.int64)
        self.ring_depth = np.array(depth + [1], np.int64)
        self.rings = np.zeros(max(total, 1), dtype=mode.accum_dtype)
        projs = list(net.projections.values())
        n_syn = sum(p.n_synapses for p in projs)
        n_ptr = sum(net.populations[p.pre].size + 1 for p in projs)
        max_delay = max((int(p.delay.max(initial=0)) for p in projs), default=0)
        self.post = np.zeros(n_syn, np.int32)
        self.weight = np.zeros(n_syn, np.float64 if mode.accum_dtype == np.float64 else np.int32)
        self.delay = np.zeros(n_syn, np.int16 if max_delay < 2**15 else np.int32)
        self.indptr = np.zeros(max(n_ptr, 1), np.int64)
        n_dptr = sum(net.populations[p.pre].size * (int(p.delay.max(initial=0)) + 2) for p in projs)
        self.dptr = np.zeros(max(n_dptr, 1), np.int64)
        self._next_syn = self._next_ptr = self._next_dptr = 0
        #: id(synapses) -> (synapse base, indptr base, dptr base, dptr width, min delay, max delay)
        self.where: dict[int, tuple[int, int, int, int, int, int]] = {}

    def ring(self, post: str, key: Hashable) -> np.ndarray:
        i = self.ring_of[(post, key)]
        a, d, n = self.ring_base[i], self.ring_depth[i], self.ring_n[i]
        return self.rings[a:a + d * n].reshape(d, n)

    def synapses(self, proj: Projection, n_pre: int, weight: np.ndarray) -> PreSortedSynapses:
        """The projection's rows, sorted by pre then (stably) by delay: row order is
        np.lexsort((proj.delay, proj.pre_idx)) (PreSortedSynapses.order is None)."""
        a, b = self._next_syn, self._next_syn + proj.n_synapses
        pa, pb = self._next_ptr, self._next_ptr + n_pre + 1
        dmin = int(proj.delay.min()) if proj.n_synapses else 0  # (min with initial=0 is always 0)
        dmax = int(proj.delay.max(initial=0))
        width = dmax + 2
        da, db = self._next_dptr, self._next_dptr + n_pre * width
        syn = PreSortedSynapses.build(proj, n_pre, weight, into=(
            self.indptr[pa:pb], self.post[a:b], self.weight[a:b], self.delay[a:b]))
        _sort_rows_by_delay(syn.indptr, syn.post, syn.weight, syn.delay, self.dptr[da:db], width)
        syn.order = None
        self.where[id(syn)] = (a, pa, da, width, dmin, dmax)
        self._next_syn, self._next_ptr, self._next_dptr = b, pb, db
        return syn


@numba.njit(cache=True, nogil=True)
def _sort_rows_by_delay(indptr, post, weight, delay, dptr, width):  # pragma: no cover - compiled
    """Counting sort of each row by delay, stable, in place; dptr[s * width + d] = first synapse
    of row s with delay >= d (relative to the projection's first synapse)."""
    n_pre = indptr.size - 1
    longest = 0
    for s in range(n_pre):
        longest = max(longest, indptr[s + 1] - indptr[s])
    tp, tw, td = np.empty(longest, post.dtype), np.empty(longest, weight.dtype), np.empty(longest, delay.dtype)
    cursor = np.zeros(width, np.int64)
    for s in range(n_pre):
        a, b = indptr[s], indptr[s + 1]
        cursor[:] = 0
        for k in range(a, b):
            cursor[delay[k] + 1] += 1
        for d in range(1, width):
            cursor[d] += cursor[d - 1]
        for d in range(width):
            dptr[s * width + d] = a + cursor[d]
        for k in range(a, b):
            tp[k - a], tw[k - a], td[k - a] = post[k], weight[k], delay[k]
        for q in range(b - a):
            j = a + cursor[td[q]]
            cursor[td[q]] += 1
            post[j], weight[j], delay[j] = tp[q], tw[q], td[q]


@dataclass
class _Sources:
    kind: np.ndarray          # per source
    off: np.ndarray           # per source: first column in the uniforms / neuron arrays
    p: np.ndarray             # per source neuron: Bernoulli probability
    start: np.ndarray         # per source neuron: active window [start, end)
    end: np.ndarray
    cdf: np.ndarray           # Poisson tables of all count sources, rows numbered globally
    cdf_start: np.ndarray
    cdf_guess: np.ndarray     # per row: where the search starts (PoissonTable.guess)
    cdf_row: np.ndarray       # per source neuron (count sources; 0 elsewhere)
    arr_steps: np.ndarray     # spike arrays, concatenated; per source [arr_lo, arr_hi)
    arr_neurons: np.ndarray
    arr_lo: np.ndarray
    arr_hi: np.ndarray


def _sources(sim: Simulation) -> _Sources:
    srcs = list(sim.sources.values())
    n = np.array([s.n for s in srcs], dtype=np.int64)
    off = np.concatenate([[0], np.cumsum(n)]).astype(np.int64)
    total = int(off[-1])
    kind = np.zeros(len(srcs), np.int64)
    p = np.zeros(total)
    start, end = np.zeros(total, np.int64), np.zeros(total, np.int64)
    cdf_parts, start_parts, row = [np.zeros(0)], [np.zeros(1, np.int64)], np.zeros(total, np.int64)
    guess_parts = [np.zeros(0, np.int64)]
    arr_s, arr_n, lo, hi = [], [], np.zeros(len(srcs), np.int64), np.zeros(len(srcs), np.int64)
    base_rows = base_cdf = n_arr = 0
    for i, s in enumerate(srcs):
        a, b = off[i], off[i + 1]
        if isinstance(s, SpikeArraySource):
            kind[i] = KIND_ARRAY
            lo[i], hi[i] = n_arr, n_arr + s._steps.size
            arr_s.append(s._steps)
            arr_n.append(s._neurons)
            n_arr += s._steps.size
            continue
        start[a:b], end[a:b] = s._start, s._end
        if isinstance(s, PoissonSource):
            kind[i], p[a:b] = KIND_BERNOULLI, s._p
        else:
            kind[i] = KIND_COUNT
            tab = s.table
            cdf_parts.append(tab.cdf)
            start_parts.append(tab.start[1:] + base_cdf)
            guess_parts.append(tab.guess + base_cdf)
            row[a:b] = tab.row + base_rows
            base_rows += tab.start.size - 1
            base_cdf += tab.cdf.size
    cat = (lambda xs, dt: np.concatenate(xs).astype(dt) if xs else np.zeros(0, dt))
    return _Sources(kind, off, p, start, end, np.concatenate(cdf_parts),
                    np.concatenate(start_parts).astype(np.int64),
                    np.concatenate(guess_parts).astype(np.int64), row,
                    cat(arr_s, np.int64), cat(arr_n, np.int64), lo, hi)


@numba.njit(cache=True, nogil=True)
def _emit_sources(t, kk, src_kind, src_off, src_direct, u, u_base, p, start, end, cdf, cdf_start,
                  cdf_guess, cdf_row, arr_steps, arr_neurons, arr_lo, arr_hi, counts_scratch,
                  f_id, f_k, f_lo, f_hi, edge_lo, e_ring, e_syn, e_dptr, e_width, e_dmin, e_dmax,
                  dptr, post, weight, rings, ring_base, ring_n, ring_depth):  # pragma: no cover - compiled
    """Fill the fired list (neuron id, count) of every source for step t (row kk of its draws);
    a `src_direct` count source delivers straight into the rings instead (_direct_sources). Returns
    (fired list length, synaptic events delivered directly)."""
    nf = 0
    events = 0
    for s in range(src_kind.size):
        f_lo[s] = nf
        a, b = src_off[s], src_off[s + 1]
        ub = u_base[s] + kk * (b - a)
        direct = src_direct[s]
        e = edge_lo[s]  # a direct source's only edge
        if src_kind[s] == 0:
            seg = arr_steps[arr_lo[s]:arr_hi[s]]
            i = np.searchsorted(seg, t)
            j = np.searchsorted(seg, t + 1)
            for q in range(i, j):
                f_id[nf] = arr_neurons[arr_lo[s] + q]
                f_k[nf] = 1
                nf += 1
        elif src_kind[s] == 1:
            for i in range(a, b):
                if t >= start[i] and t < end[i] and u[ub + i - a] < p[i]:
                    f_id[nf] = i - a
                    f_k[nf] = 1
                    nf += 1
        else:
            poisson_counts(u[ub:ub + b - a], cdf, cdf_start, cdf_guess, cdf_row[a:b], counts_scratch[:b - a])
            if direct:  # its one edge, row by row, delay by delay (as _scatter_and_record)
                r = e_ring[e]
                rn, depth, base = ring_n[r], ring_depth[r], ring_base[r]
                sb, db, width, dmin, dmax = e_syn[e], e_dptr[e], e_width[e], e_dmin[e], e_dmax[e]
                slot0 = (t + dmin) % depth
                for i in range(a, b):
                    c = counts_scratch[i - a]
                    if c > 0 and t >= start[i] and t < end[i]:
                        at = db + (i - a) * width
                        slot = slot0
                        for d in range(dmin, dmax + 1):
                            k0, k1 = sb + dptr[at + d], sb + dptr[at + d + 1]
                            row = base + slot * rn
                            for _ in range(c):
                                for k in range(k0, k1):
                                    rings[row + post[k]] += weight[k]
                            events += (k1 - k0) * c
                            slot += 1
                            if slot == depth:
                                slot = 0
            else:
                for i in range(a, b):
                    c = counts_scratch[i - a]
                    if c > 0 and t >= start[i] and t < end[i]:
                        f_id[nf] = i - a
                        f_k[nf] = c
                        nf += 1
        f_hi[s] = nf
    return nf, events


@numba.njit(cache=True, nogil=True)
def _scatter_and_record(t, n_units, f_id, f_k, f_lo, f_hi, edge_lo, edge_hi, e_ring, e_syn, e_dptr,
                        e_width, e_dmin, e_dmax, dptr, post, weight, rings, ring_base, ring_n,
                        ring_depth, record_unit, out_t, out_u, out_i, n_out
                        ):  # pragma: no cover - compiled
    """Scatter every unit's fired list through its projections (engine order), delay by delay,
    and record spikes. Returns (synaptic events, records written)."""
    events = 0
    for unit in range(n_units):
        lo, hi = f_lo[unit], f_hi[unit]
        if lo == hi:
            continue
        if record_unit[unit]:
            for q in range(lo, hi):
                for _ in range(f_k[q]):
                    out_t[n_out] = t
                    out_u[n_out] = unit
                    out_i[n_out] = f_id[q]
                    n_out += 1
        for e in range(edge_lo[unit], edge_hi[unit]):
            r = e_ring[e]
            rn, depth = ring_n[r], ring_depth[r]
            sb, db, width = e_syn[e], e_dptr[e], e_width[e]
            slot = (t + e_dmin[e]) % depth
            for d in range(e_dmin[e], e_dmax[e] + 1):
                row = ring_base[r] + slot * rn      # the one ring slot this delay writes
                for q in range(lo, hi):
                    at = db + f_id[q] * width + d
                    k0, k1 = sb + dptr[at], sb + dptr[at + 1]
                    for _ in range(f_k[q]):
                        for k in range(k0, k1):
                            rings[row + post[k]] += weight[k]
                        events += k1 - k0
                slot += 1
                if slot == depth:
                    slot = 0
    return events, n_out


@numba.njit(cache=True, nogil=True)
def _run_float(t0, steps, g_off, ring_e, ring_i, rings, v, ie, ii, refr, v_rest, v_reset, v_thresh,
               p22, p21e, p21i, p20, i_offset, dec_e, dec_i, ref_steps,
               src_kind, src_off, src_direct, u, u_base, k_first, p, start, end, cdf, cdf_start, cdf_guess,
               cdf_row, arr_steps, arr_neurons,
               arr_lo, arr_hi, counts_scratch, f_id, f_k, f_lo, f_hi, edge_lo, edge_hi, e_ring,
               e_syn, e_dptr, e_width, e_dmin, e_dmax, dptr, post, weight, ring_base, ring_n,
               ring_depth, record_unit, out_t, out_u, out_i, n_out, reserve):  # pragma: no cover - compiled
    """FloatLIFGroup.step for every group, then the scatter; returns (steps run, events, records)
    early, before a step, when fewer than `reserve` record slots are left."""
    n_src = src_kind.size
    n_groups = g_off.size - 1
    events = 0
    for k in range(steps):
        if out_t.size - n_out < reserve:  # a step could overflow the record: the caller grows it
            return k, events, n_out
        t = t0 + k
        nf, ev = _emit_sources(t, k_first + k, src_kind, src_off, src_direct, u, u_base, p, start, end,
                               cdf, cdf_start, cdf_guess, cdf_row, arr_steps, arr_neurons, arr_lo, arr_hi,
                               counts_scratch, f_id, f_k, f_lo, f_hi, edge_lo, e_ring, e_syn, e_dptr,
                               e_width, e_dmin, e_dmax, dptr, post, weight, rings, ring_base, ring_n,
                               ring_depth)
        events += ev
        for g in range(n_groups):
            f_lo[n_src + g] = nf
            base = g_off[g]
            re, ri = ring_e[g], ring_i[g]
            se = ring_base[re] + (t % ring_depth[re]) * ring_n[re] if re >= 0 else 0
            si = ring_base[ri] + (t % ring_depth[ri]) * ring_n[ri] if ri >= 0 else 0
            for j in range(g_off[g + 1] - base):
                n = base + j
                if re >= 0:
                    ie[n] += rings[se + j]
                    rings[se + j] = 0.0
                if ri >= 0:
                    ii[n] += rings[si + j]
                    rings[si + j] = 0.0
                if refr[n] == 0:
                    v[n] = (v_rest[n] + (v[n] - v_rest[n]) * p22[n] + ie[n] * p21e[n]
                            + ii[n] * p21i[n] + i_offset[n] * p20[n])
                    if v[n] >= v_thresh[n]:
                        v[n] = v_reset[n]
                        refr[n] = ref_steps[n]
                        f_id[nf] = j
                        f_k[nf] = 1
                        nf += 1
                else:
                    refr[n] -= 1
                ie[n] *= dec_e[n]
                ii[n] *= dec_i[n]
            f_hi[n_src + g] = nf
        ev, n_out = _scatter_and_record(t, n_src + n_groups, f_id, f_k, f_lo, f_hi, edge_lo,
                                        edge_hi, e_ring, e_syn, e_dptr, e_width, e_dmin, e_dmax,
                                        dptr, post, weight, rings, ring_base, ring_n, ring_depth,
                                        record_unit, out_t, out_u, out_i, n_out)
        events += ev
    return steps, events, n_out


@numba.njit(cache=True, nogil=True)
def _run_spinnaker(t0, steps, g_off, ring_e, ring_i, rings, v, v_pre, refr, ie, ii, v_rest, r_mem,
                   exp_tc, i_offset, v_reset, t_refract, v_thresh, exc_decay, exc_init, inh_decay,
                   inh_init, shift_e, shift_i, saturated,
                   src_kind, src_off, src_direct, u, u_base, k_first, p, start, end, cdf, cdf_start,
                   cdf_guess, cdf_row, arr_steps,
                   arr_neurons, arr_lo, arr_hi, counts_scratch, f_id, f_k, f_lo, f_hi, edge_lo,
                   edge_hi, e_ring, e_syn, e_dptr, e_width, e_dmin, e_dmax, dptr, post, weight, ring_base,
                   ring_n, ring_depth, record_unit, out_t, out_u, out_i,
                   n_out, reserve):  # pragma: no cover - compiled
    """SpinnakerLIFGroup.step (slots clipped at 0xFFFF, one lif_curr_exp_tick per neuron)."""
    n_src = src_kind.size
    n_groups = g_off.size - 1
    events = 0
    for k in range(steps):
        if out_t.size - n_out < reserve:  # a step could overflow the record: the caller grows it
            return k, events, n_out
        t = t0 + k
        nf, ev = _emit_sources(t, k_first + k, src_kind, src_off, src_direct, u, u_base, p, start, end,
                               cdf, cdf_start, cdf_guess, cdf_row, arr_steps, arr_neurons, arr_lo, arr_hi,
                               counts_scratch, f_id, f_k, f_lo, f_hi, edge_lo, e_ring, e_syn, e_dptr,
                               e_width, e_dmin, e_dmax, dptr, post, weight, rings, ring_base, ring_n,
                               ring_depth)
        events += ev
        for g in range(n_groups):
            f_lo[n_src + g] = nf
            base = g_off[g]
            re, ri = ring_e[g], ring_i[g]
            se = ring_base[re] + (t % ring_depth[re]) * ring_n[re] if re >= 0 else 0
            si = ring_base[ri] + (t % ring_depth[ri]) * ring_n[ri] if ri >= 0 else 0
            for j in range(g_off[g + 1] - base):
                n = base + j
                xe = 0
                xi = 0
                if re >= 0:
                    xe = rings[se + j]
                    rings[se + j] = 0
                    if xe > RING_BUFFER_MAX:
                        saturated[g, 0] += 1
                        xe = RING_BUFFER_MAX
                if ri >= 0:
                    xi = rings[si + j]
                    rings[si + j] = 0
                    if xi > RING_BUFFER_MAX:
                        saturated[g, 1] += 1
                        xi = RING_BUFFER_MAX
                v_pre[n] = v[n]
                v[n], refr[n], ie[n], ii[n], spiked = lif_curr_exp_tick(
                    v[n], refr[n], ie[n], ii[n], xe, xi, shift_e[g], shift_i[g], v_rest[n],
                    r_mem[n], exp_tc[n], i_offset[n], v_reset[n], t_refract[n], v_thresh[n],
                    exc_decay[n], exc_init[n], inh_decay[n], inh_init[n])
                if spiked:
                    f_id[nf] = j
                    f_k[nf] = 1
                    nf += 1
            f_hi[n_src + g] = nf
        ev, n_out = _scatter_and_record(t, n_src + n_groups, f_id, f_k, f_lo, f_hi, edge_lo,
                                        edge_hi, e_ring, e_syn, e_dptr, e_width, e_dmin, e_dmax,
                                        dptr, post, weight, rings, ring_base, ring_n, ring_depth,
                                        record_unit, out_t, out_u, out_i, n_out)
        events += ev
    return steps, events, n_out


def _direct_sources(src: _Sources, record_unit: np.ndarray, edge_lo: np.ndarray, edge_hi: np.ndarray,
                    e_ring: np.ndarray, e_dmin: np.ndarray) -> np.ndarray:
    """Poisson-count sources that may deliver as they draw, before the groups update (the
    microcircuit's background). Other sources' spikes are always returned, so always listed.

    Bit-identical to scattering after the update only when every ring cell still gets its
    additions in the same order: the source is not recorded, has one out-edge (no interleaving of
    its own projections), delays >= 1 (the slot read this step is never written), and no earlier
    unit that scatters later writes the same ring (units scatter in order, sources first)."""
    direct = np.zeros(src.kind.size, np.bool_)
    late_rings: set[int] = set()
    for s in range(src.kind.size):
        rings = set(e_ring[edge_lo[s]:edge_hi[s]].tolist())
        ok = (src.kind[s] == KIND_COUNT and not record_unit[s] and edge_hi[s] - edge_lo[s] == 1
              and e_dmin[edge_lo[s]] >= 1 and not (rings & late_rings))
        direct[s] = ok
        if not ok:
            late_rings |= rings
    return direct


def _record_reserve(sim: Simulation, src: _Sources, units: list[str], record_unit: np.ndarray,
                    sizes: np.ndarray) -> int:
    """Most spike records one step can add: every recorded neuron (a count source's neuron its
    largest count; a spike array its busiest step)."""
    n_src = len(sim.sources)
    total = int(sizes[record_unit[n_src:]].sum())
    for s in range(n_src):
        if not record_unit[s]:
            continue
        a, b = src.off[s], src.off[s + 1]
        if src.kind[s] == KIND_ARRAY:
            steps = src.arr_steps[src.arr_lo[s]:src.arr_hi[s]]
            total += int(np.unique(steps, return_counts=True)[1].max(initial=0))
        elif src.kind[s] == KIND_BERNOULLI:
            total += int(b - a)
        else:
            widths = np.diff(src.cdf_start)[src.cdf_row[a:b]] - 1
            total += int(widths.sum())
    return total + 1


def run_fused(sim: Simulation, steps: int, record_pops: Collection[str],
              progress: Callable[[int, int], None] | None) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], int]:
    """Advance `sim` by `steps`; spikes (steps, ids) of the populations in `record_pops`, events."""
    src_names, grp_names = list(sim.sources), list(sim.groups)
    units = src_names + grp_names
    groups = [sim.groups[g] for g in grp_names]
    sizes = np.array([g.n for g in groups], dtype=np.int64)
    g_off = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    spinn = isinstance(groups[0], SpinnakerLIFGroup)

    lay: FlatLayout = sim.layout
    ring_e, ring_i = np.full(len(groups), -1, np.int64), np.full(len(groups), -1, np.int64)
    for gi, name in enumerate(grp_names):
        for key in sim.channels[name]:
            (ring_e if key == "excitatory" else ring_i)[gi] = lay.ring_of[(name, key)]
    e_ring, e_syn, e_dptr, e_width, e_dmin, e_dmax = [], [], [], [], [], []
    edge_lo, edge_hi = np.zeros(len(units), np.int64), np.zeros(len(units), np.int64)
    ring_at = {id(ch.buffer): lay.ring_of[(post, key)]
               for post, chans in sim.channels.items() for key, ch in chans.items()}
    for ui, name in enumerate(units):
        edge_lo[ui] = len(e_ring)
        for syn, buf in sim._out.get(name, ()):
            e_ring.append(ring_at[id(buf)])
            sb, _, db, width, dmin, dmax = lay.where[id(syn)]
            for lst, x in ((e_syn, sb), (e_dptr, db), (e_width, width), (e_dmin, dmin), (e_dmax, dmax)):
                lst.append(x)
        edge_hi[ui] = len(e_ring)
    e_ring, e_syn, e_dptr, e_width, e_dmin, e_dmax = (
        np.array(x, dtype=np.int64) for x in (e_ring, e_syn, e_dptr, e_width, e_dmin, e_dmax))

    src = _sources(sim)
    record_unit = np.array([u in record_pops for u in units], dtype=np.bool_)
    src_direct = _direct_sources(src, record_unit, edge_lo, edge_hi, e_ring, e_dmin)
    n_src_neurons = int(src.off[-1])
    counts_scratch = np.zeros(max(n_src_neurons, 1), np.int64)
    f_cap = int(g_off[-1]) + n_src_neurons + int(src.arr_steps.size) + 1
    f_id, f_k = np.zeros(f_cap, np.int64), np.zeros(f_cap, np.int64)
    f_lo, f_hi = np.zeros(len(units), np.int64), np.zeros(len(units), np.int64)
    reserve = _record_reserve(sim, src, units, record_unit, sizes)
    out_t, out_u, out_i = (np.zeros(max(1 << 16, 2 * reserve), np.int32) for _ in range(3))
    n_out, events, done = 0, 0, 0

    if spinn:
        chips = [g.chip for g in groups]
        cat = lambda xs: np.concatenate([np.asarray(x, np.int64) for x in xs])  # noqa: E731
        v, refr = cat([c.v for c in chips]), cat([c.refract_timer for c in chips])
        ie, ii = cat([c.isyn_exc for c in chips]), cat([c.isyn_inh for c in chips])
        v_pre = cat([g.v_pre_raw for g in groups])
        par = {f: cat([getattr(g.params, f) for g in groups]) for f in (
            "v_rest", "r_membrane", "exp_tc", "i_offset", "v_reset", "t_refract", "v_thresh",
            "exc_decay", "exc_init", "inh_decay", "inh_init")}
        shift_e = np.array([g.shift_exc for g in groups], np.int64)
        shift_i = np.array([g.shift_inh for g in groups], np.int64)
        saturated = np.zeros((len(groups), 2), np.int64)
        state = (v, v_pre, refr, ie, ii, *par.values(), shift_e, shift_i, saturated)
        kernel = _run_spinnaker
    else:
        full = lambda g, a: np.broadcast_to(np.asarray(a, np.float64), (g.n,))  # noqa: E731
        cat = lambda f: np.concatenate([full(g, f(g)) for g in groups])  # noqa: E731
        v, ie, ii = cat(lambda g: g.v), cat(lambda g: g.i_syn_exc), cat(lambda g: g.i_syn_inh)
        refr = np.concatenate([g.refractory for g in groups]).astype(np.int64)
        state = (v, ie, ii, refr, cat(lambda g: g.v_rest), cat(lambda g: g.v_reset),
                 cat(lambda g: g.v_thresh), cat(lambda g: g.p22), cat(lambda g: g.p21_e),
                 cat(lambda g: g.p21_i), cat(lambda g: g.p20), cat(lambda g: g.i_offset),
                 cat(lambda g: g.decay_e), cat(lambda g: g.decay_i),
                 np.concatenate([np.broadcast_to(g.ref_steps, (g.n,)) for g in groups]).astype(np.int64))
        kernel = _run_float

    u = np.empty(max(CHUNK_STEPS * n_src_neurons, 1))
    while done < steps:
        chunk = min(CHUNK_STEPS, steps - done)
        # each source's (chunk, n) draws contiguous at chunk * its first column: filled in place
        u_base = src.off[:-1] * chunk
        for s, name in enumerate(src_names):
            if src.kind[s] != KIND_ARRAY:
                a, b = src.off[s] * chunk, src.off[s + 1] * chunk
                sim.sources[name].uniforms(chunk, out=u[a:b].reshape(chunk, src.off[s + 1] - src.off[s]))
        k0 = 0
        while k0 < chunk:
            if out_t.size - n_out < reserve:
                size = max(2 * out_t.size, n_out + 2 * reserve)
                out_t, out_u, out_i = (np.concatenate([a[:n_out], np.zeros(size - n_out, a.dtype)])
                                       for a in (out_t, out_u, out_i))
            ran, ev, n_out = kernel(
                sim.t, chunk - k0, g_off, ring_e, ring_i, lay.rings, *state,
                src.kind, src.off, src_direct, u, u_base, k0, src.p, src.start, src.end, src.cdf, src.cdf_start,
                src.cdf_guess, src.cdf_row, src.arr_steps, src.arr_neurons, src.arr_lo, src.arr_hi,
                counts_scratch, f_id, f_k, f_lo, f_hi, edge_lo, edge_hi, e_ring, e_syn, e_dptr,
                e_width, e_dmin, e_dmax, lay.dptr, lay.post, lay.weight, lay.ring_base, lay.ring_n,
                lay.ring_depth, record_unit, out_t, out_u, out_i, n_out, reserve)
            events += ev
            sim.t += ran
            k0 += ran
        done += chunk
        if progress is not None:
            progress(done, steps)

    if spinn:
        v, v_pre, refr, ie, ii = state[:5]
        for gi, g in enumerate(groups):
            a, b = g_off[gi], g_off[gi + 1]
            g.chip = LifCurrExpState(v=v[a:b].copy(), refract_timer=refr[a:b].copy(),
                                     isyn_exc=ie[a:b].copy(), isyn_inh=ii[a:b].copy())
            g.v_pre_raw = v_pre[a:b].copy()
            g.saturated_slots["excitatory"] += int(saturated[gi, 0])
            g.saturated_slots["inhibitory"] += int(saturated[gi, 1])
    else:
        for gi, g in enumerate(groups):
            a, b = g_off[gi], g_off[gi + 1]
            g.v, g.i_syn_exc, g.i_syn_inh = v[a:b].copy(), ie[a:b].copy(), ii[a:b].copy()
            g.refractory = refr[a:b].copy()

    out_t, out_u, out_i = out_t[:n_out], out_u[:n_out], out_i[:n_out]
    spikes = {}
    for ui, name in enumerate(units):
        if record_unit[ui]:
            sel = out_u == ui
            spikes[name] = (out_t[sel].astype(np.int32), out_i[sel].astype(np.int32))
    return spikes, events
