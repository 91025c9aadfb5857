"""The compiler options passes read from `CompileContext.options`, so a typo is an error, not a no-op."""
from __future__ import annotations

import math
from typing import Any

from neurocompile.errors import NeurocompileError

COMPILER_OPTIONS: dict[str, str] = {
    "quantize": "false keeps the network float (no lowering to the board's number format)",
    "weight_exp": "Loihi: {projection: exp} overrides the chosen weight exponent",
    "weight_exp_min": "Loihi: lowest weight_exp the quantizer may choose (0 avoids the floor bias of negative exps)",
    "voltage_scale": "Loihi: {population: units per mV} overrides the chosen voltage scale",
    "loihi_accept": "Loihi: list of differences to accept with a warning: v_reset, tau_refrac",
    "loihi_refractory": "Loihi: 'emulate' (default: self-synapses hold v down), 'drop' or 'error'",
    "loihi_param_tolerance": "Loihi: relative error of effective parameters above which to warn",
    "loihi_v_headroom_bits": "Loihi: bits of voltage headroom below threshold kept for inhibition",
    "tau_syn": "Loihi: {population: ms} synaptic time constant when tau_syn_E != tau_syn_I",
    "ring_buffer_shift": "SpiNNaker: {population: shift | {receptor: shift}} or {projection: shift}",
    "spikes_per_second": "SpiNNaker: {population: Hz} expected rate in sPyNNaker's shift rule",
    "ring_buffer_sigma": "SpiNNaker: {population: sigma} in sPyNNaker's shift rule",
    "max_expected_summed_weight": "SpiNNaker: {population: {receptor: nA}} bound replacing the shift rule",
    "rates": "{population: Hz} firing rates for placement traffic (default: 10 Hz, Poisson rate)",
    "max_neurons_per_core": "{population: n} caps slice size below the board's limit",
    "placement_effort": "multiplier of the annealing work in placement (default 1.0)",
    "placement_starts": "initial placements tried: 'best' (default) or 'all'",
    "anneal_temperature": "placement annealing start temperature",
    "anneal_walk": "placement annealing moves per slice",
    "partition_method": "auto (default), contiguous (sPyNNaker-style) or metis",
    "metis_vertices": "vertices above which a population's graph is coarsened for METIS (default 20,000)",
    "metis_synapses": "synapses sampled for a population's METIS graph (default 50,000)",
    "workers": "processes used to partition very large networks",
}


def _fmt(value: Any) -> str:
    return f"{value!r:.80}"


def _non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_non_finite(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_non_finite(v) for v in value)
    return False


def _number(key: str, value: Any, lo: float, lo_open: bool, integer: bool, what: str) -> None:
    ok = (isinstance(value, int) if integer else isinstance(value, (int, float))) and not isinstance(value, bool)
    if ok:
        ok = value > lo if lo_open else value >= lo
    if not ok:
        raise NeurocompileError(f"compiler option {key}: {what}, got {_fmt(value)}")


def _number_or_map(key: str, value: Any, lo: float, lo_open: bool, integer: bool, what: str,
                   per_neuron: bool = False) -> None:
    """A number, or {population: number} (per_neuron: or {population: [numbers]})."""
    if isinstance(value, dict):
        for name, v in value.items():
            if per_neuron and isinstance(v, list):
                if not v:
                    raise NeurocompileError(f"compiler option {key}: population {name!r} has an empty list")
                for x in v:
                    _number(f"{key} (population {name!r})", x, lo, lo_open, integer, what)
            else:
                _number(f"{key} (population {name!r})", v, lo, lo_open, integer, what)
    else:
        _number(key, value, lo, lo_open, integer, what)


_CHOICES = {"placement_starts": ("best", "all"), "partition_method": ("auto", "contiguous", "metis")}
LOIHI_ACCEPT = ("v_reset", "tau_refrac")
RECEPTORS = ("excitatory", "inhibitory")


def _mapping(key: str, value: Any, what: str) -> dict:
    if not isinstance(value, dict):
        raise NeurocompileError(f"compiler option {key}: must be {what}, got {_fmt(value)}")
    return value


