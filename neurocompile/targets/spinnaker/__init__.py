"""SpiNNaker (sPyNNaker 1!7.4.1): arithmetic, quantizer, resource model and routing.

    fixed.py          IF_curr_exp on the ARM core in s16.15 (verified against the shipped binary)
    weights.py        the host's ring-buffer shift and uint16 weight rule
    spynnaker_env.py  driving the installed sPyNNaker (config under a directory we own)
    quantize.py       the quantize pass for SpiNNaker boards
    resources.py      per-core SDRAM/DTCM/row/delay model
    routing.py        keys and multicast routing tables
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from neurocompile.targets import TargetFamily

if TYPE_CHECKING:
    from neurocompile.ir.network import Network, Population, Projection


class SpinnakerFamily(TargetFamily):
    name = "spinnaker"
    option_group = "spinnaker"
    core_resources = ("neurons", "dtcm_bytes", "sdram_bytes", "row_words", "delay_steps")
    uniform_slices = True     # sPyNNaker's splitter makes equal slices (max_atoms_per_core)
    counts_output_axons = False
    multicast = True

    @property
    def mapping_fields(self) -> dict[str, tuple[str, str]]:  # type: ignore[override]
        from neurocompile.targets.spinnaker.resources import MAPPING_FIELDS
        return MAPPING_FIELDS

    def quantize(self, net: Network, ctx: Any) -> Network:
        from neurocompile.targets.spinnaker.quantize import quantize_spinnaker
        return quantize_spinnaker(net, ctx)

    def delay_supported(self, t: Any, pop: Population, n: np.ndarray) -> np.ndarray:
        from neurocompile.targets.spinnaker.resources import _in_core_slots
        slots = _in_core_slots(t, pop, n)  # one value per population: its largest part's
        factor = t.delay_extended // t.delay_in_core if t.delay_extension == "delay_extension_cores" else 1
        return (slots * factor).astype(np.int64)

    def synapse_layout(self, t: Any, proj: Projection, post: Population, part_sizes: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray, int, int, int]:
        from neurocompile.targets.spinnaker.resources import _in_core_slots
        split = _in_core_slots(t, post, part_sizes)  # longer delays go to delay-extension rows
        return split, np.zeros(part_sizes.shape[0], dtype=np.int64), 1, 0, 1

    def add_usage(self, t: Any, net: Network, pop: Population, label: np.ndarray, sizes: np.ndarray,
                  stats: dict[str, Any], max_delay: np.ndarray, usage: dict[str, np.ndarray],
                  out_counts: np.ndarray | None) -> None:
        from neurocompile.targets.spinnaker.resources import _spinnaker_usage, spike_array_sdram
        _spinnaker_usage(t, net, pop, sizes, stats, max_delay, usage)
        usage["sdram_bytes"] = usage["sdram_bytes"] + spike_array_sdram(t, pop, label, sizes.shape[0])

    def delay_extension_cores(self, t: Any, net: Network, slices_of_pop: dict[str, np.ndarray],
                              part_sizes: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from neurocompile.targets.spinnaker.resources import delay_extension_cores
        return delay_extension_cores(t, net, slices_of_pop, part_sizes)

    def chip_resources(self, t: Any, used_sdram: float) -> dict[str, Any]:
        return {"sdram_bytes": {"value": int(used_sdram), "limit": t.sdram_bytes}}

    def route(self, net: Network, part: Any, t: Any, pl: Any) -> Any:
        from neurocompile.targets.spinnaker.routing import route_spinnaker
        return route_spinnaker(net, part, t, pl)


SPINNAKER = SpinnakerFamily()

__all__ = ["SPINNAKER", "SpinnakerFamily"]
