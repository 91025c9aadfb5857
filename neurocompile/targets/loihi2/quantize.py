"""Lower a float network (``lif_curr_exp``) to Loihi 2 fixed point (``loihi2_lif``).

Every width and range comes from ``ctx.board.number_format`` (:class:`LoihiFormat`); nothing about
the chip is hard-coded except the structure of Lava's arithmetic (the 12-bit decay shift and the
``+1`` on du are part of ``PyLifModelBitAcc`` itself, not board numbers).

The two dynamics (per step of ``dt``; the float one is ``backends/sim/float_mode.py``)::

    float IF_curr_exp (exact integration)          Lava CUBA LIF fixed_pt (PyLifModelBitAcc)
    I   += w  (input due now)                      u  = sgn(p)(|p| >> 12), p = u (4096-(du+1))
    V    = v_rest + (V - v_rest) p22                u += a << 6     a = floor-shifted sum of m
           + I p21 + i_offset p20                   v  = sgn(q)(|q| >> 12), q = v (4096 - dv)
    spike V >= v_thresh; V = v_reset                v += u + bias   (clip to 24 bits)
    I   *= exp(-dt/tau_syn)                         spike v > vth << 6; v = 0

    p22 = exp(-dt/tau_m), p21 = psc_propagator(tau_m, tau_syn, cm, dt)  [mV per nA, first step],
    p20 = tau_m/cm (1 - p22)                                               [mV per nA of bias]

``u`` plays the role of ``I p21`` (the voltage increment the current gives this step) and ``v``
that of ``V - v_rest``. With a per-population **voltage scale** ``S`` (integer state units per mV)
the mapping is exact up to rounding:

* ``dv = round(4096 (1 - p22))``, clipped to ``0 .. 2**decay_bits - 1``;
* ``du = round(4096 (1 - exp(-dt/tau_syn))) - 1``, clipped likewise (Lava decays u by
  ``(du + 1)/4096``: note the ``+1``);
* ``v = (V - v_rest) S`` (Loihi rests at 0), ``v_init = round((v_init - v_rest) S)``, ``u_init = 0``;
* threshold: ``S`` is chosen so that ``(v_thresh - v_rest) S = 64 vth + 1`` exactly; since
  ``v > vth << 6`` is ``v >= 64 vth + 1`` for integers, the float test ``V >= v_thresh`` is kept
  exactly (for non-uniform thresholds, vth of the other neurons is rounded);
* ``bias = bias_mant << bias_exp = round(i_offset p20 S)`` with the smallest ``bias_exp`` in
  ``[bias_exp_min, bias_exp_max]`` whose mantissa fits ``|bias_mant| <= 2**(bias_mantissa_bits-1) - 1``;
* weights: one spike of ``w`` nA must add ``w p21 S`` state units to u, i.e. ``A = w p21 S / 64``
  **input units** (``a``; one input unit is 64 state units, the threshold is vth input units).
  Per projection ``A ~ m 2**weight_exp`` with integer mantissas ``m`` (see below).

Scale rule (``S`` per post population): as large as possible -- all integer quantities then have
the most significant bits -- subject to four hard limits; the binding one is recorded as
``scale_limited_by``:

1. ``threshold``: ``vth <= vth_max >> h`` with ``vth_max = min(2**vth_mantissa_bits - 1,
   (2**(state_bits-1) - 2) >> vth_shift)`` and ``h = 3`` headroom bits
   (``ctx.options["loihi_v_headroom_bits"]``). v saturates at ``-(2**23 - 1)``, so without
   headroom inhibition could not take V more than about one threshold span below rest; with
   ``h = 3`` it can go ~8 spans below (``v_floor_mV`` is recorded). Positive headroom is not needed:
   above threshold the neuron spikes anyway. The cost is nil in practice: 2**14 input units per
   threshold is far finer than 8-bit weights.
2. ``input_bound``: u must never wrap (Lava wraps u at +-2**23; v only saturates). Worst case:
   every presynaptic neuron fires every step, so ``|u| <= U G S`` with
   ``U = max over post neurons of max(sum of exc |w| p21, sum of inh |w| p21)`` and the steady-state
   gain ``G = 4096 / (du + 1)``. Require ``U G S <= (2**(state_bits-1) - 1)(1 - 2**-8)`` (the
   margin covers mantissa rounding). This is a guarantee, not an estimate: no input can wrap u.
3. ``bias``: ``|i_offset p20| S <= (2**(bias_mantissa_bits-1) - 1) << bias_exp_max``.
4. ``weights``: the largest ``A`` must fit a mantissa at ``weight_exp_max``.

If the input bound makes vth small (< 64: an input unit is more than 1/64 of the threshold) a
warning says so; ``ctx.options["voltage_scale"] = {population: S}`` overrides S (an error beyond
limit 1 without headroom or beyond limit 3; beyond limit 2 a warning that u may wrap).

Weight mantissas (``lava.utils.weightutils``: ``clip_weights`` then ``truncate_weights``, run by
every bit-accurate Dense/Sparse/DelayDense model): with ``nwb = num_weight_bits =
number_format.weight_bits`` and sign mode from the weights, the legal values are ``j 2**k`` with
``k = 8 - nwb + mixed`` and ``|j| <= J = 255 >> k`` (excitatory ``j >= 0``, inhibitory ``j <= 0``;
for mixed sign we also keep ``j >= -J``, i.e. ``-254..254`` even at 8 bits, so the weights stay
legal in any sign mode). We emit only legal values: Lava changes none of them.
``weight_exp`` is the smallest value in ``[weight_exp_min, weight_exp_max]`` (the lower end may be
raised by ``ctx.options["weight_exp_min"]``) for which
``round(max|A| / 2**(weight_exp + k)) <= J`` ("the largest weight uses the full mantissa"), or
``ctx.options["weight_exp"][projection]``. ``m = clip(round(A / 2**(weight_exp+k)), -J, J) 2**k``.

Error bounds (per projection, in nA: divide input units by ``p21 S / 64``):

* every weight not saturated: ``|w_q - w| <= 2**(weight_exp + k - 1)`` input units;
* with the automatic exponent, unless it sits at its lowest allowed value: nothing saturates and
  ``relative_error = max|w_q - w| / max|w| < 1 / (J + 0.5)`` (8-bit single sign: < 0.392 %;
  mixed sign: < 0.787 %), because ``weight_exp - 1`` did not fit:
  ``max|A| / 2**(weight_exp + k - 1) > J + 0.5``;
* with ``weight_exp < 0`` Lava floor-shifts each step's *sum* of mantissas, so on top of the
  above every step that delivers input loses between 0 and 1 input unit per projection
  (``sum_floor_error_nA``). Unlike the rounding of the mantissas this is a *systematic* loss: u
  and v integrate it. Per population ``floor_bias_bound_rel_threshold`` bounds it relative to the
  threshold (projections with negative exponent x 4096/(du+1) x 4096/dv / vth, input every
  step); above the tolerance it is warned about. ``ctx.options["weight_exp_min"] = 0`` forbids
  negative exponents (exact integer sums, coarser small weights). Weights smaller than one input
  unit deliver 0 when they arrive alone; they are counted (``n_below_input_unit``) and warned
  about.

Things Loihi's LIF cannot express are errors naming the population (unless accepted explicitly
through ``ctx.options``, then warnings):

* ``v_reset != v_rest``: Loihi resets v to 0, which is the resting potential here.
  ``ctx.options["loihi_accept"] = {"v_reset"}`` resets to v_rest instead.
* a refractory period of >= 1 step (``round(tau_refrac / dt) >= 1``, as the float model counts it):
  ``PyLifModelBitAcc`` has none. By default (``ctx.options["loihi_refractory"] = "emulate"``) it
  is emulated with self-synapses (``passes/refractory_emulation.py``; warned, since input arriving
  during the period reaches v afterwards), which adds a ``refractory_room`` limit to the voltage
  scale; ``"drop"`` (or ``loihi_accept={"tau_refrac"}``) drops it, ``"error"`` refuses it.
  (PyNN's default 0.1 ms at dt = 1 ms is 0 steps: no change, no message.)
* ``tau_syn_E != tau_syn_I`` on a population that receives both receptors: one compartment has
  one u. If only one receptor is used its time constant is taken (info). Otherwise
  ``ctx.options["tau_syn"] = {population: ms}`` chooses one (warning).
* ``v_thresh <= v_rest`` (a neuron that fires on its own) is supported exactly: v is measured
  from ``v_reset`` and the leak toward ``v_rest`` becomes a bias (``_rest_at_reset``). Only
  ``v_reset >= v_thresh`` as well is an error (Loihi resets to 0 and fires at vth >= 0).

Plastic projections are lowered, not refused: the exponent is chosen for ``w_max`` (the range
learning can reach, also used in the worst-case input bound), the weights become mantissas and the
``STDPRule`` is rescaled to mantissa units (``w_max`` -> its mantissa). The loihi2 mode runs it with
``backends/sim/loihi2_stdp.py``, our integer model of on-chip pair STDP (docs/plasticity.md says
what it is and is not checked against).

Every parameter whose effective value (tau_m, tau_syn from dv/du; threshold; bias) differs from the
requested one by more than ``ctx.options["loihi_param_tolerance"]`` (relative, default 1 %) is
warned about; all are recorded in ``ctx.quantization.populations[population]``.
Per projection ``ctx.quantization.projections[projection]`` holds ``max_abs_error,
mean_abs_error, relative_error, n_zeroed, n_saturated, n_synapses, weight_exp, scale`` (mantissa
units per nA: ``m ~ w * scale``), plus ``n_below_input_unit``, ``sum_floor_error_nA``,
``sign_mode``, ``num_weight_bits``, ``voltage_scale``. Nonzero weights that become 0 are warned
about with counts; a projection that loses all of them is a :class:`ResourceError`.

Delay-relay populations (``role = "delay_relay"``, from ``passes/delays.py``) are lowered to the
canonical Loihi relay (``delays.loihi_relay_params``) whatever their float parameters.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from neurocompile.boards.schema import LoihiFormat
from neurocompile.errors import ModelError, ResourceError
from neurocompile.ir.clone import clone_network, clone_population, clone_projection
from neurocompile.ir.dynamics import psc_propagator
from neurocompile.ir.network import Network, Population, Projection, STDPRule
from neurocompile.passes.delays import is_relay, loihi_relay_params, loihi_relay_weight
from neurocompile.passes.pipeline import CompileContext
from neurocompile.targets.loihi2.arith import DECAY_UNITY, sign_mode
from neurocompile.targets.loihi2.refractory import kick_input_units, split_kick, state_need_per_mv

ACT_SHIFT = 6          # Lava: synaptic input a is added to u as a << 6 (act_shift)
IN_UNIT = 1 << ACT_SHIFT  # state units per input unit
COARSE_VTH = 64        # warn when the threshold is fewer input units than this
U_MARGIN = 1.0 - 2.0 ** -8
V_HEADROOM_BITS = 3    # default: the threshold uses at most 1/8 of v's range (room below rest)
LAVA_MAX_WEIGHT_BITS = 8  # weightutils.clip_weights(num_bits=8), truncate_weights(max_num_weight_bits=8)


@dataclass(frozen=True)
class LoihiChip:
    """What differs between the Loihi generations this lowering serves (the rest is shared).

    Loihi 1 (targets/loihi1) reuses this pass with its own chip: native refractory delay,
    mixed-sign synapses only, weight_exp applied per synapse and a 21-bit input accumulator.
    """

    number_format: str = "loihi2"
    model: str = "loihi2_lif"
    native_refractory: bool = False   # a refract_delay parameter instead of emulation
    mixed_only: bool = False          # every synapse format is mixed sign (no sign modes)
    per_synapse_exp: bool = False     # weight_exp shifts each synapse, not the step's sum
    accum_bits: int | None = None     # per-step synaptic accumulator (bits + sign) that must not wrap
    name: str = "Loihi 2"


LOIHI2_CHIP = LoihiChip()


# ------------------------------------------------------------------------------------------------
# Weight mantissas
# ------------------------------------------------------------------------------------------------
def weight_grid(num_weight_bits: int, mode: str) -> tuple[int, int]:
    """(k, J): legal weights are j * 2**k with |j| <= J, for Lava's sign mode `mode`."""
    k = LAVA_MAX_WEIGHT_BITS - int(num_weight_bits) + int(mode == "mixed")
    return k, (2 ** LAVA_MAX_WEIGHT_BITS - 1) >> k


