"""`sim`: neurocompile's own simulator. Modes reproduce each target's arithmetic (see modes.py)."""
from __future__ import annotations

from typing import Any, Callable

from neurocompile.backends.sim.engine import SimResult, Simulation
from neurocompile.backends.sim.float_mode import FloatMode
from neurocompile.backends.sim.loihi1_mode import Loihi1Mode
from neurocompile.backends.sim.loihi2_mode import Loihi2Mode
from neurocompile.backends.sim.loihi2_stdp import Loihi2PairSTDP  # noqa: F401 (declares its mode)
from neurocompile.backends.sim.modes import NumericMode
from neurocompile.backends.sim.spinnaker_mode import SpinnakerMode
from neurocompile.backends.sim.spinnaker_stdp import SpinnakerPairSTDP  # noqa: F401 (same)
from neurocompile.errors import ModelError
from neurocompile.plugins import Backend, Runner, Supports

MODES: dict[str, type[NumericMode]] = {"float": FloatMode, "loihi1": Loihi1Mode, "loihi2": Loihi2Mode,
                                       "spinnaker": SpinnakerMode}


def mode_for(net: Any, board: Any, requested: str | None) -> NumericMode:
    """The requested mode, else the one matching the network's number format, else float."""
    name = requested or net.number_format or "float"
    if name not in MODES:
        raise ModelError(f"sim backend has no {name!r} mode; available: {', '.join(sorted(MODES))}")
    return MODES[name]()


class SimRunner(Runner):
    def __init__(self, simulation: Simulation) -> None:
        self.simulation = simulation

    def run(self, steps: int, progress: Callable[[int, int], None] | None = None) -> SimResult:
        return self.simulation.run(steps, progress=progress)


class SimBackend(Backend):
    """Ignores the placement: every mode computes what the whole board would, neuron by neuron."""

    name = "sim"
    description = "neurocompile's event-driven simulator (modes: " + ", ".join(MODES) + ")"
    supports = Supports(plasticity=True, recording=None)

    def build(self, compiled: Any, options: dict[str, Any]) -> SimRunner:
        mode = mode_for(compiled.network, compiled.board, options.get("mode"))
        seed = options.get("seed", compiled.seed)
        return SimRunner(Simulation(compiled.network, mode, seed))


__all__ = ["MODES", "SimBackend", "SimResult", "SimRunner", "Simulation", "mode_for"]
