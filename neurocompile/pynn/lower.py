"""From the PyNN objects of a script to the IR, and `run` = compile for the board + simulate.

Each PyNN Population becomes one IR population (named by its label); each Projection becomes one
IR projection per (pre population, post population) pair it joins (Assemblies span several).
`run(t)` compiles the whole network for `setup(board=...)` and runs it from t=0 for the total
time so far, so `run(a); run(b)` gives what `run(a + b)` gives (the targets start from t=0; a
network cannot be resumed on them either). Spikes and traces are read back by recording.py.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neurocompile.errors import ModelError
from neurocompile.ir.network import Network, STDPRule
from neurocompile.pynn.projections import neuron_keys
from neurocompile.pynn.standardmodels import (DCSource, IF_curr_exp, SpikeSourceArray, SpikeSourcePoisson,
                                              STDPMechanism)

MAX_STEP = 2**31 - 1
FAST_POISSON_SPIKES_PER_STEP = 0.1  # above this mean count per step, Poisson counts (poisson_fast)
IR_MODEL = {IF_curr_exp: "lif_curr_exp", SpikeSourceArray: "spike_array", SpikeSourcePoisson: "poisson"}


@dataclass
class Lowered:
    """The IR network of a script and how its names map back to the PyNN objects."""

    network: Network
    names: dict[Any, str] = field(default_factory=dict)           # Population -> IR name
    parts: dict[Any, list[tuple[str, Any]]] = field(default_factory=dict)  # Projection -> [(IR name, synapse order)]
    v_init: dict[Any, np.ndarray] = field(default_factory=dict)    # Population -> initial v (mV)
    compiled: Any = None

    def trace(self, result: Any, pop: Any, variable: str) -> np.ndarray:
        """A recorded variable in PyNN units (mV for v) whatever arithmetic ran."""
        name = self.names[pop]
        values = np.asarray(result.traces[name][variable], dtype=float)
        ir_pop = self.compiled.network.populations[name] if self.compiled is not None else None
        scale = ir_pop.annotations.get("loihi_voltage_scale") if ir_pop is not None else None
        if variable == "v" and scale:  # Lava's v counts from rest in units of 1/scale mV
            return values / scale + np.asarray(pop._parameters["v_rest"], dtype=float)
        return values

    def initial_value(self, pop: Any, variable: str) -> np.ndarray:
        if variable == "v":
            return self.v_init[pop]
        return np.zeros(pop.size)

    def learned_weights(self, result: Any, projection: Any) -> np.ndarray | None:
        """Weights after the run in nA, in the projection's synapse order and sign convention."""
        out = np.array(projection._values["weight"], dtype=float)
        for name, order in self.parts.get(projection, []):
            if name not in result.weights:
                return None
            learned = np.abs(np.asarray(result.weights[name], dtype=float)) * _weight_unit(self.compiled, name)
            out[order] = np.where(out[order] < 0, -learned, learned)
        return out


def _weight_unit(compiled: Any, name: str) -> float:
    """nA per unit of the weights a run reports (Loihi: weight mantissas; else already nA)."""
    if compiled is None or compiled.network.number_format != "loihi2":
        return 1.0
    return float(compiled.quantization.projections[name]["weight_lsb_nA"])


def _unique(base: str, taken: Any) -> str:
    """`base`, or `base#2`, `base#3`, ... : the first not in `taken` (the IR's own suffix rule)."""
    name, i = base, 1
    while name in taken:
        i += 1
        name = f"{base}#{i}"
    return name


def _ir_name(label: str, taken: set[str]) -> str:
    name = _unique(re.sub(r"\s+", "_", str(label).strip()) or "population", taken)
    taken.add(name)
    return name


def _values(pop: Any, name: str) -> Any:
    """A parameter as a scalar when all neurons share it, else a float array."""
    arr = np.asarray(pop._parameters[name], dtype=float).ravel()
    arr = np.broadcast_to(arr, (pop.size,)) if arr.size == 1 else arr
    return float(arr[0]) if np.all(arr == arr[0]) else arr.copy()


def _steps(ms: np.ndarray, dt: float) -> np.ndarray:
    return np.rint(np.asarray(ms, dtype=float) / dt).astype(np.int64)


