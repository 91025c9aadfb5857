"""Structural validation of a Network: catches bad input before any pass or backend sees it.

Each check raises ModelError with a message naming the population/projection, the field and the
allowed range, so the CLI can print it as a single line.
"""
from __future__ import annotations

import math

import numpy as np

from neurocompile.errors import ModelError, shorten
from neurocompile.ir.network import MAX_NEURONS, MAX_SEED, Network, Population, Projection, STDPRule, check_population_size
from neurocompile.ir.neuron_models import ParamSpec, get_neuron_model

_SOURCE_ARRAY_PARAMS = {"spike_array": ("spike_indptr", "spike_steps")}


def validate_network(net: Network) -> None:
    """Raise ModelError on the first problem found; return None when the network is well formed."""
    if not (isinstance(net.dt_ms, (int, float)) and not isinstance(net.dt_ms, bool)
            and math.isfinite(net.dt_ms) and net.dt_ms > 0):
        raise ModelError(f"network {shorten(net.name)}: dt_ms must be a positive finite number, "
                         f"got {shorten(net.dt_ms)}")
    if isinstance(net.seed, bool) or not isinstance(net.seed, (int, np.integer)) or not 0 <= net.seed <= MAX_SEED:
        raise ModelError(f"network {shorten(net.name)}: seed must be an integer in [0, {MAX_SEED}], "
                         f"got {shorten(net.seed)}")
    if not net.populations:
        raise ModelError(f"network {shorten(net.name)} has no populations")
    for key, pop in net.populations.items():
        if not isinstance(pop.name, str) or pop.name != key:
            raise ModelError(f"population {shorten(pop.name)}: name must be a string equal to its key "
                             f"{shorten(key)} in Network.populations")
        check_population_size(pop.name, pop.size)
    total = sum(p.size for p in net.populations.values())
    if total > MAX_NEURONS:
        raise ModelError(f"network {shorten(net.name)}: {total:,} neurons in total exceeds the limit "
                         f"of {MAX_NEURONS:,}")
    for pop in net.populations.values():
        validate_population(pop)
    for proj in net.projections.values():
        validate_projection(net, proj)


def _check_spec(owner: str, name: str, spec: ParamSpec, value: object, size: int | None) -> None:
    arr = None
    if isinstance(value, (np.ndarray, int, float, np.generic, list, tuple)):
        try:
            arr = np.asarray(value)
        except ValueError:  # ragged nested lists
            pass
    if arr is None or arr.dtype.kind not in "biuf":
        raise ModelError(f"{owner}: parameter {shorten(name)} must be a real number or an array of "
                         f"them, got {shorten(value)}")
    if arr.ndim > 1 or (arr.ndim == 1 and size is not None and arr.shape[0] != size):
        raise ModelError(f"{owner}: parameter {name!r} must be a scalar or have length {size}, "
                         f"got shape {arr.shape}")
    if arr.size == 0:
        return
    if not np.all(np.isfinite(arr)):
        raise ModelError(f"{owner}: parameter {name!r} contains NaN or infinite values")
    if spec.integer and np.any(arr != np.round(arr)):
        raise ModelError(f"{owner}: parameter {name!r} must be an integer")
    lo, hi = float(arr.min()), float(arr.max())
    if lo < spec.low or hi > spec.high:
        bad = lo if lo < spec.low else hi
        raise ModelError(f"{owner}: parameter {name!r} = {bad:g} is outside the allowed range "
                         f"[{spec.low:g}, {spec.high:g}]{' ' + spec.unit if spec.unit else ''}")


