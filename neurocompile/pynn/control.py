"""setup / run / reset / end for the neurocompile PyNN backend (the shape of pyNN.mock's control)."""
from __future__ import annotations

import warnings
from typing import Any

from pyNN import common
from pyNN.common.control import DEFAULT_MIN_DELAY, DEFAULT_TIMESTEP
from pyNN.recording import get_io

from neurocompile.errors import ModelError
from neurocompile.pynn import simulator

SETUP_KEYS = ("board", "mode", "backend", "seed", "options", "max_delay", "rank", "num_processes")


def setup(timestep: float = DEFAULT_TIMESTEP, min_delay: Any = DEFAULT_MIN_DELAY, **extra: Any) -> int:
    """Start a new network. Beyond PyNN's arguments: `board` (a board name or YAML file, default
    spinn-5), `mode` (the simulator's arithmetic: float, spinnaker, loihi2; default: the board's),
    `backend` (sim, lava, spynnaker: what `run` runs on), `seed` (sources, partitioning,
    placement), `options` (compiler options, as `--option` on the CLI)."""
    unknown = sorted(set(extra) - set(SETUP_KEYS))
    if unknown:  # another simulator's options (spike_precision=..., n_boards_required=...): a script
        # written for it must still run here, so say what is ignored rather than fail
        warnings.warn(f"setup(): ignoring argument(s) neurocompile does not use: {', '.join(unknown)} "
                      f"(it takes timestep, min_delay, {', '.join(SETUP_KEYS)})", stacklevel=2)
        extra = {k: v for k, v in extra.items() if k in SETUP_KEYS}
    common.setup(timestep, min_delay, **extra)
    if extra.get("num_processes", 1) != 1:
        raise ModelError("setup(): neurocompile runs in one process (num_processes must be 1)")
    state = simulator.state
    state.clear()
    state.dt = float(timestep)
    state.min_delay = min_delay
    state.max_delay = extra.get("max_delay", "auto")
    state.board = extra.get("board", "spinn-5")
    state.mode = extra.get("mode")
    state.backend = extra.get("backend", "sim")
    state.seed = int(extra.get("seed", 0))
    state.options = dict(extra.get("options") or {})
    return 0


def end(compatible_output: bool = True) -> None:
    """Write what `record(..., to_file=...)` asked for; nothing else to release."""
    for population, variables, filename in getattr(simulator.state, "write_on_end", []):
        population.write_data(get_io(filename), variables)
    simulator.state.write_on_end = []


run, run_until = common.build_run(simulator)
run_for = run
reset = common.build_reset(simulator)
initialize = common.initialize
get_current_time, get_time_step, get_min_delay, get_max_delay, num_processes, rank = \
    common.build_state_queries(simulator)
