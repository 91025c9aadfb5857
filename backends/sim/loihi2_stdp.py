"""Integer pair STDP for the sim backend's `loihi2` mode: our model of on-chip learning.

What it is. `stdp.py`'s rule and control flow (sPyNNaker's deferred, all-to-all, dendritic-delay
pair STDP with additive weights and a 15-spike post history, docs/plasticity.md) with integer
arithmetic, on the integer weight mantissas the loihi2 mode propagates. The bookkeeping
(`stdp_walk.py`'s row walk) is shared; only the arithmetic below is new.

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
from neurocompile.backends.sim.stdp import MAX_POST_EVENTS, PairSTDP, implements
from neurocompile.backends.sim.stdp_walk import Arithmetic, walk_kernels
from neurocompile.backends.sim.stdp_walk import hook as _hook
from neurocompile.errors import ModelError
from neurocompile.ir.network import Network, Projection, STDPRule

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
# Integer arithmetic; the control flow is stdp_walk.py's. Decays: LUTs; c = (frac, a_plus, a_minus,
# w_min, w_max, grid_shift, 3 frac, 2**(3 frac - 1)), a_plus/a_minus in fixed point.
# ------------------------------------------------------------------------------------------------
@numba.njit(cache=True, nogil=True)
def _lut(lut, k):  # pragma: no cover - compiled
    """lut[k], 0 outside the table (k < 0 included: one unsigned compare, which keeps the
    walk's inner loop free of reference counting, see stdp_walk.Arithmetic)."""
    return lut[k] if np.uint64(k) < np.uint64(lut.shape[0]) else 0


@_hook
def _int_trace_spike(trace, f, c):  # pragma: no cover - compiled
    """Decay by f = lut[dt] (rounded to nearest), add one spike (2**F)."""
    frac = c[0]
    one = np.int64(1) << frac
    return ((trace * f + (one >> 1)) >> frac) + one


@_hook
def _int_load(w, c):  # pragma: no cover - compiled
    return w


@_hook
def _int_potentiate(w, dt_pot, last_tr, f, c):  # pragma: no cover - compiled
    inc = (c[1] * last_tr * f + c[7]) >> c[6] if dt_pot > 0 else 0  # dt_pot != 0 (walk)
    return min(w + inc, c[4])


@_hook
def _int_depress(w, dt_dep, trace, f, c):  # pragma: no cover - compiled
    dec = (c[2] * trace * f + c[7]) >> c[6] if dt_dep >= 0 else 0
    return max(w - dec, c[3])


@_hook
def _int_store(w, c):  # pragma: no cover - compiled
    """Floor onto the projection's weight grid (multiples of 2**grid_shift)."""
    return (w >> c[5]) << c[5]


@_hook
def _int_signed(sign, w):  # pragma: no cover - compiled
    return sign * w


# refloor_untouched: the pending read-out floors every synapse onto the grid, as it always has.
INT_ARITHMETIC = Arithmetic("loihi2", _lut, _int_trace_spike, _int_load, _int_potentiate, _int_depress,
                            _int_store, _int_signed, refloor_untouched=True)


@implements(STDPRule, mode="loihi2")
class Loihi2PairSTDP(PairSTDP):
    """The `loihi2` mode's STDP: integer weights (Lava mantissas) and fixed-point traces."""

    trace_dtype = np.int64
    kernels = walk_kernels(INT_ARITHMETIC)
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
        self.mag = self.state = mag
        self.isign = self.emit_sign = self.sign.astype(np.int64)
        shift = 3 * self.frac_bits
        consts = (self.frac_bits, self.a_plus_fp, self.a_minus_fp, self.w_min, self.w_max,
                  self.grid_shift, shift, 1 << (shift - 1))
        self.params = (self.lut_plus, self.lut_minus, tuple(int(v) for v in consts))  # ints: fast dispatch

    def weights(self, include_pending: bool = False) -> np.ndarray:
        """Signed integer mantissas in projection order (see FloatPairSTDP.weights)."""
        mag = self._stored(include_pending)
        out = np.empty(mag.shape, dtype=np.int64)
        out[self.syn.order] = self.isign * mag
        return out


__all__ = ["LAVA_MAX_WEIGHT", "Loihi2PairSTDP", "TRACE_FRAC_BITS", "decay_lut"]
