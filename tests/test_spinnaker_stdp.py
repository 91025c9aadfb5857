"""sPyNNaker 7.4.1 fixed-point pair STDP in the spinnaker mode (backends/sim/spinnaker_stdp.py).

There is no CPU oracle for sPyNNaker's STDP: the references are the C source (timing_pair_impl.h,
weight_additive_one_term_impl.h, stdp_typedefs.h, maths.h) and the host encoders, which are
installed and called directly here where possible (get_exp_lut_array, DataType.S1615). The
closed-form cases below are worked by hand from the encoded constants; the float rule
(FloatPairSTDP, itself checked against sPyNNaker's own oracle in test_stdp.py) bounds the
fixed-point result within a few weight LSBs.
"""
from __future__ import annotations

import numpy as np
import pytest

from neurocompile.backends.sim import Simulation
from neurocompile.backends.sim.propagation import PreSortedSynapses
from neurocompile.backends.sim.spinnaker_mode import SpinnakerMode
from neurocompile.backends.sim.spinnaker_stdp import SpinnakerPairSTDP, exp_lut
from neurocompile.backends.sim.stdp import PLASTICITY, FloatPairSTDP
from neurocompile.errors import ModelError
from neurocompile.ir.network import Network, STDPRule

I = np.int64


def _pair(rule: STDPRule, n_pre: int, n_post: int, raw0, delays, shift: int):
    """A SpinnakerPairSTDP on an all-to-all pre x post projection with uint16 weights raw0 and a
    FloatPairSTDP on the same weights in nA (raw * 2**(shift - 15))."""
    net = Network(dt_ms=1.0)
    net.add_spike_source("pre", [[] for _ in range(n_pre)])
    net.add_population("post", n_post, "lif_curr_exp", {})
    pre, post = np.meshgrid(np.arange(n_pre), np.arange(n_post), indexing="ij")
    raw0 = np.broadcast_to(np.asarray(raw0, dtype=I), pre.size).copy()
    pr = net.add_projection("pre", "post", pre.ravel(), post.ravel(), raw0 * 2.0 ** (shift - 15),
                            delays, receptor="excitatory", plasticity=rule)
    syn = PreSortedSynapses.build(pr, n_pre, raw0.copy())
    sp = SpinnakerPairSTDP(pr, syn, net, shift=shift)
    fl = FloatPairSTDP(pr, PreSortedSynapses.build(pr, n_pre, pr.weight.copy()), net)
    return sp, fl, syn


def _drive(stdp, events):
    for t, pre, post in events:
        stdp.step(t, np.array(pre, dtype=I), np.array(post, dtype=I))


RULE = STDPRule(20.0, 20.0, 0.1, 0.12, 0.0, 1.0)   # tau+/- 20 ms, A+ 0.1 nA, A- 0.12 nA, [0, 1] nA


# ------------------------------------------------------------------------------------------------
# Host encoding
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dt,tau", [(1.0, 20.0), (1.0, 3.0), (0.1, 17.0), (0.5, 5.3), (1.0, 100.0)])
def test_decay_lut_is_the_hosts_get_exp_lut_array(dt, tau):
    common = pytest.importorskip("spynnaker.pyNN.models.neuron.plasticity.stdp.common")
    host = common.get_exp_lut_array(dt, tau).view(np.uint16)
    assert host[1] == 0 and host[0] == host.size - 2            # header: size, shift 0
    assert np.array_equal(exp_lut(dt, tau), host[2:].astype(I))


def test_constants_are_encoded_as_the_host_writes_them():
    dtype = pytest.importorskip("spinn_front_end_common.interface.ds").DataType
    sp, _, _ = _pair(STDPRule(20.0, 20.0, 0.0123, 0.3, 0.05, 2.7), 1, 1, [100], [1], shift=5)
    for attr, v in (("a_plus_k", 0.0123), ("a_minus_k", 0.3), ("w_min_k", 0.05), ("w_max_k", 2.7)):
        assert getattr(sp, attr) == dtype.S1615.encode_as_int(v)   # S1615 of v * 1.0, in nA
    assert (sp.a_plus_k, sp.a_minus_k) == (403, 9830)
    assert exp_lut(1.0, 20.0)[[0, 1, 3, 4, 7]].tolist() == [2048, 1948, 1762, 1676, 1443]
    assert exp_lut(1.0, 20.0).size == 154                        # ln(2048)*20 = 152.5 -> even, up


