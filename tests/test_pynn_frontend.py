"""neurocompile.pynn: PyNN 0.13 scripts lowered to the IR, run on a board, read back as neo.

Independent checks: pyNN.mock (PyNN's own template backend) builds the same connections for the
connectors we leave to PyNN; the fast connectors are checked against their distributions; spikes
read through neo must be the SimResult's; a hand-built IR network gives the same simulation.
"""
from __future__ import annotations

import textwrap
import warnings

import numpy as np
import pytest

import neurocompile.pynn as sim  # PyNN comes with neurocompile[pynn], part of [all] that CI installs
from neurocompile.errors import ModelError  # noqa: E402
from neurocompile.pynn.lower import lower_network  # noqa: E402
from neurocompile.pynn.simulator import state  # noqa: E402

from cli_helpers import assert_clean_failure, assert_no_output_dir, run_cli  # noqa: E402


def _ir(steps: int = 100):
    return lower_network(state, steps).network


def _pairs(proj) -> set[tuple[int, int]]:
    return set(zip(proj._pre_idx.tolist(), proj._post_idx.tolist()))


def test_populations_and_parameters_lower_to_the_ir():
    sim.setup(timestep=0.5, board="spinn-5", seed=4)
    exc = sim.Population(8, sim.IF_curr_exp(tau_m=10.0, v_thresh=-52.0, i_offset=[0.1 * i for i in range(8)]),
                         label="exc layer")
    src = sim.Population(3, sim.SpikeSourceArray(spike_times=[1.0, 2.5, 10.0]), label="input")
    noise = sim.Population(5, sim.SpikeSourcePoisson(rate=12.0, start=5.0, duration=20.0), label="noise")
    exc.initialize(v=-60.0)
    net = _ir()
    assert net.dt_ms == 0.5 and net.seed == 4
    pop = net.populations["exc_layer"]
    assert pop.model == "lif_curr_exp" and pop.size == 8
    assert pop.params["tau_m"] == 10.0 and pop.params["v_thresh"] == -52.0 and pop.params["v_init"] == -60.0
    np.testing.assert_allclose(pop.params["i_offset"], [0.1 * i for i in range(8)])
    arr = net.populations["input"]
    assert arr.model == "spike_array"
    np.testing.assert_array_equal(arr.params["spike_steps"], [2, 5, 20] * 3)  # ms / dt
    poisson = net.populations["noise"].params
    assert (poisson["rate"], poisson["start"], poisson["duration"]) == (12.0, 10, 40)
    assert src.size == 3 and noise.size == 5


def test_connectors_weights_delays_and_signs():
    sim.setup(timestep=1.0)
    a = sim.Population(40, sim.IF_curr_exp(), label="a")
    b = sim.Population(30, sim.IF_curr_exp(), label="b")
    rng = sim.NumpyRNG(seed=7)
    total = sim.Projection(a, b, sim.FixedTotalNumberConnector(500, rng=rng), sim.StaticSynapse(weight=0.2, delay=3.0))
    pre_n = sim.Projection(a, b, sim.FixedNumberPreConnector(6, rng=rng), sim.StaticSynapse(weight=0.3))
    post_n = sim.Projection(a, b, sim.FixedNumberPostConnector(4, rng=rng), sim.StaticSynapse(weight=0.3))
    one = sim.Projection(a[0:30], b, sim.OneToOneConnector(), sim.StaticSynapse(weight=0.1))
    alls = sim.Projection(a, a, sim.AllToAllConnector(allow_self_connections=False), sim.StaticSynapse(weight=0.05))
    inh_pos = sim.Projection(b, a, sim.AllToAllConnector(), sim.StaticSynapse(weight=0.4), receptor_type="inhibitory")
    inh_neg = sim.Projection(b, a, sim.AllToAllConnector(), sim.StaticSynapse(weight=-0.4), receptor_type="inhibitory")
    listed = sim.Projection(a, b, sim.FromListConnector([(0, 1, 0.7, 2.0), (3, 4, 0.9, 5.0)],
                                                        column_names=["weight", "delay"]))
    assert len(total) == 500
    assert np.all(np.bincount(pre_n._post_idx, minlength=30) == 6)
    assert all(len(set(pre_n._pre_idx[pre_n._post_idx == j])) == 6 for j in range(30))  # no repeats
    assert np.all(np.bincount(post_n._pre_idx, minlength=40) == 4)
    assert _pairs(one) == {(i, i) for i in range(30)}
    assert len(alls) == 40 * 39 and not np.any(alls._pre_idx == alls._post_idx)
    net = _ir()
    ir = {p.name: p for p in net.projections.values()}
    assert np.all(ir[total.label].delay == 3)
    assert np.all(ir[inh_pos.label].weight == -0.4) and np.all(ir[inh_neg.label + "#2"].weight == -0.4)
    assert ir[inh_pos.label].receptor == "inhibitory"
    lst = ir[listed.label + "#4"] if listed.label + "#4" in ir else None
    got = [p for p in net.projections.values() if p.n_synapses == 2][0]
    assert lst is None or lst is got
    np.testing.assert_array_equal(got.weight, [0.7, 0.9])
    np.testing.assert_array_equal(got.delay, [2, 5])


