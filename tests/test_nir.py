"""NIR import/export: exact round trips, hand-computed imports, errors, and behaviour in the simulator."""
from __future__ import annotations

import math
import warnings

import nir
import numpy as np
import pytest

from neurocompile.errors import ModelError
from neurocompile.ir.network import Network, STDPRule
from neurocompile.nir_import import (NIRApproximationWarning, from_nir, load_nir, save_nir,
                                     to_nir)

from neurocompile.backends.sim import Simulation
from neurocompile.backends.sim.float_mode import FloatMode


# ----- helpers ----------------------------------------------------------------------------------

def rich_net() -> Network:
    """Every feature the exporter has to carry: per-neuron params, biases, refractoriness, sources
    with content, mixed delay patterns, duplicate synapses, recurrence, plasticity, an empty
    projection, different tau_syn_E/I where only one receptor is used."""
    rng = np.random.default_rng(3)
    net = Network(name="rich", dt_ms=0.5, seed=11, metadata={"author": "test"})
    net.add_spike_source("src", [[1, 4, 9], [], [2], [0, 3], [7]], record=("spikes",))
    net.add_population("poi", 3, "poisson", {"rate": np.array([5.0, 10.0, 20.0]), "start": 2})
    net.add_population("a", 6, "lif_curr_exp", {
        "tau_m": rng.uniform(5, 30, 6), "cm": rng.uniform(0.1, 2.0, 6), "v_rest": -65.0,
        "v_reset": rng.uniform(-75, -66, 6), "v_thresh": -52.5, "tau_refrac": 2.0,
        "tau_syn_E": 4.0, "tau_syn_I": 4.0, "i_offset": rng.uniform(-0.2, 0.8, 6),
        "v_init": rng.uniform(-70, -60, 6)}, record=("spikes", "v"), layer="hidden")
    net.add_population("b", 4, "lif_curr_exp", {"tau_syn_E": 5.0, "tau_syn_I": 8.0})  # only inh in
    net.add_population("c", 3, "lif_curr_exp", {"i_offset": 0.3})
    net.add_projection("src", "a", [0, 1, 2, 3, 4, 0], [0, 1, 2, 3, 4, 5],
                       rng.uniform(0.1, 1.0, 6), 3, receptor="excitatory", name="src->a")
    # delays a function of the presynaptic neuron
    net.add_projection("poi", "a", [0, 0, 1, 2, 2], [0, 5, 1, 2, 3], rng.uniform(0.1, 1, 5),
                       [2, 2, 5, 1, 1], receptor="excitatory")
    # delays a function of the postsynaptic neuron, recurrent
    net.add_projection("a", "a", [0, 1, 2, 3], [1, 1, 4, 5], -rng.uniform(0.1, 1, 4),
                       [2, 2, 3, 4], receptor="inhibitory", name="rec")
    # arbitrary per-synapse delays and duplicate pairs (same and different delays)
    net.add_projection("a", "b", [0, 0, 0, 1, 2, 5, 5], [0, 0, 0, 1, 1, 3, 2],
                       -rng.uniform(0.1, 1, 7), [1, 4, 4, 2, 3, 6, 1], receptor="inhibitory")
    net.add_projection("src", "c", [0, 1, 2], [0, 1, 2], [0.5, 0.25, 0.125], 1,
                       receptor="excitatory", plasticity=STDPRule(a_plus=0.02, w_max=2.0))
    net.add_projection("a", "c", [0, 0, 3], [2, 2, 1], [0.3, 0.4, 0.5], 1, receptor="excitatory")
    net.add_projection("c", "c", [], [], [], 1, receptor="excitatory", name="empty")
    return net


def synapses(proj):
    order = np.lexsort((proj.weight, proj.delay, proj.post_idx, proj.pre_idx))
    return (proj.pre_idx[order], proj.post_idx[order], proj.delay[order], proj.weight[order])


