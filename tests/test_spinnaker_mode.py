"""The sim backend's `spinnaker` mode == sPyNNaker 1!7.4.1 IF_curr_exp, through the whole engine.

The mode adds no arithmetic of its own (backends/sim/spinnaker_mode.py): it wires
``neurocompile.targets.spinnaker.weights`` (host rule) and ``neurocompile.targets.spinnaker.fixed``
(core) into the engine.  These tests check the wiring: which integers reach which ring-buffer slot
in which tick, that slots saturate as on the core, that the whole loop is bit-identical to a hand
run of ``spinnaker_fixed`` and to the shipped ARM binary (the ``_Aplx`` harness of
tests/test_spinnaker_fixed.py under unicorn), and how far the result is from the float mode.
"""
from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest

from neurocompile.targets.spinnaker import weights as sw
from neurocompile.targets.spinnaker.fixed import (
    LifCurrExpParams, LifCurrExpState, decay_s1615, decode_s1615, encode_s1615, host_timestep_ms,
    ring_buffer_add, run_lif_curr_exp)
from neurocompile.backends.sim import MODES, Simulation, mode_for
from neurocompile.backends.sim.float_mode import FloatMode
from neurocompile.backends.sim.spinnaker_mode import (
    SpinnakerMode, SpinnakerWeightWarning, population_weights)
from neurocompile.errors import ModelError
from neurocompile.ir.network import Network

RECEPTOR_INDEX = {"excitatory": 0, "inhibitory": 1}
LIF_KEYS = ("tau_m", "cm", "v_rest", "v_reset", "v_thresh", "tau_refrac", "tau_syn_E",
            "tau_syn_I", "i_offset")


def all_vars(net: Network) -> dict[str, tuple[str, ...]]:
    return {p.name: ("spikes", "v", "v_raw", "v_pre_raw", "i_syn_exc_raw", "i_syn_inh_raw",
                     "refractory")
            for p in net.populations.values() if not p.neuron_model.is_source}


