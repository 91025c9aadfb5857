"""Projection: connections held as flat arrays (pre, post, weight, delay), built at construction.

Indices are local to the projection's own `pre`/`post` (a Population, PopulationView or
Assembly); lower.py maps them to the parent populations. Weights are nA (IF_curr_exp) as the
user gave them; quantization to a board happens when `run` compiles. Delays are held as whole
timesteps (int32), rounded to nearest as NEST rounds them to its resolution, and read back in ms
on that grid: 20 bytes per synapse (int32 pre, post and delay, float64 weight), which the IR
network shares rather than copies (lower.py), so the microcircuit's 0.3 billion fit in memory.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from pyNN import common
from pyNN.space import Space

from neurocompile.errors import ModelError
from neurocompile.pynn import simulator
from neurocompile.pynn.connect import connection_pairs
from neurocompile.pynn.standardmodels import STDPMechanism, StaticSynapse

CHUNK = 1 << 22  # synapses whose parameters are evaluated at once (bounds temporary memory)


def neuron_keys(neurons: Any) -> np.ndarray:
    """Global ids of a Population/View/Assembly's neurons, in its own index order."""
    return np.asarray(neurons.all_cells, dtype=np.int64)


class Projection(common.Projection):
    __doc__ = common.Projection.__doc__
    _simulator = simulator
    _static_synapse_class = StaticSynapse

    def __init__(self, presynaptic_population: Any, postsynaptic_population: Any, connector: Any,
                 synapse_type: Any = None, source: Any = None, receptor_type: Any = None,
                 space: Space = Space(), label: str | None = None) -> None:
        common.Projection.__init__(self, presynaptic_population, postsynaptic_population, connector,
                                   synapse_type, source, receptor_type, space, label)
        if not isinstance(self.synapse_type, (StaticSynapse, STDPMechanism)):
            raise ModelError(f"projection {self.label!r}: synapse type "
                             f"{type(self.synapse_type).__name__} is not supported")
        self._columns: list[tuple[np.ndarray, int, dict[str, Any]]] = []
        keys = (neuron_keys(self.pre), neuron_keys(self.post))
        overlap = np.intersect1d(keys[0], keys[1]).size > 0
        fast = connection_pairs(connector, self.pre.size, self.post.size, keys if overlap else None,
                                self._name())
        if fast is None:
            connector.connect(self)  # PyNN's own algorithm; columns arrive in _convergent_connect
            self._collect_columns()
        else:
            pre, post, given = fast
            self._pre_idx, self._post_idx = pre.astype(np.int32), post.astype(np.int32)
            del pre, post
            self._values = self._evaluate(self._pre_idx, self._post_idx, given)
        simulator.state.projections.append(self)

    def _name(self) -> str:
        return f"projection {self.label!r}"

    # ----- building --------------------------------------------------------------------------
    def _evaluate(self, pre: np.ndarray, post: np.ndarray, given: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """weight and delay per synapse: from the connector's list if it gave them, else from the
        synapse type (scalars, arrays, RandomDistributions, distance expressions)."""
        space = self._handle_distance_expressions(self.synapse_type.native_parameters)
        out = {}
        for name in ("weight", "delay"):
            to = (lambda ms: self._delay_steps(ms)) if name == "delay" else (lambda w: np.asarray(w, float))
            if name in given:
                out[name] = to(given[name])
                continue
            lazy = space[name]
            if lazy.shape is None:
                lazy.shape = self.shape
            if lazy.is_homogeneous:
                out[name] = np.full(pre.size, to(float(lazy.evaluate(simplify=True))))
                continue
            out[name] = np.empty(pre.size, np.int32 if name == "delay" else np.float64)
            for i in range(0, pre.size, CHUNK):
                out[name][i:i + CHUNK] = to(lazy[pre[i:i + CHUNK], post[i:i + CHUNK]])
        return out

    def _delay_steps(self, ms: Any) -> np.ndarray:
        """Delays in ms -> whole timesteps (nearest), refused here, at the call, when not finite
        or shorter than one step."""
        ms = np.asarray(ms, dtype=float)
        dt = float(simulator.state.dt)
        if ms.size and not np.all(np.isfinite(ms)):
            raise ModelError(f"{self._name()}: delays must be finite")
        steps = np.rint(ms / dt)
        if ms.size and steps.min() < 1:
            raise ModelError(f"{self._name()}: delay {ms[steps < 1].min():g} ms is shorter than "
                             f"one timestep ({dt:g} ms)")
        if ms.size and steps.max() >= 2**31:
            raise ModelError(f"{self._name()}: delay {ms.max():g} ms is more than 2**31 timesteps")
        return steps.astype(np.int32)

    def _convergent_connect(self, presynaptic_indices: Any, postsynaptic_index: int,
                            location_selector: Any = None, **connection_parameters: Any) -> None:
        if location_selector is not None:
            raise ModelError(f"{self._name()}: multicompartment location selectors are not supported")
        pre = np.asarray(presynaptic_indices, dtype=np.int64).ravel()
        self._columns.append((pre, int(postsynaptic_index), connection_parameters))

    def _collect_columns(self) -> None:
        pres, posts, values = [], [], {"weight": [], "delay": []}
        for pre, post, params in self._columns:
            pres.append(pre)
            posts.append(np.full(pre.size, post, dtype=np.int64))
            for name in values:
                values[name].append(np.broadcast_to(np.asarray(params[name], dtype=float), pre.shape))
        self._columns = []
        self._pre_idx = (np.concatenate(pres) if pres else np.zeros(0)).astype(np.int32)
        self._post_idx = (np.concatenate(posts) if posts else np.zeros(0)).astype(np.int32)
        self._values = {k: (np.concatenate(v) if v else np.zeros(0)) for k, v in values.items()}
        self._values["delay"] = self._delay_steps(self._values["delay"])

    # ----- the PyNN interface ----------------------------------------------------------------
    def __len__(self) -> int:
        return int(self._pre_idx.size)

    def _current(self, name: str) -> np.ndarray:
        if name == "weight":
            learned = _learned_weights(self)
            if learned is not None:
                return learned
        if name == "delay":
            return self._values["delay"] * float(simulator.state.dt)
        if name in self._values:
            return self._values[name]
        lazy = self.synapse_type.native_parameters[name]
        lazy.shape = lazy.shape or self.shape
        return np.full(len(self), float(lazy.evaluate(simplify=True)))

    def _get_attributes_as_list(self, names: list[str]) -> list[tuple]:
        columns = []
        for name in names:
            if name == "presynaptic_index":
                columns.append(self._pre_idx)
            elif name == "postsynaptic_index":
                columns.append(self._post_idx)
            else:
                columns.append(self._current(name))
        return list(zip(*[c.tolist() for c in columns]))

    def _get_attributes_as_arrays(self, names: list[str], multiple_synapses: str = "sum") -> list[np.ndarray]:
        op = common.Projection.MULTI_SYNAPSE_OPERATIONS[multiple_synapses]
        out = []
        for name in names:
            name = name[:-1] if name.endswith("s") and name[:-1] in ("weight", "delay") else name
            values = np.full(self.shape, np.nan)
            for i, j, v in zip(self._pre_idx, self._post_idx, self._current(name)):
                values[i, j] = v if np.isnan(values[i, j]) else op(values[i, j], v)
            out.append(values)
        return out

    def _set_attributes(self, parameter_space: Any) -> None:
        from neurocompile.pynn.populations import warn_if_mid_run
        warn_if_mid_run(self._name(), parameter_space.keys())
        parameter_space.evaluate(mask=(slice(None), slice(None)))
        for name, value in parameter_space.items():
            arr = np.asarray(value, dtype=float)
            arr = arr[self._pre_idx, self._post_idx] if arr.ndim == 2 else np.full(len(self), float(arr))
            self._values[name] = self._delay_steps(arr) if name == "delay" else arr

    def _set_initial_value_array(self, variable: str, initial_value: Any) -> None:
        raise ModelError(f"{self._name()}: initial values of synaptic state ({variable}) are not supported")


def _learned_weights(projection: Projection) -> np.ndarray | None:
    """Weights at the end of the last run for a plastic projection (None before any run)."""
    lowered, result = simulator.state.lowered, simulator.state.result
    if lowered is None or result is None or not isinstance(projection.synapse_type, STDPMechanism):
        return None
    return lowered.learned_weights(result, projection)
