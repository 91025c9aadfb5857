"""Quantization passes: Loihi 2 fixed point (passes/quantize_loihi.py) and SpiNNaker 16-bit weights
with ring-buffer shifts (passes/quantize_spinnaker.py).

Checked: the documented error bounds (hypothesis), that every emitted weight is one Lava keeps
unchanged, that no weight is zeroed without a warning with counts, that a projection losing all its
weights fails, that overrides are honoured, that Loihi parameters respect the board's widths for
random physical parameters, that the worst-case input bound really keeps u from wrapping, and that
a float network and its Loihi 2 version spike (nearly) alike -- in our loihi2 mode and in Lava.
"""
from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from neurocompile.targets.spinnaker import weights as sw
from neurocompile.backends.sim import Simulation
from neurocompile.backends.sim.float_mode import FloatMode, psc_propagator
from neurocompile.backends.sim.loihi2_mode import Loihi2Mode, LoihiWeightWarning, lava_weights
from neurocompile.boards import load_board
from neurocompile.errors import ModelError, ResourceError
from neurocompile.ir.network import Network, STDPRule
from neurocompile.ir.neuron_models import LOIHI2_LIF
from neurocompile.ir.validate import validate_network
from neurocompile.passes.pipeline import CompileContext
from neurocompile.targets.loihi2.quantize import (quantize_loihi, quantize_mantissas, quantize_weights,
                                                vth_max, weight_grid)
from neurocompile.targets.spinnaker.quantize import (forced_max_expected_summed_weight,
                                                    quantize_spinnaker, raw_weights, weight_lsb)

LOIHI = load_board("loihi2-oheo-gulch")
LOIHI1 = load_board("loihi1-nahuku-32")
SPINN = load_board("spinn-5")
FMT = LOIHI.number_format
HYP = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def ctx_for(board, **options) -> CompileContext:
    return CompileContext(board=board, options=options)


def warnings_of(ctx, subject=None):
    return [d.message for d in ctx.diagnostics if d.level == "warning" and (subject is None or d.subject == subject)]


def ff_net(weights_exc, weights_inh=None, n_post=4, params=None, seed=0, steps=200, rate=0.05) -> Network:
    """Spike source -> LIF, all-to-all given weight matrices (pre x post)."""
    rng = np.random.default_rng(seed)
    w_e = np.asarray(weights_exc, dtype=float)
    n_pre = w_e.shape[0]
    net = Network(name="ff", dt_ms=1.0, seed=seed)
    net.add_spike_source("src", [sorted(np.flatnonzero(rng.random(steps) < rate).tolist()) for _ in range(n_pre)])
    p = {"tau_refrac": 0.0, "tau_m": 20.0, "tau_syn_E": 5.0, "tau_syn_I": 5.0}
    p.update(params or {})
    net.add_population("lif", n_post, "lif_curr_exp", p, record=("spikes",))
    net.connect_matrix("src", "lif", w_e, receptor="excitatory", name="exc")
    if weights_inh is not None:
        net.connect_matrix("src", "lif", np.asarray(weights_inh, dtype=float), receptor="inhibitory", name="inh")
    return net


# ================================================================================================
# Loihi: weight mantissas
# ================================================================================================
signed_arrays = st.lists(st.floats(-1e4, 1e4, allow_nan=False, allow_subnormal=False), min_size=1, max_size=40)


@HYP
@given(a=signed_arrays, scale=st.floats(1e-3, 1e3), sign=st.sampled_from(["exc", "inh", "mixed"]),
       nwb=st.integers(1, 8), exp=st.integers(FMT.weight_exp_min, FMT.weight_exp_max))
def test_mantissas_with_any_exp_are_legal_and_within_half_a_step(a, scale, sign, nwb, exp):
    a = np.asarray(a) * scale
    if sign == "exc":
        a = np.abs(a)
    elif sign == "inh":
        a = -np.abs(a)
    fmt = dataclasses.replace(FMT, weight_bits=nwb)
    m, e, mode, n_sat = quantize_weights(a, fmt, exp)
    assert e == exp
    # Lava's clip_weights + truncate_weights leave every emitted weight unchanged.
    assert np.array_equal(lava_weights(m, nwb), m)
    k, J = weight_grid(nwb, mode)
    assert np.all(m % (1 << k) == 0) and np.all(np.abs(m) <= J << k)
    if mode == "mixed" and nwb == 8:
        assert np.all(m % 2 == 0)  # Lava drops the LSB of mixed-sign weights: we emit even ones
    step = 2.0 ** (exp + k)
    saturated = np.abs(a) > (J + 0.5) * step
    assert n_sat == int(saturated.sum())
    err = np.abs(m * 2.0 ** exp - a)
    assert np.all(err[~saturated] <= step / 2 * (1 + 1e-12))
    assert np.all(np.sign(m[m != 0]) == np.sign(a[m != 0]))  # no sign flips


@HYP
@given(a=signed_arrays, scale=st.floats(1e-2, 1e4), sign=st.sampled_from(["exc", "inh", "mixed"]),
       nwb=st.integers(1, 8))
def test_automatic_exp_uses_the_full_mantissa_and_meets_the_relative_bound(a, scale, sign, nwb):
    a = np.asarray(a) * scale
    a = np.abs(a) if sign == "exc" else (-np.abs(a) if sign == "inh" else a)
    amax = float(np.max(np.abs(a)))
    assume(amax > 0)
    fmt = dataclasses.replace(FMT, weight_bits=nwb)
    m, e, mode, n_sat = quantize_weights(a, fmt)
    k, J = weight_grid(nwb, mode)
    assume(J > 0)  # mixed sign at 1 bit: Lava keeps only -256 and 0, there is no mantissa
    assert np.array_equal(lava_weights(m, nwb), m)
    if fmt.weight_exp_min < e < fmt.weight_exp_max:
        assert n_sat == 0
        rel = float(np.max(np.abs(m * 2.0 ** e - a))) / amax
        assert rel < 1.0 / (J + 0.5)
        # minimal: one exponent lower, the largest weight would not fit
        assert np.rint(amax / 2.0 ** (e - 1 + k)) > J
        # the largest weight uses the upper half of the mantissa range
        assert np.max(np.abs(m)) >> k > J // 2