def validate_population(pop: Population) -> None:
    owner = f"population {pop.name!r}"
    model = get_neuron_model(pop.model)
    if not isinstance(pop.params, dict) or not all(isinstance(k, str) for k in pop.params):
        raise ModelError(f"{owner}: params must be a mapping of parameter name to value")
    if not isinstance(pop.record, tuple) or not all(isinstance(r, str) for r in pop.record):
        raise ModelError(f"{owner}: record must be a list of names, got {shorten(pop.record)}")
    extra = _SOURCE_ARRAY_PARAMS.get(pop.model, ())
    unknown = set(pop.params) - set(model.params) - set(extra)
    if unknown:
        raise ModelError(f"{owner}: unknown parameter(s) {shorten(sorted(unknown))} for model "
                         f"{pop.model!r}; known: {sorted(model.params) + list(extra)}")
    for name, spec in model.params.items():
        if name in pop.params:
            _check_spec(owner, name, spec, pop.params[name], pop.size)
    if pop.model == "lif_curr_exp":
        # Broadcast instead of Population.param: no size-long arrays for scalar parameters.
        spec = model.params
        vt = np.asarray(pop.params.get("v_thresh", spec["v_thresh"].default), dtype=np.float64)
        vr = np.asarray(pop.params.get("v_reset", spec["v_reset"].default), dtype=np.float64)
        if np.any(vt <= vr):
            vt, vr = np.broadcast_arrays(np.atleast_1d(vt), np.atleast_1d(vr))
            i = int(np.argmax(vt <= vr))
            raise ModelError(f"{owner}: v_thresh ({vt[i]:g} mV) must be above v_reset "
                             f"({vr[i]:g} mV) (neuron {i})")
    if pop.model == "spike_array":
        _validate_spike_array(owner, pop)


def _validate_spike_array(owner: str, pop: Population) -> None:
    if "spike_indptr" not in pop.params or "spike_steps" not in pop.params:
        raise ModelError(f"{owner}: spike_array needs spike_indptr and spike_steps")
    indptr = np.asarray(pop.params["spike_indptr"])
    steps = np.asarray(pop.params["spike_steps"])
    if indptr.dtype.kind not in "iu" or steps.dtype.kind not in "iu":
        raise ModelError(f"{owner}: spike_indptr and spike_steps must be integer arrays, got "
                         f"{indptr.dtype} and {steps.dtype}")
    if steps.ndim != 1:
        raise ModelError(f"{owner}: spike_steps must be a 1-D array, got shape {steps.shape}")
    if indptr.shape != (pop.size + 1,) or indptr[0] != 0 or np.any(np.diff(indptr) < 0) \
            or indptr[-1] != steps.shape[0]:
        raise ModelError(f"{owner}: spike_indptr must be a non-decreasing array of length "
                         f"{pop.size + 1} from 0 to len(spike_steps)")
    if steps.size and (steps.dtype.kind not in "iu" or steps.min() < 0):
        raise ModelError(f"{owner}: spike times must be non-negative integer steps")