def assert_same_network(a: Network, b: Network, rtol: float = 1e-12) -> None:
    assert b.name == a.name and b.dt_ms == a.dt_ms and b.seed == a.seed
    assert list(b.populations) == list(a.populations)
    for name, pa in a.populations.items():
        pb = b.populations[name]
        assert (pb.model, pb.size) == (pa.model, pa.size), name
        assert set(pb.record) == set(pa.record), name
        if pa.model == "spike_array":
            for k in ("spike_indptr", "spike_steps"):
                np.testing.assert_array_equal(pb.params[k], pa.params[k])
            continue
        for k in pa.neuron_model.params:
            np.testing.assert_allclose(pb.param(k), pa.param(k), rtol=rtol, atol=0, err_msg=f"{name}.{k}")
    assert set(b.projections) == set(a.projections)
    for name, ra in a.projections.items():
        rb = b.projections[name]
        assert (rb.pre, rb.post, rb.receptor, rb.plasticity) == (ra.pre, ra.post, ra.receptor, ra.plasticity)
        sa, sb = synapses(ra), synapses(rb)
        for x, y in zip(sa[:3], sb[:3]):  # connectivity and delays: identical
            np.testing.assert_array_equal(y, x, err_msg=name)
        np.testing.assert_allclose(sb[3], sa[3], rtol=rtol, atol=0, err_msg=name)


def quiet(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NIRApproximationWarning)
        return fn(*args, **kw)


# ----- round trips ------------------------------------------------------------------------------

@pytest.mark.parametrize("time_unit_ms", [1000.0, 1.0])
def test_round_trip_ir_nir_ir_is_exact(time_unit_ms):
    net = rich_net()
    graph = quiet(to_nir, net, time_unit_ms=time_unit_ms)
    back = from_nir(graph)
    assert_same_network(net, back)
    # weights are stored as nA in the Linear nodes, so they come back bit for bit
    for name, proj in net.projections.items():
        np.testing.assert_array_equal(synapses(back.projections[name])[3], synapses(proj)[3])
    assert back.populations["a"].annotations["layer"] == "hidden"
    assert back.metadata["author"] == "test"


def test_round_trip_through_file(tmp_path):
    net = rich_net()
    path = quiet(save_nir, net, tmp_path / "rich.nir")
    assert_same_network(net, load_nir(path))
    # the file is ordinary NIR: nir.read with its default type checking accepts it
    graph = nir.read(path)
    assert isinstance(graph.nodes["a"], nir.CubaLIF)
    assert isinstance(graph.nodes["src"], nir.Input)
    # and nir.write of to_nir's graph + our loader agree
    nir.write(tmp_path / "direct.nir", quiet(to_nir, net))
    assert_same_network(net, load_nir(tmp_path / "direct.nir"))


def test_exported_cubalif_parameters_are_the_documented_formulas():
    net = rich_net()
    g = quiet(to_nir, net)  # seconds
    a, node = net.populations["a"], g.nodes["a"]
    r = a.param("tau_m") / a.param("cm")
    np.testing.assert_allclose(node.tau_mem, a.param("tau_m") / 1000, rtol=1e-15)
    np.testing.assert_allclose(node.tau_syn, 0.004, rtol=1e-15)
    np.testing.assert_allclose(node.r, r, rtol=1e-15)
    np.testing.assert_allclose(node.v_leak, -65.0 + r * a.param("i_offset"), rtol=1e-15)
    np.testing.assert_array_equal(node.w_in, node.tau_syn)
    np.testing.assert_array_equal(g.nodes["b"].tau_syn, np.full(4, 0.008))  # only inhibitory used
    # a uniform IR delay of 3 steps is a Delay of 2 * dt after the Linear
    assert ("src->a", "src->a__delay") in g.edges
    np.testing.assert_allclose(g.nodes["src->a__delay"].delay, 2 * 0.5 / 1000)
    w = g.nodes["src->a"].weight
    assert w.shape == (6, 5)  # (out = post, in = pre)
    assert w[5, 0] == net.projections["src->a"].weight[5]


# ----- import of hand-built graphs --------------------------------------------------------------

