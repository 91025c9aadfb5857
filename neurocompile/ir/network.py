"""The network IR: populations, projections with per-synapse weights and delays, plasticity.

Conventions every backend shares (see docs/ir.md):
- Time is discrete: `Network.dt_ms` per step. Delays are integers in steps, >= 1: a spike emitted
  at step t is added to the target's synaptic input at step t + delay (Loihi's DelayDense
  delay is `delay - 1`, since Lava already delivers one step later; SpiNNaker uses `delay`).
- Weights are signed currents (nA for lif_curr_exp): excitatory >= 0, inhibitory <= 0. Target-native
  models (loihi2_lif) carry integer weights of any sign instead.
- Synapse data is kept as flat numpy arrays (pre, post, weight, delay), so 10M synapses cost
  ~200 MB and no Python objects per synapse. The population graph is a networkx MultiDiGraph.
"""
from __future__ import annotations

import functools

from dataclasses import dataclass, field
from typing import Any, Iterator

import networkx as nx
import numpy as np
import scipy.sparse as sp

from neurocompile.errors import ModelError, shorten
from neurocompile.ir.neuron_models import NeuronModel, get_neuron_model

INDEX_DTYPE = np.int32
DELAY_DTYPE = np.int32
# Size limits, checked before anything of that size is allocated (docs/ir.md, "Limits").
# 2**28 neurons is more than a million-core SpiNNaker machine holds at 256 per core; a population's
# per-neuron float64 parameter at this size is already 2 GiB.
MAX_NEURONS = 2**28
MAX_SEED = 2**32 - 1  # numpy's legacy seeding (placement) takes 32-bit seeds


@dataclass(frozen=True)
class STDPRule:
    """Pair-based STDP with additive weight dependence, with sPyNNaker 1!7.4.1's semantics
    (STDPMechanism(SpikePairRule(tau_plus, tau_minus, A_plus=a_plus, A_minus=a_minus),
    AdditiveWeightDependence(w_min, w_max))); see docs/plasticity.md.

    All-to-all pairing through per-neuron traces. For a synapse with delay d (steps), a pre spike
    emitted at step t_pre and a post spike emitted at step t_post form a pair with
    D = t_post + d - t_pre (the delay is dendritic):
        D > 0:  |w| += a_plus  * exp(-D * dt / tau_plus)
        D <= 0: |w| -= a_minus * exp( D * dt / tau_minus)
    a_plus and a_minus are absolute weight steps in the projection's weight units, NOT scaled by
    w_max (PyNN's NEST and Brian2 backends do scale them: exporters there divide by w_max).
    The rule acts on |w|, clipped to [w_min, w_max]; inhibitory weights keep their sign. Updates
    are deferred as on SpiNNaker: a synapse changes when its pre neuron spikes, and that spike
    already carries the updated weight.
    """

    tau_plus: float = 20.0
    tau_minus: float = 20.0
    a_plus: float = 0.01
    a_minus: float = 0.012
    w_min: float = 0.0
    w_max: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "stdp_pair_additive", **self.__dict__}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "STDPRule":
        if not isinstance(d, dict):
            raise ModelError(f"plasticity rule must be an object like {{\"kind\": \"stdp_pair_additive\", "
                             f"\"tau_plus\": 20.0, ...}} or null, got {shorten(d)}")
        d = dict(d)
        kind = d.pop("kind", "stdp_pair_additive")
        if kind != "stdp_pair_additive":
            raise ModelError(f"unknown plasticity rule {shorten(kind)}; known: stdp_pair_additive")
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise ModelError(f"plasticity rule: unknown parameter(s) {shorten(sorted(unknown))}")
        for k, v in d.items():
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
                raise ModelError(f"plasticity rule: parameter {k!r} must be a number, got {shorten(v)}")
        return cls(**{k: float(v) for k, v in d.items()})


def check_population_size(name: Any, size: Any) -> int:
    """`size` as an int, or ModelError naming the population, the value and the limit."""
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not 0 < size <= MAX_NEURONS:
        raise ModelError(f"population {shorten(name)}: size must be a positive integer of at most "
                         f"{MAX_NEURONS:,} neurons, got {shorten(size)}")
    return int(size)


