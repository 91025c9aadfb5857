"""Population, PopulationView and Assembly on pyNN.common (the shape of pyNN.mock's).

Parameters are held as PyNN evaluated them (native = standard names, see standardmodels.py); the
network is only lowered to the IR when `run` is called (lower.py).
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from pyNN import common, errors
from pyNN.parameters import ParameterSpace, simplify
from pyNN.standardmodels import StandardCellType

from neurocompile.errors import ModelError
from neurocompile.pynn import simulator
from neurocompile.pynn.recording import Recorder


def warn_if_mid_run(what: str, names: Any) -> None:
    """A change after run() (and before reset()) reaches the whole next run: we rerun from t=0
    (docs/pynn.md), where NEST and sPyNNaker apply it from now on. Say so rather than differ silently."""
    t = simulator.state.t
    if t > 0:
        warnings.warn(f"{what}: set({', '.join(sorted(names))}) at t={t:g} ms applies to the whole next "
                      f"run from t=0, not only after t={t:g} ms (neurocompile reruns the network; "
                      "docs/pynn.md)", stacklevel=4)


class Assembly(common.Assembly):
    _simulator = simulator


def _parameters_of(pop: Any, names: tuple[str, ...], values: dict[str, Any], mask: Any) -> ParameterSpace:
    celltype = pop.celltype
    if isinstance(celltype, StandardCellType):
        if any(name in celltype.computed_parameters() for name in names):
            names = celltype.get_native_names()
        else:
            names = celltype.get_native_names(*names)
    out = {}
    for name in names:
        value = values[name]
        if isinstance(value, np.ndarray) and mask is not None:
            value = value[mask]
        out[name] = simplify(value)
    space = ParameterSpace(out, shape=(pop.size,))
    return celltype.reverse_translate(space) if isinstance(celltype, StandardCellType) else space


class PopulationView(common.PopulationView):
    _assembly_class = Assembly
    _simulator = simulator

    def _get_parameters(self, *names: str) -> ParameterSpace:
        return _parameters_of(self, names, self.parent._parameters, self.mask)

    def _set_parameters(self, parameter_space: ParameterSpace) -> None:
        warn_if_mid_run(f"population {self.parent.label!r}", parameter_space.keys())
        for name, value in parameter_space.items():
            try:
                self.parent._parameters[name][self.mask] = value.evaluate(simplify=True)
            except ValueError:
                raise errors.InvalidParameterValueError(f"{name} should not be of type {type(value)}")

    def _set_initial_value_array(self, variable: str, initial_values: Any) -> None:
        self.grandparent._set_initial_values_at(self.index_in_grandparent(np.arange(self.size)),
                                                variable, initial_values)

    def _get_view(self, selector: Any, label: str | None = None) -> "PopulationView":
        return PopulationView(self, selector, label)


class Population(common.Population):
    __doc__ = common.Population.__doc__
    _simulator = simulator
    _recorder_class = Recorder
    _assembly_class = Assembly

    def _create_cells(self) -> None:
        if not isinstance(self.celltype, StandardCellType):
            raise ModelError(f"population {self.label!r}: cell type {type(self.celltype).__name__} "
                             "is not a PyNN standard cell type neurocompile can lower")
        first = simulator.state.id_counter
        self.all_cells = np.array([simulator.ID(i) for i in range(first, first + self.size)],
                                  dtype=simulator.ID)
        self._mask_local = np.ones(self.size, dtype=bool)
        space = self.celltype.native_parameters
        space.shape = (self.size,)
        space.evaluate(simplify=False)
        self._parameters = space.as_dict()
        self._initial = {}  # variable -> float array of size, set by initialize()
        for cell in self.all_cells:
            cell.parent = self
        simulator.state.id_counter += self.size
        simulator.state.populations.append(self)

    def _set_initial_values_at(self, index: np.ndarray, variable: str, values: Any) -> None:
        arr = self._initial.setdefault(variable, np.full(self.size, np.nan))
        evaluated = values.evaluate(simplify=False) if hasattr(values, "evaluate") else values
        arr[index] = np.broadcast_to(np.asarray(evaluated, dtype=float), (len(index),))

    def _set_initial_value_array(self, variable: str, initial_values: Any) -> None:
        self._set_initial_values_at(np.arange(self.size), variable, initial_values)

    def _get_view(self, selector: Any, label: str | None = None) -> PopulationView:
        return PopulationView(self, selector, label)

    def _get_parameters(self, *names: str) -> ParameterSpace:
        return _parameters_of(self, names, self._parameters, None)

    def _set_parameters(self, parameter_space: ParameterSpace) -> None:
        warn_if_mid_run(f"population {self.label!r}", parameter_space.keys())
        parameter_space.evaluate(simplify=False)
        for name, value in parameter_space.items():
            self._parameters[name] = value