def choose_weight_exp(a_max: float, num_weight_bits: int, mode: str, exp_min: int, exp_max: int) -> int:
    """Smallest exponent in [exp_min, exp_max] at which the largest |A| fits the mantissa."""
    if not a_max > 0:
        return int(min(max(0, exp_min), exp_max))
    k, J = weight_grid(num_weight_bits, mode)
    e = math.floor(math.log2(a_max / (J + 1))) - k - 1
    while np.rint(a_max / 2.0 ** (e + k)) > J:
        e += 1
    return int(min(max(e, exp_min), exp_max))


def quantize_mantissas(a: np.ndarray, exp: int, num_weight_bits: int, mode: str) -> tuple[np.ndarray, int]:
    """Legal integer weights m ~ a / 2**exp (round to nearest) and the number saturated."""
    k, J = weight_grid(num_weight_bits, mode)
    j = np.rint(np.asarray(a, dtype=np.float64) / 2.0 ** (exp + k))
    lo = 0 if mode == "excitatory" else -J
    hi = 0 if mode == "inhibitory" else J
    sat = (j < lo) | (j > hi)
    return (np.clip(j, lo, hi).astype(np.int64) << k), int(np.count_nonzero(sat))


def quantize_weights(a: np.ndarray, fmt: LoihiFormat, exp: int | None = None,
                     exp_min: int | None = None, chip: LoihiChip = LOIHI2_CHIP
                     ) -> tuple[np.ndarray, int, str, int]:
    """Input units `a` -> (mantissas, weight_exp, sign mode, n_saturated) for board format `fmt`.

    `exp` fixes the exponent; else the smallest in [exp_min (default the board's), weight_exp_max]
    at which the largest weight fits is taken.
    """
    a = np.asarray(a, dtype=np.float64)
    mode = "mixed" if chip.mixed_only else sign_mode(a)
    nwb = int(fmt.weight_bits)
    if exp is None:
        lo = fmt.weight_exp_min if exp_min is None else max(int(exp_min), fmt.weight_exp_min)
        if chip.per_synapse_exp:  # below -k a per-synapse shift only drops mantissa bits
            lo = max(lo, -weight_grid(nwb, mode)[0])
        exp = choose_weight_exp(float(np.max(np.abs(a), initial=0.0)), nwb, mode,
                                min(lo, fmt.weight_exp_max), fmt.weight_exp_max)
    m, n_sat = quantize_mantissas(a, exp, nwb, mode)
    return m, int(exp), mode, n_sat