@dataclass
class Population:
    """A group of neurons sharing a model. Params: scalar (shared) or array of length `size`."""

    name: str
    size: int
    model: str
    params: dict[str, Any] = field(default_factory=dict)
    # Recording request: subset of {"spikes", "v", "u", "i_syn_exc", ...}; backends record these.
    record: tuple[str, ...] = ()
    # Free-form labels passes and reports carry along (e.g. firing-rate estimates, layer names).
    annotations: dict[str, Any] = field(default_factory=dict)

    @property
    def neuron_model(self) -> NeuronModel:
        return get_neuron_model(self.model)

    def param(self, name: str) -> np.ndarray:
        """The parameter as a float/int array of length `size` (defaults filled in)."""
        spec = self.neuron_model.params[name]
        value = self.params.get(name, spec.default)
        arr = np.asarray(value, dtype=np.int64 if spec.integer else np.float64)
        if arr.ndim == 0:
            return np.full(self.size, arr)
        return arr

    def is_uniform(self, name: str) -> bool:
        return np.ndim(self.params.get(name, 0)) == 0


@dataclass
class Projection:
    """Synapses from population `pre` to `post`: flat arrays, one entry per synapse."""

    name: str
    pre: str
    post: str
    pre_idx: np.ndarray
    post_idx: np.ndarray
    weight: np.ndarray
    delay: np.ndarray
    receptor: str
    plasticity: STDPRule | None = None
    # Target-native per-projection attributes declared by the post model (e.g. weight_exp).
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def n_synapses(self) -> int:
        return int(self.pre_idx.shape[0])

    @functools.cached_property
    def sorted_by_pre(self) -> bool:
        """Synapses stored in presynaptic order (generated connectors make them so), which lets
        passes and the simulator read rows sequentially. Cached: the IR's arrays are not edited
        in place (a pass makes a new Projection)."""
        p = self.pre_idx
        return p.size < 2 or bool(np.all(p[1:] >= p[:-1]))

    def to_csr(self, n_pre: int, n_post: int, values: np.ndarray | None = None) -> sp.csr_matrix:
        """Pre x post matrix of `values` (default weights); duplicates are summed by scipy."""
        v = self.weight if values is None else values
        return sp.csr_matrix((v, (self.pre_idx, self.post_idx)), shape=(n_pre, n_post))


