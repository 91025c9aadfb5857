"""Pair STDP (additive) in the sim backend's float mode, against closed forms of sPyNNaker's rule.

Conventions under test (docs/plasticity.md): a pair of a pre spike emitted at t_pre and a post
spike emitted at t_post on a synapse of delay d has Δ = t_post + d - t_pre; Δ > 0 potentiates by
a_plus·exp(-Δ·dt/tau_plus), Δ <= 0 depresses by a_minus·exp(Δ·dt/tau_minus); updates are applied
when the pre neuron next spikes, and that spike carries the updated weight.
"""
from __future__ import annotations

import importlib.util
import math
import time
from pathlib import Path

import numpy as np
import pytest

from neurocompile.backends.sim import Simulation
from neurocompile.backends.sim.float_mode import FloatMode
from neurocompile.backends.sim.stdp import MAX_POST_EVENTS
from neurocompile.errors import ModelError
from neurocompile.ir.network import Network, STDPRule

TAU_P, TAU_M = 20.0, 30.0
# Post neuron that spikes exactly at the step a big teacher input arrives and never on its own:
# tau_syn_E = 0.1 ms makes the input current vanish (x e^-10) within one 1 ms step.
POST = {"tau_syn_E": 0.1, "tau_syn_I": 0.1, "v_thresh": -60.0, "v_reset": -70.0, "tau_refrac": 0.0}
TEACH_W = 1000.0


def pairing_net(pre_steps, post_steps, delay, rule, w0=0.5, receptor="excitatory", dt=1.0,
                post_params=None):
    """One plastic synapse pre->post; a teacher source forces post spikes at `post_steps`."""
    net = Network(name="pair", dt_ms=dt)
    net.add_spike_source("pre", [list(pre_steps)])
    net.add_spike_source("teach", [[s - 1 for s in post_steps]])
    net.add_population("post", 1, "lif_curr_exp", {**POST, **(post_params or {})},
                       record=("spikes", "i_syn_exc", "i_syn_inh"))
    net.add_projection("pre", "post", [0], [0], w0, delay, receptor=receptor, name="plastic",
                       plasticity=rule)
    net.add_projection("teach", "post", [0], [0], TEACH_W, 1, receptor="excitatory", name="teach")
    return net


def run(net, steps, sim=None):
    sim = sim or Simulation(net, FloatMode())
    return sim, sim.run(steps)


def reference_weight(pre, post, d, w0, rule, dt=1.0, pending=False):
    """sPyNNaker's rule as an event list (independent of the simulator's deferred bookkeeping).

    Events in time order: a post spike reaches the synapse at t_post + d (potentiation by the sum
    over earlier pre spikes, then min(w, w_max)); a pre spike at t_pre (depression by the sum over
    post arrivals <= t_pre, then max(w, w_min), only if there was one). At equal times the post
    arrival goes first, so Δ == 0 depresses. Deferred: post arrivals after the last pre spike are
    not in the stored weight unless `pending`.
    """
    arrivals = [s + d for s in post]
    events = sorted([(a, 0) for a in arrivals] + [(p, 1) for p in pre])
    last_pre = max(pre)
    w = w0
    for when, kind in events:
        if kind == 0:
            if when > last_pre and not pending:
                continue
            inc = sum(rule.a_plus * math.exp(-(when - p) * dt / rule.tau_plus) for p in pre if p < when)
            w = min(w + inc, rule.w_max)
        else:
            earlier = [a for a in arrivals if a <= when]
            if earlier:
                dec = sum(rule.a_minus * math.exp(-(when - a) * dt / rule.tau_minus) for a in earlier)
                w = max(w - dec, rule.w_min)
    return w


def transmitted(res, k, receptor="excitatory"):
    """Input delivered at trace index k: i[k] = (i[k-1] + input) * decay (recorded after decay)."""
    i = res.traces["post"]["i_syn_exc" if receptor == "excitatory" else "i_syn_inh"][:, 0]
    return i[k] / math.exp(-1.0 / 0.1) - i[k - 1]


RULE = STDPRule(tau_plus=TAU_P, tau_minus=TAU_M, a_plus=0.05, a_minus=0.06, w_min=0.0, w_max=1.0)