def test_fixed_probability_is_bernoulli_deterministic_and_skips_self():
    sim.setup(timestep=1.0)
    a = sim.Population(300, sim.IF_curr_exp())
    p = 0.05
    proj = sim.Projection(a, a, sim.FixedProbabilityConnector(p, allow_self_connections=False,
                                                              rng=sim.NumpyRNG(seed=1)), sim.StaticSynapse())
    n_pairs = 300 * 299
    mean, sd = n_pairs * p, np.sqrt(n_pairs * p * (1 - p))
    assert abs(len(proj) - mean) < 5 * sd
    assert not np.any(proj._pre_idx == proj._post_idx)
    assert len(_pairs(proj)) == len(proj)  # each pair at most once
    again = sim.Projection(a, a, sim.FixedProbabilityConnector(p, allow_self_connections=False,
                                                               rng=sim.NumpyRNG(seed=1)), sim.StaticSynapse())
    other = sim.Projection(a, a, sim.FixedProbabilityConnector(p, allow_self_connections=False,
                                                               rng=sim.NumpyRNG(seed=2)), sim.StaticSynapse())
    assert _pairs(again) == _pairs(proj) and _pairs(other) != _pairs(proj)
    # in-degrees are binomial: their variance is n p (1 - p), not 0 (as a fixed in-degree would be)
    indeg = np.bincount(proj._post_idx, minlength=300)
    assert 0.5 * 299 * p * (1 - p) < indeg.var() < 2.0 * 299 * p * (1 - p)


def test_connectors_we_leave_to_pynn_match_pynn_mock():
    """DistanceDependentProbability goes through PyNN's own algorithm: same seed, same pairs."""
    import pyNN.mock as mock

    def build(backend):
        backend.setup(timestep=1.0)
        a = backend.Population(60, backend.IF_curr_exp(), structure=backend.space.Line())
        c = backend.DistanceDependentProbabilityConnector("exp(-d/5)", allow_self_connections=False,
                                                          rng=backend.NumpyRNG(seed=11))
        return backend.Projection(a, a, c, backend.StaticSynapse(weight=0.1, delay=2.0))

    ours, theirs = build(sim), build(mock)
    mock_pairs = {(int(c.presynaptic_index), int(c.postsynaptic_index)) for c in theirs.connections}
    assert len(mock_pairs) > 50
    assert _pairs(ours) == mock_pairs


