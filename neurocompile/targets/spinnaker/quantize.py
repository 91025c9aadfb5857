"""Quantize weights for SpiNNaker: 16-bit unsigned weights with a ring-buffer shift per receptor.

What the chip does (sPyNNaker 1!7.4.1; details and citations in
``neurocompile/targets/spinnaker/weights.py`` and ``neurocompile/targets/spinnaker/fixed.py``): each
synapse holds ``raw`` in ``0 .. 2**weight_bits - 1``, its sign is the receptor's (excitatory
adds, inhibitory subtracts). Spikes add ``raw`` into the post neuron's 16-bit ring-buffer slot
(saturating at 0xFFFF); the slot is converted to current as ``raw << shift`` in s16.15, so one
weight unit is ``LSB = 2**(shift - 15)`` nA. ``shift`` is per post population and receptor.

Scale rule (default = sPyNNaker's own, so the chip sees exactly what stock sPyNNaker would
choose): ``shift`` is the smallest ``p >= 0`` with ``M < 2**p``, where ``M`` is sPyNNaker's
maximum expected input per tick of that receptor (``spinnaker_weights.max_expected_input``: the
worst-case sum ``fan-in * max|w| * spikes_per_tick`` when all delays of the receptor are equal, else
a Poisson upper bound at ``ring_buffer_sigma`` standard deviations with the population's
``spikes_per_second``, never below the largest single weight). Then ``raw = rint(|w| / LSB)``
(round half to even, as ``numpy.rint`` in ``synapse_io.py``). The whole range of a 16-bit slot then
covers ``M``: large inputs do not saturate, at the price of resolution for small weights. Plastic
projections enter the statistics as sPyNNaker's STDP dynamics report them: every weight
``max(max|w|, w_max)``, no variance (``synapse_dynamics_stdp.py`` l.511-531).

Overrides (``ctx.options``; a population's own ``annotations`` with the same key also count):

* ``ring_buffer_shift``: ``{name: shift}`` or ``{name: {"excitatory": s, "inhibitory": s}}`` where
  ``name`` is a post population, or a projection (sets the shift of its post population and
  receptor; two projections asking different shifts for one receptor is an error);
* ``spikes_per_second``, ``ring_buffer_sigma``: ``{population: value}`` or one number for all
  (sPyNNaker's population parameters; defaults 30 and 5 from its ``spynnaker.cfg``);
* ``max_expected_summed_weight``: ``{population: {receptor: nA}}`` or ``{population: [exc, inh]}``
  (sPyNNaker's parameter).

Shifts are clamped to ``0 .. number_format.max_ring_buffer_shift`` (beyond, ``raw << shift`` would
not fit an s16.15 word); a clamped shift saturates the weights above ``0xFFFF * LSB``
(``n_saturated``; sPyNNaker itself would wrap them modulo 2**16).

Representation in the IR. Populations stay ``lif_curr_exp``: sPyNNaker takes the physical
parameters and converts them itself on host and core (``spinnaker_fixed.LifCurrExpParams.
from_physical``). Each projection's weights are replaced by the value the chip applies,
``sign * raw * LSB`` nA, and ``population.annotations["ring_buffer_shift"] = {"excitatory": s,
"inhibitory": s}`` records the shifts. Since ``raw < 2**16`` and ``LSB`` is a power of two, the
stored float is exact and ``raw = |w| * 2**(15 - shift)`` is recovered losslessly
(:func:`raw_weights`) -- which is what ``spinnaker_fixed.lif_curr_exp_step`` takes, together with
the shifts (:func:`ring_buffer_shifts_of`). So (a) the float simulator runs the quantized network
as is ("float dynamics, chip weights"), (b) the fixed-point simulator gets its raw integers and
shifts, (c) no new IR field is needed. The sPyNNaker backend must make sPyNNaker use the same
shift rather than re-deriving it from the quantized weights (their statistics differ slightly):
pass ``max_expected_summed_weight = forced_max_expected_summed_weight(shift)`` per receptor; then
sPyNNaker's ``rint(|w_q| * 2**(15 - shift))`` gives back ``raw`` exactly.

Error bound: every weight that does not saturate satisfies ``|w_q - w| <= LSB / 2``.
Diagnostics: nonzero weights below ``LSB / 2`` become 0 -- sPyNNaker does this silently (its
users' long-standing complaint); we warn with counts, and a projection that loses all its weights
is a :class:`ResourceError`. A receptor whose worst-case slot sum (all its synapses arriving in one
tick) exceeds 0xFFFF may saturate its ring buffer at run time (possible when the statistical
bound, not the worst case, chose the shift): warned with the number of neurons concerned. Where the
on-chip conversion changes a parameter the float model uses -- the refractory period is
``ceil(tau_refrac / dt)`` ticks on chip but ``round(tau_refrac / dt)`` steps in the float model --
a warning says so.

Per projection ``ctx.quantization.projections[projection]`` = ``{max_abs_error, mean_abs_error,
relative_error, n_zeroed, n_saturated, n_synapses, ring_buffer_shift, scale (raw units per nA),
lsb_nA}``; per population ``ctx.quantization.ring_buffer_shifts[population]`` the shifts, the
expected maxima and where each shift came from.
"""
from __future__ import annotations

