"""CA3 content-addressable memory (models/ca3): published runs, forgetting, recall by fragment,
non-orthogonal memories, float vs loihi2 spike-exactness, integer STDP, the weight conversion.

Every operation's answer is decoded from the output population's spikes (`protocol.decode`) and
compared with an ideal memory (`protocol.expected`), never read from the stimulus.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from neurocompile.backends.sim import MODES, Simulation
from neurocompile.backends.sim.loihi2_stdp import Loihi2PairSTDP, decay_lut
from neurocompile.backends.sim.propagation import PreSortedSynapses
from neurocompile.backends.sim.stdp import PLASTICITY, FloatPairSTDP
from neurocompile.errors import ModelError
from neurocompile.ir.network import Network, STDPRule
from neurocompile.models.ca3 import build
from neurocompile.models.ca3 import protocol as P
from neurocompile.models.ca3.evaluate import pattern_ok, rasters_equal
from neurocompile.models.ca3.loihi import lower_to_loihi2
from neurocompile.models.ca3.network import (PLASTIC_PROJECTIONS, add_synaptic_refractory,
                                             build_ca3, preset_memory, spinnaker_weight_factor)


def run_float_and_loihi2(sched: P.Schedule) -> tuple[P.ProtocolRun, P.ProtocolRun]:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. a weight Lava would silently change
        return P.run(sched, "float"), P.run(sched, "loihi2")


def assert_correct(run: P.ProtocolRun) -> None:
    assert run.all_correct, "\n".join(run.failures())


def assert_spike_exact(a: P.ProtocolRun, b: P.ProtocolRun) -> None:
    assert np.array_equal(a.output_raster, b.output_raster)
    equal, n = rasters_equal(a, b)
    assert equal, f"{n} (step, neuron) entries differ between {a.mode} and {b.mode}"


# ------------------------------------------------------------------------------------------------
# The published runs
# ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def functional_runs():
    return run_float_and_loihi2(P.functional())


def test_functional_run_is_correct_with_published_latencies_in_float_and_loihi2(functional_runs):
    f, q = functional_runs
    for run in (f, q):
        assert_correct(run)
        assert len(run.decoded) == 9
        assert run.latency_range() == (5, 7)
        assert pattern_ok(run)  # learn +5/+7, recall cue +5 then content +6, content +5 then cues +6
    assert_spike_exact(f, q)
    got = [d.result.as_dict() for d in f.decoded]
    assert got[4] == {"cues": [3, 4], "content": [6], "forgotten": []}        # shared bit 6
    assert got[5] == {"cues": [0, 3], "content": [0, 4], "forgotten": []}
    assert got[6] == {"cues": [3], "content": [1, 3, 4, 8], "forgotten": [5, 6]}  # re-learn
    assert got[8] == {"cues": [4], "content": [6], "forgotten": []}          # 3 forgot bit 6


def test_stress_run_60_operations_correct_and_spike_exact():
    sched = P.stress()
    assert len(sched.operations) == 60 and sched.steps == 851
    f, q = run_float_and_loihi2(sched)
    assert_correct(f)
    assert_correct(q)
    assert f.latency_range() == (5, 7) and pattern_ok(f)
    assert_spike_exact(f, q)


def test_grid_map_applicability_run():
    f, q = run_float_and_loihi2(P.grid_map())
    assert_correct(f)
    assert_correct(q)
    assert_spike_exact(f, q)
    cells = {name: sorted(d.result.cues) for name, d in
             zip(("route", "free", "obstacle", "unknown"), f.decoded[16:])}
    assert cells == {"route": [2, 6, 10, 12, 13, 14], "free": [3, 5, 11, 15],
                     "obstacle": [1, 7, 9], "unknown": [0, 4, 8]}


def test_published_protocols_regenerate_the_published_input_spikes():
    # test_CA3_content_addressable.py experiments 1 and 3, tb2_piramidal_cont/input_spikes.txt.
    assert P.functional().stimulus == [
        [0, 1, 2, 30], [], [], [20, 21, 22, 60, 61, 62, 70], [10, 11, 12],
        [0, 1, 2, 50], [0, 1, 2, 10, 11, 12, 60, 61, 62], [], [60, 61, 62],
        [20, 21, 22, 50, 60, 61, 62], [10, 11, 12, 20, 21, 22], [10, 11, 12, 20, 21, 22, 40, 80], [],
        [0, 1, 2, 60, 61, 62], [0, 1, 2]]
    grid = P.grid_map().stimulus
    assert grid[:2] == [[0, 1, 2], [7, 8, 9]] and grid[15] == [105, 106, 107]
    assert grid[16:] == [[0, 1, 2, 28, 29, 30, 56, 57, 58, 130], [14, 15, 16, 112], [84, 85, 86, 112],
                         [21, 22, 23, 35, 36, 37, 77, 78, 79, 105, 106, 107, 118],
                         [42, 43, 44, 70, 71, 72, 91, 92, 93, 98, 99, 100, 112],
                         [7, 8, 9, 49, 50, 51, 63, 64, 65, 124]]
    stress = P.stress().stimulus
    assert stress[0] == [1, 2, 3, 71, 281, 282, 283, 351, 561, 562, 563, 631]
    assert stress[5] == [1, 2, 3, 29, 30, 31, 57, 58, 59, 141, 295, 296, 297, 323, 324, 325, 421,
                         561, 562, 563, 589, 590, 591, 617, 618, 619, 701]
    assert stress[14] == [267] + [281 + 14 * i + k for i in range(5) for k in range(3)] + [547, 827]


# ------------------------------------------------------------------------------------------------
# Behaviours
# ------------------------------------------------------------------------------------------------
def test_relearning_a_cue_forgets_its_old_content():
    ops = [("learn", 1, [0, 2, 4]), ("recall_cue", 1), ("learn", 1, [4, 5]), ("recall_cue", 1),
           ("recall_content", [0]), ("recall_content", [2]), ("recall_content", [5])]
    run = P.run_ops(ops, 3, 6, spacing=10)
    assert_correct(run)
    res = [d.result for d in run.decoded]
    assert res[1].content == {0, 2, 4}
    assert res[2].forgotten == {0, 2}               # the old bits flash once, without the cue
    assert res[3].content == {4, 5}                 # cue -> content forgot 0 and 2
    assert res[4].cues == set() and res[5].cues == set()   # content -> cue forgot them too
    assert res[6].cues == {1}


def test_recall_by_fragment_returns_every_cue_sharing_an_active_bit():
    mem = {0: [0, 3], 1: [3, 6], 2: [1, 6, 7], 3: [2], 4: [5, 7]}
    ops = [("learn", c, b) for c, b in mem.items()]
    ops += [("recall_content", [3]), ("recall_content", [6, 7]), ("recall_content", [0, 2, 5]),
            ("recall_content", [4]), ("recall_content", [1, 3, 5])]
    f, q = run_float_and_loihi2(P.schedule(ops, 5, 8, spacing=14))
    assert_correct(f)
    assert_spike_exact(f, q)
    assert [sorted(d.result.cues) for d in f.decoded[5:]] == [[0, 1], [1, 2, 4], [0, 3, 4], [], [0, 1, 2, 4]]


def test_non_orthogonal_memories_recall_by_cue_and_by_content():
    mem = {0: [0, 1, 2, 3], 1: [2, 3, 4, 5], 2: [0, 3, 5, 7], 3: [1, 3, 6]}   # bit 3 in all four
    ops = [("learn", c, b) for c, b in mem.items()] + [("recall_cue", c) for c in mem]
    ops += [("recall_content", [3]), ("recall_content", [7]), ("recall_content", [0, 6])]
    f, q = run_float_and_loihi2(P.schedule(ops, 4, 8, spacing=14))
    assert_correct(f)
    assert_correct(q)
    assert_spike_exact(f, q)
    assert [sorted(d.result.content) for d in f.decoded[4:8]] == [mem[c] for c in range(4)]
    assert sorted(f.decoded[8].result.cues) == [0, 1, 2, 3]


def test_orthogonal_memories_stress_structure_8x8():
    from neurocompile.models.ca3.evaluate import structured_ops

    ops = structured_ops(8, 8, "orthogonal", np.random.default_rng(1))  # learn, recall, relearn
    f, q = run_float_and_loihi2(P.schedule(ops, 8, 8, spacing=14))
    assert len(ops) == 48
    assert_correct(f)
    assert_spike_exact(f, q)


def test_demo_entry_point_network_runs_its_baked_in_protocol():
    net = build()
    sched_meta = net.metadata["ca3_schedule"]
    res = Simulation(net, MODES["float"](), 0).run(net.metadata["ca3_steps"])
    ops = [P.Operation(o["kind"], o["cue"], tuple(o["bits"]), o["start"]) for o in sched_meta]
    st, ids = res.spikes["output"]
    decoded = P.decode(ops, st, ids, 4, net.metadata["ca3_steps"])
    assert [d.result for d in decoded] == P.expected(ops)
    assert build(number_format="loihi2").number_format == "loihi2"


# ------------------------------------------------------------------------------------------------
# The checks can fail
# ------------------------------------------------------------------------------------------------
def test_decoding_detects_a_missing_or_extra_output_spike(functional_runs):
    f, _ = functional_runs
    st, ids = np.nonzero(f.output_raster)
    ops, steps = f.schedule.operations, f.schedule.steps
    assert all(d.result == e for d, e in zip(P.decode(ops, st, ids, 5, steps), f.expected))
    drop = np.ones(st.size, bool)
    drop[np.flatnonzero(st == 36)[0]] = False        # one content bit of "recall cue 0"
    assert sum(d.result != e for d, e in zip(P.decode(ops, st[drop], ids[drop], 5, steps), f.expected)) == 1
    extra_st, extra_ids = np.append(st, 46), np.append(ids, 1)   # cue 1 answering content [6]
    assert sum(d.result != e for d, e in zip(P.decode(ops, extra_st, extra_ids, 5, steps), f.expected)) == 1


def test_published_weights_taken_as_our_nA_fail_some_operations():
    # Our exact integrator gives a tau_m 0.5 ms neuron 0.6x the voltage step SpiNNaker gives the
    # same nA, so unconverted weights miss cues in recall by content (see docs/models/ca3.md).
    raw = P.run(P.functional(), "float", weights="raw")
    assert 0 < raw.n_correct < 9
    assert spinnaker_weight_factor({"tau_m": 0.5, "cm": 0.14, "tau_syn_E": 0.3, "tau_syn_I": 0.3}) == \
        pytest.approx(1.6733, abs=1e-4)


# ------------------------------------------------------------------------------------------------
# Lowering, refractory emulation, modes
# ------------------------------------------------------------------------------------------------
def test_loihi2_lowering_is_integer_with_integer_stdp_and_emulated_refractory_period():
    net = build_ca3(5, 10)
    info: dict = {}
    q = lower_to_loihi2(net, info=info)
    assert q.number_format == "loihi2"
    assert {p.model for p in q.populations.values()} == {"spike_array", "loihi2_lif"}
    for name in PLASTIC_PROJECTIONS:
        rule = q.projections[name].plasticity
        assert rule.w_max == round(rule.w_max) and 128 <= rule.w_max <= 255
        assert rule.a_plus == pytest.approx(rule.w_max)            # A+ = w_max, as published
        assert np.all(q.projections[name].weight == 0)
    for pop in ("CueCue", "ContCue", "CueCont", "ContCont", "ContCond", "ContCondInt", "MergeCue",
                "MergeCont", "output"):
        emu = info["quantization"].populations[pop]["refractory_emulation"]
        assert emu["steps"] == 1 and len(emu["kick_input_units"]) == 3
        assert -emu["kick_input_units"][0] * 64 >= emu["input_bound_state_units"]
        assert all(name in q.projections for name in emu["projections"])
    for pr in q.projections.values():
        assert np.all(pr.weight == np.round(pr.weight)) and np.all(np.abs(pr.weight) <= 255)
    assert "lif_curr_exp" in {p.model for p in net.populations.values()}   # input untouched


def test_synaptic_refractory_float_network_keeps_the_true_refractory_rasters():
    sched = P.functional()
    native = P.run(sched, "float")
    net = add_synaptic_refractory(build_ca3(5, 10, stimulus=sched.stimulus))
    assert all(float(p.param("tau_refrac")[0]) == 0.0 for p in net.populations.values()
               if p.model == "lif_curr_exp")
    emulated = P.run(sched, "float", net=net)
    assert_spike_exact(native, emulated)


def test_converted_weights_in_float_mode_spike_like_published_weights_in_spinnaker_mode():
    memory = {0: [0, 1, 8, 9], 3: [1, 3, 4, 8], 4: [1, 5, 6]}
    ops = [("recall_cue", 0), ("recall_cue", 3), ("recall_content", [6]), ("recall_content", [0, 4]),
           ("recall_cue", 1), ("recall_content", [1])]
    sched = P.schedule(ops, 5, 10)
    f = P.run(sched, "float", memory=memory,
              net=preset_memory(build_ca3(5, 10, stimulus=sched.stimulus), memory))
    s = P.run(sched, "spinnaker", memory=memory,
              net=preset_memory(build_ca3(5, 10, stimulus=sched.stimulus, weights="raw"), memory))
    assert_correct(f)
    assert_spike_exact(f, s)


def test_spinnaker_mode_learns_with_spynnaker_fixed_point_stdp():
    assert "spinnaker" in PLASTICITY                     # backends/sim/spinnaker_stdp.py
    for make in P.PUBLISHED.values():           # functional, stress, grid_map
        sched = make()
        s = P.run(sched, "spinnaker")
        assert_correct(s)
        assert_spike_exact(P.run(sched, "float"), s)


# ------------------------------------------------------------------------------------------------
# Integer STDP of the loihi2 mode (backends/sim/loihi2_stdp.py)
# ------------------------------------------------------------------------------------------------
def _stdp_pair(model: str, rule: STDPRule, n_pre: int, n_post: int, w0, delays):
    net = Network(dt_ms=1.0)
    net.add_spike_source("pre", [[] for _ in range(n_pre)])
    net.add_population("post", n_post, model, {} if model == "lif_curr_exp" else {"du": 4095, "dv": 4095})
    pre, post = np.meshgrid(np.arange(n_pre), np.arange(n_post), indexing="ij")
    pr = net.add_projection("pre", "post", pre.ravel(), post.ravel(), w0, delays,
                            receptor="excitatory" if model == "lif_curr_exp" else "input", plasticity=rule)
    values = pr.weight.copy() if model == "lif_curr_exp" else pr.weight.astype(np.int64)
    syn = PreSortedSynapses.build(pr, n_pre, values)
    cls = FloatPairSTDP if model == "lif_curr_exp" else Loihi2PairSTDP
    return cls(pr, syn, net), syn


def test_integer_stdp_follows_the_float_rule_within_two_weight_steps():
    rng = np.random.default_rng(0)
    for _ in range(10):
        m_max = int(rng.integers(60, 256))
        tau_p, tau_m = rng.uniform(2, 30, 2)
        rule = STDPRule(tau_p, tau_m, *(rng.uniform(0.05, 1.0, 2) * m_max), 0.0, float(m_max))
        delays = rng.integers(1, 5, 30)
        w0 = rng.integers(0, m_max + 1, 30).astype(float)
        fl, _ = _stdp_pair("lif_curr_exp", rule, 6, 5, w0, delays)
        it, syn = _stdp_pair("loihi2_lif", rule, 6, 5, w0, delays)
        rate = rng.uniform(0.02, 0.3)
        for t in range(400):
            pre, post = np.flatnonzero(rng.random(6) < rate), np.flatnonzero(rng.random(5) < rate)
            fl.step(t, pre, post)
            it.step(t, pre, post)
        w = it.weights()
        assert w.dtype.kind == "i" and w.min() >= 0 and w.max() <= m_max
        assert np.array_equal(np.sort(syn.weight), np.sort(w))        # what propagation uses
        assert np.max(np.abs(fl.weights() - w)) <= 2
        assert np.max(np.abs(fl.weights(True) - it.weights(True))) <= 2


def test_integer_stdp_one_pairing_saturates_like_the_float_rule():
    # CA3's learning: A+ = A- = w_max (as mantissas), tau 3 ms; the cue and content neurons spike
    # together at 10 and 12 (refractory in between), the cue is recalled at 30.
    rule = STDPRule(3.0, 3.0, 164.0, 164.0, 0.0, 164.0)
    it, syn = _stdp_pair("loihi2_lif", rule, 1, 1, [0.0], [1])
    fl, _ = _stdp_pair("lif_curr_exp", rule, 1, 1, [0.0], [1])
    sent = []
    for t, pre, post in ((10, [0], [0]), (12, [0], [0]), (30, [0], [])):
        for stdp in (it, fl):
            stdp.step(t, np.array(pre, dtype=np.int64), np.array(post, dtype=np.int64))
        sent.append(int(syn.weight[0]))
    assert sent[:2] == [0, 0]             # pairing potentiates and depresses the spike at 12 to 0
    assert sent[2] == 163 and abs(fl.weights()[0] - sent[2]) < 1   # saturated at recall (-0.86)
    assert decay_lut(1.0, 3.0)[:3].tolist() == [2048, 1467, 1051]
    with pytest.raises(ModelError, match="w_max"):
        _stdp_pair("loihi2_lif", STDPRule(3.0, 3.0, 10.0, 10.0, 0.0, 100.5), 1, 1, [0.0], [1])
