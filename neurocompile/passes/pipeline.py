"""Pass pipeline: an ordered list of named passes, each (IR, board, context) -> IR.

Passes report through the context (diagnostics, artefacts such as the placement) rather than by
printing, so the CLI, reports and tests all see the same record. Each pass is timed.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from neurocompile.boards.schema import Board
from neurocompile.ir.network import Network


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
    artefacts: dict[str, Any] = field(default_factory=dict)
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