def test_get_data_returns_the_simulation_as_neo():
    sim.setup(timestep=1.0, board="spinn-5", mode="float", seed=2)
    src = sim.Population(10, sim.SpikeSourcePoisson(rate=80.0), label="src")
    exc = sim.Population(20, sim.IF_curr_exp(i_offset=0.3), label="exc")
    sim.Projection(src, exc, sim.FixedProbabilityConnector(0.5, rng=sim.NumpyRNG(3)),
                   sim.StaticSynapse(weight=1.0, delay=1.0))
    exc.initialize(v=-70.0)
    exc.record(["spikes", "v"])
    sim.run(50.0)
    block = exc.get_data()
    seg = block.segments[0]
    steps, idx = state.result.spikes["exc"]
    from_neo = sorted((int(st.annotations["source_index"]), float(t)) for st in seg.spiketrains
                      for t in st.magnitude)
    assert from_neo == sorted(zip(idx.tolist(), (steps * 1.0).tolist()))
    assert len(from_neo) > 0
    v = seg.analogsignals[0]
    assert v.shape == (51, 20) and str(v.units.dimensionality) == "mV"
    assert np.all(v.magnitude[0] == -70.0)
    np.testing.assert_array_equal(v.magnitude[1:], state.result.traces["exc"]["v"])
    sim.end()


def _two_runs(split: bool):
    sim.setup(timestep=1.0, board="spinn-5", seed=5)
    src = sim.Population(10, sim.SpikeSourcePoisson(rate=50.0), label="src")  # Poisson seeds follow names
    exc = sim.Population(10, sim.IF_curr_exp(), label="exc")
    sim.Projection(src, exc, sim.OneToOneConnector(), sim.StaticSynapse(weight=2.0))
    exc.record("spikes")
    if split:
        sim.run(30.0)
        sim.run(40.0)
    else:
        sim.run(70.0)
    assert sim.get_current_time() == 70.0
    return [list(st.magnitude) for st in exc.get_data().segments[0].spiketrains]


def test_run_twice_is_run_once():
    once = _two_runs(False)
    assert any(once) and _two_runs(True) == once


def test_dc_source_is_the_bias_current():
    def spikes(use_source: bool):
        sim.setup(timestep=1.0, board="spinn-5")
        pop = sim.Population(5, sim.IF_curr_exp(i_offset=0.0 if use_source else 0.8))
        if use_source:
            sim.DCSource(amplitude=0.8).inject_into(pop)
        pop.record("spikes")
        sim.run(100.0)
        return [list(st.magnitude) for st in pop.get_data().segments[0].spiketrains]

    assert spikes(True) == spikes(False) and any(spikes(True))
    sim.setup(timestep=1.0)
    pop = sim.Population(5, sim.IF_curr_exp())
    sim.DCSource(amplitude=0.8, start=10.0, stop=50.0).inject_into(pop)
    with pytest.raises(ModelError, match="DCSource.*constant"):
        sim.run(100.0)


def test_stdp_weights_are_learned_and_read_back():
    sim.setup(timestep=1.0, board="spinn-5", seed=1)
    pre = sim.Population(20, sim.SpikeSourcePoisson(rate=40.0))
    post = sim.Population(10, sim.IF_curr_exp(i_offset=1.0))
    stdp = sim.STDPMechanism(timing_dependence=sim.SpikePairRule(tau_plus=20.0, tau_minus=20.0, A_plus=0.02, A_minus=0.01),
                             weight_dependence=sim.AdditiveWeightDependence(w_min=0.0, w_max=1.0),
                             weight=0.5, delay=1.0)
    proj = sim.Projection(pre, post, sim.AllToAllConnector(), stdp)
    rule = _ir().projections[proj.label].plasticity
    assert (rule.tau_plus, rule.a_plus, rule.a_minus, rule.w_max) == (20.0, 0.02, 0.01, 1.0)
    sim.run(200.0)
    w = np.array([x[2] for x in proj.get("weight", format="list")])
    assert w.shape == (200,) and np.all((w >= 0) & (w <= 1.0))
    assert np.any(w != 0.5)  # learning happened
    np.testing.assert_allclose(w, np.abs(state.result.weights[proj.label]))


@pytest.mark.parametrize("make, names", [
    (lambda: sim.IF_cond_exp(), ("IF_cond_exp", "IF_curr_exp")),
    (lambda: sim.Izhikevich(), ("Izhikevich",)),
    (lambda: sim.TsodyksMarkramSynapse(), ("TsodyksMarkramSynapse", "StaticSynapse")),
    (lambda: sim.StepCurrentSource(times=[1.0], amplitudes=[1.0]), ("StepCurrentSource", "DCSource")),
])
def test_unsupported_models_fail_at_the_call_naming_them(make, names):
    with pytest.raises(ModelError) as e:
        make()
    for name in names:
        assert name in str(e.value)


