"""Bit-level model of sPyNNaker 1!7.4.1's ``IF_curr_exp`` neuron (s16.15 fixed point).

There is no CPU oracle for SpiNNaker, so every function here is a transcription of a named piece
of C (or host Python) and was cross-checked against the ARM disassembly of the ``IF_curr_exp.aplx``
shipped in the sPyNNaker 1!7.4.1 wheel.  The full spec, with file/line citations and what is not
verified, is ``docs/spinnaker-arithmetic.md``; the comments below cite the same lines:

* ``[lif.h:N]``   ``neural_modelling/src/neuron/models/neuron_model_lif_impl.h``
* ``[expsyn:N]``  ``neural_modelling/src/neuron/synapse_types/exp_synapse_utils.h``
* ``[decay.h:N]`` ``neural_modelling/src/neuron/decay.h``
* ``[maths:N]``   ``neural_modelling/src/common/maths-util.h``
* ``[impl:N]``    ``neural_modelling/src/neuron/implementations/neuron_impl_standard.h``
* ``[neuron.c:N]``, ``[c_main:N]``, ``[synapses.c:N]``, ``[row.h:N]`` (``synapse_row.h``)
* ``[exp.c:N]``, ``[utils.h:N]``  spinn_common 7.4.1 ``src/stdfix-exp.c``, ``include/utils.h``
* ``[aplx 0xADDR]`` an address in the disassembled ``IF_curr_exp.aplx`` (ITCM image)

All raw values are plain int64 numpy arrays holding the integer that sits in the 32-bit word on
chip: s16.15 (``accum``, 1.0 == 32768) for voltages/currents/times, u0.32 (``unsigned long
fract``, 1.0 == 2**32, max 2**32-1) for the synaptic decay and init factors.  Arithmetic wraps
modulo 2**32 exactly as the ARM code does (GCC's non-saturating ``accum``): nothing saturates
except the 16-bit ring buffer (:func:`ring_buffer_add`) and ``expk``/``expulr``'s range clamps.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Tuple

import numba
import numpy as np

__all__ = [
    "S1615_ONE", "U032_ONE_MINUS_LSB", "S1615_MIN_VALUE", "S1615_MAX_VALUE",
    "encode_s1615", "decode_s1615", "decode_u032", "wrap_int32", "host_timestep_ms",
    "mul_s1615", "decay_s1615", "decay_s1615_to_u032", "kdivk", "kdivui", "lif_ceil_accum",
    "expk", "expulr", "convert_weight_to_input", "ring_buffer_add",
    "LifCurrExpParams", "LifCurrExpState", "add_ring_buffer_input", "lif_curr_exp_step",
    "run_lif_curr_exp",
]

S1615_ONE = 1 << 15                       # accum 1.0k
U032_ONE_MINUS_LSB = (1 << 32) - 1        # what ``1.0ulr`` becomes on chip [aplx 0x18a4: mvn r1,#0]
S1615_MIN_VALUE = Decimal("-65536")       # spinn_front_end_common ds/data_type.py S1615 (l.193-203)
S1615_MAX_VALUE = Decimal("65535.999969482421875")
_I32 = 1 << 32
_I31 = 1 << 31


# ----------------------------------------------------------------------------------------------
# Host side: float -> s16.15 as sPyNNaker writes it
# ----------------------------------------------------------------------------------------------
def _encode_one(v: float) -> int:
    # data_type.py l.441-458 (DataType.encode_as_int): range check, then
    #     int(round(Decimal(str(value)) * self._scale))
    # round() on a Decimal is round-half-to-EVEN, applied to the *decimal string* of the float
    # (shortest repr), not to its binary value.  utility_calls.convert_to (l.121-130) and
    # param_generator_data.param_generator_params (l.106-114) both go through this.
    if isinstance(v, (np.integer,)):
        v = int(v)
    if not (S1615_MIN_VALUE <= v <= S1615_MAX_VALUE):   # same (exact float-vs-Decimal) comparison
        raise ValueError(f"value {v!r} cannot be converted to a 16.15 signed fixed point number: "
                         "out of range")
    return int(round(Decimal(str(v)) * S1615_ONE))


def encode_s1615(values) -> np.ndarray:
    """Float(s) -> raw s16.15, exactly as sPyNNaker's host encodes a ``DataType.S1615`` field.

    Rounding: round-half-to-even of ``Decimal(str(v)) * 32768`` (so 0.1 -> 3277, 0.3 -> 9830,
    2**-16 -> 0, 3 * 2**-16 -> 2).  Out-of-range values raise ``ValueError`` like the host does.
    """
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 0:
        return np.asarray(_encode_one(float(arr)), dtype=np.int64)
    uniq, inv = np.unique(arr, return_inverse=True)     # parameters are mostly homogeneous
    enc = np.array([_encode_one(float(u)) for u in uniq], dtype=np.int64)
    return enc[inv].reshape(arr.shape)


def decode_s1615(raw) -> np.ndarray:
    """Raw s16.15 -> float64 (exact)."""
    return np.asarray(raw, dtype=np.float64) / S1615_ONE


def decode_u032(raw) -> np.ndarray:
    """Raw u0.32 -> float64 (exact)."""
    return np.asarray(raw, dtype=np.float64) / float(_I32)


def host_timestep_ms(dt_ms: float) -> float:
    """The ``TIMESTEP`` value the host writes: ``ceil(dt*1000)`` microseconds, back in ms.

    spynnaker/pyNN/spinnaker.py l.326 (``math.ceil(timestep * MICRO_TO_MILLISECOND_CONVERSION)``)
    and ``FecDataView.get_simulation_time_step_ms`` (= ``simulation_time_step_us / 1000``).
    """
    return math.ceil(dt_ms * 1000.0) / 1000.0


# ----------------------------------------------------------------------------------------------
# On-chip primitive operations
# ----------------------------------------------------------------------------------------------
def wrap_int32(x) -> np.ndarray:
    """Reduce to a signed 32-bit word (two's complement wrap), as every ARM register write does."""
    x = np.asarray(x, dtype=np.int64)
    return ((x + _I31) & (_I32 - 1)) - _I31


def mul_s1615(a, b) -> np.ndarray:
    """``accum * accum`` as GCC compiles it for the core: floor, no rounding, no saturation.

    [aplx 0x25ec-0x25f8]: ``smull lo,hi,a,b; lsl hi,#17; orr hi,lo,lsr #15`` = bits 15..46 of the
    64-bit product, i.e. ``(a*b) >> 15`` (arithmetic shift = floor) wrapped to 32 bits.  (The
    ``MULT_ROUND_NEAREST_ACCUM`` variant seen on some sPyNNaker branches is NOT in 7.4.1.)
    """
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    return wrap_int32((a * b) >> 15)          # |a*b| <= 2**62: exact in int64


def decay_s1615(x, decay_u032) -> np.ndarray:
    """[decay.h:52-57] ``kbits((int_k_t)((s * u) >> 32))``: s16.15 times u0.32, floor.

    [aplx 0x2574-0x2580]: ``umull`` + ``mla`` sign fix-up, high word kept.  Used for the per-tick
    synaptic decay and for scaling ring-buffer input by ``init``.
    """
    x = np.asarray(x, dtype=np.int64)
    d = np.asarray(decay_u032, dtype=np.int64)
    return wrap_int32((x * d) >> 32)          # |x*d| < 2**63: exact in int64


def decay_s1615_to_u032(x, decay_u032) -> np.ndarray:
    """[decay.h:98-103] ``ulrbits((uint32)(((uint64)bitsk(x) * u) >> 15))`` (x >= 0 here)."""
    x = np.asarray(x, dtype=np.int64)
    d = np.asarray(decay_u032, dtype=np.int64)
    if np.any(x < 0):
        raise ValueError("decay_s1615_to_u032 is only modelled for non-negative x")
    return ((x * d) >> 15) & (_I32 - 1)


def kdivk(a, b) -> np.ndarray:
    """[maths:222-224] ``kbits((uint32)udiv64((uint64)bitsk(a) << 15, (uint64)bitsk(b)))``.

    Truncating division; modelled for a >= 0, b > 0 only (all physical uses), result wrapped
    to 32 bits like the ``(uint32_t)`` cast.
    """
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    if np.any(a < 0) or np.any(b <= 0):
        raise ValueError("kdivk is only modelled for a >= 0 and b > 0")
    return wrap_int32((a << 15) // b)


def kdivui(a, n: int) -> np.ndarray:
    """[maths:238-240] accum / unsigned int, truncating (a >= 0 modelled)."""
    a = np.asarray(a, dtype=np.int64)
    if np.any(a < 0) or n <= 0:
        raise ValueError("kdivui is only modelled for a >= 0 and n > 0")
    return wrap_int32(a // int(n))


def lif_ceil_accum(x) -> np.ndarray:
    """[lif.h:87-95] integer part ``bits >> 15``, +1 if ``bits & 0x7FFF`` is non-zero."""
    x = np.asarray(x, dtype=np.int64)
    return (x >> 15) + ((x & 0x7FFF) > 0)


# --- spinn_common 7.4.1 src/stdfix-exp.c, transcribed on Python ints -------------------------
_EXP_HI = (  # [exp.c:50-57] __exp_hi[26]: round(e**k * 2**32), k = -13..12
    9708, 26389, 71733, 194991, 530041, 1440801, 3916503, 10646160, 28939262, 78665070,
    213833830, 581260615, 1580030169, 4294967296, 11674931555, 31735754293, 86266724208,
    234497268814, 637429664642, 1732713474316, 4710003551159, 12803117065094, 34802480465680,
    94602950235157, 257157480542844, 699026506411923)
_EXPM1_MID = (  # [exp.c:59-64] __expm1_mid[16]
    0, 260218914, 504671961, 734314346, 950043403, 1152702096, 1343082321, 1521927990,
    1689937949, 1847768698, 1996036966, 2135322113, 2266168400, 2389087112, 2504558555,
    2613033936)
_EXP_SERIES = (5294, 4293434720, 2081624032)   # [exp.c:67]
_M32 = (1 << 32) - 1
_M64 = (1 << 64) - 1


def _round64(x: int) -> int:
    # [utils.h:61-67]: hi(x), +1 if lo(x) >= INT32_MAX (0x7FFFFFFF, not 0x80000000)
    # [aplx 0x4d38: cmn r3,#0x80000002; bls] = "lo > 0x7FFFFFFE"
    return (x >> 32) + (1 if (x & _M32) >= 0x7FFFFFFF else 0)


def _scale64(x: int, y: int) -> int:
    # [utils.h:76-84]: round64(lo(x)*y) + hi(x)*y, all uint64
    return (_round64((x & _M32) * y) + (x >> 32) * y) & _M64


def _coef_mult(c: int, x: int) -> int:
    return ((c * x) >> 32) & _M32            # [exp.c:77-84]


def _exp_series(x: int) -> int:
    tmp = (_EXP_SERIES[1] - _coef_mult(_EXP_SERIES[2], x)) & _M32   # [exp.c:93]
    tmp = _coef_mult(tmp, x)                                        # [exp.c:96]
    return (tmp + _EXP_SERIES[0]) & _M32                            # [exp.c:98]


def _expi64(n: int) -> int:
    """[exp.c:105-127] ``__expi64``: e**(n/2**15) * 2**32 as uint64 (n in the clamp range)."""
    z = n >> 15                      # truncated (floor) integer part
    f = n - (z << 15)                # fractional remainder, 0..32767
    if f > 0:
        z += 1
        f = 32768 - f
        tmp1 = _EXP_HI[13 + z]
        tmp1 = (tmp1 - _scale64(tmp1, _EXPM1_MID[f >> 11])) & _M64
        y = (f & 0x7FF) << 17
        tmp1 = (tmp1 - _scale64(tmp1, _exp_series(y))) & _M64
    else:
        tmp1 = _EXP_HI[13 + z]
    return tmp1


def _expk_one(n: int) -> int:
    # [exp.c:130-145]; [aplx 0x4dd8-0x4e10]
    if 363408 < n:
        return 0x7FFFFFFF
    if n < -340695:
        return 0
    return wrap_int32(_expi64(n) >> 17).item()    # truncation: the "r += 1 << 16" is dead code


def _expulr_one(n: int) -> int:
    # [exp.c:165-179]; [aplx 0x4e1c-0x4e4c]
    if 363408 < n:
        return 0x7FFFFFFF
    if n < -340695:
        return 0
    return _expi64(n) & _M32                        # low word: exp(0) = 2**32 wraps to 0!


def _vectorise_int(fn, raw) -> np.ndarray:
    arr = np.asarray(raw, dtype=np.int64)
    uniq, inv = np.unique(arr.ravel(), return_inverse=True)
    out = np.array([fn(int(u)) for u in uniq], dtype=np.int64)
    return out[inv].reshape(arr.shape)


def expk(raw) -> np.ndarray:
    """spinn_common ``expk``: s16.15 -> s16.15 e**x, truncated; 0 below -10.3972 (=-340695/2**15)."""
    return _vectorise_int(_expk_one, raw)


def expulr(raw) -> np.ndarray:
    """spinn_common ``expulr``: s16.15 -> u0.32 e**x (low 32 bits of ``__expi64``).

    Note the range clamp is the *accum* one: x < -10.3972 gives 0 even though u0.32 could hold it.
    """
    return _vectorise_int(_expulr_one, raw)


# ----------------------------------------------------------------------------------------------
# Ring buffer -> synaptic input
# ----------------------------------------------------------------------------------------------
def convert_weight_to_input(raw_u16, left_shift: int) -> np.ndarray:
    """[row.h:238-248] ``(int_k_t)(weight) << left_shift`` reinterpreted as an accum.

    [aplx 0x29f4: lsl r2,r2,r8].  A 16-bit value shifted by 16 can reach the sign bit: wraps.
    """
    raw = np.asarray(raw_u16, dtype=np.int64)
    if np.any(raw < 0) or np.any(raw > 0xFFFF):
        raise ValueError("ring-buffer values are uint16")
    if not 0 <= int(left_shift) <= 31:
        raise ValueError("ring-buffer left shift out of range")
    return wrap_int32(raw << int(left_shift))


def ring_buffer_add(current_u16, weight_u16) -> np.ndarray:
    """[synapses.c:237-251] add a 16-bit weight to a ring-buffer slot, saturating at 0xFFFF."""
    acc = np.asarray(current_u16, dtype=np.int64) + np.asarray(weight_u16, dtype=np.int64)
    return np.where(acc & 0x10000, 0xFFFF, acc)


# ----------------------------------------------------------------------------------------------
# Per-neuron parameters and state
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LifCurrExpParams:
    """The constants the core holds after ``neuron_model_initialise`` / ``decay_and_init``.

    All int64 arrays of equal length (one entry per neuron), raw on-chip words:
    s16.15 for ``v_rest, r_membrane, exp_tc, i_offset, v_reset, v_thresh``; integer ticks for
    ``t_refract``; u0.32 for ``exc_decay, exc_init, inh_decay, inh_init``.
    """

    v_rest: np.ndarray
    r_membrane: np.ndarray
    exp_tc: np.ndarray
    i_offset: np.ndarray
    v_reset: np.ndarray
    t_refract: np.ndarray
    v_thresh: np.ndarray
    exc_decay: np.ndarray
    exc_init: np.ndarray
    inh_decay: np.ndarray
    inh_init: np.ndarray

    @property
    def n(self) -> int:
        return int(np.asarray(self.v_rest).shape[0])

    @classmethod
    def from_physical(cls, *, tau_m, cm, v_rest, v_reset, v_thresh, tau_refrac, tau_syn_E,
                      tau_syn_I, i_offset=0.0, dt_ms: float = 1.0, n: int | None = None,
                      round_timestep_like_host: bool = True) -> "LifCurrExpParams":
        """Build the on-chip constants from PyNN ``IF_curr_exp`` parameters (ms, nF, mV, nA).

        Host: each value is encoded with :func:`encode_s1615`
        (``neuron_model_leaky_integrate_and_fire.py`` l.64-73, ``synapse_type_exponential.py``
        l.54-59, ``threshold_type_static.py`` l.39); ``dt_ms`` goes through
        :func:`host_timestep_ms` first unless ``round_timestep_like_host`` is False.
        Core (``n_steps_per_timestep`` = 1, the host default): see the inline citations.
        """
        dt = host_timestep_ms(dt_ms) if round_timestep_like_host else float(dt_ms)
        vals = dict(tau_m=tau_m, cm=cm, v_rest=v_rest, v_reset=v_reset, v_thresh=v_thresh,
                    tau_refrac=tau_refrac, tau_syn_E=tau_syn_E, tau_syn_I=tau_syn_I,
                    i_offset=i_offset)
        sizes = {np.size(v) for v in vals.values() if np.ndim(v) > 0}
        if n is None:
            n = max(sizes) if sizes else 1
        if sizes - {n}:
            raise ValueError(f"per-neuron parameter arrays must have length {n}")
        enc = {k: np.broadcast_to(encode_s1615(v), (n,)).astype(np.int64) for k, v in vals.items()}
        for k in ("tau_m", "cm", "tau_syn_E", "tau_syn_I"):
            if np.any(enc[k] <= 0):
                raise ValueError(f"{k} must encode to a positive s16.15 value")
        if np.any(enc["tau_refrac"] < 0):
            raise ValueError("tau_refrac must be >= 0")
        ts = kdivui(encode_s1615(dt), 1)                      # [lif.h:99] kdivui(time_step, 1)
        if ts <= 0:
            raise ValueError("dt too small for s16.15")
        r_membrane = kdivk(enc["tau_m"], enc["cm"])           # [lif.h:102]
        exp_tc = expk(-kdivk(ts, enc["tau_m"]))               # [lif.h:103] expk(-kdivk(ts, tau_m))
        t_refract = lif_ceil_accum(kdivk(enc["tau_refrac"], ts))   # [lif.h:107]
        exc_decay, exc_init = _decay_and_init(ts, enc["tau_syn_E"])
        inh_decay, inh_init = _decay_and_init(ts, enc["tau_syn_I"])
        return cls(v_rest=enc["v_rest"], r_membrane=r_membrane, exp_tc=exp_tc,
                   i_offset=enc["i_offset"], v_reset=enc["v_reset"], t_refract=t_refract,
                   v_thresh=enc["v_thresh"], exc_decay=exc_decay, exc_init=exc_init,
                   inh_decay=inh_decay, inh_init=inh_init)


def _decay_and_init(ts, tau) -> Tuple[np.ndarray, np.ndarray]:
    """[expsyn:45-56] ``decay_and_init`` (n_steps_per_timestep = 1)."""
    decay = expulr(-kdivk(ts, tau))                                  # [expsyn:48-49]
    inv_decay = U032_ONE_MINUS_LSB - decay                            # [expsyn:50] 1.0ulr - decay
    tau_over_ts = kdivk(tau, ts)                                      # [expsyn:51]
    init = decay_s1615_to_u032(tau_over_ts, inv_decay)                # [expsyn:52]
    return decay, init


@dataclass(frozen=True)
class LifCurrExpState:
    """Per-neuron state words: ``V_membrane``, ``refract_timer`` and the two synaptic currents."""

    v: np.ndarray
    refract_timer: np.ndarray
    isyn_exc: np.ndarray
    isyn_inh: np.ndarray

    @classmethod
    def initial(cls, n: int, v_init=-65.0, isyn_exc=0.0, isyn_inh=0.0) -> "LifCurrExpState":
        """Host initial state: ``V`` = encoded ``v_init``, ``refract_timer`` = 0
        (neuron_model_leaky_integrate_and_fire.py l.100-101), ``isyn_*`` encoded."""
        z = np.zeros(n, dtype=np.int64)
        return cls(v=z + encode_s1615(v_init), refract_timer=z.copy(),
                   isyn_exc=z + encode_s1615(isyn_exc), isyn_inh=z + encode_s1615(isyn_inh))


def add_ring_buffer_input(state: LifCurrExpState, params: LifCurrExpParams, exc_input_raw,
                          inh_input_raw, ring_buffer_shift_exc: int,
                          ring_buffer_shift_inh: int) -> LifCurrExpState:
    """``neuron_transfer`` [neuron.c:204-227] at the start of the tick [c_main:149-159,196].

    ``isyn += decay_s1615(weight << shift, init)`` [expsyn:70-73] for each non-zero slot.
    """
    def add(cur, raw, shift, init):
        raw = np.asarray(raw, dtype=np.int64)
        val = convert_weight_to_input(raw, shift)
        # value > 0 test [neuron.c:212] is a no-op arithmetically (0 adds 0)
        return wrap_int32(cur + decay_s1615(val, init))

    return replace(state,
                   isyn_exc=add(state.isyn_exc, exc_input_raw, ring_buffer_shift_exc,
                                params.exc_init),
                   isyn_inh=add(state.isyn_inh, inh_input_raw, ring_buffer_shift_inh,
                                params.inh_init))


def lif_curr_exp_step(state: LifCurrExpState, params: LifCurrExpParams, exc_input_raw,
                      inh_input_raw, ring_buffer_shift_exc: int, ring_buffer_shift_inh: int
                      ) -> Tuple[LifCurrExpState, np.ndarray]:
    """One timer tick of an ``IF_curr_exp`` core (``n_steps_per_timestep`` = 1).

    ``exc_input_raw``/``inh_input_raw`` are the uint16 ring-buffer slots for *this* tick (the sum
    of the 16-bit weights of the spikes whose ``send tick + delay`` equals this tick, saturated by
    :func:`ring_buffer_add`).  Returns the new state and a bool array of neurons that spiked.
    Order (docs/spinnaker-arithmetic.md section 2):
    ring buffer -> isyn; V update unless refractory; ``V >= V_thresh`` -> reset; isyn decay.
    """
    s = add_ring_buffer_input(state, params, exc_input_raw, inh_input_raw,
                              ring_buffer_shift_exc, ring_buffer_shift_inh)
    v = s.v
    timer = s.refract_timer
    # [impl:263-285] exc/inh = synaptic_input_value (input_type_current: identity)
    # [lif.h:148] if (refract_timer <= 0): integrate; else timer-- [lif.h:164-167]
    active = timer <= 0
    # [lif.h:159-160] total_exc - total_inh + external_bias(0) + I_offset + current_offset(0)
    i_in = wrap_int32(s.isyn_exc - s.isyn_inh + params.i_offset)
    # [lif.h:121] alpha = input * R + V_rest            [aplx 0x25ec-0x2600]
    alpha = wrap_int32(mul_s1615(i_in, params.r_membrane) + params.v_rest)
    # [lif.h:124] V = alpha - exp_TC * (alpha - V_prev)  [aplx 0x2604-0x2614]
    v_new = wrap_int32(alpha - mul_s1615(params.exp_tc, wrap_int32(alpha - v)))
    v = np.where(active, v_new, v)
    timer = np.where(active, timer, timer - 1)
    # [threshold_type_static.h:48-51] bitsk(V) >= bitsk(V_thresh), checked even while refractory
    # [aplx 0x2560 and 0x2624]
    spiked = v >= params.v_thresh
    # [lif.h:174-180] neuron_model_has_spiked: V = V_reset; refract_timer = T_refract
    v = np.where(spiked, params.v_reset, v)
    timer = np.where(spiked, params.t_refract, timer)
    # [impl:338] synapse_types_shape_input -> exp_shaping [expsyn:60-64], after the spike test
    isyn_exc = decay_s1615(s.isyn_exc, params.exc_decay)
    isyn_inh = decay_s1615(s.isyn_inh, params.inh_decay)
    return LifCurrExpState(v=v, refract_timer=timer, isyn_exc=isyn_exc, isyn_inh=isyn_inh), spiked


@numba.njit(cache=True, nogil=True)
def _wrap32(x):  # pragma: no cover - compiled
    return ((x + _I31) & (_I32 - 1)) - _I31


@numba.njit(cache=True, nogil=True)
def lif_curr_exp_tick(v, timer, isyn_exc, isyn_inh, exc_raw, inh_raw, shift_exc, shift_inh,
                      v_rest, r_membrane, exp_tc, i_offset, v_reset, t_refract, v_thresh,
                      exc_decay, exc_init, inh_decay, inh_init):  # pragma: no cover - compiled
    """:func:`lif_curr_exp_step` for one neuron, compiled (the simulator's fused loop calls it
    per neuron and tick); the same operations on the same int64 words, line for line.
    Returns (v, refract_timer, isyn_exc, isyn_inh, spiked). tests/test_spinnaker_fixed.py
    checks it against lif_curr_exp_step."""
    isyn_exc = _wrap32(isyn_exc + _wrap32((_wrap32(exc_raw << shift_exc) * exc_init) >> 32))
    isyn_inh = _wrap32(isyn_inh + _wrap32((_wrap32(inh_raw << shift_inh) * inh_init) >> 32))
    if timer <= 0:
        i_in = _wrap32(isyn_exc - isyn_inh + i_offset)
        alpha = _wrap32(_wrap32((i_in * r_membrane) >> 15) + v_rest)
        v = _wrap32(alpha - _wrap32((exp_tc * _wrap32(alpha - v)) >> 15))
    else:
        timer = timer - 1
    spiked = v >= v_thresh
    if spiked:
        v = v_reset
        timer = t_refract
    isyn_exc = _wrap32((isyn_exc * exc_decay) >> 32)
    isyn_inh = _wrap32((isyn_inh * inh_decay) >> 32)
    return v, timer, isyn_exc, isyn_inh, spiked


def run_lif_curr_exp(state: LifCurrExpState, params: LifCurrExpParams, exc_input_raw,
                     inh_input_raw, ring_buffer_shift_exc: int, ring_buffer_shift_inh: int
                     ) -> Tuple[LifCurrExpState, np.ndarray, np.ndarray]:
    """Run ``T`` ticks; inputs are ``(T, n)`` ring-buffer slot arrays (row t = tick t).

    Returns ``(final_state, v_recorded, spikes)``.  ``v_recorded[t]`` is what sPyNNaker records
    for tick t: the voltage *before* that tick's update [impl:260,288-290], so an input landing
    in tick t first shows in ``v_recorded[t + 1]``.  A spike sent in tick t with delay d
    (timesteps) belongs in row ``t + d`` of the target's input [synapses.c:216,234].
    """
    exc = np.asarray(exc_input_raw, dtype=np.int64)
    inh = np.asarray(inh_input_raw, dtype=np.int64)
    t_steps = exc.shape[0]
    v_rec = np.empty((t_steps, params.n), dtype=np.int64)
    spikes = np.zeros((t_steps, params.n), dtype=bool)
    for t in range(t_steps):
        v_rec[t] = state.v
        state, spikes[t] = lif_curr_exp_step(state, params, exc[t], inh[t],
                                             ring_buffer_shift_exc, ring_buffer_shift_inh)
    return state, v_rec, spikes