@dataclass
class Network:
    """A spiking network: the one object every pass and backend consumes and produces."""

    name: str = "network"
    dt_ms: float = 1.0
    seed: int = 0
    populations: dict[str, Population] = field(default_factory=dict)
    projections: dict[str, Projection] = field(default_factory=dict)
    # Set by quantization passes: None for float, else the number format name (e.g. "loihi2").
    number_format: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    # ----- construction -------------------------------------------------------------------------
    def add_population(
        self,
        name: str,
        size: int,
        model: str = "lif_curr_exp",
        params: dict[str, Any] | None = None,
        record: tuple[str, ...] | list[str] = (),
        **annotations: Any,
    ) -> Population:
        if name in self.populations:
            raise ModelError(f"population {name!r} already exists")
        check_population_size(name, size)
        get_neuron_model(model)  # fails early with the list of known models
        pop = Population(name, int(size), model, dict(params or {}), tuple(record), annotations)
        self.populations[name] = pop
        return pop

    def add_spike_source(self, name: str, spike_steps: list[list[int]] | list[np.ndarray],
                         record: tuple[str, ...] = ()) -> Population:
        """A source that spikes at the given steps (one list per neuron)."""
        lengths = np.array([len(s) for s in spike_steps], dtype=np.int64)
        indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        steps = (np.concatenate([np.asarray(s, dtype=np.int64) for s in spike_steps])
                 if len(spike_steps) and lengths.sum() else np.zeros(0, dtype=np.int64))
        return self.add_population(name, len(spike_steps), "spike_array",
                                   {"spike_indptr": indptr, "spike_steps": steps}, record)

    def add_projection(
        self,
        pre: str,
        post: str,
        pre_idx: Any,
        post_idx: Any,
        weight: Any,
        delay: Any = 1,
        receptor: str | None = None,
        name: str | None = None,
        plasticity: STDPRule | None = None,
        attrs: dict[str, Any] | None = None,
        copy: bool = True,
    ) -> Projection:
        """Add synapses given as index arrays; scalar weight/delay broadcast to every synapse.
        copy=False adopts arrays that already have the IR's dtypes and length instead of copying
        them (a front end that never edits its arrays in place, for networks of 10**8 synapses)."""
        for end, pop_name in (("pre", pre), ("post", post)):
            if pop_name not in self.populations:
                raise ModelError(f"projection {name or pre + '->' + post}: {end} population "
                                 f"{pop_name!r} does not exist")
        name = name or self._unique_projection_name(pre, post)
        if name in self.projections:
            raise ModelError(f"projection {name!r} already exists")
        pre_idx = np.asarray(pre_idx, dtype=INDEX_DTYPE).ravel()
        post_idx = np.asarray(post_idx, dtype=INDEX_DTYPE).ravel()
        n = pre_idx.shape[0]
        post_model = self.populations[post].neuron_model
        if receptor is None:
            receptor = post_model.receptors[0] if post_model.receptors else "excitatory"
        weight = np.broadcast_to(np.asarray(weight, dtype=np.float64), (n,))
        if copy or weight.strides != (8,):   # a broadcast scalar has stride 0
            weight = weight.copy()
        delay_arr = np.asarray(delay)
        if delay_arr.dtype.kind == "f" and np.any(np.isfinite(delay_arr) & (delay_arr != np.round(delay_arr))):
            raise ModelError(f"projection {name!r}: delays must be whole timesteps, got "
                             f"non-integer values (e.g. {delay_arr[delay_arr != np.round(delay_arr)].flat[0]})")
        if delay_arr.dtype.kind == "f" and not np.all(np.isfinite(delay_arr)):
            raise ModelError(f"projection {name!r}: delays must be finite")
        if not copy and delay_arr.dtype == DELAY_DTYPE and delay_arr.shape == (n,):
            delay = delay_arr
        else:
            delay = np.broadcast_to(delay_arr.astype(np.int64), (n,)).astype(DELAY_DTYPE)
        proj = Projection(name, pre, post, pre_idx, post_idx, weight, delay, receptor,
                          plasticity, dict(attrs or {}))
        self.projections[name] = proj
        return proj

    def connect_matrix(self, pre: str, post: str, matrix: Any, delay: Any = 1, **kw: Any) -> Projection:
        """Add the non-zero entries of a dense or scipy.sparse pre x post weight matrix."""
        coo = sp.coo_matrix(matrix)
        if np.ndim(delay) == 2:
            delay = np.asarray(delay)[coo.row, coo.col]
        return self.add_projection(pre, post, coo.row, coo.col, coo.data, delay, **kw)

    def _unique_projection_name(self, pre: str, post: str) -> str:
        base, i = f"{pre}->{post}", 1
        name = base
        while name in self.projections:
            i += 1
            name = f"{base}#{i}"
        return name

    # ----- views --------------------------------------------------------------------------------
    def graph(self) -> nx.MultiDiGraph:
        """Population-level graph: nodes are populations, edges projections (key = name)."""
        g = nx.MultiDiGraph()
        for pop in self.populations.values():
            g.add_node(pop.name, size=pop.size, model=pop.model)
        for proj in self.projections.values():
            g.add_edge(proj.pre, proj.post, key=proj.name, synapses=proj.n_synapses)
        return g

    def projections_into(self, post: str) -> Iterator[Projection]:
        return (p for p in self.projections.values() if p.post == post)

    def projections_from(self, pre: str) -> Iterator[Projection]:
        return (p for p in self.projections.values() if p.pre == pre)

    @property
    def n_neurons(self) -> int:
        return sum(p.size for p in self.populations.values())

    @property
    def n_synapses(self) -> int:
        return sum(p.n_synapses for p in self.projections.values())

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "populations": len(self.populations),
            "neurons": self.n_neurons,
            "projections": len(self.projections),
            "synapses": self.n_synapses,
            "dt_ms": self.dt_ms,
            "number_format": self.number_format,
        }
