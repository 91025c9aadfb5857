"""The float simulator against closed-form solutions of the LIF equations (not against itself)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from neurocompile.backends.sim import Simulation
from neurocompile.backends.sim.float_mode import FloatMode
from neurocompile.ir.network import Network

TAU_M, TAU_S, CM, V_REST = 20.0, 5.0, 0.5, -65.0


def psp_exact(t_ms: float, w: float, tau_m=TAU_M, tau_s=TAU_S, cm=CM) -> float:
    """Membrane deflection t ms after a current jump of w nA decaying with tau_s (analytic)."""
    return w * tau_m * tau_s / (cm * (tau_s - tau_m)) * (math.exp(-t_ms / tau_s) - math.exp(-t_ms / tau_m))


def one_neuron(dt=1.0, **params) -> Network:
    net = Network(name="one", dt_ms=dt)
    p = {"tau_m": TAU_M, "tau_syn_E": TAU_S, "cm": CM, "v_rest": V_REST, "v_init": V_REST,
         "v_thresh": 0.0, "v_reset": -70.0}
    p.update(params)
    net.add_population("n", 1, "lif_curr_exp", p, record=("spikes", "v"))
    return net


@pytest.mark.parametrize("dt", [1.0, 0.1])
@pytest.mark.parametrize("delay", [1, 3])
def test_single_psp_matches_analytic_solution(dt, delay):
    net = one_neuron(dt)
    net.add_spike_source("s", [[10]])
    net.add_projection("s", "n", [0], [0], 0.8, delay, receptor="excitatory")
    res = Simulation(net, FloatMode()).run(200)
    v = res.traces["n"]["v"][:, 0]
    arrival = 10 + delay
    assert np.all(v[:arrival] == V_REST)  # nothing before the spike arrives
    for k in range(arrival, 200):
        # V recorded at the end of step k integrates the current over (k - arrival + 1) steps.
        expected = V_REST + psp_exact((k - arrival + 1) * dt, 0.8)
        assert v[k] == pytest.approx(expected, abs=1e-9)


def test_equal_time_constants_use_the_limit():
    net = one_neuron(tau_syn_E=TAU_M)
    net.add_spike_source("s", [[0]])
    net.add_projection("s", "n", [0], [0], 1.0, 1, receptor="excitatory")
    v = Simulation(net, FloatMode()).run(40).traces["n"]["v"][:, 0]
    for k in range(1, 40):
        t = float(k)  # arrival at step 1, k steps integrated by the end of step k
        assert v[k] == pytest.approx(V_REST + 1.0 * t / CM * math.exp(-t / TAU_M), abs=1e-9)


def test_constant_current_firing_period_matches_analytic():
    i_offset, v_thresh, v_reset, tau_ref = 1.0, -60.0, -65.0, 2.0
    net = one_neuron(i_offset=i_offset, v_thresh=v_thresh, v_reset=v_reset, tau_refrac=tau_ref)
    res = Simulation(net, FloatMode()).run(1000)
    steps = res.spikes["n"][0]
    r = TAU_M / CM
    # From v_reset (= v_rest here) the membrane reaches threshold after T = -tau_m ln(1 - dV/(I R)).
    t_cross = -TAU_M * math.log(1 - (v_thresh - V_REST) / (i_offset * r))
    isi = np.diff(steps)
    # Exact crossing time rounds up to the step boundary; plus the refractory steps.
    assert set(isi) == {math.ceil(t_cross) + int(tau_ref)}
    assert steps[0] == math.ceil(t_cross) - 1


def test_refractory_clamps_voltage():
    net = one_neuron(i_offset=5.0, v_thresh=-60.0, v_reset=-70.0, tau_refrac=5.0)
    res = Simulation(net, FloatMode()).run(100)
    v = res.traces["n"]["v"][:, 0]
    first = int(res.spikes["n"][0][0])
    assert np.all(v[first:first + 6] == -70.0)  # spike step + 5 refractory steps
    assert v[first + 6] > -70.0


def test_inhibition_hyperpolarises():
    net = one_neuron()
    net.add_spike_source("s", [[3]])
    net.add_projection("s", "n", [0], [0], -0.8, 1, receptor="inhibitory")
    v = Simulation(net, FloatMode()).run(30).traces["n"]["v"][:, 0]
    assert v.min() == pytest.approx(V_REST + min(psp_exact(t, -0.8) for t in range(1, 30)), abs=1e-9)


def test_delays_shift_arrival_per_synapse():
    net = Network(dt_ms=1.0)
    net.add_spike_source("s", [[0]])
    net.add_population("n", 3, "lif_curr_exp", {"v_thresh": -64.9}, record=("spikes",))
    net.add_projection("s", "n", [0, 0, 0], [0, 1, 2], 20.0, [1, 7, 30], receptor="excitatory")
    steps, ids = Simulation(net, FloatMode()).run(40).spikes["n"]
    first = {i: int(steps[ids == i].min()) for i in range(3)}
    assert first == {0: 1, 1: 7, 2: 30}


def test_synaptic_events_count_spikes_times_fanout(tiny_net):
    res = Simulation(tiny_net, FloatMode()).run(50)
    st, ids = res.spikes["src"]
    fan = np.bincount(tiny_net.projections["src->a"].pre_idx, minlength=3)
    expected = int(fan[ids].sum())
    a_st, a_ids = res.spikes["a"]
    expected += int(np.bincount(tiny_net.projections["a->b"].pre_idx, minlength=4)[a_ids].sum())
    assert res.synaptic_events == expected


def test_poisson_rate_and_seed_determinism():
    net = Network(dt_ms=1.0, seed=3)
    net.add_population("p", 2000, "poisson", {"rate": 50.0})
    a = Simulation(net, FloatMode()).run(1000).spikes["p"]
    b = Simulation(net, FloatMode()).run(1000).spikes["p"]
    c = Simulation(net, FloatMode(), seed=4).run(1000).spikes["p"]
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])
    rate = a[0].size / (2000 * 1.0)
    assert rate == pytest.approx(50.0, rel=0.02)  # 100k expected spikes: 2% is > 6 sigma


def test_poisson_window():
    net = Network(dt_ms=1.0)
    net.add_population("p", 500, "poisson", {"rate": 200.0, "start": 100, "duration": 50})
    st, _ = Simulation(net, FloatMode()).run(300).spikes["p"]
    assert st.min() >= 100 and st.max() < 150


def test_run_continues_where_it_stopped(tiny_net):
    whole = Simulation(tiny_net, FloatMode()).run(60)
    sim = Simulation(tiny_net, FloatMode())
    first, second = sim.run(25), sim.run(35)
    for pop in ("a", "b"):
        joined = np.concatenate([first.spikes[pop][0], second.spikes[pop][0]])
        assert np.array_equal(joined, whole.spikes[pop][0])
    np.testing.assert_array_equal(second.final_state["b"]["v"], whole.final_state["b"]["v"])
