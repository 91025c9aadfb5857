"""Naive placement: cut each population into core-sized slices and fill cores in chip order.

A baseline that keeps the pipeline runnable end to end; the partitioning/placement passes of the
compiler replace it. It checks only the neurons-per-core and cores-on-board limits.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from neurocompile.errors import ResourceError
from neurocompile.ir.network import Network
from neurocompile.passes.pipeline import CompileContext


@dataclass(frozen=True)
class PlacedSlice:
    population: str
    start: int   # first neuron (inclusive)
    stop: int    # last neuron (exclusive)
    chip: tuple[int, int]
    core: int

    def to_dict(self) -> dict:
        d = asdict(self)
        d["chip"] = list(self.chip)
        return d


def naive_placement(net: Network, ctx: CompileContext) -> Network:
    board = ctx.board
    per_core = board.core_limits.get("neurons")
    if per_core is None:
        raise ResourceError(f"board {board.name}: core_limits.neurons is not set; cannot place")
    cores_per_chip = board.chip_limits.get("cores", board.cores_per_chip)
    slots = ((chip, core) for chip in board.topology.chips for core in range(cores_per_chip))
    placed: list[PlacedSlice] = []
    needed = sum(-(-p.size // per_core) for p in net.populations.values())
    if needed > board.n_cores:
        biggest = max(net.populations.values(), key=lambda p: p.size)
        raise ResourceError(
            f"network {net.name!r}: needs {needed} cores at {per_core} neurons/core but {board.name} "
            f"has {board.n_cores} ({board.n_chips} chips x {cores_per_chip} cores); largest population "
            f"{biggest.name!r} has {biggest.size} neurons; hint: use a larger board")
    for pop in net.populations.values():
        for start in range(0, pop.size, per_core):
            chip, core = next(slots)
            placed.append(PlacedSlice(pop.name, start, min(start + per_core, pop.size), chip, core))
    ctx.artefacts["placement"] = placed
    chips = {s.chip for s in placed}
    ctx.info(f"{len(placed)} slices on {len(placed)} cores of {len(chips)} chips")
    return net