def validate_projection(net: Network, proj: Projection) -> None:
    owner = f"projection {shorten(proj.name)}"
    for end in ("pre", "post"):
        if not isinstance(getattr(proj, end), str) or getattr(proj, end) not in net.populations:
            raise ModelError(f"{owner}: {end} population {shorten(getattr(proj, end))} does not exist")
    if not isinstance(proj.receptor, str):
        raise ModelError(f"{owner}: receptor must be a name, got {shorten(proj.receptor)}")
    for field_name, kinds, what in (("pre_idx", "iu", "integers"), ("post_idx", "iu", "integers"),
                                    ("weight", "iuf", "real numbers"), ("delay", "iu", "integer steps")):
        arr = getattr(proj, field_name)
        if not isinstance(arr, np.ndarray) or arr.ndim != 1 or arr.dtype.kind not in kinds:
            got = f"{arr.dtype} array of shape {arr.shape}" if isinstance(arr, np.ndarray) else shorten(arr)
            raise ModelError(f"{owner}: {field_name} must be a 1-D array of {what}, got {got}")
    pre, post = net.populations[proj.pre], net.populations[proj.post]
    model = get_neuron_model(post.model)
    if model.is_source:
        raise ModelError(f"{owner}: target {post.name!r} is a spike source ({post.model}) and "
                         f"cannot receive synapses")
    n = proj.pre_idx.shape[0]
    for field_name in ("post_idx", "weight", "delay"):
        if getattr(proj, field_name).shape != (n,):
            raise ModelError(f"{owner}: {field_name} has {getattr(proj, field_name).shape[0]} "
                             f"entries but pre_idx has {n}")
    if n:
        for field_name, arr, size, pname in (("pre_idx", proj.pre_idx, pre.size, pre.name),
                                             ("post_idx", proj.post_idx, post.size, post.name)):
            if arr.min() < 0 or arr.max() >= size:
                raise ModelError(f"{owner}: {field_name} value {int(arr.max() if arr.max() >= size else arr.min())} "
                                 f"out of range for population {pname!r} of size {size}")
        if not np.all(np.isfinite(proj.weight)):
            bad = int(np.argmax(~np.isfinite(proj.weight)))
            raise ModelError(f"{owner}: weight of synapse {bad} is {proj.weight[bad]} "
                             f"(weights must be finite)")
        if proj.delay.min() < 1:
            bad = int(np.argmin(proj.delay))
            raise ModelError(f"{owner}: delay of synapse {bad} is {int(proj.delay[bad])} steps; "
                             f"delays must be >= 1 step (a spike at t arrives at t + delay)")
    if proj.receptor not in model.receptors:
        raise ModelError(f"{owner}: receptor {proj.receptor!r} not available on "
                         f"{post.model!r}; choose one of {list(model.receptors)}")
    sign = model.receptor_sign.get(proj.receptor)
    if n and sign is not None and np.any(proj.weight * sign < 0):
        want = ">= 0" if sign > 0 else "<= 0"
        raise ModelError(f"{owner}: {proj.receptor} weights must be {want} (sign carries the "
                         f"receptor); found {int(np.sum(proj.weight * sign < 0))} of the wrong sign")
    if n and model.integer_weights and np.any(proj.weight != np.round(proj.weight)):
        raise ModelError(f"{owner}: {post.model!r} takes integer weights; quantize the network first")
    unknown = set(proj.attrs) - set(model.projection_params)
    if unknown:
        raise ModelError(f"{owner}: unknown attribute(s) {shorten(sorted(unknown))} for projections onto "
                         f"{post.model!r}; known: {sorted(model.projection_params)}")
    for name, value in proj.attrs.items():
        _check_spec(owner, name, model.projection_params[name], value, None)
    if proj.plasticity is not None and not isinstance(proj.plasticity, STDPRule):
        raise ModelError(f"{owner}: plasticity must be an STDPRule or None, got {shorten(proj.plasticity)}")
    if proj.plasticity is not None:
        _validate_stdp(owner, proj.plasticity)
        if pre.model == "poisson_fast":  # pair STDP pairs single spikes; a count per step has no order
            raise ModelError(f"{owner}: plastic projection from the fast Poisson source {pre.name!r} "
                             "(several spikes per step); use a 'poisson' source or a static projection")


def _validate_stdp(owner: str, rule: STDPRule) -> None:
    for name, value in rule.__dict__.items():
        if not math.isfinite(value):
            raise ModelError(f"{owner}: STDP parameter {name!r} must be finite, got {value}")
    for name in ("tau_plus", "tau_minus"):
        if getattr(rule, name) <= 0:
            raise ModelError(f"{owner}: STDP {name} must be > 0 ms, got {getattr(rule, name)}")
    for name in ("a_plus", "a_minus", "w_min"):
        if getattr(rule, name) < 0:
            raise ModelError(f"{owner}: STDP {name} must be >= 0, got {getattr(rule, name)}")
    if rule.w_max < rule.w_min:
        raise ModelError(f"{owner}: STDP w_max ({rule.w_max}) must be >= w_min ({rule.w_min})")
