"""Target families: one package per chip family, behind one small protocol chosen once per board.

Each family package owns everything that differs between chips: its arithmetic (the one home of
its number formats, imported by both the quantizer and the simulator, as nengo-loihi's
`builder/discretize.py` is), its quantizer, its per-core resource model and its routing. The
generic passes (partition, placement, routing, resource check) ask the `TargetFamily` of the
board instead of testing family names; `family_of` is the only place a board's `family` string
picks a package.

    neurocompile/targets/spinnaker/   sPyNNaker 1!7.4.1 (fixed.py, weights.py, quantize.py, ...)
    neurocompile/targets/loihi2/      Lava 0.10 Loihi 2 (arith.py, quantize.py, refractory.py, ...)
    neurocompile/targets/loihi1/      nengo-loihi 1.1 Loihi 1 (arith.py, quantize.py; resources and
                                      routing imported from loihi2)
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

import numpy as np

from neurocompile.errors import BoardError

if TYPE_CHECKING:
    from neurocompile.boards.schema import Board
    from neurocompile.ir.network import Network, Population, Projection
    from neurocompile.passes.partition import Partition
    from neurocompile.passes.pipeline import CompileContext
    from neurocompile.passes.placement import PlacementResult
    from neurocompile.passes.resources import ProjStats, Target
    from neurocompile.passes.routing import RoutingResult


class TargetFamily(ABC):
    """What one chip family contributes to compiling; stateless, one instance per family."""

    name: str = ""                   # the IR number format it lowers to
    option_group: str = ""           # key of a model's recommended options (net.metadata)
    #: the board file's `mapping` fields the resource model reads: name -> (meaning, source)
    mapping_fields: dict[str, tuple[str, str]] = {}
    #: per-core resources checked, in report order (fan_in_synapses is added when a board sets it)
    core_resources: tuple[str, ...] = ()
    uniform_slices: bool = False     # split populations into equal slices (sPyNNaker's splitter)
    counts_output_axons: bool = False  # per-core output axon limit depends on the post partition
    multicast: bool = False          # one packet per source reaches every destination chip

    @abstractmethod
    def quantize(self, net: Network, ctx: CompileContext) -> Network:
        """Lower weights and neuron parameters to the family's number format (a new network)."""

    def prepare_mapping(self, board: Board, m: dict[str, Any]) -> None:
        """Derive values the resource model needs from the mapping section (in place)."""

    def delay_supported(self, t: Target, pop: Population, n: np.ndarray) -> np.ndarray:
        """Longest IR delay (steps) a core holding n neurons of `pop` can deliver."""
        return np.full(np.asarray(n).shape, t.delay_extended, dtype=np.int64)

    @abstractmethod
    def synapse_layout(self, t: Target, proj: Projection, post: Population, part_sizes: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray, int, int, int]:
        """(delay split per part, bits per weight per part, block synapses, header bits, word bits)."""

    @abstractmethod
    def add_usage(self, t: Target, net: Network, pop: Population, label: np.ndarray, sizes: np.ndarray,
                  stats: dict[str, ProjStats], max_delay: np.ndarray, usage: dict[str, np.ndarray],
                  out_counts: np.ndarray | None) -> None:
        """Fill `usage` with the family's per-core resources for each part of `pop`."""

    def extra_limits(self, t: Target, sizes: np.ndarray, usage: dict[str, np.ndarray],
                     limits: dict[str, np.ndarray]) -> None:
        """Family-specific usage/limit pairs beyond the board's core limits (in place)."""

    def delay_extension_cores(self, t: Target, net: Network, slices_of_pop: dict[str, np.ndarray],
                              part_sizes: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Extra cores per source slice for delays beyond a core's reach (none by default)."""
        return {name: np.zeros(len(sz), dtype=np.int64) for name, sz in part_sizes.items()}

    def chip_resources(self, t: Target, used_sdram: float) -> dict[str, Any]:
        """Per-chip resources beyond cores for the report."""
        return {}

    @abstractmethod
    def route(self, net: Network, part: Partition, t: Target, pl: PlacementResult) -> RoutingResult:
        """Keys and routing tables (or link traffic) for a placed partition."""

    def __repr__(self) -> str:
        return f"<target family {self.name}>"


_FAMILY_MODULES = {
    "spinnaker": ("neurocompile.targets.spinnaker", "SPINNAKER"),
    "loihi2": ("neurocompile.targets.loihi2", "LOIHI2"),
    "loihi1": ("neurocompile.targets.loihi1", "LOIHI1"),
}


def family_of(board: Board | str) -> TargetFamily:
    """The one place a board's `family` picks its target package."""
    import importlib

    name = board if isinstance(board, str) else board.family
    if name not in _FAMILY_MODULES:
        raise BoardError(f"board family {name!r} has no target package; known: {', '.join(sorted(_FAMILY_MODULES))}")
    module, attr = _FAMILY_MODULES[name]
    return getattr(importlib.import_module(module), attr)


__all__ = ["TargetFamily", "family_of"]
