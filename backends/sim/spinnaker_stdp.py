"""Pair-additive STDP for the sim backend's `spinnaker` mode, in sPyNNaker 1!7.4.1's integer arithmetic.

Control flow: `stdp_walk.py`'s row walk, shared with the float and loihi2 modes (deferred updates
at pre spikes, all-to-all traces, dendritic delay, 15-spike post history, `post_events.h`). Only
the arithmetic is new; every line of it cites the C or host code it copies
(repo SpiNNakerManchester/sPyNNaker, `neural_modelling/src/neuron/plasticity/stdp/`, and the
installed `spynnaker/pyNN/models/neuron/plasticity/stdp/`). docs/plasticity.md section 5.

Host encoding (what the data spec holds):

* decay LUTs, `common.py get_exp_lut_array(time_step_ms, tau)`: ``floor(exp(-k dt/tau) * 2048)``
  for k < size, size = ln(2048)/(dt/tau) rounded *up* to an even number (`exp_lut`); dt is the
  host's timestep (``ceil(dt * 1000)`` us);
* `weight_dependence_additive.py write_parameters`: w_min, w_max, A_plus, A_minus each written
  as ``DataType.S1615`` of ``value * global_weight_scale`` (1.0 for current input), i.e.
  ``round_half_even(Decimal(str(v)) * 32768)`` (`spinnaker_fixed.encode_s1615`) -- in nA, not in
  weight LSBs;
* the synaptic word: the uint16 weight ``rint(|w| * 2**(15 - shift)) & 0xFFFF``, shift the post
  population's ring-buffer shift for the receptor (the spinnaker mode's own `population_weights`).

Core arithmetic (all int32 on the ARM, wrapped here with `_w32` / `_i16`):

* `maths.h maths_lut_exponential_decay(t, lut)`: ``lut[t]`` if ``t < size`` else 0, t uint32
  (a negative time difference reads 0);
* `stdp_typedefs.h STDP_FIXED_MUL_16X16(a, b) = __smulbb(a, b) >> 11` (signed 16x16, floor);
* `timing_pair_impl.h`: traces are int16; ``new = (int16)(MUL16(old, lut[Δ]) + 2048)``;
  potentiation only if ``time_since_last_pre > 0`` with ``MUL16(last_pre_trace, lut_plus[Δ])``;
  depression with ``MUL16(last_post_trace, lut_minus[Δ])`` (no > 0 test);
* `weight_additive_one_term_impl.h`: state ``w = kbits(weight << weight_shift)`` (s16.15);
  potentiation ``w += mul_accum_fixed(a2_plus, trace)`` then ``MIN(w, max_weight)``; depression
  ``w -= mul_accum_fixed(a2_minus, trace)`` then ``MAX(w, min_weight)``; final
  ``(weight_t)(bitsk(w) >> weight_shift)`` (floor, truncated to uint16);
* `stdp_typedefs.h mul_accum_fixed(a, x) = a * kbits(x << 4)`: GCC's ``accum * accum`` =
  ``(a * b) >> 15`` floored, no rounding, no saturation (docs/spinnaker-arithmetic.md, checked on
  the LIF binary; assumed identical in the STDP binary, which is built by the same compiler).

Not checked against a board or an emulator: there is no CPU oracle for sPyNNaker's STDP. The
reference is the C source and the host encoders (tests/test_spinnaker_stdp.py).
"""
from __future__ import annotations

import math
import warnings

import numba
import numpy as np

from neurocompile.targets.spinnaker.fixed import encode_s1615, host_timestep_ms
from neurocompile.backends.sim.propagation import PreSortedSynapses
from neurocompile.backends.sim.stdp import MAX_POST_EVENTS, PairSTDP, implements
from neurocompile.backends.sim.stdp_walk import Arithmetic, walk_kernels
from neurocompile.backends.sim.stdp_walk import hook as _hook
from neurocompile.errors import ModelError
from neurocompile.ir.network import Network, Projection, STDPRule

STDP_FIXED_POINT = 11
STDP_FIXED_POINT_ONE = 1 << STDP_FIXED_POINT
S1615_TO_STDP_RIGHT_SHIFT = 4


