"""Lower the float CA3 network to Loihi 2 fixed point (loihi2_lif, integer weights, integer STDP).

Everything is done by the compiler's pipeline with its defaults, exactly what
``neurocompile compile ca3 --board loihi2-...`` runs (quantize does the lowering):

* the two STDP projections get a weight_exp chosen for w_max (the range learning can reach) and
  an `STDPRule` in mantissa units; the loihi2 mode runs it with `backends/sim/loihi2_stdp.py`;
* the one-step refractory period (tau_refrac = 1 ms at dt = 1 ms), which Lava's fixed-point LIF
  lacks, is emulated with self-synapses (``neurocompile/targets/loihi2/refractory.py``), and
  the voltage scale leaves u and v room for it. In float mode ``network.add_synaptic_refractory``
  builds the same construction; tests check the loihi2 rasters of every published protocol against
  the float ones with a true refractory period, spike for spike.
"""
from __future__ import annotations

from typing import Any

from neurocompile.ir.network import Network


def lower_to_loihi2(net: Network, board: Any = "loihi2-oheo-gulch",
                    info: dict[str, Any] | None = None) -> Network:
    """The CA3 float network compiled for a Loihi 2 board (every pass, as `neurocompile compile`
    runs them); `info` receives the diagnostics and the quantization record."""
    from neurocompile.boards import load_board
    from neurocompile.compiler import compile_network

    board = load_board(board) if isinstance(board, str) else board
    compiled = compile_network(net, board, seed=net.seed, target=net.name)
    if info is not None:
        info.update({"diagnostics": compiled.diagnostics, "quantization": compiled.quantization})
    return compiled.network


__all__ = ["lower_to_loihi2"]