from typing import Any

import numba
import numpy as np

from neurocompile.boards.schema import SpinnakerFormat
from neurocompile.errors import ModelError, ResourceError
from neurocompile.ir.clone import clone_network, clone_population, clone_projection
from neurocompile.ir.network import Network, Population, Projection
from neurocompile.passes.pipeline import CompileContext
from neurocompile.targets.spinnaker import host
from neurocompile.targets.spinnaker.fixed import LifCurrExpParams
from neurocompile.targets.spinnaker.host import RECEPTORS, SHIFT_ANNOTATION
from neurocompile.targets.spinnaker.weights import weight_lsb


def forced_max_expected_summed_weight(shift: int) -> float:
    """A ``max_expected_summed_weight`` for which sPyNNaker's rule returns exactly ``shift``."""
    return 0.0 if shift <= 0 else 2.0 ** (shift - 1)


def ring_buffer_shifts_of(pop: Population) -> dict[str, int]:
    """The shifts quantize_spinnaker recorded on a population."""
    try:
        return {r: int(s) for r, s in pop.annotations[SHIFT_ANNOTATION].items()}
    except KeyError:
        raise ModelError(f"population {pop.name!r} has no ring_buffer_shift annotation; run "
                         f"quantize_spinnaker first") from None


def raw_weights(net: Network, proj: Projection) -> np.ndarray:
    """The uint16 weights of a quantized projection (|w| / LSB, exact: the pass stored them so)."""
    shift = ring_buffer_shifts_of(net.populations[proj.post])[proj.receptor]
    raw = np.abs(proj.weight) / weight_lsb(shift)
    if np.any(raw != np.rint(raw)) or np.any(raw > 0xFFFF):
        raise ModelError(f"projection {proj.name!r}: weights are not multiples of the LSB "
                         f"{weight_lsb(shift):g} nA; was the network quantized for SpiNNaker?")
    return raw.astype(np.uint16)


def _per_pop(ctx: CompileContext, pop: Population, key: str) -> Any:
    if key in pop.annotations:
        return pop.annotations[key]
    v = ctx.options.get(key)
    if isinstance(v, dict):
        return v.get(pop.name)
    return v