def test_import_input_affine_cubalif_output_by_hand():
    W = np.array([[1.0, -2.0, 0.5],
                  [0.0, 3.0, -1.0]])  # (out=2, in=3): non-square catches a transpose
    b = np.array([0.1, -0.2])
    tau_syn, tau_mem = np.array([0.005, 0.010]), np.array([0.020, 0.030])
    r, w_in = np.array([10.0, 20.0]), np.array([2.0, 0.5])
    g = nir.NIRGraph(nodes={
        "in": nir.Input(input_type=np.array([3])),
        "fc": nir.Affine(weight=W, bias=b),
        "lif": nir.CubaLIF(tau_syn=tau_syn, tau_mem=tau_mem, r=r, v_leak=np.array([-65.0, -60.0]),
                           v_threshold=np.array([-50.0, -52.0]), v_reset=np.array([-70.0, -71.0]),
                           w_in=w_in),
        "out": nir.Output(output_type=np.array([2]))},
        edges=[("in", "fc"), ("fc", "lif"), ("lif", "out")])
    net = from_nir(g, dt_ms=1.0)

    src, lif = net.populations["in"], net.populations["lif"]
    assert (src.model, src.size, src.params["spike_steps"].size) == ("spike_array", 3, 0)
    assert (lif.model, lif.size, lif.record) == ("lif_curr_exp", 2, ("spikes",))
    # by hand: tau_m = 1000*tau_mem ms; cm = tau_m / r nF; i_offset = w_in * b nA
    np.testing.assert_allclose(lif.param("tau_m"), [20.0, 30.0])
    np.testing.assert_allclose(lif.param("cm"), [20.0 / 10.0, 30.0 / 20.0])
    np.testing.assert_allclose(lif.param("tau_syn_E"), [5.0, 10.0])
    np.testing.assert_allclose(lif.param("tau_syn_I"), [5.0, 10.0])
    np.testing.assert_allclose(lif.param("i_offset"), [2.0 * 0.1, 0.5 * -0.2])
    np.testing.assert_allclose(lif.param("v_rest"), [-65.0, -60.0])
    np.testing.assert_allclose(lif.param("v_thresh"), [-50.0, -52.0])
    np.testing.assert_allclose(lif.param("v_reset"), [-70.0, -71.0])
    np.testing.assert_allclose(lif.param("tau_refrac"), 0.0)

    # weight (nA) = w_in[post] * W[post, pre] / tau_syn[post]: 400/nA-unit for post 0, 50 for post 1
    exc, inh = net.projections["in->lif:exc"], net.projections["in->lif:inh"]
    assert (exc.receptor, inh.receptor) == ("excitatory", "inhibitory")
    got_exc = {(int(p), int(q)): w for p, q, w in zip(exc.pre_idx, exc.post_idx, exc.weight)}
    got_inh = {(int(p), int(q)): w for p, q, w in zip(inh.pre_idx, inh.post_idx, inh.weight)}
    assert got_exc == pytest.approx({(0, 0): 400.0, (2, 0): 200.0, (1, 1): 150.0}, rel=1e-12)
    assert got_inh == pytest.approx({(1, 0): -800.0, (2, 1): -50.0}, rel=1e-12)
    assert set(exc.delay) == set(inh.delay) == {1}  # no Delay node: instantaneous = 1 step


def test_import_delay_node_in_steps_and_time_unit():
    g = nir.NIRGraph(nodes={
        "in": nir.Input(input_type=np.array([2])),
        "d": nir.Delay(delay=np.array([0.0, 3.0])),  # ms here (time_unit_ms=1)
        "fc": nir.Linear(weight=np.array([[1.0, 1.0]])),
        "lif": nir.CubaLIF(tau_syn=np.array([5.0]), tau_mem=np.array([20.0]), r=np.array([1.0]),
                           v_leak=np.array([0.0]), v_threshold=np.array([1.0]))},
        edges=[("in", "d"), ("d", "fc"), ("fc", "lif")])
    net = from_nir(g, dt_ms=0.5, time_unit_ms=1.0)
    (proj,) = net.projections.values()
    assert dict(zip(proj.pre_idx.tolist(), proj.delay.tolist())) == {0: 1, 1: 7}  # 1 + 3/0.5
    np.testing.assert_allclose(proj.weight, 1.0 / 5.0)
    assert net.populations["lif"].param("v_reset")[0] == 0.0  # NIR's default reset


