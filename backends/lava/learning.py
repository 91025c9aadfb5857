"""Lower an IR `STDPRule` (mantissa units, loihi2 quantizer) to a Lava 0.10 `Loihi2FLearningRule`.

Why a rule of our own instead of `STDPLoihi`: STDPLoihi rounds A+/A- with `float_to_literal`
and fixes the trace impulse at 16 (4 bits of trace precision); here the impulse and the scaling
literal are chosen together so that `m * 2**e * impulse` equals A in weight-mantissa units, and
extra products remove the Δ = 0 potentiation that Lava's traces would otherwise add.

Lava arithmetic relied on (lava-nc 0.10, site-packages/lava/):
- `magma/core/learning/product_series.py` `_generate_product` (lines 723-738): a product's literal
  must be `m * 2 ^ e` with -8 <= m < 8 and -7 <= e < 9; it is stored as s_exp = e + 7.
- `magma/core/learning/learning_rule_applier.py` `LearningRuleApplierBitApprox.apply` (243): a product
  adds `(m * factors) >> max(0, widths + 4 - 15) << (e + 7)` to the accumulator (x0/y0 width 1,
  traces width 7), clipped to +-2**15 after every product; `magma/core/model/py/connection.py`
  `_apply_learning_rules` (936) holds weights in that accumulator as `w << 7`, rounds
  stochastically to 8 bits (1073; one uniform number per epoch from `ConnVarRandom()`, seed 2,
  not `rng_seed`: 680, `magma/core/learning/random.py` 113) and clips with
  `clip_weights(num_bits=8)` by sign mode (1113). So one product changes w by `m * 2**e * trace`.
- `connection.py` `_compute_trace_histories` (799), `_decay_trace` (874), `_add_impulse` (905): traces are 7-bit
  integers (saturate at 127), decayed by `exp(-1/tau)` in float and stochastically rounded with
  one number (shared by all neurons) per step drawn from `default_rng(rng_seed)` (+1, +2, +3 for the other streams);
  a spike adds the impulse in the step it happens, so at Δ = 0 both traces already include it.
- `_extract_applier_evaluated_traces` (474): x1 is read at the post spike's step, y1 at the pre
  spike's step, within an epoch (`t_epoch` = 1 here, so learning runs after every step's spikes).
- `proc/dense/models.py` `PyLearningDenseModelBitApproximate.run_spk` (161-191): a pre spike is sent with
  the weights of the previous epoch, then `recv_traces`; learning (`run_lrn`) runs after it.

What maps exactly: pair timing with all-to-all traces, exponential decay, the dendritic delay (the
post spike reaches the rule `delay` steps late through a relay neuron, processes.py), Δ = 0 counted
as depression only. Approximate (docs/plasticity.md §4.1): trace and weight stochastic rounding,
7-bit traces (`IMPULSE_MAX` leaves room for two undecayed spikes), A rounded to `m 2**e impulse`,
bounds = Lava's 8-bit saturation [0, 255] only (no w_min / w_max clip), the depression of a pre
spike applied after that spike is sent (ours: before), no 15-spike post history.
"""
from __future__ import annotations

import numpy as np

from neurocompile.ir.network import Network, Projection

IMPULSE_MAX = 63           # 7-bit traces saturate at 127: two undecayed spikes must still fit
MANTISSAS = range(1, 8)    # product_series.py: -8 <= m < 8
EXPONENTS = range(-7, 9)   # product_series.py: -7 <= e < 9
MAX_BAP_DELAY = 64         # relay: Dense (1) or DelayDense (1 + 0..63)
WEIGHT_RANGE = (0, 255)    # clip_weights(num_bits=W_WEIGHTS_U = 8), single sign mode


def scaling(a: float, impulse_max: int = IMPULSE_MAX) -> tuple[int, int, int]:
    """(m, e, impulse) with m * 2**e * impulse closest to `a` (largest impulse on ties), a > 0."""
    best = None
    for imp in range(1, impulse_max + 1):
        for m in MANTISSAS:
            for e in EXPONENTS:
                err = abs(m * 2.0**e * imp - a)
                key = (round(err / a, 9), -imp, m)
                if best is None or key < best[0]:
                    best = (key, (m, e, imp))
    return best[1]


def _literal(m: int, e: int) -> str:
    return f"({m}) * 2 ^ {e}"


def _binary_products(value: int, e: int, sign: int, factors: str) -> list[str]:
    """`sign * value * 2**e * factors` as one product per set bit of `value` (m = 1 each)."""
    return [f"{_literal(sign, e + b)} * {factors}" for b in range(value.bit_length()) if value >> b & 1]


def rng_seed(seed: int, name: str) -> int:
    """Lava's `rng_seed` for projection `name` under run seed `seed` (fixed, so runs repeat)."""
    return int(np.random.SeedSequence([int(seed), *map(ord, name)]).generate_state(1)[0] >> 2)


