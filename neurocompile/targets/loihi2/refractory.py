"""Emulate a k-step refractory period on Lava's fixed-point LIF, which has none, with self-synapses.

Lava 0.10's ``PyLifModelBitAcc`` (the Loihi 2 LIF that ``Loihi2SimCfg(select_tag="fixed_pt")``
runs) resets v to 0 after a spike but has no refractory period (its ``LIFRefractory`` exists
only in floating point). Loihi 1 had one in hardware; on Loihi 2 it would take custom neuron
microcode. We emulate it with ordinary synapses, so the network stays runnable by Lava's
bit-accurate models and by our loihi2 simulator mode.

After a spike at step s, self-synapses with delays 1..k+2 put x_1..x_{k+2} into u. Lava's
dynamics per step are linear apart from truncations::

    u(t) = ku u(t-1) + x(t)        ku = (4096 - (du+1)) / 4096
    v(t) = kv v(t-1) + u(t)        kv = (4096 - dv) / 4096

so v's response to the kick is y = h * x with h(n) = sum_i ku^i kv^(n-i). We choose the response
and derive the kick:

* y_j = -b c_j for j = 1..k, with c_j = sum_{i<j} kv^i and b the largest u any input can produce
  in one step (every presynaptic neuron firing every step, steady state): the neuron's own v
  from its other inputs is at most b c_j at step s+j (v starts at 0 after the reset), so v stays
  <= 0 and the neuron cannot fire during the k steps;
* y_j = 0 for j > k: x = y * (1, -(ku+kv), ku kv), the filter that annihilates h, so the kick
  leaves no trace in v after step s+k (and none in u after s+k+2). A later reset of v at s+k+1
  or after does not break this, because the kick's part of v is already 0 there.

Lava truncates u and v each step, so "no trace" holds up to a few state units (against
thresholds of ~10**5 state units). Each x_j is made exact in input units: a coarse part as 8-bit
mantissas at the board's largest weight_exp plus a fine part at weight_exp 0, one projection per
(sign, exponent) with per-synapse delays.

What differs from a true refractory period: input that arrives during the k steps is not thrown
away; it reaches v after the period (decayed). With a true period (sPyNNaker) the synaptic
current keeps integrating too, but v does not. Tests measure the effect per model.

The room the kick needs (u and v must stay inside 24 bits: u wraps, v saturates, and a
saturated v would break the cancellation) lowers the population's voltage scale:
``state_need_per_mv`` is the largest |state| per unit of scale, used by quantize_loihi as the
``refractory_room`` limit.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from neurocompile.targets.loihi2.arith import DECAY_UNITY

MARGIN = 1.0 + 2.0 ** -7   # covers mantissa rounding of the real inputs against the float bound


@dataclass(frozen=True)
class KickProfile:
    """The kick per unit of b (the one-step input bound): x (inputs), c (v targets), u (u trace)."""

    x: np.ndarray   # k+2 inputs, delays 1..k+2
    c: np.ndarray   # k positive numbers: v is held at -b c_j at step s+j
    u: np.ndarray   # k+2 values of the kick's own u


def kick_profile(k: int, du: int, dv: int) -> KickProfile:
    """The kick for Lava's decays du, dv (u keeps (4096 - (du+1))/4096, v keeps (4096 - dv)/4096)."""
    return kick_profile_from_keeps(k, (DECAY_UNITY - (du + 1)) / DECAY_UNITY,
                                   (DECAY_UNITY - dv) / DECAY_UNITY)


def kick_profile_from_keeps(k: int, ku: float, kv: float) -> KickProfile:
    """The kick for any two-stage linear neuron whose current keeps `ku` and voltage `kv` per step
    (also the float IF_curr_exp: ku = exp(-dt/tau_syn), kv = exp(-dt/tau_m))."""
    c = np.cumsum(kv ** np.arange(k))
    y = np.concatenate([-c, np.zeros(2)])
    x = y.copy()
    x[1:] -= (ku + kv) * y[:-1]
    x[2:] += ku * kv * y[:-2]
    u = np.zeros(k + 2)
    acc = 0.0
    for j in range(k + 2):
        acc = ku * acc + x[j]
        u[j] = acc
    return KickProfile(x=x, c=c, u=u)


def state_need_per_mv(k: int, du: int, dv: int, exc_mv: float, inh_mv: float) -> float:
    """Largest |u| or |v| (state units per unit of voltage scale) a neuron with the kick can reach.

    exc_mv / inh_mv: the steady-state worst-case u (mV) from excitatory / inhibitory input.
    """
    prof = kick_profile(k, du, dv)
    e, i = exc_mv * MARGIN, inh_mv
    u_high = float(np.max(prof.u, initial=0.0)) * e + e
    u_low = float(np.max(-prof.u, initial=0.0)) * e + i
    v_low = float(prof.c[-1]) * (e + i)
    return max(u_high, u_low, v_low)


def kick_input_units(k: int, du: int, dv: int, b_state: float, in_unit: int) -> np.ndarray:
    """The kick x_1..x_{k+2} as integers in input units (one input unit = `in_unit` state units)."""
    b = math.ceil(b_state * MARGIN / in_unit)
    return np.rint(kick_profile(k, du, dv).x * b).astype(np.int64)


def split_kick(x: np.ndarray, high_exp: int, max_mantissa: int
               ) -> dict[tuple[int, int], tuple[np.ndarray, np.ndarray]]:
    """x (input units per delay 1..) as {(sign, weight_exp): (delays, mantissas)} per neuron.

    Exact: each |x_j| = q 2**high_exp + r, q spread over ceil(q / max_mantissa) synapses at
    high_exp, r < 2**high_exp <= max_mantissa + 1 ... in one synapse at weight_exp 0 (r <= 255
    needs high_exp <= 8).
    """
    if (1 << high_exp) - 1 > max_mantissa:
        raise ValueError(f"weight_exp {high_exp} leaves remainders above the mantissa {max_mantissa}")
    parts: dict[tuple[int, int], tuple[list[int], list[int]]] = {}
    for j, val in enumerate(x.tolist()):
        if val == 0:
            continue
        sign = 1 if val > 0 else -1
        q, r = divmod(abs(val), 1 << high_exp)
        for exp, amount in ((high_exp, q), (0, r)):
            if amount == 0:
                continue
            n = math.ceil(amount / max_mantissa)
            mants = [max_mantissa] * (n - 1) + [amount - max_mantissa * (n - 1)]
            delays, ms = parts.setdefault((sign, exp), ([], []))
            delays.extend([j + 1] * n)
            ms.extend(sign * m for m in mants)
    return {key: (np.asarray(d, dtype=np.int64), np.asarray(m, dtype=np.float64))
            for key, (d, m) in parts.items()}


__all__ = ["KickProfile", "kick_input_units", "kick_profile", "kick_profile_from_keeps", "split_kick",
           "state_need_per_mv"]
