"""Integer pair STDP for the sim backend's `loihi2` mode: our model of on-chip learning.

What it is. `stdp.py`'s rule and control flow (sPyNNaker's deferred, all-to-all, dendritic-delay
pair STDP with additive weights and a 15-spike post history, docs/plasticity.md) with integer
arithmetic, on the integer weight mantissas the loihi2 mode propagates. The bookkeeping
(`_post_window`, `_push_post_event`) is stdp.py's; only the arithmetic is new.

What it is not. It is **not** bit-checked against Lava or a Loihi 2 chip. Lava 0.10's own learning
(`LearningDense` + `STDPLoihi`) is only bit-approximate (float trace decay, stochastic rounding,
epoch-based updates, no synaptic delays; docs/plasticity.md section 4), and the chip's learning
engine is programmable, so there is no bit-exact reference to check against. It models what a
Loihi 2 implementation of the IR's `STDPRule` would have to do with integer state: the choices
below are ours and are documented so that they can be compared with a future microcode rule.

Arithmetic (F = TRACE_FRAC_BITS = 11, so 1.0 = 2048, like sPyNNaker's s4.11 traces):

* weights: int64 mantissas in the projection's units (Lava's 8-bit `weights`, before
  `weight_exp`), magnitudes clipped to [w_min, w_max]; `w_min`/`w_max` must be integers on the
  projection's weight grid (`num_weight_bits`) inside Lava's 8-bit range [0, 255];
* `a_plus`/`a_minus` in the same units, held as fixed point `round(a * 2**F)` (fractions of a
  weight step are allowed);
* traces: int64 fixed point; a spike adds 2**F; decay by a look-up table
  ``lut[k] = floor(exp(-k dt / tau) * 2**F)``, 0 past its end (as sPyNNaker's
  `maths_lut_exponential_decay`): ``trace = (trace * lut[t - t_last]) >> F``;
* potentiation by a post spike: ``inc = (A+ * pre_trace * lut_plus[Δ]) >> 3F`` (floor), then
  ``min(w + inc, w_max)``; depression: ``dec = (A- * post_trace * lut_minus[Δ]) >> 3F`` (floor),
  then ``max(w - dec, w_min)``; then the weight is floored onto the projection's grid
  (multiples of ``2**(8 - num_weight_bits)``), so it is always a weight Lava would keep.

Differences from the float mode are the rounding of those products (at most one weight step per
update) and the LUT cut-off (exp(-k dt/tau) < 2**-11 counts as 0).
"""
from __future__ import annotations

import numba
import numpy as np

from neurocompile.backends.sim.propagation import PreSortedSynapses
from neurocompile.backends.sim.stdp import (MAX_POST_EVENTS, PairSTDP, _post_window,
                                            _push_post_event)
from neurocompile.errors import ModelError
from neurocompile.ir.network import Network, Projection

TRACE_FRAC_BITS = 11
LAVA_MAX_WEIGHT = 255  # utils/weightutils.py clip_weights(num_bits=8), single sign mode


def decay_lut(dt_ms: float, tau_ms: float, frac_bits: int = TRACE_FRAC_BITS) -> np.ndarray:
    """round(exp(-k dt/tau) 2**F) for k = 0, 1, ... up to (and without) the first zero entry."""
    one = 1 << frac_bits
    n = int(np.ceil(tau_ms / dt_ms * np.log(one))) + 2
    lut = np.floor(np.exp(-np.arange(n) * dt_ms / tau_ms) * one + 0.5).astype(np.int64)
    nz = np.flatnonzero(lut == 0)
    return lut[: nz[0]] if nz.size else lut


# ------------------------------------------------------------------------------------------------
# Integer arithmetic; control flow as stdp.py's _float_* kernels
# ------------------------------------------------------------------------------------------------
@numba.njit(cache=True, nogil=True)
def _lut(lut, k):  # pragma: no cover - compiled
    return lut[k] if 0 <= k < lut.shape[0] else 0


@numba.njit(cache=True, nogil=True)
def _int_post_spikes(t, spiking, times, traces, count_m1, lut_minus, frac):  # pragma: no cover
    one = np.int64(1) << frac
    half = one >> 1
    for j in spiking:
        c = count_m1[j]
        trace = ((traces[j, c] * _lut(lut_minus, t - times[j, c]) + half) >> frac) + one
        _push_post_event(times, traces, count_m1, j, t, trace)


@numba.njit(cache=True, nogil=True)
def _int_pre_spikes(t, spiking, indptr, post, delay, mag, sign, out,
                    last_pre_time, pre_trace, times, traces, count_m1,
                    lut_plus, lut_minus, frac, a_plus, a_minus, w_min, w_max,
                    grid_shift):  # pragma: no cover - compiled
    one = np.int64(1) << frac
    shift = 3 * frac
    rnd = np.int64(1) << (shift - 1)
    for s in spiking:
        last_t = last_pre_time[s]
        last_tr = pre_trace[s]
        last_pre_time[s] = t
        pre_trace[s] = ((last_tr * _lut(lut_plus, t - last_t) + (one >> 1)) >> frac) + one
        for k in range(indptr[s], indptr[s + 1]):
            j = post[k]
            d = delay[k]
            begin = last_t - d if last_t >= d else 0
            end = t - d if t >= d else 0
            first, stop, prev = _post_window(times, j, count_m1[j], begin, end)
            w = mag[k]
            for e in range(first, stop):
                dt_pot = times[j, e] + d - last_t
                if dt_pot != 0:
                    inc = (a_plus * last_tr * _lut(lut_plus, dt_pot) + rnd) >> shift if dt_pot > 0 else 0
                    w = min(w + inc, w_max)
            if stop > first:
                prev = stop - 1
            if prev != 0:
                dt_dep = t - (times[j, prev] + d)
                dec = ((a_minus * traces[j, prev] * _lut(lut_minus, dt_dep) + rnd) >> shift
                       if dt_dep >= 0 else 0)
                w = max(w - dec, w_min)
            w = (w >> grid_shift) << grid_shift
            mag[k] = w
            out[k] = sign[k] * w


