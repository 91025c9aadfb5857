"""Pass pipeline: an ordered list of named passes, each (IR, board, context) -> IR.

Passes report through the context rather than by printing: diagnostics, and typed records of what
they decided (quantization, delays, partition, placement, routing), so the CLI, the report, the
compiled-network file and tests all see the same record. Each pass is timed.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Protocol

from neurocompile.boards.schema import Board
from neurocompile.ir.network import Network
from neurocompile.records import DelayRecord, QuantizationRecord

if TYPE_CHECKING:  # the mapping passes import this module
    from neurocompile.passes.partition import Partition
    from neurocompile.passes.placement import PlacedSlice, PlacementResult
    from neurocompile.passes.resources import Target, Violation
    from neurocompile.passes.routing import RoutingResult


@dataclass(frozen=True)
class Diagnostic:
    level: str          # "info" | "warning" | "error"
    pass_name: str
    message: str
    subject: str = ""   # population/projection/chip the message is about

    def to_dict(self) -> dict[str, str]:
        return {"level": self.level, "pass": self.pass_name, "subject": self.subject, "message": self.message}


@dataclass
class CompileContext:
    """What passes share besides the IR: the board, the seed and the record they leave."""

    board: Board
    seed: int = 0
    options: dict[str, Any] = field(default_factory=dict)
    quantization: QuantizationRecord = field(default_factory=QuantizationRecord)   # quantize
    delays: DelayRecord = field(default_factory=DelayRecord)                      # delays
    target: Target | None = None                  # partition: the board as the mapping passes see it
    partition: Partition | None = None            # partition
    placement: PlacementResult | None = None      # placement
    placed: list[PlacedSlice] = field(default_factory=list)  # placement, one entry per slice
    routing: RoutingResult | None = None          # routing
    violations: list[Violation] = field(default_factory=list)  # resource_check
    diagnostics: list[Diagnostic] = field(default_factory=list)
    timings: list[dict[str, Any]] = field(default_factory=list)
    current_pass: str = ""

    def info(self, message: str, subject: str = "") -> None:
        self.diagnostics.append(Diagnostic("info", self.current_pass, message, subject))

    def warn(self, message: str, subject: str = "") -> None:
        self.diagnostics.append(Diagnostic("warning", self.current_pass, message, subject))


class Pass(Protocol):
    def __call__(self, net: Network, ctx: CompileContext) -> Network: ...


@dataclass(frozen=True)
class NamedPass:
    name: str
    run: Callable[[Network, CompileContext], Network]
    description: str = ""


ProgressFn = Callable[[str, int, int], None]


def run_pipeline(net: Network, passes: list[NamedPass], ctx: CompileContext,
                 progress: ProgressFn | None = None) -> Network:
    """Run passes in order; a NeurocompileError from any pass propagates unchanged."""
    for i, p in enumerate(passes):
        if progress:
            progress(p.name, i, len(passes))
        ctx.current_pass = p.name
        t0 = time.perf_counter()
        net = p.run(net, ctx)
        ctx.timings.append({"pass": p.name, "seconds": round(time.perf_counter() - t0, 6)})
    ctx.current_pass = ""
    return net