# ------------------------------------------------------------------------------------------------
# Closed forms, by hand from the encoded constants
#   A+ = round(0.1 * 32768) = 3277, A- = round(0.12 * 32768) = 3932, w_max = 32768 (S1615);
#   shift 4: raw 1024 = 0.5 nA is 1024 << 4 = 16384 in S1615; LSB = 2**-11 nA.
# ------------------------------------------------------------------------------------------------
def test_pre_before_post_closed_form():
    sp, fl, syn = _pair(RULE, 1, 1, [1024], [1], shift=4)
    for stdp in (sp, fl):
        _drive(stdp, [(10, [0], []), (12, [], [0]), (20, [0], [])])
    # t=10: pre trace 2048.  t=12: post trace 2048, reaching the synapse at 13.
    # t=20: Δ = 13 - 10 = 3: decayed = (2048 * lut+[3] = 1762) >> 11 = 1762;
    #       inc = (3277 * (1762 << 4)) >> 15 = 2819  -> w = 16384 + 2819 = 19203
    #       then depression, 20 - 13 = 7: dec = (3932 * (1443 << 4)) >> 15 = 2770 -> 16433
    #       stored: 16433 >> 4 = 1027
    assert sp.raw_weights().tolist() == [1027]
    assert syn.weight.tolist() == [1027]                           # what this spike propagates
    assert sp.pre_trace.tolist() == [1242 + 2048]                  # (2048 * lut+[10]) >> 11 + 1.0
    f = fl.weights()[0] / sp.lsb_nA                                # float rule: 1027.08 LSB
    assert 1027 <= f < 1028


def test_post_before_pre_closed_form():
    sp, fl, _ = _pair(RULE, 1, 1, [1024], [1], shift=4)
    _drive(sp, [(10, [], [0]), (15, [0], [])])
    # The post spike reaches the synapse at 11; the first pre spike (t=15) finds it in its window
    # but potentiates by 0 (pre trace 0 at the row header's time 0), then depresses:
    # 15 - 11 = 4: dec = (3932 * (lut-[4] = 1676 << 4)) >> 15 = 3217 -> (16384 - 3217) >> 4 = 822
    _drive(fl, [(10, [], [0]), (15, [0], [])])
    assert sp.raw_weights().tolist() == [822]
    assert 822 <= fl.weights()[0] / sp.lsb_nA < 823               # 822.78 LSB


def test_delta_zero_depresses_and_negative_lut_index_reads_zero():
    sp, _, _ = _pair(RULE, 1, 1, [1024], [2], shift=4)
    # post at 8 reaches at 10 = the pre spike: Δ = 0 -> depression with lut-[0] = 2048:
    # dec = (3932 * (2048 << 4)) >> 15 = 3932 -> (16384 - 3932) >> 4 = 778 (floor of 778.25)
    _drive(sp, [(8, [], [0]), (10, [0], [])])
    assert sp.raw_weights().tolist() == [778]


def test_clipping_at_w_max_and_w_min():
    big = STDPRule(20.0, 20.0, 5.0, 5.0, 0.25, 1.0)      # one pairing overshoots either bound
    sp, fl, _ = _pair(big, 1, 1, [1024], [1], shift=4)
    _drive(sp, [(10, [0], []), (11, [], [0]), (12, [0], [0])])
    # t=12: potentiation by the post at 11 (Δ=2, 5 nA * 0.90) -> min(w, 32768) = 32768 exactly,
    # then depression by the post at 11 (12 - 12 = 0, 5 nA) -> max(w, 8192) = 8192 = 0.25 nA.
    assert sp.raw_weights().tolist() == [8192 >> 4]
    sp2, _, _ = _pair(STDPRule(20.0, 20.0, 5.0, 0.0, 0.25, 1.0), 1, 1, [1024], [1], shift=4)
    _drive(sp2, [(10, [0], []), (11, [], [0]), (20, [0], [])])
    assert sp2.raw_weights().tolist() == [32768 >> 4]               # w_max = 1.0 nA = 2048 LSB
    # w_max not a multiple of the LSB: clipping happens in S1615, the store floors.
    sp3, _, _ = _pair(STDPRule(20.0, 20.0, 5.0, 0.0, 0.0, 0.3), 1, 1, [10], [1], shift=6)
    _drive(sp3, [(10, [0], []), (11, [], [0]), (20, [0], [])])
    assert sp3.w_max_k == 9830 and sp3.raw_weights().tolist() == [9830 >> 6]   # 153, not 154


def test_int16_trace_wraps_like_the_core():
    sp, _, _ = _pair(STDPRule(1000.0, 1000.0, 0.0, 0.0, 0.0, 1.0), 1, 1, [0], [1], shift=4)
    lut = exp_lut(1.0, 1000.0)
    tr, seen = 0, []
    for t in range(1, 40):
        sp.step(t, np.array([0], dtype=I), np.array([0], dtype=I))
        tr = (tr * int(lut[1])) >> 11
        tr = ((tr + 2048 + 0x8000) & 0xFFFF) - 0x8000                 # (int16_t)
        assert sp.pre_trace[0] == tr and sp.post_traces[0, sp.post_count_m1[0]] == tr
        seen.append(tr)
    assert min(seen) < 0                       # 16 undecayed spikes (32768) overflow the int16