# ------------------------------------------------------------------------------------------------
# Population parameters
# ------------------------------------------------------------------------------------------------
def decay_dv(tau_m: np.ndarray, dt: float, fmt: LoihiFormat) -> np.ndarray:
    dmax = 2 ** fmt.decay_bits - 1
    return np.clip(np.rint(DECAY_UNITY * (1.0 - np.exp(-dt / tau_m))), 0, dmax).astype(np.int64)


def decay_du(tau_s: np.ndarray, dt: float, fmt: LoihiFormat) -> np.ndarray:
    dmax = 2 ** fmt.decay_bits - 1
    return np.clip(np.rint(DECAY_UNITY * (1.0 - np.exp(-dt / tau_s))) - 1, 0, dmax).astype(np.int64)


def effective_tau(keep: np.ndarray, dt: float) -> np.ndarray:
    """Time constant of a decay by keep/4096 per step (inf when nothing decays)."""
    frac = np.asarray(keep, dtype=np.float64) / DECAY_UNITY
    with np.errstate(divide="ignore"):
        return np.where(frac >= 1.0, np.inf, np.where(frac <= 0.0, 0.0, -dt / np.log(np.clip(frac, 1e-300, 1.0))))


def vth_max(fmt: LoihiFormat) -> int:
    return int(min(2 ** fmt.vth_mantissa_bits - 1, (2 ** (fmt.state_bits - 1) - 2) >> fmt.vth_shift))


def quantize_bias(b: np.ndarray, fmt: LoihiFormat) -> tuple[np.ndarray, np.ndarray]:
    """State units per step -> (bias_mant, bias_exp) per neuron, smallest exponent that fits."""
    mmax = 2 ** (fmt.bias_mantissa_bits - 1) - 1
    b = np.asarray(b, dtype=np.float64)
    exp = np.full(b.shape, fmt.bias_exp_min, dtype=np.int64)
    for _ in range(fmt.bias_exp_max - fmt.bias_exp_min + 1):
        over = np.abs(np.rint(b / 2.0 ** exp)) > mmax
        if not over.any():
            break
        exp = np.where(over & (exp < fmt.bias_exp_max), exp + 1, exp)
    mant = np.clip(np.rint(b / 2.0 ** exp), -mmax, mmax).astype(np.int64)
    return mant, exp


def reach_weights(pr: Projection) -> np.ndarray:
    """|w| a projection can reach: its weights, or w_max everywhere if it learns."""
    if pr.plasticity is not None:
        return np.full(pr.n_synapses, abs(float(pr.plasticity.w_max)))
    return np.abs(pr.weight)


def _compact(arr: np.ndarray) -> Any:
    """A scalar Python int when all entries are equal (as Lava's LIF takes du, dv, vth)."""
    arr = np.asarray(arr)
    if arr.size and np.all(arr == arr.flat[0]):
        return int(arr.flat[0])
    return arr.astype(np.int64)


