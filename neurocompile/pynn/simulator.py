"""The PyNN backend's global state: what `setup` chose and what the last `run` produced.

PyNN backends keep one module-level `state` (pyNN.mock, pyNN.nest do the same); `common.Population`
and `recording.Recorder` read `state.t`, `state.dt` and `state.recorders` from it.
"""
from __future__ import annotations

from typing import Any

from pyNN import common

name = "neurocompile"


class ID(int, common.IDMixin):
    """A cell's global id; `parent` is its Population (set by `_create_cells`)."""

    def __init__(self, n: int) -> None:
        int.__init__(n)
        common.IDMixin.__init__(self)


class State(common.control.BaseState):
    """Time, the target chosen in `setup`, the network built so far and the last run's result."""

    def __init__(self) -> None:
        common.control.BaseState.__init__(self)
        self.mpi_rank = 0
        self.num_processes = 1
        self.dt = 0.1
        self.min_delay = "auto"
        self.max_delay = "auto"
        self.board = "spinn-5"
        self.mode: str | None = None
        self.backend = "sim"
        self.seed = 0
        self.options: dict[str, Any] = {}
        self.capture = False  # set by script.capture_script: run() hands the network over instead
        self.clear()

    def clear(self) -> None:
        """Forget the network (a new `setup`)."""
        self.recorders = set()
        self.populations: list[Any] = []
        self.projections: list[Any] = []
        self.id_counter = 0
        self.segment_counter = -1
        self.compiled = None      # CompiledNetwork of the last run
        self.result = None        # SimResult of the last run
        self.lowered = None       # neurocompile.pynn.lower.Lowered of the last run
        self.current_sources: list[Any] = []  # (DCSource, cells) from inject_into
        self.reset()

    def reset(self) -> None:
        """Time back to 0 and a new segment; the network and its recordings stay declared."""
        self.running = False
        self.t = 0.0
        self.t_start = 0.0
        self.segment_counter += 1
        self.result = None

    def run_until(self, tstop: float) -> None:
        from neurocompile.pynn.lower import run_network  # the compiler is only needed at run time
        steps = int(round(tstop / self.dt))
        if self.capture:
            from neurocompile.pynn.script import _capture_hook
            _capture_hook(self, steps)
        run_network(self, steps)
        self.t = steps * self.dt
        self.running = True

    def run(self, simtime: float) -> None:
        self.run_until(self.t + simtime)


state = State()