def exp_lut(time_step_ms: float, tau_ms: float) -> np.ndarray:
    """`get_exp_lut_array(time_step, tau)` (shift 0) without its header, as int64 values."""
    l_ambda = time_step_ms / float(tau_ms)
    size = math.log(STDP_FIXED_POINT_ONE) / l_ambda
    size, extra = divmod(size, 2)
    size = (int(size) + (extra > 0)) * 2
    a = np.floor(np.exp(np.arange(size) * -l_ambda) * STDP_FIXED_POINT_ONE)
    return a.astype(np.uint16).astype(np.int64)


# ------------------------------------------------------------------------------------------------
# Integer primitives (numba)
# ------------------------------------------------------------------------------------------------
@numba.njit(cache=True, nogil=True)
def _w32(x):  # pragma: no cover - compiled
    """Wrap to int32 (the core's 32-bit registers)."""
    return ((x + 0x80000000) & 0xFFFFFFFF) - 0x80000000


@numba.njit(cache=True, nogil=True)
def _i16(x):  # pragma: no cover - compiled
    """(int16_t) cast."""
    return ((x + 0x8000) & 0xFFFF) - 0x8000


@numba.njit(cache=True, nogil=True)
def _decay(lut, dt):  # pragma: no cover - compiled
    """maths_lut_exponential_decay: dt is uint32, so a negative difference is out of range
    (compared unsigned here too: one branch keeps the walk free of reference counting)."""
    return lut[dt] if np.uint64(dt) < np.uint64(lut.shape[0]) else 0


@numba.njit(cache=True, nogil=True)
def _mul16(trace, decay):  # pragma: no cover - compiled
    """STDP_FIXED_MUL_16X16: __smulbb (signed low halves) >> 11, arithmetic (floor)."""
    return (_i16(trace) * _i16(decay)) >> 11


@numba.njit(cache=True, nogil=True)
def _mul_accum_fixed(a, x):  # pragma: no cover - compiled
    """a * kbits(x << 4): accum multiply = 64-bit product >> 15 (floor), low 32 bits."""
    return _w32((a * _w32(x << 4)) >> 15)


# ------------------------------------------------------------------------------------------------
# The arithmetic the row walk (stdp_walk.py) runs with. Decays: LUTs; c = (A+_k, A-_k, w_min_k,
# w_max_k, shift): S1615 constants, uint16 words held as int64.
# ------------------------------------------------------------------------------------------------
@_hook
def _spin_trace_spike(trace, f, c):  # pragma: no cover - compiled
    """timing_add_{pre,post}_spike: (int16)(MUL16(trace, lut[dt]) + 2048)."""
    return _i16(_mul16(trace, f) + STDP_FIXED_POINT_ONE)


@_hook
def _spin_load(raw, c):  # pragma: no cover - compiled
    """weight_get_initial: kbits(weight << weight_shift)."""
    return _w32(raw << c[4])


@_hook
def _spin_potentiate(w, dt_pot, last_tr, f, c):  # pragma: no cover - compiled
    # timing_apply_post_spike; its `if (time_since_last_pre > 0)` on a uint32 (Δ != 0) is the
    # walk's; a negative Δ reads 0 from the LUT (f = 0)
    decayed = _mul16(last_tr, f)
    w = _w32(w + _mul_accum_fixed(c[0], decayed))
    return min(w, c[3])


@_hook
def _spin_depress(w, dt_dep, trace, f, c):  # pragma: no cover - compiled
    # timing_apply_pre_spike (no > 0 test; a negative Δ reads 0 from the LUT)
    decayed = _mul16(trace, f)
    w = _w32(w - _mul_accum_fixed(c[1], decayed))
    return max(w, c[2])


@_hook
def _spin_store(w, c):  # pragma: no cover - compiled
    """weight_get_final: (weight_t)(bitsk(w) >> weight_shift)."""
    return (w >> c[4]) & 0xFFFF


@_hook
def _spin_emit(sign, raw):  # pragma: no cover - compiled
    """Propagation sends the unsigned word; the receptor carries the sign."""
    return raw


# refloor_untouched=False: load/store is not the identity for every shift (raw << shift wraps
# at 32 bits), so the pending read-out leaves synapses without post spikes as stored.
SPINNAKER_ARITHMETIC = Arithmetic("spinnaker", _decay, _spin_trace_spike, _spin_load, _spin_potentiate,
                                  _spin_depress, _spin_store, _spin_emit, refloor_untouched=False)