def _shift_overrides(net: Network, ctx: CompileContext) -> dict[tuple[str, str], tuple[int, str]]:
    """(post population, receptor) -> (shift, who asked)."""
    out: dict[tuple[str, str], tuple[int, str]] = {}
    raw = dict(ctx.options.get("ring_buffer_shift", {}))
    for pop in net.populations.values():
        if SHIFT_ANNOTATION in pop.annotations and pop.name not in raw and not pop.neuron_model.is_source:
            raw[pop.name] = pop.annotations[SHIFT_ANNOTATION]

    def put(pop: str, receptor: str, s: Any, who: str) -> None:
        if not isinstance(s, (int, np.integer)) or isinstance(s, bool) or s < 0:
            raise ModelError(f"options ring_buffer_shift for {who!r}: expected a non-negative "
                             f"integer, got {s!r}")
        prev = out.get((pop, receptor))
        if prev is not None and prev[0] != int(s):
            raise ModelError(f"options ring_buffer_shift: {prev[1]!r} asks {prev[0]} and {who!r} asks "
                             f"{int(s)} for the {receptor} ring buffer of population {pop!r}; one "
                             f"shift per population and receptor")
        out[(pop, receptor)] = (int(s), who)

    for name, val in raw.items():
        if name in net.projections:
            proj = net.projections[name]
            put(proj.post, proj.receptor, val, name)
        elif name in net.populations:
            vals = val if isinstance(val, dict) else {r: val for r in RECEPTORS}
            bad = set(vals) - set(RECEPTORS)
            if bad:
                raise ModelError(f"options ring_buffer_shift for {name!r}: unknown receptor(s) "
                                 f"{sorted(bad)}; use {list(RECEPTORS)}")
            for r, s in vals.items():
                put(name, r, s, name)
        else:
            raise ModelError(f"options ring_buffer_shift names {name!r}, which is neither a "
                             f"population nor a projection")
    return out


def quantize_spinnaker(net: Network, ctx: CompileContext) -> Network:
    """Replace weights by what SpiNNaker applies and record the ring-buffer shifts (new network)."""
    fmt = ctx.board.number_format
    if not isinstance(fmt, SpinnakerFormat):
        raise ModelError(f"board {ctx.board.name} ({ctx.board.family}) has no SpiNNaker number "
                         f"format; quantize_spinnaker needs a SpiNNaker board")
    if fmt.weight_bits != 16:
        raise ModelError(f"board {ctx.board.name}: weight_bits {fmt.weight_bits}: only sPyNNaker's "
                         f"16-bit synaptic weights are modelled")
    overrides = _shift_overrides(net, ctx)
    out = clone_network(net)
    records = ctx.quantization.projections
    shift_records = ctx.quantization.ring_buffer_shifts
    max_raw = 2 ** fmt.weight_bits - 1
    for pop in net.populations.values():
        if pop.neuron_model.is_source:
            continue
        if pop.model != "lif_curr_exp":
            raise ModelError(f"population {pop.name!r}: quantize_spinnaker handles lif_curr_exp "
                             f"(IF_curr_exp) only, not {pop.model!r}")
        _check_on_chip_params(pop, net, ctx)
        incoming = list(net.projections_into(pop.name))
        bounds = host.expected_input(
            pop, incoming, net.dt_ms, spikes_per_second=_per_pop(ctx, pop, "spikes_per_second"),
            ring_buffer_sigma=_per_pop(ctx, pop, "ring_buffer_sigma"),
            max_expected_summed_weight=_per_pop(ctx, pop, "max_expected_summed_weight"))
        rule = host.rule_shifts(bounds)
        shifts: dict[str, int] = {}
        rec: dict[str, Any] = {}
        for r in RECEPTORS:
            b, auto = bounds[r], rule[r]
            s, source = auto, "spynnaker_rule"
            if (pop.name, r) in overrides:
                s, who = overrides[(pop.name, r)]
                source = f"override ({who})"
            if s > fmt.max_ring_buffer_shift:
                ctx.warn(f"population {pop.name!r}: {r} ring-buffer shift {s} is above the "
                         f"{ctx.board.name} maximum {fmt.max_ring_buffer_shift}; clamped (weights "
                         f"above {max_raw * weight_lsb(fmt.max_ring_buffer_shift):g} nA saturate)", pop.name)
                s = fmt.max_ring_buffer_shift
            shifts[r] = s
            rec[r] = {"shift": s, "source": source, "spynnaker_shift": auto,
                      "max_expected_input_nA": b.max_weight, "used_statistical_bound": b.used_upper_bound,
                      "lsb_nA": weight_lsb(s)}
        shift_records[pop.name] = rec
        annotations = dict(out.populations[pop.name].annotations)
        annotations[SHIFT_ANNOTATION] = dict(shifts)
        out.populations[pop.name] = clone_population(out.populations[pop.name], annotations=annotations)
        worst = {r: np.zeros(pop.size) for r in RECEPTORS}
        for proj in incoming:
            new, prec = _quantize_projection(proj, shifts[proj.receptor], fmt, ctx, worst[proj.receptor])
            out.projections[proj.name] = new
            records[proj.name] = prec
        for r in RECEPTORS:
            n_over = int(np.count_nonzero(worst[r] > max_raw))
            rec[r]["worst_case_slot_sum"] = float(worst[r].max(initial=0.0))
            if n_over:
                ctx.warn(f"population {pop.name!r}: {n_over} neuron(s) can receive more than "
                         f"0xFFFF {r} weight units in one tick (up to {int(worst[r].max())}, if all "
                         f"their synapses arrive together); the ring buffer saturates there "
                         f"(shift {shifts[r]} was chosen from the expected, not the worst-case, input)",
                         pop.name)
        ctx.info(f"population {pop.name!r}: ring-buffer shifts excitatory {shifts['excitatory']}, "
                 f"inhibitory {shifts['inhibitory']} (LSB {weight_lsb(shifts['excitatory']):.3g} / "
                 f"{weight_lsb(shifts['inhibitory']):.3g} nA)", pop.name)
    out.number_format = "spinnaker"
    return out


