"""The Loihi 1 quantize pass: the Loihi lowering (targets/loihi2/quantize.py, whose docstring
derives the scale, threshold, decay and bias rules, identical on both chips) run with Loihi 1's
differences, read in nengo-loihi 1.1.0 (targets/loihi1/arith.py):

* neuron model ``loihi1_lif``, number format ``loihi1``;
* refractory periods are native: ``refract_delay = round(tau_refrac / dt) + 1`` (the compartment
  is held at 0 for refract_delay - 1 steps), never emulated with self-synapses;
* every synapse is mixed sign (nengo-loihi's only synapse format): mantissas ``j << k`` with
  ``k = 9 - num_weight_bits`` and ``|j| <= 2**(num_weight_bits - 1) - 1``;
* ``weight_exp`` shifts each synapse (no floor of a summed input); it is kept ``>= -k``, below
  which a per-synapse shift only drops mantissa bits;
* the per-step synaptic accumulator (21 bits + sign) and ``u + bias`` (23 bits + sign) wrap, so the
  voltage scale also honours an ``accumulator`` limit and the bias in the input bound;
* plastic projections are refused (nengo-loihi models PES only, no pair STDP).
"""
from __future__ import annotations

from typing import Any

from neurocompile.ir.network import Network
from neurocompile.targets.loihi1.arith import Q_BITS
from neurocompile.targets.loihi2.quantize import LoihiChip, quantize_loihi

LOIHI1_CHIP = LoihiChip(number_format="loihi1", model="loihi1_lif", native_refractory=True,
                        mixed_only=True, per_synapse_exp=True, accum_bits=Q_BITS, name="Loihi 1")


def quantize_loihi1(net: Network, ctx: Any) -> Network:
    """Lower lif_curr_exp populations and their projections to loihi1_lif (a new network)."""
    return quantize_loihi(net, ctx, LOIHI1_CHIP)


__all__ = ["LOIHI1_CHIP", "quantize_loihi1"]