class _Owners:
    """Global neuron id -> (population, index), for views, assemblies and lists of IDs."""

    def __init__(self, populations: list[Any]) -> None:
        self.pops = sorted(populations, key=lambda p: int(p.first_id))
        self.firsts = np.array([int(p.first_id) for p in self.pops], dtype=np.int64)

    def split(self, ids: np.ndarray) -> dict[Any, tuple[np.ndarray, np.ndarray]]:
        """{population: (positions in `ids`, indices in the population)}."""
        which = np.searchsorted(self.firsts, ids, side="right") - 1
        out = {}
        for k in np.unique(which):
            pos = np.flatnonzero(which == k)
            out[self.pops[k]] = (pos, ids[pos] - self.firsts[k])
        return out


def _population(net: Network, pop: Any, name: str, state: Any, steps: int, owners: _Owners,
                lowered: Lowered) -> None:
    kind = type(pop.celltype)
    if kind not in IR_MODEL:
        raise ModelError(f"population {pop.label!r}: cell type {kind.__name__} is not supported")
    recorded = sorted({v.name for v, ids in pop.recorder.recorded.items() if ids})
    dt = state.dt
    if kind is IF_curr_exp:
        params = {p: _values(pop, p) for p in ("tau_m", "cm", "v_rest", "v_reset", "v_thresh",
                                              "tau_refrac", "tau_syn_E", "tau_syn_I", "i_offset")}
        v0 = pop._initial.get("v", np.full(pop.size, np.nan))
        v0 = np.where(np.isnan(v0), float(pop.celltype.default_initial_values["v"]), v0)
        lowered.v_init[pop] = v0
        params["v_init"] = float(v0[0]) if np.all(v0 == v0[0]) else v0.copy()
        bias = _dc_bias(pop, state, steps, owners)
        if bias is not None:
            params["i_offset"] = np.broadcast_to(np.asarray(params["i_offset"], dtype=float), (pop.size,)) + bias
        net.add_population(name, pop.size, "lif_curr_exp", params, tuple(recorded))
    elif kind is SpikeSourceArray:
        trains = np.broadcast_to(np.asarray(pop._parameters["spike_times"], dtype=object).ravel(), (pop.size,))
        step_lists = []
        for i, seq in enumerate(trains):
            times = np.asarray(getattr(seq, "value", seq), dtype=float).ravel()
            s = _steps(times, dt)
            if s.size and (s.min() < 0 or s.max() > MAX_STEP):
                raise ModelError(f"population {pop.label!r}: spike time out of range in neuron {i}")
            step_lists.append(np.sort(s))
        net.add_spike_source(name, step_lists, tuple(recorded))
    else:
        start = _steps(np.asarray(pop._parameters["start"], dtype=float), dt)
        duration = np.minimum(_steps(np.minimum(np.asarray(pop._parameters["duration"], dtype=float),
                                                MAX_STEP * dt), dt), MAX_STEP)
        rate = np.asarray(pop._parameters["rate"], dtype=float)
        # Above 0.1 spikes per step a Bernoulli draw (`poisson`) has the right mean but a variance
        # 10 % or more too low, and it cannot exceed one spike per step: use Poisson counts.
        fast = bool(np.any(rate * dt / 1000.0 > FAST_POISSON_SPIKES_PER_STEP))
        params = {"rate": _values(pop, "rate"),
                  "start": int(start.flat[0]) if np.all(start == start.flat[0]) else start,
                  "duration": int(duration.flat[0]) if np.all(duration == duration.flat[0]) else duration}
        net.add_population(name, pop.size, "poisson_fast" if fast else "poisson", params, tuple(recorded))


def _dc_bias(pop: Any, state: Any, steps: int, owners: _Owners) -> np.ndarray | None:
    """Constant currents from DCSources on this population, or a clear refusal."""
    bias = None
    for source, cells in state.current_sources:
        p = source.values()
        if float(p["start"]) > 0 or float(p["stop"]) < steps * state.dt:
            raise ModelError(f"DCSource(amplitude={p['amplitude']:g}, start={p['start']:g}, stop={p['stop']:g}): "
                             "the targets' bias current is constant; only start=0 with no stop "
                             "before the end of the run can be lowered")
        ids = (np.asarray(cells.all_cells, dtype=np.int64) if hasattr(cells, "all_cells")
               else np.asarray([int(c) for c in cells], dtype=np.int64))
        for owner, (_, idx) in owners.split(ids).items():
            if owner is pop:
                bias = np.zeros(pop.size) if bias is None else bias
                np.add.at(bias, idx, float(p["amplitude"]))
    return bias