def test_mixed_sign_weights_are_even_and_symmetric():
    a = np.array([-300.0, -255.4, -3.0, -1.2, 0.0, 1.0, 3.0, 253.0, 254.9])
    m, e, mode, n_sat = quantize_weights(a, FMT, 0)
    # steps of 2, |j| <= 127 (-256 is not used so the weights stay legal in any sign mode),
    # round half to even on j = a / 2: -1.5 -> -2, 0.5 -> 0, 1.5 -> 2, 126.5 -> 126; -300 and -255.4 saturate
    assert mode == "mixed" and e == 0 and n_sat == 2
    assert m.tolist() == [-254, -254, -4, -2, 0, 0, 4, 252, 254]  # 253 / 2 = 126.5 -> 126
    assert np.all(m % 2 == 0)
    assert np.array_equal(lava_weights(m, 8), m)
    # Lava itself would have turned odd mixed weights into the next lower even value (3 -> 2, -3 -> -4)
    assert lava_weights(np.array([3, -3, 5]), 8).tolist() == [2, -4, 4]


def test_quantize_mantissas_saturates_and_counts():
    m, n = quantize_mantissas(np.array([0.0, 10.0, 300.0, 1000.0]), 0, 8, "excitatory")
    assert m.tolist() == [0, 10, 255, 255] and n == 2


# ================================================================================================
# Loihi: the pass
# ================================================================================================
def test_loihi_pass_structure_mapping_and_records():
    rng = np.random.default_rng(1)
    net = ff_net(rng.uniform(0.1, 2.0, (6, 4)), -rng.uniform(0.05, 1.0, (6, 4)))
    before = copy.deepcopy(net)
    ctx = ctx_for(LOIHI)
    q = quantize_loihi(net, ctx)
    validate_network(q)
    assert q is not net and q.number_format == "loihi2" and net.number_format is None
    lif = q.populations["lif"]
    assert lif.model == "loihi2_lif" and lif.record == ("spikes",)
    # Documented mapping: dv, du (+1), exact threshold at v_thresh - v_rest, zero rest.
    assert lif.params["dv"] == round(4096 * (1 - np.exp(-1 / 20)))
    assert lif.params["du"] == round(4096 * (1 - np.exp(-1 / 5))) - 1
    S = ctx.quantization.populations["lif"]["voltage_scale"]
    assert (64 * lif.params["vth"] + 1) == pytest.approx(15.0 * S)
    assert lif.params["v_init"] == 0 and lif.params["u_init"] == 0
    for name in ("exc", "inh"):
        p, p0 = q.projections[name], net.projections[name]
        assert p.receptor == "input" and p.attrs["num_weight_bits"] == 8
        rec = ctx.quantization.projections[name]
        assert set(rec) >= {"max_abs_error", "mean_abs_error", "relative_error", "n_zeroed",
                            "n_saturated", "n_synapses", "weight_exp", "scale"}
        assert rec["weight_exp"] == p.attrs["weight_exp"] and rec["n_synapses"] == p0.n_synapses
        # dequantize: m 2**e input units, 64 state units each, / S mV, / p21 -> nA
        p21 = psc_propagator(np.array([20.0]), np.array([5.0]), np.array([1.0]), 1.0)[0]
        w_q = p.weight * 2.0 ** p.attrs["weight_exp"] * 64 / S / p21
        err = np.abs(w_q - p0.weight)
        assert rec["max_abs_error"] == pytest.approx(err.max())
        assert rec["mean_abs_error"] == pytest.approx(err.mean())
        assert rec["relative_error"] == pytest.approx(err.max() / np.abs(p0.weight).max())
        assert rec["relative_error"] < 1 / 255.5  # the documented bound for 8-bit single-sign
        assert np.max(np.abs(p.weight)) > 127  # the largest weight uses the full mantissa
        assert rec["scale"] == pytest.approx(p21 * S / 64 / 2.0 ** p.attrs["weight_exp"])
        assert np.array_equal(lava_weights(p.weight, 8), p.weight)
    assert np.all(q.projections["inh"].weight <= 0)
    json.dumps(ctx.quantization.to_dict())  # plain Python values: the report can carry them
    # the input network is untouched
    for name, p in before.projections.items():
        assert np.array_equal(net.projections[name].weight, p.weight)
    assert net.populations["lif"].model == "lif_curr_exp"
    assert net.populations["lif"].params == before.populations["lif"].params
    assert net.populations["lif"].annotations == before.populations["lif"].annotations


def test_per_neuron_parameters_become_per_neuron_integers():
    net = ff_net(np.ones((3, 3)), n_post=3, params={"tau_m": np.array([10.0, 20.0, 40.0]),
                                                    "v_thresh": np.array([-60.0, -55.0, -50.0]),
                                                    "i_offset": np.array([0.0, 0.1, -0.2])})
    ctx = ctx_for(LOIHI)
    q = quantize_loihi(net, ctx)
    validate_network(q)
    lif = q.populations["lif"]
    assert lif.param("dv").tolist() == [round(4096 * (1 - np.exp(-1 / t))) for t in (10.0, 20.0, 40.0)]
    S = ctx.quantization.populations["lif"]["voltage_scale"]
    thr = (64 * lif.param("vth") + 1) / S
    assert thr[2] == pytest.approx(15.0)  # the largest threshold is exact, the others within 32 units
    assert np.all(np.abs(thr - [5.0, 10.0, 15.0]) <= 32 / S)
    assert lif.param("bias_mant")[0] == 0 and lif.param("bias_mant")[1] > 0 > lif.param("bias_mant")[2]


def test_zeroed_weights_are_warned_with_counts():
    w = np.zeros((5, 1))
    w[:, 0] = [2.0, 1e-4, 2e-4, 5e-5, 1.0]
    ctx = ctx_for(LOIHI)
    q = quantize_loihi(ff_net(w, n_post=1), ctx)
    rec = ctx.quantization.projections["exc"]
    assert rec["n_zeroed"] == 3 and int(np.count_nonzero(q.projections["exc"].weight)) == 2
    (msg,) = warnings_of(ctx, "exc")
    assert "3 of 5 nonzero weights become 0" in msg and "'exc'" in msg


