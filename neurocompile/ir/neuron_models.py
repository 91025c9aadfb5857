"""Neuron model catalogue: which parameters each model has, their units, defaults and ranges.

The IR is hardware-agnostic: a network is normally written with `lif_curr_exp` (physical units,
PyNN's IF_curr_exp) and spike sources. Quantization passes lower it to target-native models
(`loihi2_lif`, integer parameters exactly as Lava's fixed-point LIF takes them) which are also
usable directly, e.g. to reproduce a Lava network bit for bit.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ParamSpec:
    """One neuron parameter: default, unit, allowed closed range and whether it must be an integer."""

    default: float
    unit: str = ""
    low: float = -math.inf
    high: float = math.inf
    integer: bool = False
    doc: str = ""


@dataclass(frozen=True)
class NeuronModel:
    """A neuron (or spike-source) model as the IR knows it."""

    name: str
    params: dict[str, ParamSpec]
    receptors: tuple[str, ...]  # input channels a projection may target; () for sources
    is_source: bool = False
    # Per-projection attributes that projections onto this model carry (e.g. Loihi weight_exp).
    projection_params: dict[str, ParamSpec] = field(default_factory=dict)
    # Receptor -> required weight sign (+1 or -1); receptors absent here accept either sign.
    receptor_sign: dict[str, int] = field(default_factory=dict)
    integer_weights: bool = False
    doc: str = ""


LIF_CURR_EXP = NeuronModel(
    name="lif_curr_exp",
    doc="Leaky integrate-and-fire, current-based exponential synapses (PyNN IF_curr_exp).",
    params={
        "tau_m": ParamSpec(20.0, "ms", 1e-3, 1e6, doc="membrane time constant"),
        "cm": ParamSpec(1.0, "nF", 1e-6, 1e6, doc="membrane capacitance"),
        "v_rest": ParamSpec(-65.0, "mV", -1e4, 1e4),
        "v_reset": ParamSpec(-65.0, "mV", -1e4, 1e4),
        "v_thresh": ParamSpec(-50.0, "mV", -1e4, 1e4),
        "tau_refrac": ParamSpec(0.1, "ms", 0.0, 1e6, doc="refractory period"),
        "tau_syn_E": ParamSpec(5.0, "ms", 1e-3, 1e6, doc="excitatory synaptic current decay"),
        "tau_syn_I": ParamSpec(5.0, "ms", 1e-3, 1e6, doc="inhibitory synaptic current decay"),
        "i_offset": ParamSpec(0.0, "nA", -1e6, 1e6, doc="constant bias current"),
        "v_init": ParamSpec(-65.0, "mV", -1e4, 1e4, doc="initial membrane potential"),
    },
    receptors=("excitatory", "inhibitory"),
    receptor_sign={"excitatory": +1, "inhibitory": -1},
)

# Integer parameters exactly as lava.proc.lif.process.LIF takes them in fixed_pt mode.
# Bit widths follow Loihi 2 (12-bit decays, 13-bit signed bias mantissa, 17-bit vth mantissa);
# Lava does not enforce them, so the IR does.
LOIHI2_LIF = NeuronModel(
    name="loihi2_lif",
    doc="Loihi 2 fixed-point CUBA LIF, parameters as Lava's LIF process takes them.",
    params={
        "du": ParamSpec(0, "1/4096", 0, 4095, True, "current decay"),
        "dv": ParamSpec(0, "1/4096", 0, 4095, True, "voltage decay"),
        "bias_mant": ParamSpec(0, "", -(2**12), 2**12 - 1, True, "bias mantissa (13-bit signed)"),
        "bias_exp": ParamSpec(0, "", -7, 7, True, "bias exponent: bias = bias_mant << bias_exp"),
        "vth": ParamSpec(10, "", 0, 2**17 - 1, True, "threshold mantissa; threshold = vth << 6"),
        "u_init": ParamSpec(0, "", -(2**23), 2**23 - 1, True, "initial current"),
        "v_init": ParamSpec(0, "", -(2**23) + 1, 2**23 - 1, True, "initial voltage"),
    },
    receptors=("input",),
    projection_params={
        "weight_exp": ParamSpec(0, "", -8, 7, True, "shift applied to each step's summed input"),
        "num_weight_bits": ParamSpec(8, "", 1, 8, True, "weight precision incl. sign handling"),
    },
    integer_weights=True,
)

# Integer parameters as nengo-loihi 1.1's emulator runs a Loihi 1 compartment
# (neurocompile/targets/loihi1/arith.py): 12-bit decays, 13-bit signed bias mantissa with exponent
# 0..7, 17-bit vth mantissa, a native refractory delay; weights act per synapse (Wgt << weight_exp).
LOIHI1_LIF = NeuronModel(
    name="loihi1_lif",
    doc="Loihi 1 fixed-point CUBA LIF, parameters as nengo-loihi's emulator runs a compartment.",
    params={
        "du": ParamSpec(0, "1/4096", 0, 4095, True, "current decay"),
        "dv": ParamSpec(0, "1/4096", 0, 4095, True, "voltage decay"),
        "bias_mant": ParamSpec(0, "", -(2**12) + 1, 2**12 - 1, True, "bias mantissa (|m| <= 4095)"),
        "bias_exp": ParamSpec(0, "", 0, 7, True, "bias exponent: bias = bias_mant << bias_exp"),
        "vth": ParamSpec(10, "", 0, 2**17 - 1, True, "threshold mantissa; threshold = vth << 6"),
        "refract_delay": ParamSpec(1, "steps", 0, 63, True,
                                   "refractDelay: v held at 0 for refract_delay - 1 steps after a spike"),
        "u_init": ParamSpec(0, "", -(2**23), 2**23 - 1, True, "initial current"),
        "v_init": ParamSpec(0, "", -(2**23) + 1, 2**23 - 1, True, "initial voltage"),
    },
    receptors=("input",),
    projection_params={
        "weight_exp": ParamSpec(0, "", -7, 7, True, "per-synapse shift: input = Wgt << weight_exp"),
        "num_weight_bits": ParamSpec(8, "", 1, 8, True, "weight precision (1..6 or 8), mixed sign"),
    },
    integer_weights=True,
)

SPIKE_ARRAY = NeuronModel(
    name="spike_array",
    doc="Emits spikes at given timesteps (per neuron lists stored as CSR: spike_indptr/spike_steps).",
    params={},
    receptors=(),
    is_source=True,
)

POISSON = NeuronModel(
    name="poisson",
    doc="Independent Poisson spike trains, seeded; one Bernoulli draw per neuron and step.",
    params={
        "rate": ParamSpec(10.0, "Hz", 0.0, 1e6, doc="mean firing rate"),
        "start": ParamSpec(0, "step", 0, 2**31 - 1, True, doc="first step that may spike"),
        "duration": ParamSpec(2**31 - 1, "step", 0, 2**31 - 1, True, doc="steps it stays active"),
    },
    receptors=(),
    is_source=True,
)

POISSON_FAST = NeuronModel(
    name="poisson_fast",
    doc="Independent Poisson spike trains, seeded; a Poisson-distributed count of spikes per neuron "
        "and step (sPyNNaker's fast sources), for rates near or above one spike per step.",
    params=dict(POISSON.params),
    receptors=(),
    is_source=True,
)

BUILTIN_MODELS: dict[str, NeuronModel] = {
    m.name: m for m in (LIF_CURR_EXP, LOIHI2_LIF, LOIHI1_LIF, SPIKE_ARRAY, POISSON, POISSON_FAST)
}


def register_neuron_model(model: NeuronModel) -> None:
    """Let a plugin add a neuron model (it must also teach a backend to run it)."""
    BUILTIN_MODELS[model.name] = model


def get_neuron_model(name: str) -> NeuronModel:
    from neurocompile.errors import ModelError

    from neurocompile.errors import shorten

    if isinstance(name, str) and name in BUILTIN_MODELS:
        return BUILTIN_MODELS[name]
    known = ", ".join(sorted(BUILTIN_MODELS))
    raise ModelError(f"unknown neuron model {shorten(name)}; known models: {known}")