def _check_target_options(options: dict[str, Any]) -> None:
    """The shapes the quantizers read (their ranges against the board are checked there)."""
    if "weight_exp" in options:
        for name, v in _mapping("weight_exp", options["weight_exp"], "{projection: integer}").items():
            _number(f"weight_exp (projection {name!r})", v, -(2 ** 31), False, True, "must be an integer")
    if "weight_exp_min" in options:
        _number("weight_exp_min", options["weight_exp_min"], -(2 ** 31), False, True, "must be an integer")
    for key in ("voltage_scale", "tau_syn"):
        if key in options:
            for name, v in _mapping(key, options[key], "{population: number > 0}").items():
                _number(f"{key} (population {name!r})", v, 0.0, True, False, "must be a number > 0")
    if "loihi_accept" in options:
        v = options["loihi_accept"]
        if not isinstance(v, (list, tuple)) or any(x not in LOIHI_ACCEPT for x in v):
            raise NeurocompileError(f"compiler option loihi_accept: must be a list of {', '.join(LOIHI_ACCEPT)}, "
                                    f"got {_fmt(v)}")
    if "loihi_refractory" in options and options["loihi_refractory"] not in ("emulate", "drop", "error"):
        raise NeurocompileError(f"compiler option loihi_refractory: must be 'emulate', 'drop' or 'error', "
                                f"got {_fmt(options['loihi_refractory'])}")
    if "loihi_param_tolerance" in options:
        _number("loihi_param_tolerance", options["loihi_param_tolerance"], 0.0, False, False,
                "must be a number >= 0 (relative error)")
    if "loihi_v_headroom_bits" in options:
        _number("loihi_v_headroom_bits", options["loihi_v_headroom_bits"], 0, False, True, "must be an integer >= 0")
    if "ring_buffer_shift" in options:
        for name, v in _mapping("ring_buffer_shift", options["ring_buffer_shift"],
                                "{population or projection: shift or {receptor: shift}}").items():
            per = v if isinstance(v, dict) else {"": v}
            for r, x in per.items():
                if r and r not in RECEPTORS:
                    raise NeurocompileError(f"compiler option ring_buffer_shift ({name!r}): unknown receptor "
                                            f"{_fmt(r)}; use {', '.join(RECEPTORS)}")
                _number(f"ring_buffer_shift ({name!r})", x, 0, False, True, "must be an integer >= 0")
    if "max_expected_summed_weight" in options:
        for name, v in _mapping("max_expected_summed_weight", options["max_expected_summed_weight"],
                                "{population: {receptor: nA} or [excitatory, inhibitory]}").items():
            if isinstance(v, dict):
                bad = set(v) - set(RECEPTORS)
                if bad:
                    raise NeurocompileError(f"compiler option max_expected_summed_weight ({name!r}): unknown "
                                            f"receptor(s) {sorted(bad)}; use {', '.join(RECEPTORS)}")
                values = list(v.values())
            elif isinstance(v, list) and len(v) == 2:
                values = v
            else:
                raise NeurocompileError(f"compiler option max_expected_summed_weight ({name!r}): must be "
                                        f"{{receptor: nA}} or [excitatory, inhibitory], got {_fmt(v)}")
            for x in values:
                _number(f"max_expected_summed_weight ({name!r})", x, 0.0, False, False, "must be a number >= 0 nA")


def check_options(options: dict[str, Any], net: Any = None) -> None:
    """Names, then values: every option's value has the type and range its pass expects.

    Each error names the option, the value and what is allowed. With `net`, population names in
    per-population options must exist and per-neuron lists must have the population's size.
    """
    unknown = sorted(set(options) - set(COMPILER_OPTIONS))
    if unknown:
        raise NeurocompileError(f"unknown compiler option(s) {unknown}; known: {', '.join(sorted(COMPILER_OPTIONS))}")
    for key, value in options.items():
        if _non_finite(value):
            raise NeurocompileError(f"compiler option {key}: NaN and infinite numbers are not allowed, got {_fmt(value)}")
    if "rates" in options:
        v = options["rates"]
        if not isinstance(v, dict):
            raise NeurocompileError(f"compiler option rates: must be {{population: Hz}} with Hz >= 0 "
                                    f"(a number or one per neuron), got {_fmt(v)}")
        _number_or_map("rates", v, 0.0, False, False, "firing rates must be numbers >= 0 Hz", per_neuron=True)
    if "quantize" in options and not isinstance(options["quantize"], bool):
        raise NeurocompileError(f"compiler option quantize: must be true or false, got {_fmt(options['quantize'])}")
    if "max_neurons_per_core" in options:
        _number_or_map("max_neurons_per_core", options["max_neurons_per_core"], 1, False, True,
                       "must be an integer >= 1 (or {population: integer >= 1})")
    for key in ("workers", "metis_vertices", "metis_synapses", "anneal_walk"):
        if key in options:
            _number(key, options[key], 1, False, True, "must be an integer >= 1")
    for key in ("placement_effort", "anneal_temperature"):
        if key in options:
            _number(key, options[key], 0.0, True, False, "must be a number > 0")
    if "spikes_per_second" in options:
        _number_or_map("spikes_per_second", options["spikes_per_second"], 0.0, False, False,
                       "must be a number >= 0 Hz (or {population: Hz})")
    if "ring_buffer_sigma" in options:
        _number_or_map("ring_buffer_sigma", options["ring_buffer_sigma"], 0.0, False, False,
                       "must be a number >= 0 (or {population: sigma})")
    _check_target_options(options)
    for key, allowed in _CHOICES.items():
        if key in options and options[key] not in allowed:
            raise NeurocompileError(f"compiler option {key}: must be one of {', '.join(allowed)}, "
                                    f"got {_fmt(options[key])}")
    if net is not None and isinstance(options.get("rates"), dict):
        for name, v in options["rates"].items():
            if name not in net.populations:
                raise NeurocompileError(f"compiler option rates: network {net.name!r} has no population {name!r}; "
                                        f"populations: {', '.join(list(net.populations)[:20])}")
            size = net.populations[name].size
            if isinstance(v, list) and len(v) not in (1, size):
                raise NeurocompileError(f"compiler option rates: population {name!r} has {size:,} neurons but "
                                        f"{len(v):,} rates were given (give one number or one per neuron)")