def test_bad_values_are_clear_errors():
    sim.setup(timestep=1.0)
    a = sim.Population(4, sim.IF_curr_exp(), label="a")
    guessed = sim.Projection(a, a, sim.AllToAllConnector(), sim.StaticSynapse(weight=-0.5))
    assert guessed.receptor_type == "inhibitory"  # PyNN's rule: a negative weight picks inhibitory
    sim.Projection(a, a, sim.AllToAllConnector(), sim.StaticSynapse(weight=-0.5), label="neg",
                   receptor_type="excitatory")
    with pytest.raises(ModelError, match="'neg'.*negative weight.*inhibitory"):
        _ir()
    sim.setup(timestep=1.0)
    a = sim.Population(4, sim.IF_curr_exp())
    sim.Projection(a, a, sim.AllToAllConnector(), sim.StaticSynapse(weight=float("nan")), label="nan")
    with pytest.raises(ModelError, match="'nan'.*finite"):
        _ir()


SCRIPT = textwrap.dedent("""
    import sys
    import pyNN.nest as sim          # unchanged: neurocompile serves this import while compiling
    n = int(dict(a.split("=") for a in sys.argv[1:]).get("n", 50))
    sim.setup(timestep=1.0, spike_precision="on_grid")   # a NEST-only option is ignored with a warning
    noise = sim.Population(n, sim.SpikeSourcePoisson(rate=20.0), label="noise")
    exc = sim.Population(n, sim.IF_curr_exp(), label="exc")
    sim.Projection(noise, exc, sim.OneToOneConnector(), sim.StaticSynapse(weight=2.0, delay=2.0))
    exc.record("spikes")
    sim.run(100.0)
    raise SystemExit("the script goes on after run(); compile stops at run()")
""")


def test_compile_a_pynn_script_from_the_cli(tmp_path):
    script = tmp_path / "net.py"
    script.write_text(SCRIPT)
    out = tmp_path / "out"
    res = run_cli("compile", script, "--board", "spinn-5", "--param", "n=30", "-o", out)
    assert res.exit_code == 0, res.output
    import json
    report = json.loads((out / "report.json").read_text())
    assert report["network"]["neurons"] == 60 and report["network"]["synapses"] == 30
    res = run_cli("simulate", script, "--board", "spinn-5", "--steps", "50")
    assert res.exit_code == 0, res.output


POSITIONAL_SCRIPT = textwrap.dedent("""
    import sys
    import pyNN.nest as sim
    simulator, size, *rest = sys.argv[1:]     # like PyNN's examples: 'VAbenchmarks.py nest CUBA'
    assert simulator == "nest", sys.argv
    n = int(size) * int(dict(a.split("=") for a in rest).get("factor", 1))
    sim.setup(timestep=1.0)
    src = sim.Population(n, sim.SpikeSourcePoisson(rate=20.0), label="src")
    cells = sim.Population(n, sim.IF_curr_exp(), label="cells")
    sim.Projection(src, cells, sim.OneToOneConnector(), sim.StaticSynapse(weight=2.0, delay=1.0))
    sim.run(50.0)
""")


def test_script_arguments_reach_the_script_in_order_before_params(tmp_path):
    script = tmp_path / "positional.py"
    script.write_text(POSITIONAL_SCRIPT)
    out = tmp_path / "out"
    res = run_cli("compile", script, "--script-arg", "nest", "--script-arg", "7", "--param", "factor=3", "-o", out)
    assert res.exit_code == 0, res.output
    import json
    assert json.loads((out / "report.json").read_text())["network"]["neurons"] == 2 * 21
    res = run_cli("simulate", script, "--script-arg", "nest", "--script-arg", "4", "--steps", "20")
    assert res.exit_code == 0, res.output
    # without them the script itself fails, cleanly; and they are refused for anything but a script
    assert_clean_failure(run_cli("compile", script, "-o", tmp_path / "o2"), "ValueError")
    assert_clean_failure(run_cli("compile", "synfire", "--script-arg", "x", "-o", tmp_path / "o3"),
                         "--script-arg only applies to a PyNN script")
    assert_no_output_dir(tmp_path / "o3")