def test_projection_losing_all_weights_fails_naming_it():
    w = np.full((3, 2), 1e-9)  # below half a step even at weight_exp_min
    with pytest.raises(ResourceError, match="projection 'exc': all 6 nonzero weights become 0"):
        quantize_loihi(ff_net(w, n_post=2), ctx_for(LOIHI))
    # also through a weight_exp override that is far too large
    w = np.full((3, 2), 0.01)
    with pytest.raises(ResourceError, match="'exc'.*options weight_exp"):
        quantize_loihi(ff_net(w, n_post=2), ctx_for(LOIHI, weight_exp={"exc": 7}))


def test_explicit_zero_weights_are_not_counted_as_lost():
    w = np.array([[0.0, 1.0], [0.5, 0.0]])
    net = Network(dt_ms=1.0)
    net.add_spike_source("src", [[1], [2]])
    net.add_population("lif", 2, "lif_curr_exp", {"tau_refrac": 0.0})
    net.add_projection("src", "lif", [0, 0, 1, 1], [0, 1, 0, 1], w.ravel(), receptor="excitatory", name="exc")
    ctx = ctx_for(LOIHI)
    quantize_loihi(net, ctx)
    assert ctx.quantization.projections["exc"]["n_zeroed"] == 0 and not warnings_of(ctx)


def test_weight_exp_override_is_honoured_and_saturation_reported():
    rng = np.random.default_rng(2)
    net = ff_net(rng.uniform(0.5, 2.0, (4, 3)), n_post=3)
    auto_ctx = ctx_for(LOIHI)
    auto = quantize_loihi(net, auto_ctx)
    e_auto = auto.projections["exc"].attrs["weight_exp"]
    for e in (e_auto + 2, e_auto - 1):
        ctx = ctx_for(LOIHI, weight_exp={"exc": e})
        q = quantize_loihi(net, ctx)
        assert q.projections["exc"].attrs["weight_exp"] == e
        rec = ctx.quantization.projections["exc"]
        assert rec["weight_exp"] == e and rec["exp_source"] == "override"
        if e < e_auto:
            assert rec["n_saturated"] > 0
            assert any("saturate" in m for m in warnings_of(ctx, "exc"))
        assert np.array_equal(lava_weights(q.projections["exc"].weight, 8), q.projections["exc"].weight)
    with pytest.raises(ModelError, match="'exc': options weight_exp 8 must be an integer in -8..7"):
        quantize_loihi(net, ctx_for(LOIHI, weight_exp={"exc": 8}))
    with pytest.raises(ModelError, match="unknown projection"):
        quantize_loihi(net, ctx_for(LOIHI, weight_exp={"nope": 0}))


physical = st.fixed_dictionaries({
    "tau_m": st.floats(0.5, 200.0), "cm": st.floats(0.05, 10.0), "v_rest": st.floats(-80.0, -40.0),
    "theta": st.floats(0.5, 60.0), "tau_syn": st.floats(0.05, 100.0), "i_offset": st.floats(-3.0, 3.0),
    "v_init_off": st.floats(-30.0, 20.0), "w_scale": st.floats(1e-3, 20.0), "dt": st.sampled_from([1.0, 0.1, 0.5]),
    "fan_in": st.integers(1, 60),
})


@HYP
@given(p=physical, seed=st.integers(0, 2**16), board=st.sampled_from([LOIHI, LOIHI1]))
def test_loihi_parameters_fit_the_board_for_random_physical_parameters(p, seed, board):
    rng = np.random.default_rng(seed)
    fmt = board.number_format
    net = Network(dt_ms=p["dt"])
    net.add_spike_source("src", [[1]] * p["fan_in"])
    params = {"tau_m": p["tau_m"], "cm": p["cm"], "v_rest": p["v_rest"], "v_reset": p["v_rest"],
              "v_thresh": p["v_rest"] + p["theta"], "tau_syn_E": p["tau_syn"], "tau_syn_I": p["tau_syn"],
              "i_offset": p["i_offset"], "v_init": p["v_rest"] + p["v_init_off"], "tau_refrac": 0.0}
    net.add_population("lif", 3, "lif_curr_exp", params)
    pre, post = np.nonzero(np.ones((p["fan_in"], 3)))
    net.add_projection("src", "lif", pre, post, rng.uniform(0.2, 1.0, pre.size) * p["w_scale"],
                       receptor="excitatory", name="e")
    net.add_projection("src", "lif", pre, post, -rng.uniform(0.2, 1.0, pre.size) * p["w_scale"],
                       receptor="inhibitory", name="i")
    # Weights whose spikes move V by less than 1e-4 of the threshold would all be lost (an error,
    # tested elsewhere); keep the physically meaningful cases.
    p21 = psc_propagator(np.array([p["tau_m"]]), np.array([p["tau_syn"]]), np.array([p["cm"]]), p["dt"])[0]
    assume(0.2 * p["w_scale"] * p21 / p["theta"] > 1e-4)
    ctx = ctx_for(board)
    q = quantize_loihi(net, ctx)
    validate_network(q)  # every loihi2_lif ParamSpec range
    lif = q.populations["lif"]
    assert 0 <= lif.param("du").min() and lif.param("du").max() <= 2 ** fmt.decay_bits - 1
    assert 0 <= lif.param("dv").min() and lif.param("dv").max() <= 2 ** fmt.decay_bits - 1
    assert 0 <= lif.param("vth").min() and lif.param("vth").max() <= vth_max(fmt)
    assert np.all(np.abs(lif.param("bias_mant")) <= 2 ** (fmt.bias_mantissa_bits - 1) - 1)
    assert np.all((fmt.bias_exp_min <= lif.param("bias_exp")) & (lif.param("bias_exp") <= fmt.bias_exp_max))
    assert np.all(np.abs(lif.param("v_init")) <= 2 ** (fmt.state_bits - 1) - 1)
    for spec_name in ("du", "dv", "vth", "bias_mant", "bias_exp", "v_init"):
        spec = LOIHI2_LIF.params[spec_name]
        assert spec.low <= lif.param(spec_name).min() and lif.param(spec_name).max() <= spec.high
    for name in ("e", "i"):
        pr = q.projections[name]
        assert fmt.weight_exp_min <= pr.attrs["weight_exp"] <= fmt.weight_exp_max
        assert pr.attrs["num_weight_bits"] == fmt.weight_bits
        assert np.array_equal(lava_weights(pr.weight, fmt.weight_bits), pr.weight)
        rec = ctx.quantization.projections[name]
        assert rec["n_saturated"] == 0
        if rec["n_zeroed"] == 0 and fmt.weight_exp_min < rec["weight_exp"]:
            assert rec["relative_error"] < 1 / 255.5
    # the threshold is exact
    rec = ctx.quantization.populations["lif"]
    assert rec["v_thresh - v_rest"]["max_rel_error"] < 1e-9


