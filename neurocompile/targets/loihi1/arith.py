"""Loihi 1's arithmetic as nengo-loihi 1.1.0 models it: one home, imported by the quantizer (to
emit weights the chip keeps unchanged) and by the simulator's loihi1 mode (to run them).

Read in the installed nengo-loihi 1.1.0 (`nengo_loihi/builder/discretize.py`, `block.py`,
`emulator/interface.py`), the public bit-accurate model of the chip:

Synapses. nengo-loihi writes every synapse format with `fanout_type = 1` (mixed sign,
`Synapse._set_weights_indices`) and `weight_bits` an index into `WEIGHT_BITS_MAP = [0, 1, 2, 3, 4,
5, 6, 8]`. With `s = shift_bits = 8 - real_weight_bits + 1` the stored 8-bit weight is
`Wgt = j << s`, `|j| <= 2**(8 - s) - 1`, and one spike adds to the compartment's input
`q = shift(j, s + weight_exp) << 6` (`discretize_weights`, lossy_shift=True: when
`s + weight_exp < 0` it is `round(j * 2**(s + weight_exp))`, numpy's round half to even): the
exponent acts on each synapse, not on a sum (Lava shifts the sum). `weight_exp` is -7..7
(`builder/validate.py`). A spike at t reaches the compartment at t + 1; the emulator has no
synaptic delays (`CompartmentState.MAX_DELAY = 1`, "delay not yet implemented").

Compartment, per step (`CompartmentState.update`, int32):
    q    = wrap(sum of this step's q, Q_BITS)            # overflow_signed: two's complement wrap
    u    = wrap(decay(u, du, offset=1) + q, U_BITS)      # decay_int: sgn(x)(|x|(4096-1-du) >> 12)
    u2   = wrap(u + bias, U_BITS)                         # bias = bias_mant << bias_exp (exp 0..7)
    v    = clip(decay(v, dv) + u2, vmin, vmax)            # decay_int: sgn(x)(|x|(4096-dv) >> 12)
    v[refractory] = 0
    spike = v > vth << 6;  v[spike] = 0;  ref[spike] = refract_delay;  ref = max(ref - 1, 0)
so a neuron with `refract_delay = r` is held at 0 for the r - 1 steps after a spike (nengo's
`configure_lif` sets r = round(tau_ref / dt) + 1). u keeps integrating while refractory.
"""
from __future__ import annotations

import numba
import numpy as np

DECAY_UNITY = 4096           # decay_int(bits=12)
Q_BITS = 21                  # discretize.py Q_BITS: synapse accumulator, 21 bits + sign
U_BITS = 23                  # discretize.py U_BITS: u (and u + bias), 23 bits + sign
ACT_SHIFT = 6                # discretize_weights: np.left_shift(w, 6)
V_LIMIT = 2**23 - 1          # vmax = 2**(9 + 2*7) - 1 and vmin = -(2**23) + 1: the widest 24-bit range
WEIGHT_BITS_MAP = (0, 1, 2, 3, 4, 5, 6, 8)  # block.py SynapseConfig.WEIGHT_BITS_MAP
WEIGHT_EXP_RANGE = (-7, 7)   # builder/validate.py validate_synapse_cfg


def shift_bits(num_weight_bits: int) -> int:
    """Low bits dropped from an 8-bit weight in mixed-sign mode (SynapseConfig.shift_bits)."""
    return 8 - int(num_weight_bits) + 1


def weight_bits_index(num_weight_bits: int) -> int:
    """nengo-loihi's `weight_bits` field for a precision (ValueError if the chip has none)."""
    return WEIGHT_BITS_MAP.index(int(num_weight_bits))


def legal_weights(w: np.ndarray, num_weight_bits: int) -> np.ndarray:
    """True where `w` is a Wgt the chip stores as is: j << s with |j| <= 2**(8 - s) - 1."""
    s = shift_bits(num_weight_bits)
    w = np.asarray(w, dtype=np.float64)
    j = w / 2.0 ** s
    return (j == np.round(j)) & (np.abs(j) <= 2 ** (8 - s) - 1)


def synaptic_input(w: np.ndarray, weight_exp: int, num_weight_bits: int) -> np.ndarray:
    """Per synapse, what one spike adds to q (int64): discretize_weights(lossy_shift=True)."""
    s = shift_bits(num_weight_bits)
    m = 2 ** (8 - s) - 1
    j = np.clip(np.round(np.asarray(w, dtype=np.float64) / 2.0 ** s), -m, m)
    s2 = s + int(weight_exp)
    if s2 < 0:
        j = np.clip(np.round(j * 2.0 ** s2) / 2.0 ** s2, -m, m)
    j = j.astype(np.int64)
    j = j << s2 if s2 >= 0 else j >> -s2
    return j << ACT_SHIFT


@numba.njit(cache=True, nogil=True)
def wrap(x, bits):  # pragma: no cover - compiled
    """discretize.overflow_signed: keep `bits` bits plus sign, two's complement."""
    smask = np.int64(1) << bits
    return (x & (smask - 1)) - (x & smask)


@numba.njit(cache=True, nogil=True)
def _decay(x, keep):  # pragma: no cover - compiled
    p = (x if x >= 0 else -x) * keep
    return (p >> 12) if x >= 0 else -(p >> 12)


@numba.njit(cache=True, nogil=True)
def compartment_step(u, v, ref, q, u_keep, v_keep, bias, vth_eff, refract, vmin, vmax, out):  # pragma: no cover
    """One CompartmentState.update for every compartment; spiking indices into out, returns count."""
    n_spk = 0
    for i in range(u.shape[0]):
        qi = wrap(q[i], Q_BITS)
        c = wrap(_decay(u[i], u_keep[i]) + qi, U_BITS)
        u[i] = c
        u2 = wrap(c + bias[i], U_BITS)
        vv = _decay(v[i], v_keep[i]) + u2
        if vv < vmin:
            vv = vmin
        elif vv > vmax:
            vv = vmax
        if ref[i] > 0:
            vv = 0
        r = ref[i]
        if vv > vth_eff[i]:
            out[n_spk] = i
            n_spk += 1
            vv = 0
            r = refract[i]
        ref[i] = r - 1 if r > 1 else 0
        v[i] = vv
    return n_spk