def test_delay_not_multiple_of_dt_is_an_error():
    g = nir.NIRGraph(nodes={
        "in": nir.Input(input_type=np.array([1])),
        "slow": nir.Delay(delay=np.array([0.0025])),  # 2.5 ms
        "lif": nir.CubaLIF(tau_syn=np.array([0.005]), tau_mem=np.array([0.02]), r=np.array([1.0]),
                           v_leak=np.array([0.0]), v_threshold=np.array([1.0]))},
        edges=[("in", "slow"), ("slow", "lif")])
    with pytest.raises(ModelError, match=r"Delay 'slow'.*2\.5 ms.*not a non-negative multiple of dt = 1 ms"):
        from_nir(g, dt_ms=1.0)
    assert from_nir(g, dt_ms=0.5).projections["in->lif"].delay.tolist() == [6]


@pytest.mark.parametrize("bad", [
    nir.Threshold(threshold=np.array([1.0, 1.0])),
    nir.Conv2d(input_shape=(4, 4), weight=np.ones((2, 2, 3, 3)), stride=1, padding=0, dilation=1,
               groups=1, bias=np.zeros(2)),
])
def test_unsupported_node_names_node_and_type(bad):
    g = nir.NIRGraph(nodes={"in": nir.Input(input_type=np.array([2])), "weird_layer": bad},
                     edges=[("in", "weird_layer")], type_check=False)
    with pytest.raises(ModelError) as e:
        from_nir(g)
    msg = str(e.value)
    assert "'weird_layer'" in msg and type(bad).__name__ in msg and "CubaLIF" in msg and "Affine" in msg


def test_weight_matrix_of_wrong_orientation_is_an_error():
    g = nir.NIRGraph(nodes={
        "in": nir.Input(input_type=np.array([3])),
        "fc": nir.Linear(weight=np.ones((3, 2))),  # (in, out) by mistake
        "lif": nir.CubaLIF(tau_syn=np.full(2, 0.005), tau_mem=np.full(2, 0.02), r=np.ones(2),
                           v_leak=np.zeros(2), v_threshold=np.ones(2))},
        edges=[("in", "fc"), ("fc", "lif")], type_check=False)
    with pytest.raises(ModelError, match=r"'fc'.*takes 2 inputs but receives 3"):
        from_nir(g)


def test_multidimensional_shapes_are_flattened_in_c_order():
    g = nir.NIRGraph(nodes={
        "in": nir.Input(input_type=np.array([2, 3])),
        "flat": nir.Flatten(input_type={"input": np.array([2, 3])}, start_dim=0, end_dim=-1),
        "fc": nir.Linear(weight=np.arange(24, dtype=float).reshape(4, 6) + 1),
        "lif": nir.CubaLIF(tau_syn=np.full((2, 2), 0.005), tau_mem=np.full((2, 2), 0.02),
                           r=np.ones((2, 2)), v_leak=np.zeros((2, 2)), v_threshold=np.ones((2, 2)),
                           w_in=0.005)},
        edges=[("in", "flat"), ("flat", "fc"), ("fc", "lif")], type_check=False)
    net = from_nir(g)
    assert net.populations["in"].size == 6 and net.populations["lif"].size == 4
    assert net.populations["in"].annotations["nir_shape"] == [2, 3]
    m = net.projections["in->lif"].to_csr(6, 4).toarray()
    np.testing.assert_allclose(m, (np.arange(24).reshape(4, 6) + 1).T)  # w_in / tau_syn == 1