def test_worst_case_input_cannot_wrap_u():
    """Every input firing every step: u stays inside 24 bits (the input_bound scale rule)."""
    rng = np.random.default_rng(4)
    n_pre, steps = 80, 120
    net = Network(dt_ms=1.0)
    net.add_spike_source("src", [list(range(steps))] * n_pre)
    net.add_population("lif", 3, "lif_curr_exp", {"tau_refrac": 0.0, "tau_syn_E": 20.0, "tau_syn_I": 20.0,
                                                  "v_thresh": -64.0}, record=("u",))
    pre, post = np.nonzero(np.ones((n_pre, 3)))
    net.add_projection("src", "lif", pre, post, rng.uniform(1.0, 5.0, pre.size), receptor="excitatory")
    ctx = ctx_for(LOIHI)
    q = quantize_loihi(net, ctx)
    assert ctx.quantization.populations["lif"]["scale_limited_by"] == "input_bound"
    u = Simulation(q, Loihi2Mode()).run(steps).traces["lif"]["u"]
    assert u.max() < 2 ** 23 and u.min() > -2 ** 23
    assert u.max() > 2 ** 22  # and the bound is not absurdly loose: u gets near the top
    assert np.all(np.diff(u[:, 0].astype(np.int64)) >= 0)  # monotone rise: no wrap happened
    # A voltage_scale override above the bound is allowed with a warning.
    S = ctx.quantization.populations["lif"]["voltage_scale"]
    ctx2 = ctx_for(LOIHI, voltage_scale={"lif": 4 * S})
    quantize_loihi(net, ctx2)
    assert any("may overflow" in m for m in warnings_of(ctx2, "lif"))


def test_inexpressible_features_are_errors_naming_the_population():
    net = ff_net(np.ones((2, 2)), n_post=2, params={"v_reset": -70.0})
    with pytest.raises(ModelError, match="population 'lif': v_reset .* differs from v_rest"):
        quantize_loihi(net, ctx_for(LOIHI))
    ctx = ctx_for(LOIHI, loihi_accept={"v_reset"})
    quantize_loihi(net, ctx)
    assert any("v_reset" in m for m in warnings_of(ctx, "lif"))

    net = ff_net(np.ones((2, 2)), n_post=2, params={"tau_refrac": 2.0})
    with pytest.raises(ModelError, match="population 'lif': tau_refrac = 2 ms is 2 step"):
        quantize_loihi(net, ctx_for(LOIHI, loihi_refractory="error"))
    for how in ({"loihi_accept": {"tau_refrac"}}, {"loihi_refractory": "drop"}):
        ctx = ctx_for(LOIHI, **how)
        q = quantize_loihi(net, ctx)
        assert any("dropped" in m for m in warnings_of(ctx, "lif"))
        assert set(q.projections) == {"exc"}
    ctx = ctx_for(LOIHI)                       # default: emulated (tests/test_refractory_emulation.py)
    q = quantize_loihi(net, ctx)
    assert any("emulated" in m for m in warnings_of(ctx, "lif"))
    emulation = ctx.quantization.populations["lif"]["refractory_emulation"]
    assert emulation["projections"] and set(emulation["projections"]) < set(q.projections)
    validate_network(q)
    with pytest.raises(ModelError, match="one period for the whole population"):
        quantize_loihi(ff_net(np.ones((2, 2)), n_post=2, params={"tau_refrac": np.array([1.0, 2.0])}),
                       ctx_for(LOIHI))
    # PyNN's default 0.1 ms at dt = 1 ms is 0 steps: nothing changes, nothing to say
    ctx = ctx_for(LOIHI)
    quantize_loihi(ff_net(np.ones((2, 2)), n_post=2, params={"tau_refrac": 0.1}), ctx)
    assert not warnings_of(ctx)


def test_one_synaptic_time_constant_per_compartment():
    params = {"tau_syn_E": 5.0, "tau_syn_I": 10.0}
    both = ff_net(np.ones((2, 2)), -np.ones((2, 2)), n_post=2, params=params)
    with pytest.raises(ModelError, match=r"'lif': tau_syn_E \(5 ms\) != tau_syn_I \(10 ms\)"):
        quantize_loihi(both, ctx_for(LOIHI))
    ctx = ctx_for(LOIHI, tau_syn={"lif": 10.0})
    q = quantize_loihi(both, ctx)
    assert q.populations["lif"].params["du"] == round(4096 * (1 - np.exp(-1 / 10))) - 1
    assert any("tau_syn = 10 ms" in m for m in warnings_of(ctx, "lif"))
    # only excitatory synapses arrive: tau_syn_E is used, with an info, no error
    ctx = ctx_for(LOIHI)
    q = quantize_loihi(ff_net(np.ones((2, 2)), n_post=2, params=params), ctx)
    assert q.populations["lif"].params["du"] == round(4096 * (1 - np.exp(-1 / 5))) - 1
    assert any("only excitatory synapses" in d.message for d in ctx.diagnostics if d.level == "info")