# -- (a) closed forms, delay convention, deferred application -----------------------------------
def test_pre_before_post_potentiates_on_the_next_pre_spike():
    d, w0 = 3, 0.5
    net = pairing_net([10, 60], [14], d, RULE, w0)
    sim, first = run(net, 50)
    assert first.spikes["post"][0].tolist() == [14]
    # Deferred: nothing is stored until the pre neuron spikes again ...
    assert first.weights["plastic"][0] == w0
    pot = RULE.a_plus * math.exp(-(14 + d - 10) / TAU_P)  # Δ = t_post + d - t_pre = 7
    # ... but the potentiation is already owed.
    assert sim.plastic["plastic"].weights(include_pending=True)[0] == pytest.approx(w0 + pot, abs=1e-15)
    _, second = run(net, 30, sim)
    dep = RULE.a_minus * math.exp(-(60 - (14 + d)) / TAU_M)  # the readout spike's own pairing
    expected = w0 + pot - dep
    assert second.weights["plastic"][0] == pytest.approx(expected, abs=1e-15)
    assert second.weights["plastic"][0] == pytest.approx(reference_weight([10, 60], [14], d, w0, RULE),
                                                         abs=1e-15)
    # The readout spike (t = 60, arriving at 63) already carries the updated weight.
    assert transmitted(second, 63 - 50) == pytest.approx(expected, rel=1e-12)


def test_post_before_pre_depresses():
    d, w0 = 3, 0.5
    net = pairing_net([30], [20], d, RULE, w0)
    _, res = run(net, 50)
    expected = w0 - RULE.a_minus * math.exp(-(30 - (20 + d)) / TAU_M)  # Δ = 23 - 30 = -7
    assert res.weights["plastic"][0] == pytest.approx(expected, abs=1e-15)
    assert transmitted(res, 30 + d) == pytest.approx(expected, rel=1e-12)


def test_delay_is_dendritic_it_shifts_the_post_spike():
    # Emitted 2 steps *before* the pre spike, the post spike still reaches a delay-3 synapse after
    # it (Δ = 8 + 3 - 10 = +1): potentiation. With delay 1 the same spikes depress (Δ = -1).
    for d, sign in ((3, +1), (1, -1)):
        net = pairing_net([10, 80], [8], d, RULE, 0.5)
        _, res = run(net, 90)
        ref = reference_weight([10, 80], [8], d, 0.5, RULE)
        assert res.weights["plastic"][0] == pytest.approx(ref, abs=1e-15)
        # The t=10 spike is the one that pairs with the post spike; t=80 is only depressed by it.
        late_dep = RULE.a_minus * math.exp(-(80 - 8 - d) / TAU_M)
        change = res.weights["plastic"][0] + late_dep - 0.5
        assert np.sign(change) == sign


def test_coincident_arrival_counts_as_depression():
    # Post spike at 7 reaches the delay-3 synapse at 10, exactly with the pre spike: Δ = 0, which
    # sPyNNaker's timing_apply_pre_spike treats as depression by a_minus (no "> 0" test there).
    net = pairing_net([10], [7], 3, RULE, 0.5)
    _, res = run(net, 20)
    assert res.weights["plastic"][0] == pytest.approx(0.5 - RULE.a_minus, abs=1e-15)


def test_all_to_all_pairs_match_event_reference():
    rng = np.random.default_rng(5)
    rule = STDPRule(tau_plus=15.0, tau_minus=25.0, a_plus=0.01, a_minus=0.012, w_min=0.0, w_max=1.0)
    for trial in range(5):
        d = int(rng.integers(1, 6))
        pre = np.sort(rng.choice(np.arange(5, 300), 12, replace=False)).tolist()
        post = np.sort(rng.choice(np.arange(5, 300), 10, replace=False)).tolist()
        net = pairing_net(pre, post, d, rule, 0.5)
        sim, res = run(net, 320)
        assert res.spikes["post"][0].tolist() == post
        assert res.weights["plastic"][0] == pytest.approx(reference_weight(pre, post, d, 0.5, rule),
                                                          abs=1e-13)
        assert sim.plastic["plastic"].weights(include_pending=True)[0] == pytest.approx(
            reference_weight(pre, post, d, 0.5, rule, pending=True), abs=1e-13)