def test_recurrent_subgraph_is_inlined():
    """snnTorch exports RSynaptic as a nested graph: input -> lif -> w_rec -> lif."""
    n = 3
    inner = nir.NIRGraph(nodes={
        "input": nir.Input(input_type=np.array([n])),
        "lif": nir.CubaLIF(tau_syn=np.full(n, 0.005), tau_mem=np.full(n, 0.02), r=np.ones(n),
                           v_leak=np.zeros(n), v_threshold=np.ones(n), w_in=0.005),
        "w_rec": nir.Linear(weight=-np.eye(n)),
        "output": nir.Output(output_type=np.array([n]))},
        edges=[("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")])
    g = nir.NIRGraph(nodes={"in": nir.Input(input_type=np.array([2])),
                            "fc": nir.Linear(weight=np.ones((n, 2))),
                            "rsyn": inner,
                            "out": nir.Output(output_type=np.array([n]))},
                     edges=[("in", "fc"), ("fc", "rsyn"), ("rsyn", "out")], type_check=False)
    net = from_nir(g)
    assert list(net.populations) == ["in", "rsyn.lif"]
    assert net.populations["rsyn.lif"].record == ("spikes",)
    rec = net.projections["rsyn.lif->rsyn.lif"]
    assert rec.receptor == "inhibitory" and rec.n_synapses == n
    np.testing.assert_array_equal(rec.pre_idx, rec.post_idx)
    assert net.projections["in->rsyn.lif"].n_synapses == 2 * n


def test_unit_step_convention_scales_weights_by_dt():
    """snnTorch-style export: w_in = tau_syn/dt, so each spike adds exactly W (unit_step)."""
    dt_s = 1e-4
    tau_syn = np.array([dt_s / (1 - 0.9)])
    g = nir.NIRGraph(nodes={
        "in": nir.Input(input_type=np.array([1])), "fc": nir.Linear(weight=np.array([[0.7]])),
        "lif": nir.CubaLIF(tau_syn=tau_syn, tau_mem=np.array([dt_s / (1 - 0.8)]),
                           r=np.array([1 / (1 - 0.8)]), v_leak=np.zeros(1), v_threshold=np.ones(1),
                           w_in=tau_syn / dt_s)},
        edges=[("in", "fc"), ("fc", "lif")])
    step = from_nir(g, dt_ms=0.1, spike_convention="unit_step")
    np.testing.assert_allclose(step.projections["in->lif"].weight, [0.7], rtol=1e-12)
    dirac = from_nir(g, dt_ms=0.1)
    np.testing.assert_allclose(dirac.projections["in->lif"].weight, [0.7 / dt_s], rtol=1e-12)
    with pytest.raises(ModelError, match="spike_convention"):
        from_nir(g, spike_convention="euler")


def test_output_fed_by_linear_node_is_an_error():
    g = nir.NIRGraph(nodes={"in": nir.Input(input_type=np.array([2])),
                            "fc": nir.Linear(weight=np.ones((2, 2))),
                            "out": nir.Output(output_type=np.array([2]))},
                     edges=[("in", "fc"), ("fc", "out")])
    with pytest.raises(ModelError, match=r"Output 'out' is fed by Linear node 'fc'"):
        from_nir(g)


# ----- export errors ----------------------------------------------------------------------------

def test_export_differing_tau_syn_with_both_receptors_is_an_error():
    net = Network(dt_ms=1.0)
    net.add_spike_source("s", [[1]])
    net.add_population("mixed", 2, "lif_curr_exp", {"tau_syn_E": 5.0, "tau_syn_I": 10.0})
    net.add_projection("s", "mixed", [0], [0], 1.0, receptor="excitatory")
    net.add_projection("s", "mixed", [0], [1], -1.0, receptor="inhibitory")
    with pytest.raises(ModelError, match=r"population 'mixed'.*tau_syn_E \(5 ms\) and tau_syn_I \(10 ms\)"):
        to_nir(net)


def test_export_of_target_native_model_is_an_error():
    net = Network(dt_ms=1.0)
    net.add_population("chip", 2, "loihi2_lif", {"vth": 100})
    with pytest.raises(ModelError, match=r"population 'chip'.*'loihi2_lif'"):
        to_nir(net)


def test_export_warns_about_what_nir_cannot_carry():
    net = rich_net()
    with pytest.warns(NIRApproximationWarning) as rec:
        to_nir(net)
    text = " ".join(str(w.message) for w in rec)
    assert "refractory" in text and "plasticity" in text


# ----- behaviour in the float simulator ---------------------------------------------------------