def test_threshold_at_or_below_rest_is_lowered_from_v_reset_with_a_bias():
    # Fires on its own (rests above threshold): v measured from v_reset, the leak a bias (exact).
    params = {"v_thresh": -70.0, "v_reset": -75.0, "v_rest": -65.0, "tau_m": 20.0, "cm": 0.5}
    ctx = ctx_for(LOIHI)
    q = quantize_loihi(ff_net(np.ones((2, 2)), n_post=2, params=params), ctx)
    rec = ctx.quantization.populations["lif"]
    assert rec["v_thresh - v_rest"]["requested"] == pytest.approx(5.0)        # from v_reset
    assert rec["i_offset"]["requested"] == pytest.approx(10.0 * 0.5 / 20.0)    # (v_rest - v_reset) cm / tau_m
    assert int(np.max(q.populations["lif"].params["bias_mant"])) > 0
    assert any("rest at or above threshold" in d.message for d in ctx.diagnostics)
    # resetting at or above threshold cannot be expressed
    with pytest.raises(ModelError, match="'lif': v_thresh .* must be above v_rest .* and v_reset"):
        quantize_loihi(ff_net(np.ones((2, 2)), n_post=2, params={**params, "v_reset": -70.0}), ctx_for(LOIHI))


def test_plastic_projection_gets_its_exponent_from_w_max_and_a_rule_in_mantissa_units():
    net = ff_net(np.full((3, 2), 0.5), n_post=2)
    net.projections["exc"].plasticity = STDPRule(tau_plus=20.0, tau_minus=20.0, a_plus=0.1,
                                                 a_minus=0.12, w_min=0.0, w_max=2.0)
    static = ff_net(np.full((3, 2), 2.0), n_post=2)          # every synapse at w_max
    ctx, ctx_s = ctx_for(LOIHI), ctx_for(LOIHI)
    q, qs = quantize_loihi(net, ctx), quantize_loihi(static, ctx_s)
    pr, ps = q.projections["exc"], qs.projections["exc"]
    # the exponent and the w_max mantissa are those of the static network at w_max
    assert pr.attrs["weight_exp"] == ps.attrs["weight_exp"]
    m_max = float(ps.weight[0])
    rule = pr.plasticity
    assert rule.w_max == m_max and rule.w_min == 0.0
    assert rule.a_plus == pytest.approx(0.1 * m_max / 2.0) and rule.a_minus == pytest.approx(0.12 * m_max / 2.0)
    assert np.all(pr.weight == np.rint(0.5 * m_max / 2.0))
    assert ctx.quantization.projections["exc"]["plastic"]["w_max_mantissa"] == m_max
    # the worst-case input bound (and so the voltage scale) counts plastic synapses at w_max
    assert (ctx.quantization.populations["lif"]["voltage_scale"]
            == ctx_s.quantization.populations["lif"]["voltage_scale"])


def test_parameters_changed_beyond_tolerance_are_warned():
    # tau_syn = 20000 ms cannot be expressed: du = 0 still decays 1/4096 per step
    ctx = ctx_for(LOIHI)
    quantize_loihi(ff_net(np.ones((2, 2)), n_post=2, params={"tau_syn_E": 20000.0, "tau_syn_I": 20000.0}), ctx)
    (msg,) = [m for m in warnings_of(ctx, "lif") if "tau_syn" in m]
    assert "instead of 20000 ms" in msg and "(du+1)/4096" in msg
    rec = ctx.quantization.populations["lif"]["tau_syn"]
    assert rec["effective"] == pytest.approx(-1 / np.log(4095 / 4096))


def test_tiny_weights_below_one_input_unit_are_warned():
    # huge fan-in limits the scale; one tiny projection then has weights below one input unit
    n = 400
    net = Network(dt_ms=1.0)
    net.add_spike_source("src", [[1]] * n)
    net.add_population("lif", 1, "lif_curr_exp", {"tau_refrac": 0.0})
    net.add_projection("src", "lif", np.arange(n), np.zeros(n), 5.0, receptor="excitatory", name="big")
    net.add_projection("src", "lif", [0, 1], [0, 0], [0.01, 0.03], receptor="excitatory", name="tiny")
    ctx = ctx_for(LOIHI)
    quantize_loihi(net, ctx)
    rec = ctx.quantization.projections["tiny"]
    assert rec["weight_exp"] < 0 and rec["n_below_input_unit"] == 2 and rec["sum_floor_error_nA"] > 0
    assert rec["n_zeroed"] == 0
    assert any("below one input unit" in m for m in warnings_of(ctx, "tiny"))
    # and the systematic floor loss of its negative exponent is bounded and warned about
    bound = ctx.quantization.populations["lif"]["floor_bias_bound_rel_threshold"]
    assert bound > 0.01 and any("floor-shifts" in m for m in warnings_of(ctx, "lif"))


def test_coarse_resolution_from_a_huge_worst_case_input_is_warned():
    n = 20000
    net = Network(dt_ms=1.0)
    net.add_spike_source("src", [[1]] * n)
    net.add_population("lif", 1, "lif_curr_exp", {"tau_refrac": 0.0, "tau_syn_E": 20.0})
    net.add_projection("src", "lif", np.arange(n), np.zeros(n), 5.0, receptor="excitatory", name="big")
    ctx = ctx_for(LOIHI)
    q = quantize_loihi(net, ctx)
    assert q.populations["lif"].params["vth"] < 64
    assert any("coarse voltage resolution" in m and "voltage_scale" in m for m in warnings_of(ctx, "lif"))


# ----- float vs Loihi 2 in simulation -----------------------------------------------------------
def _match_fraction(ra: np.ndarray, rb: np.ndarray, tol: int = 1) -> float:
    """Fraction of spikes of ra that have a partner in rb within tol steps (same neuron)."""
    hits, total = 0, 0
    for j in range(ra.shape[1]):
        ta, tb = np.flatnonzero(ra[:, j]), np.flatnonzero(rb[:, j])
        total += ta.size
        hits += sum(1 for t in ta if tb.size and np.min(np.abs(tb - t)) <= tol)
    return hits / max(total, 1)