def _spynnaker_reference():
    """sPyNNaker 1!7.4.1's own closed form (synapse_dynamics_utils.py), loaded without its package."""
    spec = importlib.util.find_spec("spynnaker")  # locate only: importing sPyNNaker is not needed
    path = (Path(spec.origin).parent / "pyNN" / "models" / "neuron" / "synapse_dynamics"
            / "synapse_dynamics_utils.py") if spec and spec.origin else None
    assert path is not None and path.exists(), "sPyNNaker's synapse_dynamics_utils.py not found: install neurocompile[all]"
    spec = importlib.util.spec_from_file_location("_spynnaker_stdp_utils", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.calculate_spike_pair_additive_stdp_weight


def test_matches_spynnakers_own_reference_formula():
    # sPyNNaker's integration-test oracle: all-to-all pairs, A not scaled by w_max, Δ counted
    # from t_post + delay, post spikes after the last pre spike ignored (deferred). It does not
    # clip, and treats the boundary Δ == 0 differently, so keep away from both.
    calc = _spynnaker_reference()
    rng = np.random.default_rng(11)
    rule = STDPRule(tau_plus=20.0, tau_minus=20.0, a_plus=0.01, a_minus=0.012, w_min=0.0, w_max=10.0)
    checked = 0
    while checked < 6:
        d = int(rng.integers(1, 8))
        pre = np.sort(rng.choice(np.arange(5, 400, 2), 15, replace=False))
        post = np.sort(rng.choice(np.arange(6, 400, 2), 12, replace=False)) + (d % 2 == 0)
        if np.intersect1d(post + d, pre).size:
            continue
        net = pairing_net(pre.tolist(), post.tolist(), d, rule, 5.0)
        _, res = run(net, 420)
        expected = calc(pre, post, 5.0, d, rule.a_plus, rule.a_minus, rule.tau_plus, rule.tau_minus)
        assert res.weights["plastic"][0] == pytest.approx(expected, abs=1e-12)
        checked += 1


def test_dt_scales_the_time_constants():
    net = pairing_net([10, 200], [14], 2, RULE, 0.5, dt=0.5)
    _, res = run(net, 210)
    assert res.weights["plastic"][0] == pytest.approx(
        reference_weight([10, 200], [14], 2, 0.5, RULE, dt=0.5), abs=1e-15)


# -- (b) clipping -------------------------------------------------------------------------------
def test_potentiation_clips_at_w_max_and_depression_at_w_min():
    pre = list(range(10, 200, 20))
    ups = [p + 2 for p in pre[:-1]]  # each arrives 3 steps after a pre spike
    downs = [p - 4 for p in pre]  # each arrives 3 steps before a pre spike
    up_rule = STDPRule(tau_plus=20.0, tau_minus=20.0, a_plus=0.3, a_minus=0.0, w_min=0.1, w_max=1.0)
    _, res = run(pairing_net(pre, ups, 1, up_rule, 0.5), 210)
    assert res.weights["plastic"][0] == up_rule.w_max
    sent = [transmitted(res, p + 1) for p in pre]
    assert sent[0] == pytest.approx(0.5, abs=1e-9) and max(sent) <= up_rule.w_max + 1e-9
    assert sent[-1] == pytest.approx(up_rule.w_max, abs=1e-9)
    down_rule = STDPRule(tau_plus=20.0, tau_minus=20.0, a_plus=0.0, a_minus=0.3, w_min=0.1, w_max=1.0)
    _, res = run(pairing_net(pre, downs, 1, down_rule, 0.5), 210)
    assert res.weights["plastic"][0] == down_rule.w_min
    # Both at once: clipping happens after every spike's update, in time order.
    rule = STDPRule(tau_plus=20.0, tau_minus=20.0, a_plus=0.3, a_minus=0.3, w_min=0.1, w_max=1.0)
    post = sorted(ups[:5] + downs[5:])
    _, res = run(pairing_net(pre, post, 1, rule, 0.5), 210)
    ref = reference_weight(pre, post, 1, 0.5, rule)
    assert res.weights["plastic"][0] == pytest.approx(ref, abs=1e-15)
    assert ref == rule.w_min


# -- (c) one-shot learning ------------------------------------------------------------------------
def test_one_pairing_saturates_and_the_next_spike_carries_w_max():
    """CA3-style: cue held 3 steps, content neuron driven once; a large a_plus saturates at once."""
    w_max = 20.0
    rule = STDPRule(tau_plus=20.0, tau_minus=20.0, a_plus=2 * w_max, a_minus=0.0, w_min=0.0,
                    w_max=w_max)
    params = {"v_thresh": -64.0}  # 20 nA at tau_syn 0.1 ms (~1.9 mV) fires it; 0 nA does not
    cue = [10, 11, 12, 60]  # learn (3 steps), then recall at 60
    net = pairing_net(cue, [11], 1, rule, 0.0, post_params=params)
    _, res = run(net, 80)
    steps = res.spikes["post"][0].tolist()
    # 11 is the teacher; the cue spikes at 10 and 11 went out with weight 0 (the post spike at 11
    # reaches the synapse at 12, so the update is applied by the cue spike at 12) ...
    assert transmitted(res, 12) == pytest.approx(0.0, abs=1e-9)
    assert transmitted(res, 13) == pytest.approx(w_max, abs=1e-9)
    # ... and the recall spike alone drives the content neuron.
    assert steps == [11, 61]
    assert res.weights["plastic"][0] == w_max
    # Without the pairing the recall does nothing.
    net0 = pairing_net([10, 11, 12, 60], [5], 1, rule, 0.0, post_params=params)
    _, res0 = run(net0, 80)
    assert res0.spikes["post"][0].tolist() == [5]


# -- (d) inhibitory projections ------------------------------------------------------------------
def test_inhibitory_weights_keep_their_sign():
    pre, post = [10, 40, 70, 100], [13, 43, 60]
    exc = pairing_net(pre, post, 2, RULE, 0.5)
    inh = pairing_net(pre, post, 2, RULE, -0.5, receptor="inhibitory")
    _, r_exc = run(exc, 120)
    _, r_inh = run(inh, 120)
    assert r_inh.spikes["post"][0].tolist() == post
    assert r_inh.weights["plastic"][0] < 0
    assert r_inh.weights["plastic"][0] == -r_exc.weights["plastic"][0]
    assert transmitted(r_inh, 102, "inhibitory") == pytest.approx(r_inh.weights["plastic"][0], rel=1e-12)
    # A zero inhibitory weight takes the receptor's sign when it grows.
    net = Network(dt_ms=1.0)
    net.add_spike_source("pre", [[10, 40], [10, 40]])
    net.add_spike_source("teach", [[12]])
    net.add_population("post", 1, "lif_curr_exp", POST)
    net.add_projection("pre", "post", [0, 1], [0, 0], [0.0, -0.5], 1, receptor="inhibitory",
                       name="plastic", plasticity=STDPRule(a_plus=0.2, a_minus=0.0, w_max=1.0))
    net.add_projection("teach", "post", [0], [0], TEACH_W, 1, receptor="excitatory")
    w = Simulation(net, FloatMode()).run(50).weights["plastic"]
    pot = 0.2 * math.exp(-(13 + 1 - 10) / 20.0)
    np.testing.assert_allclose(w, [-pot, -(0.5 + pot)], rtol=0, atol=1e-15)


# -- (e) static projections untouched, determinism, continuation --------------------------------
def recurrent_net(seed=3):
    rng = np.random.default_rng(0)
    net = Network(name="rec", dt_ms=1.0, seed=seed)
    net.add_population("in", 200, "poisson", {"rate": 20.0})
    net.add_population("exc", 100, "lif_curr_exp", {"tau_refrac": 2.0}, record=("spikes",))
    pre, post = np.nonzero(rng.random((200, 100)) < 0.1)
    net.add_projection("in", "exc", pre, post, rng.uniform(0.5, 1.5, pre.size), rng.integers(1, 5, pre.size),
                       receptor="excitatory", name="in->exc",
                       plasticity=STDPRule(a_plus=0.02, a_minus=0.025, w_max=2.0))
    pre, post = np.nonzero(rng.random((100, 100)) < 0.05)
    net.add_projection("exc", "exc", pre, post, -0.3, 2, receptor="inhibitory", name="static")
    return net


def test_static_projections_unchanged_and_runs_deterministic():
    net = recurrent_net()
    w_in, w_static = net.projections["in->exc"].weight.copy(), net.projections["static"].weight.copy()
    sim_a, a = run(net, 500)
    _, b = run(net, 500)
    assert set(a.weights) == {"in->exc"}
    assert np.array_equal(a.weights["in->exc"], b.weights["in->exc"])
    for pop in net.populations:
        assert np.array_equal(a.spikes[pop][0], b.spikes[pop][0])
        assert np.array_equal(a.spikes[pop][1], b.spikes[pop][1])
    assert a.spikes["exc"][0].size > 100
    # The IR is never modified; learning did change the plastic weights.
    assert np.array_equal(net.projections["in->exc"].weight, w_in)
    assert np.array_equal(net.projections["static"].weight, w_static)
    assert not np.array_equal(a.weights["in->exc"], w_in)
    assert np.all((a.weights["in->exc"] >= 0) & (a.weights["in->exc"] <= 2.0))
    # The static projection's propagated values are untouched.
    static = [syn for ch in sim_a.channels["exc"].values() for pre, syn in ch.feeds
              if syn.weight.size and np.all(syn.weight < 0)]
    assert len(static) == 1 and np.array_equal(static[0].weight, w_static[static[0].order])
    # What propagation uses is what SimResult reports.
    pl = sim_a.plastic["in->exc"]
    assert np.array_equal(pl.syn.weight, a.weights["in->exc"][pl.syn.order])


def test_continued_runs_equal_one_run():
    net = recurrent_net()
    whole = Simulation(net, FloatMode()).run(400)
    sim = Simulation(net, FloatMode())
    sim.run(150)
    rest = sim.run(250)
    assert np.array_equal(whole.weights["in->exc"], rest.weights["in->exc"])


def test_mode_without_stdp_is_an_error():
    class NoStdpMode(FloatMode):
        name = "nostdp"

    with pytest.raises(ModelError, match="no STDP"):
        Simulation(recurrent_net(), NoStdpMode())


def test_bad_rule_is_an_error():
    net = pairing_net([10], [12], 1, STDPRule(w_min=2.0, w_max=1.0))
    with pytest.raises(ModelError, match="w_max"):
        Simulation(net, FloatMode())


# -- sPyNNaker's bounded post-spike history ---------------------------------------------------------
def test_post_history_keeps_the_last_15_spikes():
    # 20 post spikes between two pre spikes: sPyNNaker keeps 15 per neuron (post_events.h), so
    # the 5 oldest never potentiate; depression comes from the trace and still sees all 20.
    rule = STDPRule(tau_plus=20.0, tau_minus=20.0, a_plus=0.01, a_minus=0.01, w_min=0.0, w_max=10.0)
    post = list(range(12, 32))
    net = pairing_net([10, 60], post, 1, rule, 5.0)
    _, res = run(net, 70)
    assert res.spikes["post"][0].tolist() == post
    kept = post[-(MAX_POST_EVENTS - 1):]
    pot = sum(rule.a_plus * math.exp(-(s + 1 - 10) / 20.0) for s in kept)
    dep = sum(rule.a_minus * math.exp(-(60 - (s + 1)) / 20.0) for s in post)
    assert res.weights["plastic"][0] == pytest.approx(5.0 + pot - dep, abs=1e-14)
    assert res.weights["plastic"][0] < reference_weight([10, 60], post, 1, 5.0, rule)


# -- (f) cost --------------------------------------------------------------------------------------
def test_large_projection_cost_scales_with_spikes():
    """1000 x 1000 random plastic projection: STDP time grows with spikes x fan-out (printed only)."""
    rng = np.random.default_rng(1)
    n = 1000
    pre, post = np.nonzero(rng.random((n, n)) < 0.1)
    delay = rng.integers(1, 10, pre.size)
    per_event = {}
    for rate in (2.0, 8.0, 32.0):
        net = Network(name="big", dt_ms=1.0, seed=2)
        net.add_population("in", n, "poisson", {"rate": rate})
        net.add_population("out", n, "lif_curr_exp", {"tau_refrac": 2.0})
        net.add_projection("in", "out", pre, post, 0.3, delay, receptor="excitatory", name="plastic",
                           plasticity=STDPRule(a_plus=0.01, a_minus=0.012, w_max=1.0))
        sim = Simulation(net, FloatMode())
        sim.run(20)  # JIT warm-up
        pl = sim.plastic["plastic"]
        spent = [0.0]
        step = pl.step

        def timed(t, pre_spikes, post_spikes, step=step, spent=spent):
            t0 = time.perf_counter()
            step(t, pre_spikes, post_spikes)
            spent[0] += time.perf_counter() - t0

        pl.step = timed
        t0 = time.perf_counter()
        res = sim.run(2000)
        wall = time.perf_counter() - t0
        n_pre, n_post = res.spikes["in"][0].size, res.spikes["out"][0].size
        per_event[rate] = spent[0] / res.synaptic_events
        print(f"\n{pre.size} plastic synapses, inputs at {rate:g} Hz for 2000 steps: {n_pre} pre spikes "
              f"({res.synaptic_events} synapse updates), {n_post} post spikes; STDP {spent[0] * 1e3:.0f} ms "
              f"of {wall * 1e3:.0f} ms = {per_event[rate] * 1e9:.0f} ns per synapse update")
        w = res.weights["plastic"]
        assert np.all((w >= 0.0) & (w <= 1.0)) and not np.all(w == 0.3)