def _stdp_rule(proj: Any) -> STDPRule | None:
    st = proj.synapse_type
    if not isinstance(st, STDPMechanism):
        return None
    values = {}
    for key in ("tau_plus", "tau_minus", "A_plus", "A_minus", "w_min", "w_max"):
        lazy = st.native_parameters[key]
        lazy.shape = lazy.shape or (1,)
        if not lazy.is_homogeneous:
            raise ModelError(f"projection {proj.label!r}: STDP parameter {key} must be the same for "
                             "every synapse")
        values[key] = float(lazy.evaluate(simplify=True))
    return STDPRule(tau_plus=values["tau_plus"], tau_minus=values["tau_minus"], a_plus=values["A_plus"],
                    a_minus=values["A_minus"], w_min=values["w_min"], w_max=values["w_max"])


def _projection(net: Network, proj: Any, lowered: Lowered, owners: _Owners, dt: float) -> None:
    """The projection as IR projections (one per pair of parent populations it joins). A plain
    Population-to-Population projection hands its arrays to the IR without a copy (the front end
    replaces, never edits, them), which is what keeps 0.3 billion synapses in memory."""
    label = proj.label or "projection"
    weight = np.asarray(proj._values["weight"], dtype=float)
    delay = proj._values["delay"]           # whole steps, checked at the call (projections.py)
    if weight.size and not np.all(np.isfinite(weight)):
        raise ModelError(f"projection {label!r}: weights must be finite (NaN or inf found)")
    receptor = proj.receptor_type
    if receptor == "inhibitory":
        if np.any(weight > 0) and np.any(weight < 0):
            raise ModelError(f"projection {label!r}: inhibitory weights must be all positive "
                             "(sPyNNaker's convention) or all negative (NEST's), not both")
        if np.any(weight > 0):
            weight = -weight
    elif np.any(weight < 0):
        raise ModelError(f"projection {label!r}: negative weight {weight.min():g} nA on an excitatory "
                         "projection; use receptor_type='inhibitory'")
    rule = _stdp_rule(proj)
    name = lambda: _unique(str(label), net.projections)  # noqa: E731
    whole = {id(p): n for p, n in lowered.names.items()}
    if id(proj.pre) in whole and id(proj.post) in whole:   # Populations: indices are the IR's
        ir = net.add_projection(whole[id(proj.pre)], whole[id(proj.post)], proj._pre_idx,
                                proj._post_idx, weight, delay, receptor=receptor, name=name(),
                                plasticity=rule, copy=False)
        lowered.parts[proj] = [(ir.name, slice(None))]
        return
    pre_ids = neuron_keys(proj.pre)[proj._pre_idx]
    post_ids = neuron_keys(proj.post)[proj._post_idx]
    parts = []
    for pre_pop, (pre_pos, pre_idx) in owners.split(pre_ids).items():
        sub_post = post_ids[pre_pos]
        for post_pop, (post_pos, post_idx) in owners.split(sub_post).items():
            order = pre_pos[post_pos]
            ir = net.add_projection(lowered.names[pre_pop], lowered.names[post_pop], pre_idx[post_pos],
                                    post_idx, weight[order], delay[order], receptor=receptor,
                                    name=name(), plasticity=rule)
            parts.append((ir.name, order))
    lowered.parts[proj] = parts


def lower_network(state: Any, steps: int) -> Lowered:
    """The IR network of everything the script has declared since `setup`."""
    net = Network(name="pynn", dt_ms=float(state.dt), seed=int(state.seed))
    lowered = Lowered(net)
    taken: set[str] = set()
    owners = _Owners(state.populations)
    for pop in state.populations:
        lowered.names[pop] = _ir_name(pop.label, taken)
    for pop in state.populations:
        _population(net, pop, lowered.names[pop], state, steps, owners, lowered)
    for proj in state.projections:
        _projection(net, proj, lowered, owners, float(state.dt))
    return lowered


def run_network(state: Any, steps: int) -> None:
    """Compile for the board chosen in `setup` and run `steps` steps on the chosen backend."""
    from neurocompile.boards import load_board
    from neurocompile.compiler import compile_network
    from neurocompile.plugins import check_backend, get_backend

    if not state.populations:
        raise ModelError("run(): the network is empty; create populations first")
    lowered = lower_network(state, steps)
    board = load_board(state.board)
    compiled = compile_network(lowered.network, board, seed=state.seed, target="pynn",
                               options=state.options)
    backend = get_backend(state.backend)
    check_backend(backend, compiled, {})
    options = {"mode": state.mode} if state.mode else {}
    lowered.compiled = compiled
    state.result = backend.build(compiled, options).run(steps)
    state.compiled, state.lowered = compiled, lowered
