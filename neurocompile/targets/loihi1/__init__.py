"""Loihi 1 (as nengo-loihi 1.1 models it): arithmetic, quantizer; resources and routing shared.

    arith.py        the chip's arithmetic (nengo-loihi's discretize + emulator), shared with the
                    simulator's loihi1 mode
    quantize.py     the quantize pass: the Loihi lowering with Loihi 1's rules (native refractory
                    delay, mixed-sign synapses, per-synapse weight_exp, 21-bit accumulator)

The per-core resource model (nengo-loihi's block rules: compartments, input/output axons,
synapse memory bits) and the chip-to-chip routing are the Loihi 2 family's, which were written
from nengo-loihi's Loihi 1 block model in the first place: imported, not copied. The numbers come
from the board file (hw_configs/loihi1-nahuku-32.yaml).
"""
from __future__ import annotations

from typing import Any

from neurocompile.ir.network import Network
from neurocompile.targets.loihi2 import Loihi2Family


class Loihi1Family(Loihi2Family):
    name = "loihi1"
    option_group = "loihi"

    def quantize(self, net: Network, ctx: Any) -> Network:
        from neurocompile.targets.loihi1.quantize import quantize_loihi1
        return quantize_loihi1(net, ctx)


LOIHI1 = Loihi1Family()

__all__ = ["LOIHI1", "Loihi1Family"]