# ------------------------------------------------------------------------------------------------
# Against the float rule, determinism
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("steps,short", [(30, True), (300, False)])
def test_follows_the_float_rule_within_a_few_lsbs_on_random_trains(steps, short):
    rng = np.random.default_rng(1)
    for _ in range(10):
        shift = int(rng.integers(3, 9))
        lsb = 2.0 ** (shift - 15)
        w_max = float(rng.integers(200, 4000)) * lsb
        tau_p, tau_m = rng.uniform(3, 30, 2)
        rule = STDPRule(tau_p, tau_m, *(rng.uniform(0.005, 0.1, 2) * w_max), 0.0, w_max)
        delays = rng.integers(1, 5, 30)
        raw0 = rng.integers(0, int(round(w_max / lsb)) + 1, 30)
        sp, fl, syn = _pair(rule, 6, 5, raw0, delays, shift)
        rate = rng.uniform(0.05, 0.15)
        n_pre = np.zeros(6, dtype=I)
        for t in range(steps):
            pre, post = np.flatnonzero(rng.random(6) < rate), np.flatnonzero(rng.random(5) < rate)
            n_pre[pre] += 1
            sp.step(t, pre, post)
            fl.step(t, pre, post)
        raw = sp.raw_weights()
        assert np.array_equal(np.sort(syn.weight), np.sort(raw))     # what propagation uses
        err = (fl.weights() - sp.weights()) / lsb                      # float - fixed, in LSBs
        # Each stored update floors (< 1 LSB, always downwards), and the A / LUT / trace
        # rounding is far below 1 LSB at these sizes, so the fixed-point weight trails the float
        # one by less than one LSB per pre spike of its row (+1); clipping to a bound resets it.
        per_syn = np.repeat(n_pre, 5) + 1                              # all-to-all, pre-major
        assert np.all(err > -1) and np.all(err < per_syn), (err.min(), err.max())
        pend = (fl.weights(True) - sp.weights(True)) / lsb
        assert np.all(pend > -1) and np.all(pend < per_syn + 1)
        if short:                                   # a handful of pre spikes per row
            assert np.max(np.abs(err)) <= 5, (n_pre, err.max())


def test_deterministic():
    rng = np.random.default_rng(7)
    trains = [(t, np.flatnonzero(rng.random(4) < 0.1), np.flatnonzero(rng.random(3) < 0.1))
              for t in range(200)]
    out = []
    for _ in range(2):
        sp, _, _ = _pair(RULE, 4, 3, [700], [1, 2, 3, 1] * 3, shift=4)
        _drive(sp, trains)
        out.append((sp.raw_weights(), sp.raw_weights(True), sp.pre_trace.copy(), sp.post_traces.copy()))
    for a, b in zip(*out):
        assert np.array_equal(a, b)


# ------------------------------------------------------------------------------------------------
# In the engine's spinnaker mode
# ------------------------------------------------------------------------------------------------
def _plastic_net(w0: float, w_max: float) -> Network:
    net = Network(dt_ms=1.0)
    net.add_spike_source("pre", [[10, 30, 50], [12, 40]])
    net.add_spike_source("teach", [[11, 31, 51]])
    net.add_population("post", 1, "lif_curr_exp", {})
    net.add_projection("teach", "post", [0], [0], [20.0], [1], receptor="excitatory")
    net.add_projection("pre", "post", [0, 1], [0, 0], [w0, w0], [1, 1], receptor="excitatory",
                       plasticity=STDPRule(20.0, 20.0, 0.2, 0.05, 0.0, w_max), name="plastic")
    return net


def test_registered_and_runs_in_the_spinnaker_mode():
    assert PLASTICITY["spinnaker"] is SpinnakerPairSTDP
    net = _plastic_net(0.5, 3.0)
    mode = SpinnakerMode()
    sim = Simulation(net, mode, 0)
    res = sim.run(60)
    sp = sim.plastic["plastic"]
    assert isinstance(sp, SpinnakerPairSTDP)
    assert sp.shift == mode.weights["post"].shifts["excitatory"]       # the mode's own shift
    assert np.array_equal(sp.syn.weight, sp.raw[:])                      # propagated = stored
    assert np.allclose(res.weights["plastic"], sp.raw_weights() * sp.lsb_nA)
    assert res.weights["plastic"][0] > 0.5                               # pre 0 leads the post spikes


def test_shift_uses_the_hosts_stdp_statistics():
    # SynapseDynamicsSTDP counts a plastic synapse at max(max|w|, w_max): a larger w_max alone
    # raises the ring-buffer shift, and the initial weights are quantised with that shift.
    small, large = SpinnakerMode(), SpinnakerMode()
    Simulation(_plastic_net(0.5, 0.5), small, 0)
    Simulation(_plastic_net(0.5, 40.0), large, 0)
    assert large.weights["post"].shifts["excitatory"] > small.weights["post"].shifts["excitatory"]


def test_refuses_synapse_values_that_are_not_the_hosts_words():
    net = _plastic_net(0.5, 3.0)
    Simulation(net, SpinnakerMode(), 0)   # builds fine
    pr = net.projections["plastic"]
    syn = PreSortedSynapses.build(pr, 2, np.array([1, 2], dtype=I))
    with pytest.raises(ModelError, match="host's uint16 weights"):
        SpinnakerPairSTDP(pr, syn, net)


def test_ca3_functional_protocol_in_spinnaker_mode():
    from neurocompile.models.ca3 import protocol as P

    sched = P.functional()
    s = P.run(sched, "spinnaker")
    assert s.all_correct, "\n".join(s.failures())
    f = P.run(sched, "float")
    assert np.array_equal(f.output_raster, s.output_raster)