@pytest.mark.parametrize("body, fragment", [
    ("import pyNN.nest as sim\nsim.setup()\n", "never called run()"),
    ("import pyNN.nest as sim\nsim.setup()\nx = 1 / 0\n", "failed at line 3: ZeroDivisionError"),
    ("import pyNN.nest as sim\nsim.setup()\nsim.Population(3, sim.IF_cond_exp())\nsim.run(10)\n", "IF_cond_exp"),
])
def test_bad_scripts_fail_cleanly(tmp_path, body, fragment):
    script = tmp_path / "bad.py"
    script.write_text(body)
    out = tmp_path / "out"
    res = run_cli("compile", script, "-o", out)
    assert_clean_failure(res, fragment)
    assert_no_output_dir(out)


def test_compile_save_writes_the_scripts_network_and_refuses_to_clobber(tmp_path):
    from neurocompile.ir.fileformat import load_network

    script = tmp_path / "net.py"
    script.write_text(SCRIPT)
    saved = tmp_path / "net.ncnet"
    res = run_cli("compile", script, "--board", "spinn-5", "-o", tmp_path / "out", "--save", saved)
    assert res.exit_code == 0, res.output
    net = load_network(saved)
    assert net.number_format is None and set(net.populations) == {"noise", "exc"}  # before quantization
    saved.write_text("mine")
    res = run_cli("compile", script, "-o", tmp_path / "out2", "--save", saved)
    assert_clean_failure(res, "exists", "--overwrite")
    assert saved.read_text() == "mine"
    assert_no_output_dir(tmp_path / "out2")
    res = run_cli("compile", saved.with_name("x.ncnet"), "--save", tmp_path / "x.txt", "-o", tmp_path / "o3")
    assert_clean_failure(res, ".ncnet")


def test_fast_poisson_sources_emit_poisson_counts():
    """rate x dt above 0.1 spikes per step: poisson_fast, whose counts per step are Poisson
    (mean = variance = rate x dt), delivered to every synapse as many times as they fire."""
    from neurocompile.ir.sources import make_source

    sim.setup(timestep=0.1)
    slow = sim.Population(10, sim.SpikeSourcePoisson(rate=500.0), label="slow")   # 0.05 per step
    fast = sim.Population(2000, sim.SpikeSourcePoisson(rate=16000.0), label="fast")  # 1.6 per step
    net = _ir()
    assert net.populations["slow"].model == "poisson" and net.populations["fast"].model == "poisson_fast"
    src = make_source(net.populations["fast"], 0.1, seed=3)
    counts = np.stack([np.bincount(src.spikes_at(t), minlength=2000) for t in range(200)])
    assert abs(counts.mean() - 1.6) < 0.02 and abs(counts.var() - 1.6) < 0.05
    assert counts.max() >= 5  # several spikes of one neuron in one step
    assert slow.size == 10 and fast.size == 2000


def test_fast_poisson_drives_like_its_mean_current():
    """A neuron driven by a fast Poisson source gets k x w per step: its mean input current is
    rate x w x tau_syn, so with a large in-degree it fires like the DC of that mean."""
    def rate(background: str) -> float:
        sim.setup(timestep=0.1, board="spinn-5", mode="float", seed=2)
        cell = dict(cm=0.25, tau_m=10.0, tau_syn_E=0.5, v_thresh=-50.0, v_rest=-65.0, v_reset=-65.0)
        w, r = 0.01, 200000.0  # nA, Hz: 20 spikes per step, mean current 1.0 nA
        if background == "dc":
            pop = sim.Population(20, sim.IF_curr_exp(i_offset=r * w * 0.5e-3, **cell), label="n")
        else:
            pop = sim.Population(20, sim.IF_curr_exp(**cell), label="n")
            src = sim.Population(20, sim.SpikeSourcePoisson(rate=r), label="bg")
            sim.Projection(src, pop, sim.OneToOneConnector(), sim.StaticSynapse(weight=w, delay=0.1))
        pop.record("spikes")
        sim.run(500.0)
        return sum(len(st) for st in pop.get_data().segments[0].spiketrains) / 20 / 0.5

    dc, poisson = rate("dc"), rate("poisson")
    assert dc > 20 and abs(poisson - dc) < 0.15 * dc