def test_float_and_quantized_feed_forward_spike_alike_in_loihi2_mode_and_lava():
    from lava_helpers import run_lava

    rng = np.random.default_rng(11)
    steps = 300
    net = ff_net(rng.uniform(0.05, 2.5, (30, 12)), -rng.uniform(0.05, 1.5, (30, 12)), n_post=12,
                 params={"i_offset": 0.3}, steps=steps, rate=0.08)
    ctx = ctx_for(LOIHI)
    q = quantize_loihi(net, ctx)
    assert not warnings_of(ctx)
    fl = Simulation(net, FloatMode()).run(steps)
    lo = Simulation(q, Loihi2Mode()).run(steps)
    rf, rl = fl.raster("lif", 12), lo.raster("lif", 12)
    assert rf.sum() > 500
    # 8-bit weights move each PSP by up to 0.4 % of the largest weight and 12-bit decays move
    # tau_m, tau_syn by ~0.1 %: V differs by a few hundredths of a mV, so a threshold crossing
    # can move by a step; counts stay within one spike per neuron.
    assert np.all(np.abs(rf.sum(0) - rl.sum(0)) <= 1), (rf.sum(0), rl.sum(0))
    assert _match_fraction(rf, rl, 1) > 0.97 and _match_fraction(rl, rf, 1) > 0.97
    assert _match_fraction(rf, rl, 0) > 0.85 and _match_fraction(rl, rf, 0) > 0.85
    # The quantized network is one Lava runs as is (legal weights) and bit for bit like our mode.
    with _no_loihi_weight_warning():
        lava = run_lava(q, steps)
    assert np.array_equal(lava.spikes["lif"], rl)
    assert np.array_equal(lava.v["lif"], lo.final_state["lif"]["v"])
    assert np.array_equal(lava.u["lif"], lo.final_state["lif"]["u"])


# Decays exactly representable on Loihi: dv = 256 (p22 = 15/16), du + 1 = 512 (7/8).
TAU_M_EXACT = -1.0 / np.log(1 - 256 / 4096)
TAU_S_EXACT = -1.0 / np.log(1 - 512 / 4096)


def _dequantized(net: Network, q: Network, ctx: CompileContext) -> Network:
    """The float network with each weight replaced by the value its mantissa stands for."""
    from neurocompile.ir.clone import clone_network

    out = clone_network(net)
    for name, proj in out.projections.items():
        post = net.populations[proj.post]
        p = post.param
        p21 = psc_propagator(p("tau_m"), p("tau_syn_E"), p("cm"), net.dt_ms)[proj.post_idx]
        S = ctx.quantization.populations[proj.post]["voltage_scale"]
        qp = q.projections[name]
        proj.weight = qp.weight * 2.0 ** qp.attrs["weight_exp"] * 64 / S / p21
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mapping_is_exact_apart_from_weight_rounding(seed):
    """With decays Loihi represents exactly and the float weights set to the quantized values, the
    float model and Lava's fixed point give the same spikes, and V agrees to within the floor of
    the sign-magnitude decays (a few state units, here < 0.005 mV)."""
    from lava_helpers import run_lava

    rng = np.random.default_rng(seed)
    steps = 300
    net = ff_net(rng.uniform(0.05, 2.5, (30, 12)), -rng.uniform(0.05, 1.5, (30, 12)), n_post=12,
                 params={"i_offset": 0.3, "tau_m": TAU_M_EXACT, "tau_syn_E": TAU_S_EXACT,
                         "tau_syn_I": TAU_S_EXACT, "v_init": -60.0}, steps=steps, rate=0.08, seed=seed)
    net.populations["lif"].record = ("spikes", "v")
    ctx = ctx_for(LOIHI)
    q = quantize_loihi(net, ctx)
    assert q.populations["lif"].params["dv"] == 256 and q.populations["lif"].params["du"] == 511
    assert all(p.attrs["weight_exp"] >= 0 for p in q.projections.values())
    S = ctx.quantization.populations["lif"]["voltage_scale"]
    q.populations["lif"].record = ("spikes", "v")
    fl = Simulation(_dequantized(net, q, ctx), FloatMode()).run(steps)
    lo = Simulation(q, Loihi2Mode()).run(steps)
    rf, rl = fl.raster("lif", 12), lo.raster("lif", 12)
    assert rf.sum() > 500 and np.array_equal(rf, rl)
    v_float = fl.traces["lif"]["v"] - (-65.0)
    assert np.abs(v_float - lo.traces["lif"]["v"] / S).max() < 0.005
    lava = run_lava(q, steps)
    assert np.array_equal(lava.spikes["lif"], rf)
    assert np.abs(v_float[-1] - lava.v["lif"] / S).max() < 0.005


def test_negative_weight_exp_floor_bias_is_bounded_and_avoidable():
    """A projection with weight_exp < 0 loses up to one input unit per step (Lava floors the
    shifted sum): V drifts below the float value, within the recorded bound; weight_exp_min=0
    removes the drift."""
    rng = np.random.default_rng(3)
    steps = 300
    params = {"i_offset": 0.3, "tau_m": TAU_M_EXACT, "tau_syn_E": TAU_S_EXACT, "tau_syn_I": TAU_S_EXACT,
              "v_thresh": 135.0}  # 200 mV above rest: subthreshold all along
    net = ff_net(rng.uniform(0.05, 2.5, (30, 12)), -rng.uniform(0.05, 1.5, (30, 12)), n_post=12,
                 params=params, steps=steps, rate=0.03)
    net.populations["lif"].record = ("v",)
    drifts = {}
    for floor in (None, 0):
        ctx = ctx_for(LOIHI) if floor is None else ctx_for(LOIHI, weight_exp_min=floor)
        q = quantize_loihi(net, ctx)
        q.populations["lif"].record = ("v",)
        exps = [p.attrs["weight_exp"] for p in q.projections.values()]
        S = ctx.quantization.populations["lif"]["voltage_scale"]
        v_f = Simulation(_dequantized(net, q, ctx), FloatMode()).run(steps).traces["lif"]["v"] + 65.0
        res = Simulation(q, Loihi2Mode()).run(steps)
        assert res.spike_counts()["lif"] == 0
        v_l = res.traces["lif"]["v"] / S
        drifts[floor] = float(np.max(v_f - v_l))
        bound = ctx.quantization.populations["lif"]["floor_bias_bound_rel_threshold"] * 200.0
        if floor is None:
            assert min(exps) < 0 and 0 < drifts[floor] <= bound
        else:
            assert min(exps) >= 0 and bound == 0.0
    # what is left without negative exponents: the sign-magnitude floor of the decays, ~0.01 mV
    assert drifts[0] < 0.05 and drifts[None] > 5 * drifts[0]


