"""`spinnaker` mode: a float ``lif_curr_exp`` network run as sPyNNaker 1!7.4.1 runs it on chip.

Everything arithmetic is delegated to the two verified transcriptions of sPyNNaker; this module
only wires them into the engine (``modes.py`` contract) and adds nothing of its own:

* host side, ``neurocompile.targets.spinnaker.weights`` (sPyNNaker's rule, checked against the
  data it generates on a virtual board): per post population and receptor the ring-buffer left
  shift, and each synapse's uint16 weight ``rint(|w| * 2**(15 - shift)) & 0xFFFF``;
* core side, ``neurocompile.targets.spinnaker.fixed`` (checked bit for bit against the shipped
  ``IF_curr_exp.aplx`` under an ARM emulator; spec ``docs/spinnaker-arithmetic.md``):
  ``LifCurrExpParams.from_physical`` for the on-core constants, ``LifCurrExpState.initial`` for
  the state and ``lif_curr_exp_step`` for one timer tick (vectorised over the population).

Build (``make_group``, once per post population, see :func:`population_weights`):

* Incoming projections are handed to the rule as sPyNNaker ``FromListConnector`` lists, exactly as
  ``neurocompile.targets.spinnaker.quantize`` hands them (same order, ``pre_key`` = pre population,
  delays ``delay * dt`` ms, empty projections skipped, a plastic projection counted with
  sPyNNaker's STDP statistics ``max(max|w|, w_max)`` for every synapse), so the pass and this mode
  choose the same shifts.
* sPyNNaker's population parameters are read from ``population.annotations`` under the pass's
  keys: ``spikes_per_second`` (default 30), ``ring_buffer_sigma`` (default 5),
  ``max_expected_summed_weight`` (``{receptor: nA}`` or a 2-list).
* Override: ``population.annotations["ring_buffer_shift"]`` = ``{"excitatory": s, "inhibitory": s}``
  (or one int for both; a receptor left out keeps the rule's shift).  ``quantize_spinnaker``
  records its shifts there and stores weights that are exact multiples of the LSB, so running the
  quantized network here gives back its raw integers exactly (and the same spikes as running the
  unquantized network, when the pass used the rule's shift).
* As on the host, ``|w|`` is used (the receptor carries the sign) and scaled weights wrap modulo
  2**16 (``synapse_dynamics_static.py`` l.130).  The rule's own shift cannot wrap; an overriding
  shift can, which is warned (:class:`SpinnakerWeightWarning`), as are nonzero weights that round
  to 0 (sPyNNaker drops those silently).

Run:

* Channel = receptor (one 16-bit ring buffer per post population and synapse type, as on chip);
  ``synapse_values`` are the uint16 weights (held as int64 by the engine).
* The engine sums the weights of every spike due in a slot exactly (int64); the group clips the
  sum at 0xFFFF when it takes the slot.  That equals the core's per-packet saturating add
  ``ring_buffer_add`` (``synapses.c`` l.237-251) because every added weight is >= 0: a sequence of
  ``min(acc + w, 0xFFFF)`` with ``w >= 0`` ends at ``min(sum, 0xFFFF)`` in any order.
* Timing (spec section 4.D, the engine's convention): a spike emitted in tick t with delay d is
  written to slot t + d and consumed at the start of tick t + d, so it changes V in that tick's
  update.  Sources emit in the tick of their spike step.
* Spike sources are the engine's shared ones.  Spike arrays are exact.  **Poisson sources are
  statistically, not bit-, equivalent**: sPyNNaker's ``SpikeSourcePoisson`` draws on the core with
  its own RNG (and its own seed handling), so a Poisson-driven run here is one sample of the same
  process, not the board's sample.

State variables (what ``record=`` can ask for; all arrays of length ``n``):

* ``v_raw`` / ``v``: the membrane word (s16.15) at the **end** of tick t -- after the update,
  threshold and reset -- raw, and decoded to mV (float64, exact: ``raw / 32768``).  This is the
  engine-wide convention (the float mode records V after its step), so float and spinnaker traces
  line up step for step.
* ``v_pre_raw`` / ``v_pre``: V at the **start** of tick t, before its update.  This is what
  sPyNNaker itself records for tick t (``neuron_impl_standard.h`` l.260, 288-290), i.e. what
  ``Population.get_data("v")`` returns on a board: ``v_pre[t] == v[t-1]`` and ``v_pre[0]`` is
  ``v_init`` as encoded.  An input consumed in tick t shows in ``v[t]`` and in ``v_pre[t + 1]``.
* ``i_syn_exc(_raw)`` / ``i_syn_inh(_raw)``: the synaptic currents (s16.15 nA) at the end of tick
  t, after the decay (the float mode's convention).  On-chip ``gsyn`` recording would show them
  after the input and before the decay.  Note the core's input scaling: a weight w adds
  ``w * (tau/dt)(1 - exp(-dt/tau))`` nA (charge preserving), not ``w`` as the float mode does.
* ``refractory``: the core's ``refract_timer`` (ticks still to hold V).

Differences from the float mode that are sPyNNaker's, not errors: the refractory period is
``ceil(tau_refrac/dt)`` ticks (float: ``round``); the threshold is also tested while refractory
(matters only if ``v_reset >= v_thresh``); the timestep is ``ceil(dt * 1000)`` us; V is integrated
with a constant current over the tick (exact exponential integration in the float mode).
Not modelled (spec section 7): dropped late packets, current sources, ``n_steps_per_timestep >
1``. Pair STDP runs in sPyNNaker's fixed point (spinnaker_stdp.py, docs/plasticity.md section 5).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Hashable, Sequence

import numpy as np

from neurocompile.backends.sim.modes import NeuronGroup, NumericMode
from neurocompile.errors import ModelError
from neurocompile.ir.network import Network, Population, Projection
from neurocompile.targets.spinnaker import host
from neurocompile.targets.spinnaker import weights as sw
from neurocompile.targets.spinnaker.fixed import (
    LifCurrExpParams, LifCurrExpState, decode_s1615, lif_curr_exp_step)
from neurocompile.targets.spinnaker.host import RECEPTOR_INDEX, RECEPTORS  # noqa: F401 (re-exported)
from neurocompile.targets.spinnaker.quantize import raw_weights, ring_buffer_shifts_of
RING_BUFFER_MAX = 0xFFFF     # a ring-buffer slot is uint16 and saturates (synapses.c l.237-251)
MAX_SHIFT = 31               # convert_weight_to_input: raw << shift must stay inside the word


class SpinnakerWeightWarning(UserWarning):
    """sPyNNaker would change weights beyond rounding (wrap modulo 2**16, or round to zero)."""


@dataclass
class PopulationWeights:
    """What the host computes for one post population (sPyNNaker's ``get_ring_buffer_shifts``)."""

    shifts: dict[str, int]                      #: receptor -> ring-buffer left shift
    source: dict[str, str]                      #: receptor -> "spynnaker_rule" | "annotation" (the pass's or a user's)
    rule_shifts: dict[str, int]                 #: receptor -> what the rule alone would choose
    bounds: dict[str, sw.ReceptorBound]         #: receptor -> the rule's expected maximum input
    raw: dict[str, np.ndarray] = field(default_factory=dict)   #: projection -> uint16 weights

    def lsb_nA(self, receptor: str) -> float:
        return sw.weight_lsb(self.shifts[receptor])


def population_weights(pop: Population, incoming: Sequence[Projection], net: Network) -> PopulationWeights:
    """Shifts per receptor and uint16 weights per projection, as the board will hold them.

    A network quantized for SpiNNaker (``number_format == "spinnaker"``) already carries them:
    the pass's shifts (annotation) and weights that are exact multiples of the LSB; they are read
    back bit-exactly (``quantize.raw_weights``), and the rule is not run again. An unquantized
    network gets sPyNNaker's own host rule (``targets/spinnaker/host.py``, the code the quantize
    pass runs too), wrap-around included, with an annotation ``ring_buffer_shift`` replacing the
    rule's shift for its receptor(s).
    """
    if net.number_format == "spinnaker":
        shifts = ring_buffer_shifts_of(pop)
        out = PopulationWeights(shifts, {r: "annotation" for r in RECEPTORS}, dict(shifts), {})
        for proj in incoming:
            out.raw[proj.name] = raw_weights(net, proj)
        return out
    dt_ms = net.dt_ms
    bounds = host.expected_input(pop, incoming, dt_ms,
                                 spikes_per_second=pop.annotations.get("spikes_per_second"),
                                 ring_buffer_sigma=pop.annotations.get("ring_buffer_sigma"),
                                 max_expected_summed_weight=pop.annotations.get("max_expected_summed_weight"))
    rule = host.rule_shifts(bounds)
    override = host.annotated_shifts(pop, MAX_SHIFT)
    shifts = {r: override.get(r, rule[r]) for r in RECEPTORS}
    source = {r: "annotation" if r in override else "spynnaker_rule" for r in RECEPTORS}
    for r in RECEPTORS:
        if shifts[r] > MAX_SHIFT:
            raise ModelError(f"population {pop.name!r}: {r} ring-buffer shift {shifts[r]} (expected "
                             f"input {bounds[r].max_weight:g} nA) does not fit a 32-bit s16.15 word")
    out = PopulationWeights(shifts, source, rule, bounds)
    for proj in incoming:
        raw, scaled = host.scaled_weights(proj.weight, shifts[proj.receptor])   # as the host packs it
        n_wrapped = int(np.count_nonzero(scaled > RING_BUFFER_MAX))
        n_zeroed = int(np.count_nonzero((proj.weight != 0) & (scaled == 0)))
        lsb = sw.weight_lsb(shifts[proj.receptor])
        if n_wrapped:
            warnings.warn(f"projection {proj.name!r}: {n_wrapped} weight(s) exceed 0xFFFF units of "
                          f"{lsb:g} nA (shift {shifts[proj.receptor]}) and wrap modulo 2**16 as "
                          f"sPyNNaker packs them", SpinnakerWeightWarning, stacklevel=3)
        if n_zeroed:
            warnings.warn(f"projection {proj.name!r}: {n_zeroed} nonzero weight(s) are below half "
                          f"the LSB {lsb:g} nA (shift {shifts[proj.receptor]}) and become 0, as "
                          f"sPyNNaker does silently", SpinnakerWeightWarning, stacklevel=3)
        out.raw[proj.name] = raw
    return out


class SpinnakerLIFGroup(NeuronGroup):
    """One ``IF_curr_exp`` population: on-core constants, s16.15 state, one tick per step."""

    state_vars = ("v", "v_raw", "v_pre", "v_pre_raw", "i_syn_exc", "i_syn_inh", "i_syn_exc_raw",
                  "i_syn_inh_raw", "refractory")

    def __init__(self, pop: Population, dt_ms: float, shifts: dict[str, int]) -> None:
        p = pop.param
        self.n = pop.size
        try:
            self.params = LifCurrExpParams.from_physical(
                tau_m=p("tau_m"), cm=p("cm"), v_rest=p("v_rest"), v_reset=p("v_reset"),
                v_thresh=p("v_thresh"), tau_refrac=p("tau_refrac"), tau_syn_E=p("tau_syn_E"),
                tau_syn_I=p("tau_syn_I"), i_offset=p("i_offset"), dt_ms=dt_ms, n=pop.size)
            self.chip = LifCurrExpState.initial(pop.size, v_init=p("v_init"))
        except ValueError as e:
            raise ModelError(f"population {pop.name!r}: cannot be represented in SpiNNaker's s16.15 "
                             f"fixed point ({e})") from None
        self.shift_exc = int(shifts["excitatory"])
        self.shift_inh = int(shifts["inhibitory"])
        self.v_pre_raw = self.chip.v.copy()
        self._zero = np.zeros(self.n, dtype=np.int64)
        #: slots (neuron x tick) that hit the 0xFFFF ceiling, per receptor
        self.saturated_slots = {r: 0 for r in RECEPTORS}

    def _slot(self, inputs: dict[Hashable, np.ndarray], receptor: str) -> np.ndarray:
        row = inputs.get(receptor)
        if row is None:
            return self._zero
        over = row > RING_BUFFER_MAX
        if over.any():
            self.saturated_slots[receptor] += int(np.count_nonzero(over))
            row = np.minimum(row, RING_BUFFER_MAX)
        return row

    def step(self, t: int, inputs: dict[Hashable, np.ndarray]) -> np.ndarray:
        exc = self._slot(inputs, "excitatory")
        inh = self._slot(inputs, "inhibitory")
        self.v_pre_raw = self.chip.v
        self.chip, spiked = lif_curr_exp_step(self.chip, self.params, exc, inh,
                                              self.shift_exc, self.shift_inh)
        return np.flatnonzero(spiked)

    def state(self, var: str) -> np.ndarray:
        c = self.chip
        raw = {"v_raw": c.v, "v_pre_raw": self.v_pre_raw, "i_syn_exc_raw": c.isyn_exc,
               "i_syn_inh_raw": c.isyn_inh, "refractory": c.refract_timer}
        if var in raw:
            return np.array(raw[var], dtype=np.int64)
        if var in ("v", "v_pre", "i_syn_exc", "i_syn_inh"):
            return decode_s1615(raw[var + "_raw"])
        raise AttributeError(var)


class SpinnakerMode(NumericMode):
    """sPyNNaker 1!7.4.1 ``IF_curr_exp`` on chip; see the module docstring for the semantics.

    After a :class:`~neurocompile.backends.sim.engine.Simulation` is built, :attr:`weights` holds
    per post population the shifts, the rule's bounds and the uint16 weight of every synapse.
    """

    name = "spinnaker"
    accum_dtype = np.int64
    neuron_models = ("lif_curr_exp",)

    def __init__(self) -> None:
        self.weights: dict[str, PopulationWeights] = {}
        self._projections: dict[str, Projection] = {}

    def check(self, net: Network) -> None:
        super().check(net)
        for proj in net.projections.values():
            sign = {"excitatory": 1, "inhibitory": -1}.get(proj.receptor)
            if sign is None:
                raise ModelError(f"projection {proj.name!r}: receptor {proj.receptor!r} does not "
                                 f"exist on IF_curr_exp; use {list(RECEPTORS)}")
            if proj.n_synapses and np.any(proj.weight * sign < 0):
                raise ModelError(f"projection {proj.name!r}: {proj.receptor} weights must be "
                                 f"{'>= 0' if sign > 0 else '<= 0'} (SpiNNaker takes |w|; the "
                                 f"receptor carries the sign)")

    def channel(self, proj: Projection) -> Hashable:
        return proj.receptor

    def synapse_values(self, proj: Projection) -> np.ndarray:
        plan = self.weights.get(proj.post)
        if plan is None or self._projections.get(proj.name) is not proj:
            raise ModelError(f"projection {proj.name!r}: spinnaker mode computes weights per post "
                             f"population in make_group; build a Simulation first")
        return plan.raw[proj.name].astype(np.int64)

    def make_group(self, pop: Population, incoming: list[Projection], net: Network) -> NeuronGroup:
        plan = population_weights(pop, incoming, net)
        self.weights[pop.name] = plan
        for proj in incoming:
            self._projections[proj.name] = proj
        return SpinnakerLIFGroup(pop, net.dt_ms, plan.shifts)


def describe(mode: SpinnakerMode) -> dict[str, Any]:
    """Shifts and LSBs per population, for reports."""
    return {pop: {r: {"shift": w.shifts[r], "source": w.source[r], "lsb_nA": w.lsb_nA(r),
                      "max_expected_input_nA": w.bounds[r].max_weight} for r in RECEPTORS}
            for pop, w in mode.weights.items()}


__all__ = ["PopulationWeights", "SpinnakerLIFGroup", "SpinnakerMode", "SpinnakerWeightWarning",
           "describe", "population_weights"]