@numba.njit(cache=True, nogil=True)
def _quantize_weights(weight, post, scale, lsb, sign, max_raw, w_q, worst):  # pragma: no cover
    """One pass over a projection: sPyNNaker's uint16 weight rint(|w| x scale) & 0xFFFF (see
    host.scaled_weights; saturated at max_raw here instead of wrapped), stored back as the value
    it stands for (float32: exact, raw < 2**16 times a power of two); per post neuron the sum of
    raw weights (`worst`, exact integers); returns the error and counting statistics."""
    err_max = 0.0
    err_sum = 0.0
    n_nonzero = n_zeroed = n_sat = 0
    w_max = 0.0
    small = 0.0
    for k in range(weight.shape[0]):
        x = weight[k]
        scaled = np.rint(abs(x) * scale)
        raw = max_raw if scaled > max_raw else int(scaled) & 0xFFFF
        if scaled > max_raw:
            n_sat += 1
        q = np.float32(sign * lsb * raw)
        w_q[k] = q
        err = abs(np.float64(q) - x)
        err_sum += err
        if err > err_max:
            err_max = err
        if x != 0:
            n_nonzero += 1
            if raw == 0:
                n_zeroed += 1
                if abs(x) > small:
                    small = abs(x)
        if abs(x) > w_max:
            w_max = abs(x)
        worst[post[k]] += raw
    return err_max, err_sum, n_nonzero, n_zeroed, n_sat, w_max, small