def test_assembly_projection_splits_per_population_and_reset_starts_a_segment():
    sim.setup(timestep=1.0, board="spinn-5", seed=4)
    a = sim.Population(5, sim.SpikeSourcePoisson(rate=100.0), label="a")
    b = sim.Population(7, sim.SpikeSourcePoisson(rate=100.0), label="b")
    post = sim.Population(4, sim.IF_curr_exp(), label="post")
    proj = sim.Projection(a + b, post, sim.AllToAllConnector(), sim.StaticSynapse(weight=0.5), label="ab")
    net = _ir()
    parts = {p.pre: p for p in net.projections.values() if p.post == "post"}
    assert set(parts) == {"a", "b"} and parts["a"].n_synapses == 20 and parts["b"].n_synapses == 28
    assert parts["b"].pre_idx.max() == 6  # indices inside b, not inside the assembly
    assert len(proj) == 48
    post.record("spikes")
    sim.run(50.0)
    first = [list(st.magnitude) for st in post.get_data().segments[0].spiketrains]
    sim.reset()
    assert sim.get_current_time() == 0.0
    sim.run(50.0)
    block = post.get_data()
    assert len(block.segments) == 2  # PyNN keeps the first run as its own segment
    assert [list(st.magnitude) for st in block.segments[1].spiketrains] == first  # same seed, same run


def test_backend_lava_runs_the_script_like_the_loihi2_mode():
    """setup(backend="lava"): the same network in Lava 0.10 fixed_pt gives our loihi2 mode's spikes."""
    def run(backend: str):
        sim.setup(timestep=1.0, board="loihi2-oheo-gulch", backend=backend, seed=9)
        src = sim.Population(10, sim.SpikeSourcePoisson(rate=60.0), label="src")
        exc = sim.Population(12, sim.IF_curr_exp(tau_refrac=0.0), label="exc")
        sim.Projection(src, exc, sim.FixedProbabilityConnector(0.5, rng=sim.NumpyRNG(2)),
                       sim.StaticSynapse(weight=1.5, delay=2.0))
        exc.record(["spikes", "v"])
        sim.run(60.0)
        seg = exc.get_data().segments[0]
        return [list(st.magnitude) for st in seg.spiketrains], seg.analogsignals[0].magnitude

    (s_sim, v_sim), (s_lava, v_lava) = run("sim"), run("lava")
    assert any(s_sim) and s_lava == s_sim
    np.testing.assert_array_equal(v_lava, v_sim)


def test_a_change_after_run_warns_that_it_applies_to_the_whole_rerun():
    """PyNN's varying_poisson.py / update_spike_source_array.py change sources from run callbacks;
    we rerun from t=0, so each change reaches the whole run: said at the call, not silently."""
    sim.setup(timestep=1.0, board="spinn-5", mode="float")
    src = sim.Population(2, sim.SpikeSourcePoisson(rate=10.0), label="src")
    post = sim.Population(2, sim.IF_curr_exp(), label="post")
    proj = sim.Projection(src, post, sim.OneToOneConnector(), sim.StaticSynapse(weight=1.0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        src.set(rate=20.0)  # before any run: no warning
        proj.set(weight=2.0)
    sim.run(10.0)
    with pytest.warns(UserWarning, match=r"population 'src': set\(rate\) at t=10 ms applies to the whole"):
        src.set(rate=50.0)
    with pytest.warns(UserWarning, match=r"set\(tau_m\) at t=10 ms"):
        post[0:1].set(tau_m=12.0)
    with pytest.warns(UserWarning, match=r"set\(weight\) at t=10 ms"):
        proj.set(weight=3.0)
    sim.reset()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        src.set(rate=5.0)  # after reset the next run starts at 0: nothing to warn about