def plastic_sign(proj: Projection, net: Network) -> int:
    """+1 / -1 for an excitatory / inhibitory plastic projection (a zero weight takes its
    receptor's sign, as in our STDP); 0 when its synapses mix signs."""
    from neurocompile.backends.sim.stdp import synapse_signs

    signs = np.unique(synapse_signs(proj, net))
    return int(signs[0]) if signs.size == 1 else (1 if signs.size == 0 else 0)


def rule_spec(proj: Projection, net: Network) -> dict[str, np.ndarray]:
    """The learning rule of plastic `proj` as arrays for processes.py (keys without the conn prefix;
    the run's `rng_seed` is added by lowering.with_sources)."""
    r = proj.plasticity
    sign = plastic_sign(proj, net)
    terms, eff = [], {}
    imp = {"x1": 0, "y1": 0}
    if r.a_plus > 0:
        m, e, i = scaling(float(r.a_plus))
        imp["x1"], eff["a_plus"] = i, m * 2.0**e * i
        # x1 read at a post spike includes a same-step pre impulse (Δ = 0): take it back out first.
        # Order matters: the applier clips the accumulator to +-2**15 after every product, so the
        # correction goes before the potentiation (never below the true sum) and the depression
        # after it (the IR clips potentiation, then depresses).
        terms += _binary_products(m * i, e, -sign, "y0 * x0")
        terms.append(f"{_literal(sign * m, e)} * y0 * x1")
    if r.a_minus > 0:
        m, e, i = scaling(float(r.a_minus))
        imp["y1"], eff["a_minus"] = i, m * 2.0**e * i
        terms.append(f"{_literal(-sign * m, e)} * x0 * y1")
    d = np.unique(proj.delay)
    tau_steps = (float(r.tau_plus) / net.dt_ms, float(r.tau_minus) / net.dt_ms)
    return {"dw": np.array(" + ".join(terms) if terms else "0 * x0"),
            "x1_impulse": np.array(imp["x1"]), "x1_tau": np.array(tau_steps[0]),
            "y1_impulse": np.array(imp["y1"]), "y1_tau": np.array(tau_steps[1]),
            "bap_delay": np.array(int(d[0]) if d.size else 1),
            "a_plus_eff": np.array(eff.get("a_plus", 0.0)), "a_minus_eff": np.array(eff.get("a_minus", 0.0))}


def unsupported(proj: Projection, net: Network) -> str | None:
    """Why LearningDense cannot run plastic `proj` (one clause), or None."""
    n_pre, n_post = net.populations[proj.pre].size, net.populations[proj.post].size
    pairs = np.asarray(proj.pre_idx, np.int64) * n_post + np.asarray(proj.post_idx, np.int64)
    if np.unique(pairs).size != pairs.size:
        return "several synapses on one (pre, post) pair; LearningDense holds one learnt weight per pair"
    if pairs.size != n_pre * n_post:
        return (f"{pairs.size} of {n_pre * n_post} (pre, post) pairs connected; LearningDense learns on "
                f"every pair, so absent synapses would grow")
    if plastic_sign(proj, net) == 0:
        return "mixed-sign synapses; a learning sign mode must be excitatory or inhibitory"
    d = np.unique(proj.delay)
    if d.size > 1:
        return (f"per-synapse delays {int(d.min())}..{int(d.max())}; LearningDense has no synaptic delay "
                f"and the rule's dendritic delay is emulated per projection (one delay)")
    if d.size and not 1 <= int(d[0]) <= MAX_BAP_DELAY:
        return f"delay {int(d[0])}; the post-spike relay takes 1..{MAX_BAP_DELAY}"
    r = proj.plasticity
    for name in ("a_plus", "a_minus"):
        v = float(getattr(r, name))
        if v < 0 or (v > 0 and not 2.0**-7 <= v <= 7 * 2.0**8 * IMPULSE_MAX):
            return f"STDP {name} = {v:g} is outside what a Lava product can scale (0 or 2^-7..{7 * 2**8 * IMPULSE_MAX})"
    for name in ("tau_plus", "tau_minus"):
        if float(getattr(r, name)) <= 0:
            return f"STDP {name} = {getattr(r, name)!r} must be > 0"
    return None


def bounds_note(proj: Projection) -> str | None:
    """What the rule's bounds become in Lava, when not exactly [w_min, w_max]."""
    r = proj.plasticity
    if (float(r.w_min), float(r.w_max)) == WEIGHT_RANGE:
        return None
    return (f"projection {proj.name!r}: STDP bounds [{r.w_min:g}, {r.w_max:g}] become Lava's 8-bit "
            f"saturation [{WEIGHT_RANGE[0]}, {WEIGHT_RANGE[1]}] (LearningDense has no w_min/w_max)")


__all__ = ["IMPULSE_MAX", "bounds_note", "plastic_sign", "rng_seed", "rule_spec", "scaling", "unsupported"]