def _quantize_projection(proj: Projection, shift: int, fmt: SpinnakerFormat, ctx: CompileContext,
                         worst: np.ndarray) -> tuple[Projection, dict[str, Any]]:
    """The projection with SpiNNaker's weights, its record; adds its raw weights per post neuron
    into `worst` (the all-arrive-at-once slot sum)."""
    n = proj.n_synapses
    max_raw = 2 ** fmt.weight_bits - 1
    lsb = weight_lsb(shift)
    sign = -1.0 if proj.receptor == "inhibitory" else 1.0
    w_q = np.empty(n, dtype=np.float32)   # half the memory of the float64 input
    err_max, err_sum, n_nonzero, n_zeroed, n_sat, wmax, small = _quantize_weights(
        np.asarray(proj.weight, dtype=np.float64), proj.post_idx, 1.0 / lsb, lsb, sign, max_raw, w_q, worst)
    rec = {
        "n_synapses": n,
        "max_abs_error": float(err_max),
        "mean_abs_error": float(err_sum / n) if n else 0.0,
        "relative_error": float(err_max) / wmax if wmax > 0 else 0.0,
        "n_zeroed": int(n_zeroed),
        "n_saturated": int(n_sat),
        "ring_buffer_shift": int(shift),
        "scale": 1.0 / lsb,
        "lsb_nA": lsb,
    }
    owner = f"projection {proj.name!r}"
    if n_nonzero and n_zeroed == n_nonzero:
        raise ResourceError(
            f"{owner}: all {n_nonzero} nonzero weights become 0 on {ctx.board.name}: the largest, "
            f"{wmax:.3g} nA, is below half the weight LSB {lsb:.3g} nA of population "
            f"{proj.post!r}'s {proj.receptor} ring buffer (shift {shift}, chosen for its largest "
            f"expected input); hint: give this projection its own post population or receptor, or "
            f"lower the shift with options ring_buffer_shift (larger inputs then saturate)")
    if n_zeroed:
        ctx.warn(f"{owner}: {n_zeroed} of {n_nonzero} nonzero weights become 0 on SpiNNaker (|w| up "
                 f"to {small:.3g} nA is below half the LSB {lsb:.3g} nA of {proj.post!r}'s "
                 f"{proj.receptor} ring buffer, shift {shift}); sPyNNaker drops them silently",
                 proj.name)
    if n_sat:
        ctx.warn(f"{owner}: {n_sat} of {n} weights saturate at 0xFFFF units ({max_raw * lsb:.4g} nA; "
                 f"shift {shift}); max relative error {rec['relative_error']:.2%}", proj.name)
    return clone_projection(proj, weight=w_q), rec


def _check_on_chip_params(pop: Population, net: Network, ctx: CompileContext) -> None:
    """Parameters the sPyNNaker host/core conversion changes in a way the float model does not."""
    p = pop.param
    try:
        chip = LifCurrExpParams.from_physical(
            tau_m=p("tau_m"), cm=p("cm"), v_rest=p("v_rest"), v_reset=p("v_reset"),
            v_thresh=p("v_thresh"), tau_refrac=p("tau_refrac"), tau_syn_E=p("tau_syn_E"),
            tau_syn_I=p("tau_syn_I"), i_offset=p("i_offset"), dt_ms=net.dt_ms, n=pop.size)
    except ValueError as e:
        raise ModelError(f"population {pop.name!r}: cannot be represented on SpiNNaker's s16.15 "
                         f"fixed point ({e})") from None
    float_ref = np.round(p("tau_refrac") / net.dt_ms).astype(np.int64)
    chip_ref = np.asarray(chip.t_refract, dtype=np.int64)
    diff = chip_ref != float_ref
    if diff.any():
        i = int(np.argmax(diff))
        ctx.warn(f"population {pop.name!r}: tau_refrac {p('tau_refrac')[i]:g} ms is {int(chip_ref[i])} "
                 f"tick(s) on SpiNNaker (ceil(tau_refrac/dt) in neuron_model_lif_impl.h) but "
                 f"{int(float_ref[i])} step(s) in the float model (round) for {int(diff.sum())} "
                 f"neuron(s); make tau_refrac a whole number of steps to agree", pop.name)


__all__ = ["forced_max_expected_summed_weight", "quantize_spinnaker", "raw_weights",
           "ring_buffer_shifts_of", "weight_lsb"]
