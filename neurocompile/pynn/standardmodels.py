"""The PyNN standard models neurocompile can lower, and clear refusals for the rest.

Native names are PyNN's own: the IR's `lif_curr_exp` takes IF_curr_exp's parameters unchanged
(docs/ir.md), so every translation is the identity and units stay PyNN's (ms, nF, mV, nA, Hz).
A cell type, synapse type or current source the targets cannot run is still importable (scripts
written for pyNN.nest import many names) but fails when it is used, naming the type and what
neurocompile runs instead.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from pyNN.standardmodels import build_translations, cells, electrodes, synapses

from neurocompile.errors import ModelError
from neurocompile.pynn.simulator import state

SUPPORTED_CELLS = "IF_curr_exp, SpikeSourceArray, SpikeSourcePoisson"


def _identity(model: type) -> dict[str, Any]:
    return build_translations(*[(name, name) for name in model.default_parameters])


class IF_curr_exp(cells.IF_curr_exp):
    __doc__ = cells.IF_curr_exp.__doc__
    translations = _identity(cells.IF_curr_exp)


class SpikeSourceArray(cells.SpikeSourceArray):
    __doc__ = cells.SpikeSourceArray.__doc__
    translations = _identity(cells.SpikeSourceArray)


class SpikeSourcePoisson(cells.SpikeSourcePoisson):
    __doc__ = cells.SpikeSourcePoisson.__doc__
    translations = _identity(cells.SpikeSourcePoisson)


class DCSource(electrodes.DCSource):
    """A constant current into the targets' bias (`i_offset`): only `start=0` and no `stop`
    before the end of the run are expressible, since the chips' bias is constant."""

    translations = _identity(electrodes.DCSource)

    def inject_into(self, cells_: Any) -> None:
        state.current_sources.append((self, cells_))

    def set_native_parameters(self, parameters: Any) -> None:
        self.parameter_space.update(**parameters)

    def get_native_parameters(self) -> Any:
        return self.parameter_space

    def values(self) -> dict[str, float]:
        """amplitude (nA), start and stop (ms) as numbers."""
        space = self.parameter_space
        space.shape = (1,)
        return {name: float(np.asarray(space[name].evaluate(simplify=True)).ravel()[0])
                for name in ("amplitude", "start", "stop")}


class _MinimumDelay:
    def _get_minimum_delay(self) -> float:
        d = state.min_delay
        return state.dt if d == "auto" else d


class StaticSynapse(_MinimumDelay, synapses.StaticSynapse):
    __doc__ = synapses.StaticSynapse.__doc__
    translations = build_translations(("weight", "weight"), ("delay", "delay"))


class STDPMechanism(_MinimumDelay, synapses.STDPMechanism):
    """Pair STDP with additive weights (docs/plasticity.md): SpikePairRule +
    AdditiveWeightDependence, dendritic delay (dendritic_delay_fraction=1) as sPyNNaker runs it."""

    base_translations = build_translations(("weight", "weight"), ("delay", "delay"),
                                           ("dendritic_delay_fraction", "dendritic_delay_fraction"))

    def __init__(self, timing_dependence: Any = None, weight_dependence: Any = None,
                 voltage_dependence: Any = None, dendritic_delay_fraction: float = 1.0,
                 weight: Any = 0.0, delay: Any = None) -> None:
        if not isinstance(timing_dependence, SpikePairRule):
            raise ModelError(f"STDPMechanism: timing dependence {type(timing_dependence).__name__} "
                             "is not supported; neurocompile runs SpikePairRule")
        if not isinstance(weight_dependence, AdditiveWeightDependence):
            raise ModelError(f"STDPMechanism: weight dependence {type(weight_dependence).__name__} "
                             "is not supported; neurocompile runs AdditiveWeightDependence")
        if voltage_dependence is not None:
            raise ModelError("STDPMechanism: voltage dependence is not supported")
        if dendritic_delay_fraction != 1.0:
            raise ModelError(f"STDPMechanism: dendritic_delay_fraction={dendritic_delay_fraction}; "
                             "neurocompile (like sPyNNaker) takes the whole delay as dendritic (1.0)")
        # base_translations is a class attribute PyNN's _build_translations updates in place
        self.base_translations = dict(type(self).base_translations)
        super().__init__(timing_dependence, weight_dependence, None, dendritic_delay_fraction,
                         weight, delay)

    def _build_translations(self) -> None:
        self.translations = dict(self.base_translations)
        for component in (self.timing_dependence, self.weight_dependence):
            self.translations.update(component.translations)


class AdditiveWeightDependence(synapses.AdditiveWeightDependence):
    __doc__ = synapses.AdditiveWeightDependence.__doc__
    translations = _identity(synapses.AdditiveWeightDependence)


class SpikePairRule(synapses.SpikePairRule):
    __doc__ = synapses.SpikePairRule.__doc__
    translations = _identity(synapses.SpikePairRule)


def _refusal(base: type, kind: str, instead: str) -> type:
    """A class named like PyNN's `base` that refuses to be built, naming it and the alternative."""

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        raise ModelError(f"{base.__name__}: {kind} not supported by neurocompile (the targets run "
                         f"{instead})")

    return type(base.__name__, (base,), {"__init__": __init__, "__doc__": base.__doc__,
                                         "translations": {}})


_UNSUPPORTED_CELLS = ("IF_curr_alpha", "IF_curr_delta", "IF_cond_alpha", "IF_cond_exp",
                      "IF_cond_exp_gsfa_grr", "IF_facets_hardware1", "HH_cond_exp",
                      "EIF_cond_alpha_isfa_ista", "EIF_cond_exp_isfa_ista", "Izhikevich",
                      "GIF_cond_exp", "SpikeSourcePoissonRefractory", "SpikeSourceGamma",
                      "SpikeSourceInhGamma")
_UNSUPPORTED_SYNAPSES = ("ElectricalSynapse", "TsodyksMarkramSynapse", "SimpleStochasticSynapse",
                         "StochasticTsodyksMarkramSynapse", "MultiQuantalSynapse",
                         "MultiplicativeWeightDependence", "AdditivePotentiationMultiplicativeDepression",
                         "GutigWeightDependence", "Vogels2011Rule")
_UNSUPPORTED_SOURCES = ("ACSource", "StepCurrentSource", "NoisyCurrentSource")

for _name in _UNSUPPORTED_CELLS:
    globals()[_name] = _refusal(getattr(cells, _name), "cell type", SUPPORTED_CELLS)
for _name in _UNSUPPORTED_SYNAPSES:
    globals()[_name] = _refusal(getattr(synapses, _name), "synapse type",
                                "StaticSynapse and STDPMechanism(SpikePairRule, AdditiveWeightDependence)")
for _name in _UNSUPPORTED_SOURCES:
    globals()[_name] = _refusal(getattr(electrodes, _name), "current source",
                                "DCSource from t=0, i.e. a constant bias")

__all__ = (["IF_curr_exp", "SpikeSourceArray", "SpikeSourcePoisson", "DCSource", "StaticSynapse",
            "STDPMechanism", "AdditiveWeightDependence", "SpikePairRule"]
           + list(_UNSUPPORTED_CELLS + _UNSUPPORTED_SYNAPSES + _UNSUPPORTED_SOURCES))