def expected_weights(net: Network, post: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """spinnaker_weights' own answer for the projections into `post` (FromListConnector lists)."""
    projs = [p for p in net.projections_into(post) if p.n_synapses]
    lists = [sw.ListProjection(pre=p.pre_idx, post=p.post_idx, weights=p.weight,
                               delays=p.delay * net.dt_ms, receptor=RECEPTOR_INDEX[p.receptor],
                               pre_key=p.pre) for p in projs]
    shifts, raws = sw.spinnaker_weights(lists, timestep_ms=net.dt_ms)
    return shifts, {p.name: r for p, r in zip(projs, raws)}


def hand_slots(net: Network, post: str, raw: dict[str, np.ndarray], steps: int,
               fired: dict[str, list[np.ndarray]]) -> dict[str, np.ndarray]:
    """Ring-buffer slot values per tick, built synapse by synapse with the core's saturating add."""
    n = net.populations[post].size
    slots = {r: np.zeros((steps, n), dtype=np.int64) for r in RECEPTOR_INDEX}
    for proj in net.projections_into(post):
        for t, idx in enumerate(fired[proj.pre][:steps]):
            for k in np.flatnonzero(np.isin(proj.pre_idx, idx)):
                due = t + int(proj.delay[k])
                if due < steps:
                    j = proj.post_idx[k]
                    row = slots[proj.receptor][due]
                    row[j] = ring_buffer_add(row[j], raw[proj.name][k])
    return slots


def source_spikes(pop, steps: int) -> list[np.ndarray]:
    indptr, st = pop.params["spike_indptr"], pop.params["spike_steps"]
    owner = np.repeat(np.arange(pop.size), np.diff(indptr))
    return [np.unique(owner[st == t]) for t in range(steps)]


# ------------------------------------------------------------------------------------------
# (1) one neuron, spike-array input: engine == hand run of spinnaker_fixed, tick by tick
# ------------------------------------------------------------------------------------------
PHYS = dict(tau_m=10.0, cm=0.5, v_rest=-65.0, v_reset=-68.0, v_thresh=-60.0, tau_refrac=2.0,
            tau_syn_E=5.0, tau_syn_I=3.0, i_offset=0.1)


def single_neuron_net() -> Network:
    net = Network(name="one", dt_ms=1.0, seed=3)
    net.add_spike_source("src", [[2, 10, 11, 30, 31, 32], [4, 10, 25, 31], [15, 27, 33]])
    net.add_population("post", 1, "lif_curr_exp", {**PHYS, "v_init": -64.0})
    # Each projection has one synapse, so sPyNNaker's delay variance is 0 and the shift is sized
    # for the worst case: exc 1 * 2.0 + 1 * 0.75 = 2.75 -> shift 2 (2**2 = 4 > 2.75), LSB 2**-13;
    # inh 1.25 -> shift 1, LSB 2**-14.
    net.add_projection("src", "post", [0], [0], 2.0, 1, receptor="excitatory", name="a")
    net.add_projection("src", "post", [1], [0], 0.75, 3, receptor="excitatory", name="b")
    net.add_projection("src", "post", [2], [0], -1.25, 2, receptor="inhibitory", name="c")
    return net


def test_single_neuron_matches_hand_run():
    net = single_neuron_net()
    steps = 45
    mode = SpinnakerMode()
    sim = Simulation(net, mode)
    res = sim.run(steps, record=all_vars(net))
    plan = mode.weights["post"]
    assert plan.shifts == {"excitatory": 2, "inhibitory": 1}
    # 2.0 * 2**13 = 16384, 0.75 * 2**13 = 6144, 1.25 * 2**14 = 20480
    assert {k: v.tolist() for k, v in plan.raw.items()} == {"a": [16384], "b": [6144], "c": [20480]}

    # Ring-buffer rows written by hand: a spike at t with delay d lands in row t + d.
    exc = np.zeros((steps, 1), np.int64)
    inh = np.zeros((steps, 1), np.int64)
    for t in (2, 10, 11, 30, 31, 32):
        exc[t + 1] += 16384
    for t in (4, 10, 25, 31):
        exc[t + 3] += 6144
    for t in (15, 27, 33):
        inh[t + 2] += 20480
    assert exc.max() <= 0xFFFF                     # 16384 + 16384 + 6144 at row 32 / 34 etc.
    params = LifCurrExpParams.from_physical(**PHYS, dt_ms=1.0)
    state0 = LifCurrExpState.initial(1, v_init=-64.0)
    final, v_rec, spikes = run_lif_curr_exp(state0, params, exc, inh, 2, 1)

    tr = res.traces["post"]
    np.testing.assert_array_equal(tr["v_pre_raw"], v_rec)            # sPyNNaker's recording
    np.testing.assert_array_equal(tr["v_raw"][:-1], v_rec[1:])       # after-update convention
    assert tr["v_raw"][-1, 0] == final.v[0]
    assert tr["i_syn_exc_raw"][-1, 0] == final.isyn_exc[0]
    assert tr["i_syn_inh_raw"][-1, 0] == final.isyn_inh[0]
    assert tr["refractory"][-1, 0] == final.refract_timer[0]
    np.testing.assert_array_equal(tr["v"], decode_s1615(tr["v_raw"]))
    assert tr["v_pre_raw"][0, 0] == encode_s1615(-64.0) == -64 * 32768
    np.testing.assert_array_equal(res.raster("post", 1), spikes)
    assert spikes.sum() >= 2, "the drive was chosen to make the neuron fire"
    # input consumed in tick 3 (spike at 2, delay 1) changes v[3], not v[2]
    base = run_lif_curr_exp(state0, params, np.zeros_like(exc), inh, 2, 1)[1]
    assert (v_rec[:4] == base[:4]).all() and v_rec[4, 0] != base[4, 0]


@pytest.mark.parametrize("shift_override", [None, {"excitatory": 1, "inhibitory": 5}])
def test_matches_spynnaker_arm_binary_closed_loop(shift_override):
    """A heterogeneous population with recurrent excitation and inhibition, driven by a spike
    array: the engine's per-tick state equals the shipped IF_curr_exp.aplx run under unicorn, fed
    with ring-buffer slots built from the binary's own spikes.  With the override (4 nA per
    excitatory slot) many slots saturate at 0xFFFF."""
    import unicorn  # noqa: F401  (declared test dependency: missing it must fail, not skip)
    from test_spinnaker_fixed import _Aplx, _aplx_path

    path = _aplx_path()
    assert path is not None, "sPyNNaker 1!7.4.1's IF_curr_exp.aplx not found"
    rng = np.random.default_rng(11)
    n, n_src, steps = 6, 24, 160
    phys = dict(tau_m=rng.uniform(5, 30, n).round(2), cm=rng.choice([0.25, 0.5, 1.0], n),
                v_rest=rng.uniform(-70, -62, n).round(2), v_reset=rng.uniform(-75, -60, n).round(2),
                v_thresh=rng.uniform(-56, -50, n).round(2), tau_refrac=rng.choice([0.0, 1.0, 2.5], n),
                tau_syn_E=rng.choice([1.0, 5.0, 7.3], n), tau_syn_I=rng.choice([2.0, 10.0], n),
                i_offset=rng.uniform(0.0, 0.4, n).round(3))
    v_init = rng.uniform(-70, -55, n).round(3)
    net = Network(name="oracle", dt_ms=1.0, seed=1)
    net.add_spike_source("src", [np.sort(rng.choice(steps, rng.integers(3, 15), replace=False))
                                 for _ in range(n_src)])
    pop = net.add_population("pop", n, "lif_curr_exp", {**phys, "v_init": v_init})
    if shift_override:
        pop.annotations["ring_buffer_shift"] = shift_override
    pre, post = np.nonzero(rng.random((n_src, n)) < 0.5)
    net.add_projection("src", "pop", pre, post, rng.uniform(0.2, 3.0, pre.size),
                       rng.integers(1, 6, pre.size), receptor="excitatory", name="drive")
    pre, post = np.nonzero(rng.random((n_src, n)) < 0.3)
    net.add_projection("src", "pop", pre, post, -rng.uniform(0.1, 2.0, pre.size),
                       rng.integers(1, 4, pre.size), receptor="inhibitory", name="src_inh")
    pre, post = np.nonzero(rng.random((n, n)) < 0.6)
    net.add_projection("pop", "pop", pre, post, rng.uniform(0.5, 2.0, pre.size),
                       rng.integers(1, 8, pre.size), receptor="excitatory", name="recurrent")
    pre, post = np.nonzero(rng.random((n, n)) < 0.4)
    net.add_projection("pop", "pop", pre, post, -rng.uniform(0.5, 1.5, pre.size), 2,
                       receptor="inhibitory", name="rec_inh")

    mode = SpinnakerMode()
    sim = Simulation(net, mode)
    res = sim.run(steps, record=all_vars(net))
    tr = res.traces["pop"]
    plan = mode.weights["pop"]
    shifts = (plan.shifts["excitatory"], plan.shifts["inhibitory"])

    emu = _Aplx(path)
    enc = {k: encode_s1615(v) for k, v in phys.items()}
    enc["v_init"] = encode_s1615(v_init)
    emu.initialise(enc, n, int(encode_s1615(host_timestep_ms(1.0))))
    fired = {"src": source_spikes(net.populations["src"], steps), "pop": []}
    slots = {r: np.zeros((steps + 8, n), np.int64) for r in RECEPTOR_INDEX}
    for t in range(steps):
        # slots for tick t are complete: sources and the binary's own spikes of earlier ticks
        for proj in net.projections_into("pop"):
            if proj.pre == "pop":
                continue
            for k in np.flatnonzero(np.isin(proj.pre_idx, fired["src"][t])):
                row = slots[proj.receptor][t + proj.delay[k]]
                row[proj.post_idx[k]] = ring_buffer_add(row[proj.post_idx[k]], plan.raw[proj.name][k])
        hw_spikes = emu.tick(slots["excitatory"][t], slots["inhibitory"][t], shifts, n)
        hw = [emu.neuron(i) for i in range(n)]
        assert [h["v"] for h in hw] == tr["v_raw"][t].tolist(), t
        assert [h["timer"] for h in hw] == tr["refractory"][t].tolist(), t
        assert [h["ev"] for h in hw] == tr["i_syn_exc_raw"][t].tolist(), t
        assert [h["iv"] for h in hw] == tr["i_syn_inh_raw"][t].tolist(), t
        assert hw_spikes.tolist() == res.raster("pop", n)[t].tolist(), t
        fired["pop"].append(np.flatnonzero(hw_spikes))
        for proj in (net.projections["recurrent"], net.projections["rec_inh"]):
            for k in np.flatnonzero(np.isin(proj.pre_idx, fired["pop"][t])):
                row = slots[proj.receptor][t + proj.delay[k]]
                row[proj.post_idx[k]] = ring_buffer_add(row[proj.post_idx[k]], plan.raw[proj.name][k])
    assert res.raster("pop", n).sum() > 20
    assert np.count_nonzero(slots["excitatory"][:steps]) > 50
    n_sat = int(np.count_nonzero(slots["excitatory"][:steps] == 0xFFFF))
    assert sim.groups["pop"].saturated_slots["excitatory"] == n_sat
    assert (n_sat > 10) if shift_override else (n_sat == 0)


# ------------------------------------------------------------------------------------------
# (2) shifts and uint16 weights are spinnaker_weights' (sPyNNaker's host rule)
# ------------------------------------------------------------------------------------------
def mixed_net() -> Network:
    rng = np.random.default_rng(5)
    net = Network(name="mixed", dt_ms=1.0, seed=2)
    net.add_spike_source("s1", [[1, 4]] * 30)
    net.add_population("p", 40, "lif_curr_exp", {"tau_m": 15.0})
    net.add_population("q", 12, "lif_curr_exp")
    pre, post = np.nonzero(rng.random((30, 40)) < 0.3)
    net.add_projection("s1", "p", pre, post, rng.uniform(0.05, 1.5, pre.size),
                       rng.choice([1, 2, 5, 9], pre.size), receptor="excitatory")
    pre, post = np.nonzero(rng.random((30, 40)) < 0.2)
    net.add_projection("s1", "p", pre, post, 0.3, 2, receptor="excitatory", name="same_pre_again")
    pre, post = np.nonzero(rng.random((40, 12)) < 0.5)
    net.add_projection("p", "q", pre, post, -rng.lognormal(-1, 0.5, pre.size), 1,
                       receptor="inhibitory")
    net.add_projection("s1", "q", np.arange(12), np.arange(12), 4.0, 3, receptor="excitatory")
    return net


@pytest.mark.parametrize("build", ["synfire", "mixed"])
def test_shifts_and_weights_are_spinnaker_weights(build):
    from neurocompile.models.synfire import build as synfire

    net = synfire() if build == "synfire" else mixed_net()
    mode = SpinnakerMode()
    sim = Simulation(net, mode)
    for post, plan in mode.weights.items():
        shifts, raws = expected_weights(net, post)
        assert [plan.shifts[r] for r in RECEPTOR_INDEX] == shifts.tolist(), post
        assert plan.source == {"excitatory": "spynnaker_rule", "inhibitory": "spynnaker_rule"}
        for name, raw in raws.items():
            np.testing.assert_array_equal(plan.raw[name], raw)
    # and those integers are what the engine scatters (feeds are in projection order)
    for post, chans in sim.channels.items():
        for receptor, ch in chans.items():
            projs = [p for p in net.projections_into(post) if p.receptor == receptor]
            assert [pre for pre, _ in ch.feeds] == [p.pre for p in projs]
            for (_, syn), proj in zip(ch.feeds, projs):
                raw = mode.weights[post].raw[proj.name]
                # order None: the flat layout's rows, by pre then delay (fused.FlatLayout.synapses)
                order = np.lexsort((proj.delay, proj.pre_idx)) if syn.order is None else syn.order
                np.testing.assert_array_equal(syn.weight, raw[order])
                assert syn.weight.dtype.kind == "i"
    if build == "synfire":   # the numbers, for the record (LSB 2**-11 and 2**-10 nA)
        assert mode.weights["chain"].shifts == {"excitatory": 4, "inhibitory": 5}
        assert mode.weights["inhibitory"].shifts == {"excitatory": 5, "inhibitory": 0}
        assert mode.weights["chain"].raw["kick"].tolist() == [12 * 2048] * 100
        assert mode.weights["chain"].raw["feedback_inh"].tolist() == [1024] * 25000  # 1.0 nA * 2**10
        assert mode.weights["inhibitory"].raw["to_inh"].tolist() == [3072] * 1000    # 3.0 nA * 2**10


def test_population_parameters_and_shift_override():
    net = mixed_net()
    base = population_weights(net.populations["p"], list(net.projections_into("p")), net)
    net.populations["p"].annotations.update(spikes_per_second=400.0, ring_buffer_sigma=2.0)
    lists = [sw.ListProjection(pre=p.pre_idx, post=p.post_idx, weights=p.weight, delays=p.delay * 1.0,
                               receptor=RECEPTOR_INDEX[p.receptor], pre_key=p.pre)
             for p in net.projections_into("p")]
    want, _ = sw.spinnaker_weights(lists, spikes_per_second=400.0, ring_buffer_sigma=2.0)
    got = population_weights(net.populations["p"], list(net.projections_into("p")), net)
    assert [got.shifts[r] for r in RECEPTOR_INDEX] == want.tolist()
    assert got.shifts["excitatory"] != base.shifts["excitatory"]
    # the annotation quantize_spinnaker writes replaces the rule's shift, per receptor
    net.populations["p"].annotations["ring_buffer_shift"] = {"excitatory": 1}
    got = population_weights(net.populations["p"], list(net.projections_into("p")), net)
    assert got.shifts == {"excitatory": 1, "inhibitory": want[1]}
    assert got.source == {"excitatory": "annotation", "inhibitory": "spynnaker_rule"}
    proj = next(net.projections_into("p"))
    np.testing.assert_array_equal(got.raw[proj.name], sw.quantize(proj.weight, 2.0 ** 14))
    net.populations["p"].annotations["ring_buffer_shift"] = {"exc": 1}
    with pytest.raises(ModelError, match="unknown receptor"):
        Simulation(net, SpinnakerMode())


def test_agrees_with_quantize_spinnaker_pass():
    """Same shifts as the pass; its quantized network runs to the same integers and spikes."""
    import neurocompile.targets.spinnaker.quantize as qs
    from neurocompile.boards.registry import load_board
    from neurocompile.models.synfire import build
    from neurocompile.passes.pipeline import CompileContext

    for net in (build(), mixed_net()):
        ctx = CompileContext(board=load_board("spinn-5"))
        qnet = qs.quantize_spinnaker(net, ctx)
        mode, qmode = SpinnakerMode(), SpinnakerMode()
        rec = all_vars(net)
        r = Simulation(net, mode).run(150, record=rec)
        q = Simulation(qnet, qmode).run(150, record=rec)
        for pop, plan in mode.weights.items():
            assert plan.shifts == qs.ring_buffer_shifts_of(qnet.populations[pop])
            assert qmode.weights[pop].source["excitatory"] == "annotation"
            for name in plan.raw:
                np.testing.assert_array_equal(plan.raw[name], qmode.weights[pop].raw[name])
                np.testing.assert_array_equal(plan.raw[name],
                                              qs.raw_weights(qnet, qnet.projections[name]))
        assert qnet.number_format == "spinnaker"
        assert isinstance(mode_for(qnet, None, None), SpinnakerMode)
        for pop in rec:
            for var in rec[pop]:
                if var != "spikes":
                    np.testing.assert_array_equal(r.traces[pop][var], q.traces[pop][var])
            np.testing.assert_array_equal(r.spikes[pop][0], q.spikes[pop][0])
            np.testing.assert_array_equal(r.spikes[pop][1], q.spikes[pop][1])


def test_host_weight_quirks_are_reproduced():
    """|w| * scale is rounded half-to-even and wrapped modulo 2**16 as sPyNNaker packs it."""
    net = Network(dt_ms=1.0)
    net.add_spike_source("s", [[1]] * 4)
    # shift 0 -> scale 2**15: 1.5 nA -> 49152; 2.5 nA -> 81920 wraps to 16384; 2**-16 nA -> 0.5
    # LSB -> 0 (half to even); 3 * 2**-16 -> 1.5 -> 2
    net.add_population("p", 1, "lif_curr_exp", ring_buffer_shift=0)
    net.add_projection("s", "p", [0, 1, 2, 3], [0] * 4, [1.5, 2.5, 2.0 ** -16, 3 * 2.0 ** -16])
    mode = SpinnakerMode()
    with pytest.warns(SpinnakerWeightWarning) as rec:
        Simulation(net, mode)
    assert mode.weights["p"].raw["s->p"].tolist() == [49152, 16384, 0, 2]
    msgs = " ".join(str(w.message) for w in rec)
    assert "wrap modulo 2**16" in msgs and "become 0" in msgs


def test_rejects_what_the_chip_cannot_run():
    net = Network()
    net.add_spike_source("s", [[1]])
    net.add_population("p", 1, "lif_curr_exp", {"v_thresh": 70000.0})   # beyond s16.15
    net.add_projection("s", "p", [0], [0], 1.0)
    with pytest.raises(ModelError, match="s16.15"):
        Simulation(net, SpinnakerMode())
    net.populations["p"].params["v_thresh"] = -50.0
    net.projections["s->p"].weight[:] = -1.0        # excitatory weights must be >= 0
    with pytest.raises(ModelError, match="excitatory weights must be >= 0"):
        Simulation(net, SpinnakerMode())


# ------------------------------------------------------------------------------------------
# (3) ring-buffer saturation at 0xFFFF
# ------------------------------------------------------------------------------------------
def test_saturating_add_equals_clipped_sum():
    """ring_buffer_add applied packet by packet, in any order, == min(sum, 0xFFFF) (weights >= 0)."""
    rng = np.random.default_rng(0)
    for _ in range(300):
        w = rng.integers(0, 0x10000, rng.integers(1, 12))
        if rng.random() < 0.5:
            w = w >> rng.integers(0, 16)
        for perm in itertools.islice(itertools.permutations(w.tolist()), 6):
            acc = np.int64(0)
            for x in perm:
                acc = ring_buffer_add(acc, x)
            assert int(acc) == min(int(w.sum()), 0xFFFF)


def test_ring_buffer_saturates_with_coincident_spikes():
    steps = 12
    net = Network(name="sat", dt_ms=1.0)
    net.add_spike_source("burst", [[3]] * 10)
    net.add_spike_source("late", [[1]])
    # Shift 0 (annotation): 0.5 nA = 16384 units.  Ten spikes sent at 3 with delay 2 and one sent
    # at 1 with delay 4 all land in slot 5: 11 * 16384 = 180224 units -> 0xFFFF on the core.
    net.add_population("p", 2, "lif_curr_exp", {**PHYS, "v_thresh": 0.0},
                       ring_buffer_shift={"excitatory": 0, "inhibitory": 0})
    net.add_projection("burst", "p", np.arange(10), [0] * 10, 0.5, 2, name="burst")
    net.add_projection("late", "p", [0], [0], 0.5, 4, name="late")
    net.add_projection("late", "p", [0], [1], 0.5, 4, name="single")   # neuron 1: no saturation
    mode = SpinnakerMode()
    sim = Simulation(net, mode)
    res = sim.run(steps, record=all_vars(net))
    raw = mode.weights["p"].raw
    assert raw["burst"].tolist() == [16384] * 10 and raw["late"].tolist() == [16384]
    fired = {"burst": source_spikes(net.populations["burst"], steps),
             "late": source_spikes(net.populations["late"], steps)}
    slots = hand_slots(net, "p", raw, steps, fired)
    assert slots["excitatory"][5].tolist() == [0xFFFF, 16384]
    params = LifCurrExpParams.from_physical(**{**PHYS, "v_thresh": 0.0}, dt_ms=1.0, n=2)
    state0 = LifCurrExpState.initial(2, v_init=-65.0)
    final, v_rec, _ = run_lif_curr_exp(state0, params, slots["excitatory"], slots["inhibitory"], 0, 0)
    np.testing.assert_array_equal(res.traces["p"]["v_pre_raw"], v_rec)
    assert res.traces["p"]["i_syn_exc_raw"][-1].tolist() == final.isyn_exc.tolist()
    # tick 5 of neuron 0 took exactly 0xFFFF << 0, scaled by init, then decayed once
    want = decay_s1615(decay_s1615(0xFFFF, params.exc_init[0]), params.exc_decay[0])
    assert res.traces["p"]["i_syn_exc_raw"][5, 0] == want
    assert sim.groups["p"].saturated_slots == {"excitatory": 1, "inhibitory": 0}


# ------------------------------------------------------------------------------------------
# (4) float vs spinnaker on the bundled synfire chain: the quantization loss, measured
# ------------------------------------------------------------------------------------------
def spike_agreement(a: np.ndarray, b: np.ndarray, tol: int) -> float:
    """Fraction of b's spikes that a has within +-tol steps in the same neuron."""
    if not b.any():
        return 1.0
    near = np.zeros_like(a)
    for s in range(-tol, tol + 1):
        near |= np.roll(a, s, axis=0)
    return float((near & b).sum() / b.sum())


@pytest.mark.parametrize("weight_nA", [0.4, 0.25])
def test_synfire_float_vs_spinnaker(weight_nA, record_property, capsys):
    """0.4 nA drives the packet far above threshold and the two modes agree on counts and on
    >= 99 % of spike times.  0.25 nA puts the chain near its propagation threshold, where the
    chip's slightly larger PSP (test below) moves spikes by a step; only the chain's count (the
    packet survives, with the same size) is asserted there, the rest is reported."""
    from neurocompile.models.synfire import build

    net = build(weight_nA=weight_nA)
    steps = 400
    rec = {"chain": ("spikes", "v"), "inhibitory": ("spikes", "v")}
    rs = Simulation(net, SpinnakerMode()).run(steps, record=rec)
    rf = Simulation(net, FloatMode()).run(steps, record=rec)
    lines, stats = [], {}
    for pop in ("chain", "inhibitory"):
        n = net.populations[pop].size
        a, b = rs.raster(pop, n), rf.raster(pop, n)
        ns, nf = int(a.sum()), int(b.sum())
        exact, within1 = spike_agreement(a, b, 0), spike_agreement(a, b, 1)
        dv = np.abs(rs.traces[pop]["v"] - rf.traces[pop]["v"])
        stats[pop] = (ns, nf, exact, within1, float(dv.max()))
        lines.append(f"synfire w={weight_nA} {steps} steps {pop}: spikes spinnaker {ns} float {nf} "
                     f"({(ns - nf) / nf:+.2%}); same step {exact:.1%}, within 1 step "
                     f"{within1:.1%}; |dV| mean {dv.mean():.4f} mV, max {dv.max():.3f} mV")
        record_property(f"{pop}_w{weight_nA}", lines[-1])
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    ns, nf, exact, within1, dv_max = stats["chain"]
    assert nf > 0 and abs(ns - nf) <= 0.03 * nf          # the packet keeps its size
    assert within1 >= 0.9
    if weight_nA == 0.4:
        # Driven far above threshold: same counts, >= 99 % of spikes at the same step (without a
        # refractory period a rare spike moves by one step, which shows as a large max |dV|).
        for ns, nf, exact, within1, dv_max in stats.values():
            assert ns == nf and exact >= 0.99 and within1 == 1.0


def test_single_psp_float_vs_spinnaker():
    """One 1 nA PSP: sPyNNaker's scheme (constant current over the tick, input scaled by
    (tau/dt)(1 - exp(-dt/tau))) plus s16.15 rounding gives a PSP within 1 % of the exact one
    (measured: +0.4 % at tau_syn 2 ms, +0.15 % at 5 ms)."""
    for tau_s in (2.0, 5.0):
        net = Network(dt_ms=1.0)
        net.add_spike_source("s", [[0]])
        net.add_population("p", 1, "lif_curr_exp", {"tau_m": 10.0, "tau_syn_E": tau_s,
                                                     "v_thresh": 100.0})
        net.add_projection("s", "p", [0], [0], 1.0, 1)
        rec = {"p": ("v",)}
        a = Simulation(net, SpinnakerMode()).run(60, record=rec).traces["p"]["v"][:, 0] + 65.0
        b = Simulation(net, FloatMode()).run(60, record=rec).traces["p"]["v"][:, 0] + 65.0
        assert a.argmax() == b.argmax()
        assert abs(a.max() / b.max() - 1) < 0.01 and abs(a.sum() / b.sum() - 1) < 0.01


# ------------------------------------------------------------------------------------------
# (5) determinism, continuation, Poisson sources, CLI, default mode
# ------------------------------------------------------------------------------------------
def poisson_net(seed: int = 9) -> Network:
    net = Network(name="pois", dt_ms=1.0, seed=seed)
    net.add_population("noise", 50, "poisson", {"rate": 40.0})
    net.add_population("p", 20, "lif_curr_exp", {"v_thresh": -60.0}, record=("spikes", "v"))
    rng = np.random.default_rng(1)
    pre, post = np.nonzero(rng.random((50, 20)) < 0.3)
    net.add_projection("noise", "p", pre, post, rng.uniform(0.5, 1.5, pre.size),
                       rng.integers(1, 4, pre.size))
    net.add_projection("p", "p", [0, 1, 2], [3, 4, 5], -0.5, 2, receptor="inhibitory")
    return net


def test_deterministic_and_continuable():
    from neurocompile.models.synfire import build

    for net in (build(), poisson_net(), single_neuron_net()):
        rec = all_vars(net)
        r1 = Simulation(net, SpinnakerMode()).run(200, record=rec)
        r2 = Simulation(net, SpinnakerMode()).run(200, record=rec)
        sim = Simulation(net, SpinnakerMode())
        a, b = sim.run(120, record=rec), sim.run(80, record=rec)
        for pop in rec:
            for i in (0, 1):
                np.testing.assert_array_equal(r1.spikes[pop][i], r2.spikes[pop][i])
                np.testing.assert_array_equal(r1.spikes[pop][i],
                                              np.concatenate([a.spikes[pop][i], b.spikes[pop][i]]))
            for var in rec[pop]:
                if var != "spikes":
                    np.testing.assert_array_equal(r1.traces[pop][var], r2.traces[pop][var])
                    np.testing.assert_array_equal(r1.traces[pop][var], np.concatenate(
                        [a.traces[pop][var], b.traces[pop][var]]))
        assert r1.mode == "spinnaker"
    # Poisson sources are the engine's (seeded, shared with the float mode), not sPyNNaker's RNG
    r = Simulation(poisson_net(), SpinnakerMode()).run(100)
    f = Simulation(poisson_net(), FloatMode()).run(100)
    np.testing.assert_array_equal(r.spikes["noise"][1], f.spikes["noise"][1])
    other = Simulation(poisson_net(), SpinnakerMode(), seed=123).run(100)
    assert not np.array_equal(other.spikes["noise"][1], r.spikes["noise"][1])


def test_mode_registered_and_default_from_number_format():
    assert MODES["spinnaker"] is SpinnakerMode
    net = single_neuron_net()
    assert isinstance(mode_for(net, None, "spinnaker"), SpinnakerMode)
    assert isinstance(mode_for(net, None, None), FloatMode)
    net.number_format = "spinnaker"
    assert isinstance(mode_for(net, None, None), SpinnakerMode)
    assert isinstance(mode_for(net, None, "float"), FloatMode)


def test_cli_simulate_spinnaker_mode(tmp_path):
    from cli_helpers import run_cli

    with warnings.catch_warnings():
        warnings.simplefilter("error", SpinnakerWeightWarning)
        res = run_cli("simulate", "synfire", "--board", "spinn-5", "--mode", "spinnaker",
                      "--steps", "200", "-o", tmp_path / "sim")
    assert res.exit_code == 0, res.output
    assert "spinnaker mode" in res.output
    import json
    summary = json.loads((tmp_path / "sim" / "summary.json").read_text())
    assert "spinnaker" in json.dumps(summary)
    counts = {p["name"]: p["spikes"] for p in summary["populations"]}
    assert counts["chain"] > 0 and counts["inhibitory"] > 0