# ------------------------------------------------------------------------------------------------
# Engine-facing object
# ------------------------------------------------------------------------------------------------
def _encode(owner: str, name: str, value: float) -> int:
    try:
        return int(encode_s1615(float(value)).reshape(-1)[0])
    except ValueError as e:
        raise ModelError(f"{owner}: STDP {name} = {value:g} does not fit sPyNNaker's S1615 ({e})") from None


@implements(STDPRule, mode="spinnaker")
class SpinnakerPairSTDP(PairSTDP):
    """The `spinnaker` mode's STDP: uint16 synaptic words, int16 s4.11 traces, S1615 update.

    ``shift`` is the post population's ring-buffer shift for the projection's receptor. Left
    out (as the engine's factory call does), it is recomputed with the spinnaker mode's own
    `population_weights` from the network, and the synapse values the engine built must equal
    the host's uint16 weights for that shift (else ModelError): a check that this object and the
    mode agree.
    """

    trace_dtype = np.int64  # holds int16 values; every store goes through _i16
    kernels = walk_kernels(SPINNAKER_ARITHMETIC)

    def __init__(self, proj: Projection, syn: PreSortedSynapses, net: Network,
                 max_post_events: int = MAX_POST_EVENTS, shift: int | None = None) -> None:
        super().__init__(proj, syn, net, max_post_events)
        owner = f"projection {proj.name!r}"
        if syn.weight.dtype.kind != "i":
            raise ModelError(f"{owner}: spinnaker STDP needs the uint16 weights as integer synapse "
                             f"values, got {syn.weight.dtype}")
        if shift is None:
            from neurocompile.backends.sim.spinnaker_mode import population_weights

            with warnings.catch_warnings():  # the mode has already warned about these weights
                warnings.simplefilter("ignore")
                plan = population_weights(net.populations[proj.post],
                                          list(net.projections_into(proj.post)), net)
            shift = plan.shifts[proj.receptor]
            if not np.array_equal(plan.raw[proj.name][syn.order], syn.weight):
                raise ModelError(f"{owner}: synapse values are not the host's uint16 weights for "
                                 f"shift {shift}; build spinnaker STDP with the spinnaker mode")
        self.shift = int(shift)
        self.time_step_ms = host_timestep_ms(self.dt_ms)
        r = self.rule
        self.lut_plus = exp_lut(self.time_step_ms, r.tau_plus)
        self.lut_minus = exp_lut(self.time_step_ms, r.tau_minus)
        # weight_dependence_additive.write_parameters (global_weight_scale = 1.0, current input)
        self.w_min_k = _encode(owner, "w_min", r.w_min)
        self.w_max_k = _encode(owner, "w_max", r.w_max)
        self.a_plus_k = _encode(owner, "a_plus", r.a_plus)
        self.a_minus_k = _encode(owner, "a_minus", r.a_minus)
        self.raw = self.state = syn.weight.astype(np.int64) & 0xFFFF
        self.isign = self.emit_sign = self.sign.astype(np.int64)
        consts = (self.a_plus_k, self.a_minus_k, self.w_min_k, self.w_max_k, self.shift)
        self.params = (self.lut_plus, self.lut_minus, tuple(int(v) for v in consts))  # ints: fast dispatch

    @property
    def lsb_nA(self) -> float:
        """One uint16 weight step in nA: 2**shift / 2**15."""
        return 2.0 ** (self.shift - 15)

    def raw_weights(self, include_pending: bool = False) -> np.ndarray:
        """The uint16 synaptic words (as int64) in projection order."""
        raw = self._stored(include_pending)
        out = np.empty(raw.shape, dtype=np.int64)
        out[self.syn.order] = raw
        return out

    def weights(self, include_pending: bool = False) -> np.ndarray:
        """Signed weights in nA in projection order, decoded as the host does
        (`Projection.get("weight")`: raw / 2**(15 - shift), sign from the receptor)."""
        raw = self.raw_weights(include_pending)
        sign = np.empty_like(self.isign)
        sign[self.syn.order] = self.isign
        return sign * raw * self.lsb_nA


__all__ = ["STDP_FIXED_POINT", "STDP_FIXED_POINT_ONE", "SpinnakerPairSTDP", "exp_lut"]