@numba.njit(cache=True, nogil=True)
def _int_pending(indptr, post, delay, mag, last_pre_time, pre_trace, times, traces, count_m1,
                 lut_plus, frac, a_plus, w_max, grid_shift):  # pragma: no cover - compiled
    w_out = mag.copy()
    big = np.int64(1) << 62
    shift = 3 * frac
    rnd = np.int64(1) << (shift - 1)
    for s in range(indptr.shape[0] - 1):
        last_t = last_pre_time[s]
        last_tr = pre_trace[s]
        for k in range(indptr[s], indptr[s + 1]):
            j = post[k]
            d = delay[k]
            begin = last_t - d if last_t >= d else 0
            first, stop, prev = _post_window(times, j, count_m1[j], begin, big)
            w = w_out[k]
            for e in range(first, stop):
                dt_pot = times[j, e] + d - last_t
                if dt_pot != 0:
                    inc = (a_plus * last_tr * _lut(lut_plus, dt_pot) + rnd) >> shift if dt_pot > 0 else 0
                    w = min(w + inc, w_max)
            w_out[k] = (w >> grid_shift) << grid_shift
    return w_out


class Loihi2PairSTDP(PairSTDP):
    """The `loihi2` mode's STDP: integer weights (Lava mantissas) and fixed-point traces."""

    trace_dtype = np.int64
    frac_bits = TRACE_FRAC_BITS

    def __init__(self, proj: Projection, syn: PreSortedSynapses, net: Network,
                 max_post_events: int = MAX_POST_EVENTS) -> None:
        super().__init__(proj, syn, net, max_post_events)
        owner = f"projection {proj.name!r}"
        if syn.weight.dtype.kind != "i":
            raise ModelError(f"{owner}: loihi2 STDP needs integer synapse values, got {syn.weight.dtype}")
        if np.any(proj.weight < 0) and np.any(proj.weight > 0):
            raise ModelError(f"{owner}: loihi2 STDP needs single-sign weights (Lava's excitatory or "
                             f"inhibitory sign mode); this projection mixes signs")
        nwb = int(proj.attrs.get("num_weight_bits", 8))
        self.grid_shift = 8 - nwb
        r = self.rule
        for name in ("w_min", "w_max"):
            v = float(getattr(r, name))
            if v != round(v) or not 0 <= v <= LAVA_MAX_WEIGHT or int(v) % (1 << self.grid_shift):
                raise ModelError(f"{owner}: STDP {name} = {v:g} must be an integer weight mantissa on "
                                 f"the {nwb}-bit grid (multiple of {1 << self.grid_shift}) in "
                                 f"0..{LAVA_MAX_WEIGHT} in the loihi2 mode")
        self.w_min, self.w_max = int(r.w_min), int(r.w_max)
        one = 1 << self.frac_bits
        self.a_plus_fp = int(round(float(r.a_plus) * one))
        self.a_minus_fp = int(round(float(r.a_minus) * one))
        self.lut_plus = decay_lut(self.dt_ms, float(r.tau_plus), self.frac_bits)
        self.lut_minus = decay_lut(self.dt_ms, float(r.tau_minus), self.frac_bits)
        mag = np.abs(syn.weight).astype(np.int64)
        if np.any(mag > self.w_max) or np.any(mag < self.w_min):
            raise ModelError(f"{owner}: initial weight mantissas must lie in [w_min, w_max] = "
                             f"[{self.w_min}, {self.w_max}] in the loihi2 mode")
        self.mag = mag
        self.isign = self.sign.astype(np.int64)

    def _on_post(self, t: int, spiking: np.ndarray) -> None:
        _int_post_spikes(t, spiking, self.post_times, self.post_traces, self.post_count_m1,
                         self.lut_minus, self.frac_bits)

    def _on_pre(self, t: int, spiking: np.ndarray) -> None:
        s = self.syn
        _int_pre_spikes(t, spiking, s.indptr, s.post, s.delay, self.mag, self.isign, s.weight,
                        self.last_pre_time, self.pre_trace, self.post_times, self.post_traces,
                        self.post_count_m1, self.lut_plus, self.lut_minus, self.frac_bits,
                        self.a_plus_fp, self.a_minus_fp, self.w_min, self.w_max, self.grid_shift)

    def weights(self, include_pending: bool = False) -> np.ndarray:
        """Signed integer mantissas in projection order (see FloatPairSTDP.weights)."""
        mag = self.mag
        if include_pending:
            s = self.syn
            mag = _int_pending(s.indptr, s.post, s.delay, self.mag, self.last_pre_time,
                               self.pre_trace, self.post_times, self.post_traces,
                               self.post_count_m1, self.lut_plus, self.frac_bits, self.a_plus_fp,
                               self.w_max, self.grid_shift)
        out = np.empty(mag.shape, dtype=np.int64)
        out[self.syn.order] = self.isign * mag
        return out



__all__ = ["LAVA_MAX_WEIGHT", "Loihi2PairSTDP", "TRACE_FRAC_BITS", "decay_lut"]