@contextlib.contextmanager
def _no_loihi_weight_warning():
    """Lava (and our loihi2 mode) would warn if it had to change any emitted weight."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", LoihiWeightWarning)
        yield


def test_relay_populations_are_lowered_to_the_canonical_relay():
    from neurocompile.passes.delays import legalize_delays, loihi_relay_params, loihi_relay_weight

    net = ff_net(np.ones((2, 2)), n_post=2)
    net.projections["exc"].delay[:] = 100
    legal = legalize_delays(net, ctx_for(LOIHI))
    q = quantize_loihi(legal, ctx_for(LOIHI))
    relay = q.populations["src~relay1"]
    assert relay.model == "loihi2_lif" and relay.params == loihi_relay_params()
    feed = q.projections["src->src~relay1"]
    assert np.all(feed.weight == loihi_relay_weight(LOIHI.number_format)) and feed.attrs["weight_exp"] == 0


# ================================================================================================
# SpiNNaker
# ================================================================================================
def spinn_net(seed=0, delays_vary=False) -> Network:
    rng = np.random.default_rng(seed)
    net = Network(name="sp", dt_ms=1.0)
    net.add_spike_source("src", [[1]] * 20)
    net.add_spike_source("src2", [[2]] * 10)
    net.add_population("a", 8, "lif_curr_exp", {"tau_refrac": 0.0})
    net.add_population("b", 5, "lif_curr_exp", {"tau_refrac": 0.0})
    for pre, post, n_pre, n_post, lo, hi, rec in (("src", "a", 20, 8, 0.1, 3.0, "excitatory"),
                                                  ("src2", "a", 10, 8, 0.01, 0.5, "excitatory"),
                                                  ("src", "a", 20, 8, 0.05, 1.0, "inhibitory"),
                                                  ("a", "b", 8, 5, 0.2, 0.9, "excitatory")):
        i, j = np.nonzero(rng.random((n_pre, n_post)) < 0.6)
        w = rng.uniform(lo, hi, i.size) * (1 if rec == "excitatory" else -1)
        d = rng.integers(1, 10, i.size) if delays_vary else 1
        net.add_projection(pre, post, i, j, w, d, receptor=rec, name=f"{pre}->{post}:{rec[:3]}")
    return net


def _lists(net, pop):
    return [sw.ListProjection(pre=p.pre_idx, post=p.post_idx, weights=p.weight, delays=p.delay * net.dt_ms,
                              receptor=0 if p.receptor == "excitatory" else 1, pre_key=p.pre)
            for p in net.projections_into(pop) if p.n_synapses]


@pytest.mark.parametrize("delays_vary", [False, True])
def test_spinnaker_shifts_and_weights_are_spynnakers(delays_vary):
    net = spinn_net(delays_vary=delays_vary)
    before = copy.deepcopy(net)
    ctx = ctx_for(SPINN)
    q = quantize_spinnaker(net, ctx)
    validate_network(q)
    assert q.number_format == "spinnaker" and net.number_format is None
    for pop in ("a", "b"):
        shifts, uint16 = sw.spinnaker_weights(_lists(net, pop), timestep_ms=1.0)
        ann = q.populations[pop].annotations["ring_buffer_shift"]
        assert [ann["excitatory"], ann["inhibitory"]] == shifts.tolist()
        projs = [p for p in net.projections_into(pop) if p.n_synapses]
        for p, expected_raw in zip(projs, uint16):
            qp = q.projections[p.name]
            s = ann[p.receptor]
            assert np.array_equal(raw_weights(q, qp), expected_raw)
            sign = 1 if p.receptor == "excitatory" else -1
            assert np.array_equal(qp.weight, sign * expected_raw * weight_lsb(s))
            # sPyNNaker, forced to our shift, re-derives exactly the same integers from w_q
            assert sw.shift_for(forced_max_expected_summed_weight(s)) == s
            assert np.array_equal(sw.quantize(qp.weight, sw.weight_scales([s])[0]), expected_raw)
            rec = ctx.quantization.projections[p.name]
            err = np.abs(qp.weight - p.weight)
            assert rec["max_abs_error"] == pytest.approx(err.max()) and rec["ring_buffer_shift"] == s
            assert rec["max_abs_error"] <= weight_lsb(s) / 2
            assert rec["relative_error"] == pytest.approx(err.max() / np.abs(p.weight).max())
    for name, p in before.projections.items():
        assert np.array_equal(net.projections[name].weight, p.weight)
    assert "ring_buffer_shift" not in net.populations["a"].annotations
    json.dumps(ctx.quantization.to_dict())
    json.dumps(q.populations["a"].annotations)  # the IR file format stores annotations as JSON


def test_spinnaker_mode_runs_the_quantized_network_like_the_original():
    """The sim's spinnaker mode (backends/sim/spinnaker_mode.py) applies sPyNNaker's rule itself;
    on the quantized network it must find our shifts and raw weights again: same spikes, same V."""
    from neurocompile.backends.sim.spinnaker_mode import SpinnakerMode

    rng = np.random.default_rng(5)
    steps = 200
    net = ff_net(rng.uniform(0.05, 2.5, (30, 12)), -rng.uniform(0.01, 1.5, (30, 12)), n_post=12,
                 params={"i_offset": 0.3, "tau_refrac": 2.0}, steps=steps, rate=0.08)
    net.projections["exc"].delay[:] = rng.integers(1, 5, net.projections["exc"].n_synapses)
    net.populations["lif"].record = ("spikes", "v_raw")
    q = quantize_spinnaker(net, ctx_for(SPINN))
    a = Simulation(net, SpinnakerMode()).run(steps)
    b = Simulation(q, SpinnakerMode()).run(steps)
    assert a.spike_counts()["lif"] > 50
    assert np.array_equal(a.raster("lif", 12), b.raster("lif", 12))
    assert np.array_equal(a.traces["lif"]["v_raw"], b.traces["lif"]["v_raw"])


@HYP
@given(w=st.lists(st.floats(1e-6, 50.0), min_size=1, max_size=30), shift=st.integers(0, 15))
def test_spinnaker_error_bound_for_random_weights_and_shifts(w, shift):
    w = np.asarray(w)
    net = Network(dt_ms=1.0)
    net.add_spike_source("src", [[1]] * w.size)
    net.add_population("p", 1, "lif_curr_exp", {"tau_refrac": 0.0})
    net.add_projection("src", "p", np.arange(w.size), np.zeros(w.size), w, receptor="excitatory", name="x")
    ctx = ctx_for(SPINN, ring_buffer_shift={"p": shift})
    lsb = weight_lsb(shift)
    assume(np.any(w >= lsb / 2 * (1 + 1e-9)))  # else the projection fails (tested separately)
    q = quantize_spinnaker(net, ctx)
    rec = ctx.quantization.projections["x"]
    wq = q.projections["x"].weight
    sat = w > 0xFFFF * lsb + lsb / 2
    assert rec["n_saturated"] == int(sat.sum())
    assert np.all(np.abs(wq - w)[~sat] <= lsb / 2)
    assert rec["n_zeroed"] == int(np.count_nonzero(wq == 0))
    assert np.all(raw_weights(q, q.projections["x"]) <= 0xFFFF)


def test_spinnaker_zeroed_weights_warned_with_counts_and_total_loss_fails():
    net = Network(dt_ms=1.0)
    net.add_spike_source("src", [[1]] * 6)
    net.add_population("p", 1, "lif_curr_exp", {"tau_refrac": 0.0})
    net.add_projection("src", "p", np.arange(4), np.zeros(4), [3.0, 1e-6, 2e-6, 1.0], receptor="excitatory", name="x")
    ctx = ctx_for(SPINN)
    quantize_spinnaker(net, ctx)
    assert ctx.quantization.projections["x"]["n_zeroed"] == 2
    (msg,) = warnings_of(ctx, "x")
    assert "2 of 4 nonzero weights become 0" in msg and "silently" in msg
    # a second projection onto the same receptor, all of whose weights are below LSB/2
    net.add_projection("src", "p", [4, 5], [0, 0], [2e-5, 3e-5], receptor="excitatory", name="lost")
    with pytest.raises(ResourceError, match="projection 'lost': all 2 nonzero weights become 0"):
        quantize_spinnaker(net, ctx_for(SPINN))
    # ... which an override of the shift rescues (at the price of saturating the large weights)
    ctx = ctx_for(SPINN, ring_buffer_shift={"lost": 0})
    q = quantize_spinnaker(net, ctx)
    assert q.populations["p"].annotations["ring_buffer_shift"]["excitatory"] == 0
    assert ctx.quantization.projections["x"]["n_saturated"] == 1  # 3 nA > 0xFFFF * 2**-15 nA
    assert ctx.quantization.ring_buffer_shifts["p"]["excitatory"]["source"] == "override (lost)"


def test_spinnaker_overrides_per_population_receptor_and_conflicts():
    net = spinn_net()
    ctx = ctx_for(SPINN, ring_buffer_shift={"a": {"inhibitory": 9}, "a->b:exc": 6})
    q = quantize_spinnaker(net, ctx)
    assert q.populations["a"].annotations["ring_buffer_shift"]["inhibitory"] == 9
    assert q.populations["b"].annotations["ring_buffer_shift"]["excitatory"] == 6
    with pytest.raises(ModelError, match="one shift per population and receptor"):
        quantize_spinnaker(net, ctx_for(SPINN, ring_buffer_shift={"a": 3, "src->a:exc": 4}))
    with pytest.raises(ModelError, match="neither a population nor a projection"):
        quantize_spinnaker(net, ctx_for(SPINN, ring_buffer_shift={"zzz": 3}))
    # shifts above the board's maximum are clamped with a warning
    ctx = ctx_for(SPINN, ring_buffer_shift={"b": 20})
    q = quantize_spinnaker(net, ctx)
    assert q.populations["b"].annotations["ring_buffer_shift"] == {"excitatory": 15, "inhibitory": 15}
    assert any("clamped" in m for m in warnings_of(ctx, "b"))
    # sPyNNaker's population parameters move the statistical bound
    netv = spinn_net(delays_vary=True)
    lo = quantize_spinnaker(netv, ctx_for(SPINN, spikes_per_second=1.0))
    hi = quantize_spinnaker(netv, ctx_for(SPINN, spikes_per_second={"a": 1000.0}))
    assert (hi.populations["a"].annotations["ring_buffer_shift"]["excitatory"]
            > lo.populations["a"].annotations["ring_buffer_shift"]["excitatory"])


def test_spinnaker_refractory_rounding_difference_is_warned():
    net = ff_net(np.ones((2, 2)), n_post=2, params={"tau_refrac": 0.1})
    ctx = ctx_for(SPINN)
    quantize_spinnaker(net, ctx)
    (msg,) = warnings_of(ctx, "lif")
    assert "1 tick(s) on SpiNNaker" in msg and "0 step(s) in the float model" in msg


def test_spinnaker_ring_buffer_saturation_risk_is_warned():
    # many equal-delay synapses: sPyNNaker's worst case covers them, no warning ...
    n = 100
    net = Network(dt_ms=1.0)
    net.add_spike_source("src", [[1]] * n)
    net.add_population("p", 1, "lif_curr_exp", {"tau_refrac": 0.0})
    net.add_projection("src", "p", np.arange(n), np.zeros(n), 2.0, 1, receptor="excitatory", name="x")
    ctx = ctx_for(SPINN)
    quantize_spinnaker(net, ctx)
    assert not warnings_of(ctx)
    # ... varied delays switch sPyNNaker to its statistical bound, which can be exceeded
    net.projections["x"].delay[:] = np.arange(n) % 7 + 1
    ctx = ctx_for(SPINN, spikes_per_second=1.0)
    quantize_spinnaker(net, ctx)
    assert ctx.quantization.ring_buffer_shifts["p"]["excitatory"]["used_statistical_bound"]
    assert any("ring buffer saturates" in m for m in warnings_of(ctx, "p"))


def test_wrong_board_family_is_rejected():
    net = ff_net(np.ones((2, 2)), n_post=2)
    with pytest.raises(ModelError, match="quantize_loihi needs a Loihi board"):
        quantize_loihi(net, ctx_for(SPINN))
    with pytest.raises(ModelError, match="quantize_spinnaker needs a SpiNNaker board"):
        quantize_spinnaker(net, ctx_for(LOIHI))
