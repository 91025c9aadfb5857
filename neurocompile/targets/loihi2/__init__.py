"""Loihi 2 (as Lava 0.10 runs it): arithmetic, quantizer, resource model and routing.

    arith.py        Lava's synapse arithmetic (sign modes, weight clipping), shared with the simulator
    quantize.py     the quantize pass: 8-bit mantissas + weight_exp, 12-bit decays, vth << 6
    refractory.py   refractory periods emulated with self-synapses (Lava's LIF has none)
    lava_env.py     importing Lava safely after numba fixed the multiprocessing start method
    resources.py    per-core axon/synapse-memory model (nengo-loihi's block rules)
    routing.py      chip-to-chip traffic (no tables)
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from neurocompile.targets import TargetFamily

if TYPE_CHECKING:
    from neurocompile.boards.schema import Board
    from neurocompile.ir.network import Network, Population, Projection


class Loihi2Family(TargetFamily):
    name = "loihi2"
    option_group = "loihi"
    core_resources = ("neurons", "input_axons", "output_axons", "synapse_memory_bits", "delay_steps")
    uniform_slices = False
    counts_output_axons = True   # nengo-loihi: one output axon per (neuron, projection, dest core)
    multicast = False

    @property
    def mapping_fields(self) -> dict[str, tuple[str, str]]:  # type: ignore[override]
        from neurocompile.targets.loihi2.resources import MAPPING_FIELDS
        return MAPPING_FIELDS

    def quantize(self, net: Network, ctx: Any) -> Network:
        from neurocompile.targets.loihi2.quantize import quantize_loihi
        return quantize_loihi(net, ctx)

    def prepare_mapping(self, board: Board, m: dict[str, Any]) -> None:
        m["index_bits"] = tuple(int(v) for v in m["synapse_index_bits"])
        m["weight_bits"] = int(board.number_format.weight_bits)

    def synapse_layout(self, t: Any, proj: Projection, post: Population, part_sizes: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray, int, int, int]:
        from neurocompile.targets.loihi2.resources import _loihi_bpw
        split = np.full(part_sizes.shape[0], np.iinfo(np.int64).max, dtype=np.int64)
        return (split, _loihi_bpw(t, proj, part_sizes), int(t.m["synapse_block_synapses"]),
                int(t.m["synapse_block_header_bits"]), int(t.m["synapse_word_bits"]))

    def add_usage(self, t: Any, net: Network, pop: Population, label: np.ndarray, sizes: np.ndarray,
                  stats: dict[str, Any], max_delay: np.ndarray, usage: dict[str, np.ndarray],
                  out_counts: np.ndarray | None) -> None:
        n_parts = sizes.shape[0]
        axons = np.zeros(n_parts, dtype=np.int64)
        bits = np.zeros(n_parts, dtype=np.int64)
        for name, s in stats.items():
            slots = int(t.m["learning_axon_slots"]) if net.projections[name].plasticity is not None else 1
            axons += s.distinct_pre * slots
            bits += s.bits
        usage["input_axons"] = axons
        usage["synapse_memory_bits"] = bits
        usage["output_axons"] = (np.bincount(label, weights=out_counts, minlength=n_parts).astype(np.int64)
                                 if out_counts is not None else np.zeros(n_parts, dtype=np.int64))

    def extra_limits(self, t: Any, sizes: np.ndarray, usage: dict[str, np.ndarray],
                     limits: dict[str, np.ndarray]) -> None:
        from neurocompile.targets.loihi2.resources import index_bits_needed
        usage["index_bits"] = index_bits_needed(sizes)
        limits["index_bits"] = np.full(sizes.shape[0], max(t.m["index_bits"]), dtype=np.int64)

    def route(self, net: Network, part: Any, t: Any, pl: Any) -> Any:
        from neurocompile.targets.loihi2.routing import route_loihi
        return route_loihi(net, part, t, pl)


LOIHI2 = Loihi2Family()

__all__ = ["LOIHI2", "Loihi2Family"]
