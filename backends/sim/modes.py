"""The contract between the simulation engine and a numeric mode (float, loihi2, spinnaker).

A mode decides (1) which input channel each projection feeds (a receptor's ring buffer, or one
buffer per projection when the target shifts each projection's sum separately, as Loihi does),
(2) what a synapse adds to that buffer (float nA, or the integer the chip stores), and (3) how a
population's neurons update from the summed input of one step.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Hashable

import numpy as np

from neurocompile.backends.sim.propagation import PreSortedSynapses
from neurocompile.ir.network import Network, Population, Projection


class NeuronGroup(ABC):
    """State and update rule of one population in one numeric mode."""

    n: int
    state_vars: tuple[str, ...] = ()

    @abstractmethod
    def step(self, t: int, inputs: dict[Hashable, np.ndarray]) -> np.ndarray:
        """Advance one step with this step's summed input per channel; return spiking indices."""

    def state(self, var: str) -> np.ndarray:
        return getattr(self, var).copy()


class NumericMode(ABC):
    name: str
    accum_dtype: type = np.float64
    # Neuron models this mode runs directly (others must be lowered by a quantization pass first).
    neuron_models: tuple[str, ...] = ()

    def check(self, net: Network) -> None:
        """Raise ModelError if the network cannot run in this mode as given."""
        from neurocompile.errors import ModelError

        for pop in net.populations.values():
            if not pop.neuron_model.is_source and pop.model not in self.neuron_models:
                raise ModelError(f"population {pop.name!r}: the sim backend's {self.name!r} mode runs "
                                 f"{', '.join(self.neuron_models)} neurons, not {pop.model!r}")

    @abstractmethod
    def channel(self, proj: Projection) -> Hashable:
        """Key of the input buffer this projection adds into."""

    @abstractmethod
    def synapse_values(self, proj: Projection) -> np.ndarray:
        """Per-synapse amount added to the buffer when the presynaptic neuron spikes."""

    def build_synapses(self, proj: Projection, n_pre: int, n_post: int) -> PreSortedSynapses:
        """The synapse table the engine scatters from; a mode whose target treats some synapses
        differently (Loihi 2 shifts each delay bucket's sum) returns its own subclass."""
        return PreSortedSynapses.build(proj, n_pre, self.synapse_values(proj))

    @abstractmethod
    def make_group(self, pop: Population, incoming: list[Projection], net: Network) -> NeuronGroup:
        """Build the neuron state for `pop`, knowing which projections feed it."""