def _rel(eff: np.ndarray, want: np.ndarray) -> np.ndarray:
    eff, want = np.asarray(eff, dtype=np.float64), np.asarray(want, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.abs(eff - want) / np.abs(want)
    return np.where(eff == want, 0.0, np.where(want == 0, np.inf, r))


class _PopPlan:
    """Everything needed to lower one lif_curr_exp population."""

    def __init__(self, pop: Population, incoming: list[Projection], net: Network, ctx: CompileContext,
                 fmt: LoihiFormat, chip: LoihiChip = LOIHI2_CHIP) -> None:
        self.pop, self.name, self.dt, self.chip = pop, pop.name, net.dt_ms, chip
        self.state_bits = int(fmt.state_bits)
        opts = ctx.options
        accept = set(opts.get("loihi_accept", ()))
        p = pop.param
        owner = f"population {pop.name!r}"
        self.v_rest = p("v_rest")
        theta = p("v_thresh") - self.v_rest
        if np.any(theta <= 0):
            i = int(np.argmax(theta <= 0))
            raise ModelError(f"{owner}: v_thresh ({p('v_thresh')[i]:g} mV) must be above v_rest "
                             f"({self.v_rest[i]:g} mV) and v_reset ({p('v_reset')[i]:g} mV) on Loihi "
                             f"(neuron {i}): Loihi resets v to 0 and fires at vth >= 0, so a neuron that "
                             f"resets at or above its threshold cannot be expressed")
        vr = p("v_reset")
        bad = ~np.isclose(vr, self.v_rest, rtol=0, atol=1e-9 * np.maximum(1.0, np.abs(theta)))
        if bad.any():
            i = int(np.argmax(bad))
            msg = (f"{owner}: v_reset ({vr[i]:g} mV) differs from v_rest ({self.v_rest[i]:g} mV) for "
                   f"{int(bad.sum())} neuron(s); {chip.name}'s LIF resets v to 0, which is v_rest")
            if "v_reset" not in accept:
                raise ModelError(msg + "; set v_reset = v_rest, or pass "
                                       "options loihi_accept={'v_reset'} to reset to v_rest")
            ctx.warn(msg + ": resetting to v_rest (accepted by options loihi_accept)", pop.name)
        ref = np.round(p("tau_refrac") / self.dt).astype(np.int64)
        self.refractory_steps = 0
        self.refract_delay = ref + 1      # Loihi 1: held for refract_delay - 1 steps (nengo configure_lif)
        if chip.native_refractory:
            from neurocompile.ir.neuron_models import get_neuron_model
            top = int(get_neuron_model(chip.model).params["refract_delay"].high)
            if int(self.refract_delay.max()) > top:
                i = int(np.argmax(self.refract_delay))
                raise ModelError(f"{owner}: tau_refrac = {float(p('tau_refrac')[i]):g} ms is {int(ref[i])} "
                                 f"steps at dt_ms={self.dt:g} (neuron {i}); {chip.name}'s refract_delay "
                                 f"holds at most {top - 1} refractory steps; increase dt_ms")
            ref = np.zeros_like(ref)      # native: nothing to emulate
        if np.any(ref >= 1):
            how = "drop" if "tau_refrac" in accept else opts.get("loihi_refractory", "emulate")
            if how not in ("emulate", "drop", "error"):
                raise ModelError(f"options loihi_refractory must be 'emulate', 'drop' or 'error', "
                                 f"got {how!r}")
            msg = (f"{owner}: tau_refrac = {float(p('tau_refrac').max()):g} ms is "
                   f"{int(ref.max())} step(s) at dt_ms={self.dt:g}; Lava's fixed-point LIF has no "
                   f"refractory period")
            if how == "error":
                raise ModelError(msg + "; options loihi_refractory='emulate' emulates it with "
                                       "self-synapses, 'drop' drops it")
            if how == "drop":
                ctx.warn(msg + ": dropped (options)", pop.name)
            elif np.any(ref != ref[0]):
                raise ModelError(msg + f": emulation needs one period for the whole population (found "
                                       f"{int(ref.min())}..{int(ref.max())} steps); make tau_refrac "
                                       f"uniform or pass options loihi_refractory='drop'")
            else:
                self.refractory_steps = int(ref[0])
        # One u per compartment: one synaptic time constant.
        used = {pr.receptor for pr in incoming if pr.n_synapses}
        te, ti = p("tau_syn_E"), p("tau_syn_I")
        override = opts.get("tau_syn", {}).get(pop.name)
        if override is not None:
            tau_s = np.full(pop.size, float(override))
            if not (tau_s[0] > 0 and math.isfinite(tau_s[0])):
                raise ModelError(f"{owner}: options tau_syn must be a positive number of ms, got {override!r}")
            ctx.warn(f"{owner}: one synaptic time constant for both receptors on Loihi: "
                     f"tau_syn = {float(override):g} ms (from options tau_syn; was E "
                     f"{float(te.mean()):g}, I {float(ti.mean()):g} ms)", pop.name)
        elif used == {"inhibitory"}:
            tau_s = ti
        elif len(used) == 2 and not np.allclose(te, ti, rtol=1e-12, atol=0):
            raise ModelError(f"{owner}: tau_syn_E ({float(te.mean()):g} ms) != tau_syn_I "
                             f"({float(ti.mean()):g} ms) and both receptors receive synapses; a {chip.name} "
                             f"LIF compartment has one synaptic current. Make them equal, or choose one "
                             f"with options tau_syn={{{pop.name!r}: ms}}")
        else:
            tau_s = te
            if used and not np.allclose(te, ti, rtol=1e-12, atol=0):
                ctx.info(f"{owner}: only {used.pop()} synapses arrive, so tau_syn = "
                         f"{float(tau_s.mean()):g} ms (the other receptor's time constant is unused)",
                         pop.name)
        self.tau_m, self.cm, self.tau_s = p("tau_m"), p("cm"), tau_s
        self.p22 = np.exp(-self.dt / self.tau_m)
        self.p21 = psc_propagator(self.tau_m, tau_s, self.cm, self.dt)
        self.p20 = self.tau_m / self.cm * (1.0 - self.p22)
        self.dv = decay_dv(self.tau_m, self.dt, fmt)
        self.du = decay_du(tau_s, self.dt, fmt)
        self.theta = theta
        self.bias_mv = p("i_offset") * self.p20  # mV per step
        self.v_init = p("v_init")

        # Worst-case input (mV per step into u), per post neuron, every pre neuron firing every step.
        exc = np.zeros(pop.size)
        inh = np.zeros(pop.size)
        for pr in incoming:
            if pr.n_synapses == 0:
                continue
            contrib = reach_weights(pr) * self.p21[pr.post_idx]
            np.add.at(inh if pr.receptor == "inhibitory" else exc, pr.post_idx, contrib)
        gain = DECAY_UNITY / (self.du + 1.0)
        self.u_bound_mv = float(np.max(np.maximum(exc, inh) * gain, initial=0.0))
        self.exc_bound_mv = float(np.max(exc * gain, initial=0.0))
        self.inh_bound_mv = float(np.max(inh * gain, initial=0.0))
        self.max_a_mv = max((float(np.max(reach_weights(pr) * self.p21[pr.post_idx]))
                             for pr in incoming if pr.n_synapses), default=0.0)

        # Scale limits (state units per mV).
        k_any, j_any = weight_grid(fmt.weight_bits, "mixed" if chip.mixed_only else "excitatory")
        theta_max = float(theta.max())
        headroom = opts.get("loihi_v_headroom_bits", V_HEADROOM_BITS)
        if not (isinstance(headroom, (int, np.integer)) and 0 <= headroom < fmt.vth_mantissa_bits):
            raise ModelError(f"options loihi_v_headroom_bits must be an integer in "
                             f"0..{fmt.vth_mantissa_bits - 1}, got {headroom!r}")
        tu = 1 << fmt.vth_shift  # state units per vth unit
        limits = {"threshold": (tu * (vth_max(fmt) >> headroom) + 1) / theta_max}
        u_cap = (2 ** (fmt.state_bits - 1) - 1) * U_MARGIN
        if self.u_bound_mv > 0:
            limits["input_bound"] = u_cap / self.u_bound_mv
        step_mv = float(np.max(np.maximum(exc, inh), initial=0.0))
        if chip.accum_bits is not None and step_mv > 0:   # one step's summed input must not wrap
            limits["accumulator"] = (2 ** chip.accum_bits - 1) * U_MARGIN / step_mv
        if chip.accum_bits is not None and self.u_bound_mv > 0:  # u + bias wraps too (Loihi 1)
            limits["input_bound"] = u_cap / (self.u_bound_mv + float(np.max(np.abs(self.bias_mv), initial=0.0)))
        if self.refractory_steps:
            du0, dv0 = np.unique(self.du), np.unique(self.dv)
            if du0.size > 1 or dv0.size > 1:
                raise ModelError(f"{owner}: refractory emulation needs one tau_m and one tau_syn for "
                                 f"the population; pass options loihi_refractory='drop' instead")
            self.kick_du, self.kick_dv = int(du0[0]), int(dv0[0])
            # b: the largest one-step rise of u from input and bias, what the kick must outweigh
            self.kick_bound_mv = self.exc_bound_mv + float(np.max(self.bias_mv, initial=0.0))
            need = state_need_per_mv(self.refractory_steps, self.kick_du, self.kick_dv,
                                     self.kick_bound_mv, self.inh_bound_mv)
            if need > 0:
                limits["refractory_room"] = (2 ** (fmt.state_bits - 1) - 1) * U_MARGIN / need
        bmax = float(np.max(np.abs(self.bias_mv), initial=0.0))
        bias_cap = float((2 ** (fmt.bias_mantissa_bits - 1) - 1) << fmt.bias_exp_max)
        if bmax > 0:
            limits["bias"] = bias_cap / bmax
        if self.max_a_mv > 0:
            limits["weights"] = (j_any + 0.5) * 2.0 ** (fmt.weight_exp_max + k_any) * IN_UNIT / self.max_a_mv
        self.limits = limits
        s_override = opts.get("voltage_scale", {}).get(pop.name)
        if s_override is not None:
            S = float(s_override)
            if not (S > 0 and math.isfinite(S)):
                raise ModelError(f"{owner}: options voltage_scale must be a positive number, got {s_override!r}")
            hard = {"threshold": (tu * vth_max(fmt) + 1) / theta_max}
            if "bias" in limits:
                hard["bias"] = limits["bias"]
            for lim, cap in hard.items():
                if S > cap * (1 + 1e-12):
                    raise ResourceError(f"{owner}: options voltage_scale {S:g} state units/mV exceeds the "
                                        f"{lim} limit {cap:g} of {ctx.board.name}")
            if "input_bound" in limits and S > limits["input_bound"]:
                ctx.warn(f"{owner}: options voltage_scale {S:g} is above the worst-case input bound "
                         f"{limits['input_bound']:g}: u (24-bit, wraps) may overflow if many inputs "
                         f"coincide", pop.name)
            self.limited_by = "override"
        else:
            self.limited_by = min(limits, key=limits.get)
            S = limits[self.limited_by]
        # Make the threshold exact: theta_max * S = (vth << vth_shift) + 1 (strict '>' on integers).
        vth0 = int(min(vth_max(fmt), math.floor((theta_max * S - 1) / tu + 1e-9)))
        if vth0 < 0:
            raise ResourceError(f"{owner}: voltage scale {S:g} state units/mV leaves no threshold "
                                f"resolution ({theta_max:g} mV < one state unit)")
        self.S = (tu * vth0 + 1) / theta_max
        self.vth_unit = tu
        vth = np.clip(np.rint((theta * self.S - 1) / tu), 0, vth_max(fmt)).astype(np.int64)
        self.vth = vth
        if vth0 * tu < COARSE_VTH * IN_UNIT:
            ctx.warn(f"{owner}: coarse voltage resolution on Loihi: the threshold is only {vth0} input "
                     f"units (limited by {self.limited_by}: worst-case input {self.u_bound_mv:g} mV/step "
                     f"if every input fired every step); inputs are resolved to 1/{max(vth0, 1)} of the "
                     f"threshold. Options voltage_scale={{{pop.name!r}: S}} trades overflow safety for "
                     f"resolution", pop.name)
        self.bias_mant, self.bias_exp = quantize_bias(self.bias_mv * self.S, fmt)
        smax = 2 ** (fmt.state_bits - 1) - 1
        self.v_init_q = np.clip(np.rint((self.v_init - self.v_rest) * self.S), -smax, smax).astype(np.int64)

    def params(self) -> dict[str, Any]:
        out = {"du": _compact(self.du), "dv": _compact(self.dv), "vth": _compact(self.vth),
               "bias_mant": _compact(self.bias_mant), "bias_exp": _compact(self.bias_exp),
               "u_init": 0, "v_init": _compact(self.v_init_q)}
        if self.chip.native_refractory:
            out["refract_delay"] = _compact(self.refract_delay)
        return out

    def record(self, ctx: CompileContext, tol: float) -> dict[str, Any]:
        dt = self.dt
        tau_m_eff = effective_tau(DECAY_UNITY - self.dv, dt)
        tau_s_eff = effective_tau(DECAY_UNITY - (self.du + 1), dt)
        thr_eff = (self.vth_unit * self.vth + 1) / self.S
        bias_eff = (self.bias_mant * 2.0 ** self.bias_exp) / self.S  # mV per step
        checks = {
            "tau_m": (tau_m_eff, self.tau_m, "ms"),
            "tau_syn": (tau_s_eff, self.tau_s, "ms"),
            "v_thresh - v_rest": (thr_eff, self.theta, "mV"),
            "i_offset": (bias_eff / self.p20, self.bias_mv / self.p20, "nA"),
        }
        out: dict[str, Any] = {"voltage_scale": self.S, "scale_limited_by": self.limited_by,
                               "scale_limits": {k: float(v) for k, v in self.limits.items()},
                               "worst_case_input_mV_per_step": self.u_bound_mv,
                               "vth": int(self.vth.max()), "du": _as_json(self.du), "dv": _as_json(self.dv),
                               "v_floor_mV": float(np.min(self.v_rest)) - (2 ** (self.state_bits - 1) - 1) / self.S}
        for name, (eff, want, unit) in checks.items():
            rel = _rel(eff, want)
            if name == "i_offset":  # absolute check: a zero bias must stay zero, tiny ones may not
                rel = np.where(np.abs(want) > 0, rel, np.where(eff == 0, 0.0, np.inf))
            worst = int(np.argmax(rel)) if rel.size else 0
            out[name] = {"requested": float(want[worst]), "effective": float(eff[worst]),
                         "max_rel_error": float(rel[worst]) if rel.size else 0.0}
            if rel.size and rel[worst] > tol:
                n = int(np.count_nonzero(rel > tol))
                ctx.warn(f"population {self.name!r}: {name} becomes {float(eff[worst]):.6g} {unit} "
                         f"instead of {float(want[worst]):.6g} {unit} on Loihi ({rel[worst]:.2%} off, "
                         f"{n} neuron(s) beyond the {tol:.2%} tolerance; represented as "
                         f"{_REPRESENTATION[name]})", self.name)
        return out


_REPRESENTATION = {"tau_m": "a decay of dv/4096 per step, dv <= 4095",
                   "tau_syn": "a decay of (du+1)/4096 per step, du <= 4095",
                   "v_thresh - v_rest": "(vth << 6) + 1 state units",
                   "i_offset": "bias_mant << bias_exp state units per step"}


def _as_json(arr: np.ndarray) -> Any:
    c = _compact(arr)
    return c if isinstance(c, int) else [int(x) for x in c]


# ------------------------------------------------------------------------------------------------
# The pass
# ------------------------------------------------------------------------------------------------
def quantize_loihi(net: Network, ctx: CompileContext, chip: LoihiChip = LOIHI2_CHIP) -> Network:
    """Lower lif_curr_exp populations and their projections to `chip.model` (a new network)."""
    fmt = ctx.board.number_format
    if not isinstance(fmt, LoihiFormat):
        raise ModelError(f"board {ctx.board.name} ({ctx.board.family}) has no Loihi number format; "
                         f"quantize_loihi needs a Loihi board")
    tol = float(ctx.options.get("loihi_param_tolerance", 0.01))
    exp_overrides: dict[str, int] = dict(ctx.options.get("weight_exp", {}))
    exp_floor = ctx.options.get("weight_exp_min")
    if exp_floor is not None and not (isinstance(exp_floor, (int, np.integer))
                                      and fmt.weight_exp_min <= exp_floor <= fmt.weight_exp_max):
        raise ModelError(f"options weight_exp_min {exp_floor!r} must be an integer in "
                         f"{fmt.weight_exp_min}..{fmt.weight_exp_max} ({ctx.board.name})")
    unknown = set(exp_overrides) - set(net.projections)
    if unknown:
        raise ModelError(f"options weight_exp names unknown projection(s) {sorted(unknown)}")
    for opt in ("voltage_scale", "tau_syn"):
        unknown = set(ctx.options.get(opt, {})) - set(net.populations)
        if unknown:
            raise ModelError(f"options {opt} names unknown population(s) {sorted(unknown)}")

    out = clone_network(net)
    plans: dict[str, _PopPlan] = {}
    pop_records = ctx.quantization.populations
    for pop in net.populations.values():
        model = pop.neuron_model
        if model.is_source or pop.model == chip.model:
            continue
        if pop.model != "lif_curr_exp":
            raise ModelError(f"population {pop.name!r}: quantize_loihi lowers lif_curr_exp only, "
                             f"not {pop.model!r}")
        incoming = list(net.projections_into(pop.name))
        if is_relay(pop):
            relay = loihi_relay_params(chip.model)
            out.populations[pop.name] = clone_population(pop, model=chip.model, params=relay)
            pop_records[pop.name] = {"relay": True, **relay}
            continue
        plan = _PopPlan(_rest_at_reset(pop, ctx), incoming, net, ctx, fmt, chip)
        plans[pop.name] = plan
        annotations = dict(out.populations[pop.name].annotations)
        annotations["loihi_voltage_scale"] = plan.S
        out.populations[pop.name] = clone_population(pop, model=chip.model, params=plan.params(),
                                                     annotations=annotations)
        pop_records[pop.name] = plan.record(ctx, tol)
        ctx.info(f"population {pop.name!r}: {plan.S:.6g} state units per mV (limited by "
                 f"{plan.limited_by}), vth={int(plan.vth.max())}, du={_as_json(plan.du)}, "
                 f"dv={_as_json(plan.dv)}", pop.name)

    records = ctx.quantization.projections
    for proj in net.projections.values():
        post = net.populations[proj.post]
        if is_relay(post) and post.model == "lif_curr_exp":
            w = np.full(proj.n_synapses, float(loihi_relay_weight(fmt, chip.mixed_only)))
            out.projections[proj.name] = clone_projection(
                proj, weight=w, receptor="input",
                attrs={"weight_exp": 0, "num_weight_bits": int(fmt.weight_bits)})
            continue
        if proj.post not in plans:
            continue  # into an already target-native population: left as it is
        if proj.name in exp_overrides:
            e = exp_overrides[proj.name]
            if not (isinstance(e, (int, np.integer)) and fmt.weight_exp_min <= e <= fmt.weight_exp_max):
                raise ModelError(f"projection {proj.name!r}: options weight_exp {e!r} must be an integer "
                                 f"in {fmt.weight_exp_min}..{fmt.weight_exp_max} ({ctx.board.name})")
        out.projections[proj.name], records[proj.name] = _quantize_projection(
            proj, plans[proj.post], fmt, exp_overrides.get(proj.name), ctx, exp_floor, chip)
    for name, plan in plans.items():
        if plan.refractory_steps:
            pop_records[name]["refractory_emulation"] = _add_refractory_emulation(out, plan, fmt, ctx)
    for name, plan in plans.items():
        _floor_bias_check(plan, [records[p.name] for p in net.projections_into(name) if p.name in records],
                          pop_records[name], ctx, tol)
    out.number_format = chip.number_format
    return out


def _rest_at_reset(pop: Population, ctx: CompileContext) -> Population:
    """Neurons whose leak potential is at or above threshold (they fire on their own) on Loihi.

    Loihi's v rests at 0 and resets to 0; this lowering puts v_rest at 0, which would make the
    threshold <= 0. For those neurons v is measured from v_reset instead and the leak toward
    v_rest becomes a constant drive: with R = tau_m / cm,
        tau_m dV/dt = (v_rest - V) + R (I + i_offset)
                    = (v_reset - V) + R (I + i_offset + (v_rest - v_reset) / R),
    i.e. v_rest := v_reset and i_offset += (v_rest - v_reset) / R (a Loihi bias). Exact; the
    float model runs the same equation. Other neurons are unchanged.
    """
    p = pop.param
    v_rest, v_thresh, v_reset = p("v_rest"), p("v_thresh"), p("v_reset")
    sel = (v_thresh <= v_rest) & (v_reset < v_thresh)
    if not np.any(sel):
        return pop
    r = p("tau_m") / p("cm")
    params = dict(pop.params)
    params["v_rest"] = np.where(sel, v_reset, v_rest)
    params["i_offset"] = p("i_offset") + np.where(sel, (v_rest - v_reset) / r, 0.0)
    i = int(np.argmax(sel))
    ctx.info(f"population {pop.name!r}: {int(sel.sum())} neuron(s) rest at or above threshold (fire on their "
             f"own, e.g. neuron {i}: v_rest {v_rest[i]:g} mV >= v_thresh {v_thresh[i]:g} mV); on Loihi their v "
             f"is measured from v_reset and the leak toward v_rest is a bias (i_offset += (v_rest - v_reset) "
             f"cm / tau_m = {float(params['i_offset'][i] - p('i_offset')[i]):.6g} nA): exact", pop.name)
    return clone_population(pop, params=params)


def _floor_bias_check(plan: _PopPlan, recs: list[dict[str, Any]], pop_rec: dict[str, Any],
                      ctx: CompileContext, tol: float) -> None:
    """Bound the systematic loss from Lava's floor shift of negative-exponent sums.

    Each projection with weight_exp < 0 loses up to one input unit (64 state units) per step;
    u accumulates that with gain 4096/(du+1) and v with gain 4096/dv, relative to the threshold
    64 vth + 1. This is a worst case (input every step); the mean loss is about half.
    """
    n_neg = 0 if plan.chip.per_synapse_exp else sum(1 for r in recs if r["weight_exp"] < 0 and r["n_synapses"])
    if not n_neg:
        pop_rec["floor_bias_bound_rel_threshold"] = 0.0
        return
    gain_u = float(np.max(DECAY_UNITY / (plan.du + 1.0)))
    dv_min = int(np.min(plan.dv))
    gain_v = DECAY_UNITY / dv_min if dv_min > 0 else math.inf
    rel = n_neg * gain_u * gain_v * IN_UNIT / (plan.vth_unit * float(np.min(plan.vth)) + 1)
    pop_rec["floor_bias_bound_rel_threshold"] = rel
    if rel > tol:
        ctx.warn(f"population {plan.name!r}: {n_neg} incoming projection(s) have weight_exp < 0; Lava "
                 f"floor-shifts each step's summed input, a systematic loss that can reach "
                 f"{rel:.2%} of the threshold (worst case, input every step). Options "
                 f"weight_exp_min=0 avoids it at the cost of coarser small weights", plan.name)


def _add_refractory_emulation(out: Network, plan: _PopPlan, fmt: LoihiFormat,
                              ctx: CompileContext) -> dict[str, Any]:
    """Self-projections holding v down for the refractory period (passes/refractory_emulation.py)."""
    k_grid, j_max = weight_grid(fmt.weight_bits, "excitatory")
    high_exp = min(int(fmt.weight_exp_max), int(math.log2(j_max + 1)))
    b_state = plan.kick_bound_mv * plan.S
    x = kick_input_units(plan.refractory_steps, plan.kick_du, plan.kick_dv, b_state, IN_UNIT << k_grid)
    size = plan.pop.size
    n_syn = 0
    names = []
    for (sign, exp), (delays, mants) in sorted(split_kick(x, high_exp, j_max).items()):
        per = delays.size
        idx = np.repeat(np.arange(size, dtype=np.int64), per)
        name = f"{plan.name}-refractory-{'exc' if sign > 0 else 'inh'}-e{exp}"
        out.add_projection(plan.name, plan.name, idx, idx, np.tile(mants * (1 << k_grid), size),
                           np.tile(delays, size), receptor="input", name=name,
                           attrs={"weight_exp": exp, "num_weight_bits": int(fmt.weight_bits)})
        n_syn += per
        names.append(name)
    ctx.warn(f"population {plan.name!r}: refractory period of {plan.refractory_steps} step(s) emulated "
             f"with {n_syn} self-synapses per neuron (delays 1..{plan.refractory_steps + 2}); input "
             f"arriving during the period reaches v after it (options loihi_refractory='drop' or "
             f"'error' to change)", plan.name)
    return {"steps": plan.refractory_steps, "kick_input_units": x.tolist(), "projections": names,
            "synapses_per_neuron": n_syn, "input_bound_state_units": b_state}


def _quantize_projection(proj: Projection, plan: _PopPlan, fmt: LoihiFormat, exp: int | None,
                         ctx: CompileContext, exp_floor: int | None = None,
                         chip: LoihiChip = LOIHI2_CHIP) -> tuple[Projection, dict[str, Any]]:
    if proj.plasticity is not None:
        if chip.per_synapse_exp:
            raise ModelError(f"projection {proj.name!r} is plastic (pair STDP); the {chip.name} "
                             f"lowering has no STDP: nengo-loihi's emulator, the only public model of "
                             f"the chip, implements PES learning only")
        return _quantize_plastic(proj, plan, fmt, exp, ctx, exp_floor)
    n = proj.n_synapses
    unit_mv = IN_UNIT / plan.S                    # mV per input unit
    p21 = plan.p21[proj.post_idx] if n else np.zeros(0)
    a = proj.weight * p21 / unit_mv               # input units per spike
    if chip.per_synapse_exp and exp is not None and exp < -weight_grid(fmt.weight_bits, "mixed")[0]:
        raise ModelError(f"projection {proj.name!r}: options weight_exp {exp} is below "
                         f"{-weight_grid(fmt.weight_bits, 'mixed')[0]}; on {chip.name} the exponent "
                         f"shifts each {fmt.weight_bits}-bit weight, so it would drop mantissa bits")
    m, e, mode, n_sat = quantize_weights(a, fmt, exp, exp_floor, chip)
    k, _ = weight_grid(fmt.weight_bits, mode)
    w_q = m * 2.0 ** e * unit_mv / p21 if n else np.zeros(0)
    err = np.abs(w_q - proj.weight)
    nonzero = proj.weight != 0
    n_nonzero = int(np.count_nonzero(nonzero))
    n_zeroed = int(np.count_nonzero(nonzero & (m == 0)))
    below = (m != 0) & (np.abs(m * 2.0 ** e) < 1.0)
    wmax = float(np.max(np.abs(proj.weight), initial=0.0))
    scale = float(np.mean(p21)) / unit_mv / 2.0 ** e if n else 0.0  # mantissa units per nA
    rec = {
        "n_synapses": n,
        "max_abs_error": float(err.max(initial=0.0)),
        "mean_abs_error": float(err.mean()) if n else 0.0,
        "relative_error": float(err.max(initial=0.0)) / wmax if wmax > 0 else 0.0,
        "n_zeroed": n_zeroed,
        "n_saturated": n_sat,
        "weight_exp": e,
        "scale": scale,
        "num_weight_bits": int(fmt.weight_bits),
        "sign_mode": mode,
        "voltage_scale": plan.S,
        "weight_lsb_nA": float(2.0 ** (e + k) * unit_mv / float(np.mean(p21))) if n else 0.0,
        "n_below_input_unit": int(np.count_nonzero(below)),
        "sum_floor_error_nA": (float(unit_mv / float(np.min(p21))) if (n and e < 0 and not chip.per_synapse_exp)
                               else 0.0),
        "exp_source": "override" if exp is not None else "auto",
    }
    owner = f"projection {proj.name!r}"
    if n_nonzero and n_zeroed == n_nonzero:
        raise ResourceError(
            f"{owner}: all {n_nonzero} nonzero weights become 0 on {ctx.board.name} (largest |w| = "
            f"{wmax:.3g} nA; weight_exp {e} gives a weight step of {rec['weight_lsb_nA']:.3g} nA"
            f"{' (from options weight_exp)' if exp is not None else ', at its lowest allowed value'}); "
            f"use a smaller weight_exp or larger weights")
    if n_zeroed:
        small = float(np.max(np.abs(proj.weight[nonzero & (m == 0)])))
        ctx.warn(f"{owner}: {n_zeroed} of {n_nonzero} nonzero weights become 0 on Loihi (|w| up to "
                 f"{small:.3g} nA is below half the weight step {rec['weight_lsb_nA']:.3g} nA at "
                 f"weight_exp {e}; largest |w| {wmax:.3g} nA)", proj.name)
    if n_sat:
        ctx.warn(f"{owner}: {n_sat} of {n} weights saturate at the largest mantissa "
                 f"(weight_exp {e}{' from options' if exp is not None else ' = weight_exp_max'}); "
                 f"max relative error {rec['relative_error']:.2%}", proj.name)
    if rec["n_below_input_unit"]:
        ctx.warn(f"{owner}: {rec['n_below_input_unit']} of {n} weights are below one input unit "
                 f"(weight_exp {e}): Lava floor-shifts each step's summed input, so such a weight "
                 f"arriving alone delivers {'0' if mode != 'inhibitory' else '-1 unit'}; they only "
                 f"count when several arrive in the same step", proj.name)
    new = clone_projection(proj, weight=m.astype(np.float64), receptor="input",
                           attrs={"weight_exp": e, "num_weight_bits": int(fmt.weight_bits)})
    return new, rec


def _quantize_plastic(proj: Projection, plan: _PopPlan, fmt: LoihiFormat, exp: int | None,
                      ctx: CompileContext, exp_floor: int | None) -> tuple[Projection, dict[str, Any]]:
    """A learning projection: the exponent is chosen for w_max (the range learning can reach) and
    the weights and the STDP rule are expressed in mantissa units (the loihi2 mode's
    ``backends/sim/loihi2_stdp.py`` runs the rule on them)."""
    rule = proj.plasticity
    n = proj.n_synapses
    owner = f"projection {proj.name!r}"
    unit_mv = IN_UNIT / plan.S
    p21 = plan.p21[proj.post_idx] if n else np.zeros(0)
    if n and not np.allclose(p21, p21[0], rtol=1e-12, atol=0):
        raise ModelError(f"{owner} is plastic but its post neurons have different synaptic "
                         f"propagators (tau_m, tau_syn or cm vary): one STDP rule in mantissa units "
                         f"cannot serve them all on Loihi")
    sign = -1.0 if proj.receptor == "inhibitory" else 1.0
    a_max = np.array([sign * abs(rule.w_max) * (p21[0] if n else 0.0) / unit_mv])
    m_max_arr, e, mode, w_max_saturates = quantize_weights(a_max, fmt, exp, exp_floor)
    m_max = float(abs(m_max_arr[0]))
    n_sat = n if w_max_saturates else 0          # every synapse may reach w_max
    if m_max <= 0:
        raise ResourceError(f"{owner}: w_max = {rule.w_max:g} nA becomes 0 on {ctx.board.name} at "
                            f"weight_exp {e}; use larger weights or a smaller weight_exp")
    scale = m_max / abs(rule.w_max)               # mantissa units per nA
    m = np.rint(proj.weight * scale)
    w_q = m / scale
    err = np.abs(w_q - proj.weight)
    new_rule = STDPRule(rule.tau_plus, rule.tau_minus, rule.a_plus * scale, rule.a_minus * scale,
                        float(np.rint(rule.w_min * scale)), m_max)
    rec = {"n_synapses": n, "max_abs_error": float(err.max(initial=0.0)),
           "mean_abs_error": float(err.mean()) if n else 0.0,
           "relative_error": float(err.max(initial=0.0)) / abs(rule.w_max),
           "n_zeroed": int(np.count_nonzero((proj.weight != 0) & (m == 0))), "n_saturated": n_sat,
           "weight_exp": e, "scale": scale, "num_weight_bits": int(fmt.weight_bits), "sign_mode": mode,
           "voltage_scale": plan.S, "weight_lsb_nA": 1.0 / scale,
           "n_below_input_unit": 0, "sum_floor_error_nA": float(unit_mv / p21[0]) if (n and e < 0) else 0.0,
           "exp_source": "override" if exp is not None else "auto",
           "plastic": {"w_max_mantissa": m_max, "a_plus_mantissa": new_rule.a_plus,
                       "a_minus_mantissa": new_rule.a_minus, "w_min_mantissa": new_rule.w_min}}
    ctx.info(f"{owner}: STDP lowered to mantissa units (w_max {rule.w_max:g} nA -> {m_max:g} at "
             f"weight_exp {e}; a_plus {new_rule.a_plus:.4g}, a_minus {new_rule.a_minus:.4g})", proj.name)
    new = clone_projection(proj, weight=m, receptor="input", plasticity=new_rule,
                           attrs={"weight_exp": e, "num_weight_bits": int(fmt.weight_bits)})
    return new, rec


__all__ = ["choose_weight_exp", "decay_du", "decay_dv", "quantize_bias", "quantize_loihi",
           "quantize_mantissas", "quantize_weights", "vth_max", "weight_grid"]