@pytest.mark.parametrize("dt", [1.0, 0.1])
def test_bias_driven_neuron_fires_at_analytic_rate(dt):
    tau_mem, r, v_leak, v_th, v_reset, b = 0.020, 10.0, -65.0, -50.0, -70.0, 5.0
    g = nir.NIRGraph(nodes={
        "in": nir.Input(input_type=np.array([1])),
        "bias": nir.Affine(weight=np.zeros((1, 1)), bias=np.array([b])),
        "lif": nir.CubaLIF(tau_syn=np.array([0.005]), tau_mem=np.array([tau_mem]), r=np.array([r]),
                           v_leak=np.array([v_leak]), v_threshold=np.array([v_th]),
                           v_reset=np.array([v_reset]), w_in=np.array([1.0])),
        "out": nir.Output(output_type=np.array([1]))},
        edges=[("in", "bias"), ("bias", "lif"), ("lif", "out")])
    net = from_nir(g, dt_ms=dt)
    assert net.populations["lif"].param("i_offset")[0] == pytest.approx(b)  # w_in * b nA
    steps = int(round(50 / dt))
    res = Simulation(net, FloatMode(), seed=0).run(steps)
    spike_steps, _ = res.spikes["lif"]
    # LIF with constant current: v(t) = v_inf + (v0 - v_inf) exp(-t/tau_m), v_inf = v_leak + r*b
    tau_m_ms, v_inf = tau_mem * 1000, v_leak + r * b
    isi_ms = tau_m_ms * math.log((v_inf - v_reset) / (v_inf - v_th))
    first_ms = tau_m_ms * math.log((v_inf - v_leak) / (v_inf - v_th))  # starts at rest
    isis = np.diff(spike_steps)
    assert len(spike_steps) >= 4
    assert spike_steps[0] + 1 == math.ceil(first_ms / dt)
    assert np.all(isis == math.ceil(isi_ms / dt))  # threshold crossed within the step
    assert np.all(np.abs(isis * dt - isi_ms) < dt)  # i.e. the rate is right to within one step
    rate_hz = 1000.0 / (isis.mean() * dt)
    assert 1000.0 / (isi_ms + dt) < rate_hz <= 1000.0 / isi_ms


def test_lif_delta_synapse_psp_matches_nir_jump():
    tau, r, W = 0.020, 10.0, 0.001  # a Dirac spike makes v jump by r*W/tau = 0.5 mV
    g = nir.NIRGraph(nodes={
        "in": nir.Input(input_type=np.array([1])), "fc": nir.Linear(weight=np.array([[W]])),
        "lif": nir.LIF(tau=np.array([tau]), r=np.array([r]), v_leak=np.array([0.0]),
                       v_threshold=np.array([100.0])),
        "out": nir.Output(output_type=np.array([1]))},
        edges=[("in", "fc"), ("fc", "lif"), ("lif", "out")])
    with pytest.warns(NIRApproximationWarning, match="LIF 'lif' has delta synapses"):
        net = from_nir(g, dt_ms=1.0)
    assert net.metadata["nir"]["approximations"]
    net.populations["in"].params.update(spike_indptr=np.array([0, 1]), spike_steps=np.array([0]))
    res = Simulation(net, FloatMode(), seed=0).run(30, record={"lif": ("v",)})
    v = res.traces["lif"]["v"][:, 0]
    jump = r * W / tau
    assert v[0] == 0.0  # spike emitted at step 0 arrives at step 1
    # exact delta synapse: jump at the start of step 1, then leak for the rest of the step
    expected = jump * np.exp(-np.arange(1, 30) / (tau * 1000))
    np.testing.assert_allclose(v[1:], expected, rtol=1e-2)


def test_load_nir_of_missing_or_bad_file_is_a_file_error(tmp_path):
    from neurocompile.errors import FileFormatError
    with pytest.raises(FileFormatError, match="does not exist"):
        load_nir(tmp_path / "nope.nir")
    bad = tmp_path / "bad.nir"
    bad.write_bytes(b"not hdf5")
    with pytest.raises(FileFormatError, match="cannot read NIR file"):
        load_nir(bad)
