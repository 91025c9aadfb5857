"""Our `loihi1` mode against nengo-loihi 1.1's EmulatorInterface: spikes and u/v every step.

The oracle is nengo-loihi's emulator, through `--backend nengo_loihi` (backends/nengo_loihi): it
turns our 8-bit weights into the emulator's integers with nengo-loihi's own `discretize_weights`
and runs `EmulatorInterface`; none of our arithmetic (targets/loihi1/arith.py) is on that side.
nengo-loihi is required: it is imported at module level, so a missing one fails, never skips.
Random float networks go through our compile for loihi1-nahuku-32 (the Loihi 1 lowering, relays
for delays); random integer networks hit the arithmetic's edges (wraps, saturation, lossy
exponents, refractory delays); hand-written cases pin each rule to a value.
"""
from __future__ import annotations

import warnings

import nengo_loihi  # noqa: F401  -- deliberately unconditional: a missing nengo-loihi is a failure
import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from neurocompile.backends.nengo_loihi import NengoLoihiBackend, import_nengo_loihi
from neurocompile.backends.nengo_loihi.lowering import NengoLoihiLoweringError, lower
from neurocompile.backends.nengo_loihi.run import NengoLoihiError, run_lowered
from neurocompile.backends.sim import MODES, Simulation, mode_for
from neurocompile.backends.sim.loihi1_mode import Loihi1Mode
from neurocompile.boards import load_board
from neurocompile.compiler import compile_network
from neurocompile.errors import ModelError
from neurocompile.ir.network import Network
from neurocompile.targets import family_of
from neurocompile.targets.loihi1.arith import synaptic_input

pytestmark = pytest.mark.nengo_loihi
HC = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
BOARD = load_board("loihi1-nahuku-32")
import_nengo_loihi()


# ----- helpers ----------------------------------------------------------------------------------
def record_state(net: Network) -> None:
    for pop in net.populations.values():
        if pop.model == "loihi1_lif":
            pop.record = ("spikes", "u", "v")


def compare(net: Network, steps: int, seed: int = 0):
    """Run ours and the emulator; assert identical rasters and u, v after every step."""
    record_state(net)
    ours = Simulation(net, Loihi1Mode(), seed).run(steps)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # the emulator warns on every overflow it wraps
        theirs = run_lowered(lower(net), seed, steps)
    for name, pop in net.populations.items():
        mine, ref = ours.raster(name, pop.size), theirs.raster(name, pop.size)
        if not np.array_equal(mine, ref):
            t = int(np.argmax(np.any(mine != ref, axis=1)))
            raise AssertionError(f"{net.name}: {name!r} first differs at step {t}: ours "
                                 f"{np.flatnonzero(mine[t]).tolist()}, emulator {np.flatnonzero(ref[t]).tolist()}")
        if pop.model != "loihi1_lif":
            continue
        for var in ("u", "v"):
            a, b = ours.traces[name][var], theirs.traces[name][var]
            if not np.array_equal(a, b):
                t, i = (int(x[0]) for x in np.nonzero(a != b))
                raise AssertionError(f"{net.name}: {name!r} {var} differs at step {t}, neuron {i}: "
                                     f"ours {a[t, i]}, emulator {b[t, i]}")
            np.testing.assert_array_equal(ours.final_state[name][var], theirs.final_state[name][var])
    return ours, theirs


def _describe(ours, net) -> None:
    n_spk = sum(int(s[0].size) for p, s in ours.spikes.items() if net.populations[p].model == "loihi1_lif")
    event("spikes: " + ("some" if n_spk else "none"))
    for name, tr in ours.traces.items():
        if np.any(np.abs(tr["u"]) >= 2**22):
            event("|u| >= 2**22")
        if np.any(np.abs(tr["v"]) == 2**23 - 1):
            event("v saturated")


# ----- random float networks through the Loihi 1 compile ----------------------------------------
@st.composite
def float_network(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    steps = draw(st.integers(5, 40))
    net = Network(name="rnd", dt_ms=draw(st.sampled_from([1.0, 0.5])))
    for k in range(draw(st.integers(1, 2))):
        size = draw(st.integers(1, 8))
        if draw(st.booleans()):
            rate = draw(st.sampled_from([0.1, 0.3, 0.7]))
            net.add_spike_source(f"s{k}", [np.flatnonzero(rng.random(steps) < rate).tolist() for _ in range(size)])
        else:
            net.add_population(f"s{k}", size, "poisson", {"rate": draw(st.sampled_from([50.0, 200.0]))})
    for k in range(draw(st.integers(1, 3))):
        size = draw(st.integers(1, 8))
        tau_s = draw(st.sampled_from([0.5, 2.0, 5.0]))
        v_rest = -65.0
        net.add_population(f"n{k}", size, "lif_curr_exp", {
            "tau_m": draw(st.sampled_from([2.0, 10.0, 20.0])), "cm": draw(st.sampled_from([0.25, 1.0])),
            "tau_syn_E": tau_s, "tau_syn_I": tau_s, "v_rest": v_rest, "v_reset": v_rest,
            "v_thresh": v_rest + draw(st.sampled_from([5.0, 15.0])),
            "tau_refrac": draw(st.sampled_from([0.0, 1.0, 2.0, 5.0])),
            "i_offset": draw(st.sampled_from([0.0, 0.0, 0.5, 2.0])),
            "v_init": v_rest + rng.uniform(-5, 10, size)})
    pres = list(net.populations)
    posts = [p for p in pres if p.startswith("n")]
    for a, b in draw(st.lists(st.sampled_from([(a, b) for a in pres for b in posts]), max_size=5)):
        n_pre, n_post = net.populations[a].size, net.populations[b].size
        w = rng.uniform(0.05, draw(st.sampled_from([1.0, 5.0])), (n_pre, n_post))
        w[rng.random((n_pre, n_post)) > draw(st.sampled_from([0.3, 1.0]))] = 0
        if not w.any():
            continue
        d = rng.integers(1, draw(st.sampled_from([2, 4, 7])), (n_pre, n_post))
        inh = draw(st.booleans())
        net.connect_matrix(a, b, -w if inh else w, delay=d, receptor="inhibitory" if inh else "excitatory")
    return net, steps


@settings(max_examples=200, deadline=None, derandomize=True, suppress_health_check=HC)
@given(float_network(), st.integers(0, 3))
def test_compiled_random_networks_bit_exact_with_nengo_loihi(case, seed):
    net, steps = case
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        compiled = compile_network(net, BOARD, seed=seed).network
    assert compiled.number_format == "loihi1"
    ours, _ = compare(compiled, steps, seed)
    _describe(ours, compiled)
    if any("~relay" in p for p in compiled.populations):
        event("relays (delays > 1)")


# ----- random integer networks: the arithmetic's edges --------------------------------------------
NWB = st.sampled_from([1, 2, 3, 4, 5, 6, 8, 8, 8])


@st.composite
def int_network(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    steps = draw(st.integers(1, 30))
    net = Network(name="int")
    for k in range(draw(st.integers(0, 2))):
        size = draw(st.sampled_from([1, 4, 8, 64]))
        rate = draw(st.sampled_from([0.1, 0.5, 1.0]))
        net.add_spike_source(f"s{k}", [np.flatnonzero(rng.random(steps) < rate).tolist() for _ in range(size)])
    for k in range(draw(st.integers(1, 3))):
        n = draw(st.integers(1, 6))
        big = draw(st.booleans())
        edge = st.sampled_from([0, 2**23 - 1, -(2**23) + 1, 2**22, -(2**22)])
        net.add_population(f"n{k}", n, "loihi1_lif", {
            "du": rng.choice([0, 1, 2047, 4094, 4095, int(rng.integers(0, 4096))], n),
            "dv": rng.choice([0, 1, 2047, 4095, int(rng.integers(0, 4096))], n),
            "vth": rng.choice([0, 1, 40, 2000, 2**17 - 1, int(rng.integers(0, 2**17))], n),
            "bias_mant": rng.integers(-4095, 4096, n) * (rng.random(n) < 0.5),
            "bias_exp": rng.integers(0, 8, n),
            "refract_delay": rng.choice([0, 1, 2, 3, 7, 63], n),
            "u_init": draw(edge) if big else 0,
            "v_init": draw(edge) if big else 0})
    pres = list(net.populations)
    posts = [p for p in pres if p.startswith("n")]
    for a, b in draw(st.lists(st.sampled_from([(a, b) for a in pres for b in posts]), max_size=5)):
        n_pre, n_post = net.populations[a].size, net.populations[b].size
        pre, post = np.nonzero(rng.random((n_pre, n_post)) < draw(st.sampled_from([0.3, 1.0])))
        nwb = draw(NWB)
        s = 9 - nwb
        m = 2 ** (8 - s) - 1
        kind = draw(st.sampled_from(["any", "exc", "inh", "max"]))
        j = {"any": rng.integers(-m, m + 1, pre.size), "exc": rng.integers(0, m + 1, pre.size),
             "inh": -rng.integers(0, m + 1, pre.size), "max": np.full(pre.size, m)}[kind]
        if draw(st.booleans()):  # multapses: a second synapse on some pairs
            dup = rng.random(pre.size) < 0.5
            pre, post, j = np.r_[pre, pre[dup]], np.r_[post, post[dup]], np.r_[j, j[dup]]
        exp = draw(st.one_of(st.integers(-7, 7), st.integers(5, 7), st.integers(-7, max(-7, -s - 1))))
        net.add_projection(a, b, pre, post, (j << s).astype(float), 1,
                           attrs={"weight_exp": exp, "num_weight_bits": nwb})
    return net, steps


@settings(max_examples=200, deadline=None, derandomize=True, suppress_health_check=HC)
@given(int_network(), st.integers(0, 3))
def test_random_integer_networks_bit_exact_with_nengo_loihi(case, seed):
    net, steps = case
    ours, _ = compare(net, steps, seed)
    _describe(ours, net)
    for proj in net.projections.values():
        if proj.attrs["weight_exp"] < -(9 - proj.attrs["num_weight_bits"]):
            event("lossy per-synapse exponent")


# ----- hand-written edge cases ------------------------------------------------------------------
def _one(name="one", **params) -> Network:
    net = Network(name=name)
    p = {"du": 0, "dv": 0, "vth": 2**17 - 1, "refract_delay": 0}
    p.update(params)
    net.add_population("n", 1, "loihi1_lif", p)
    return net


def _drive(net: Network, weights, steps_of, exp=0, nwb=8) -> None:
    """One source neuron per weight, spiking at the given step."""
    net.add_spike_source("s", [[t] for t in steps_of])
    k = len(steps_of)
    net.add_projection("s", "n", np.arange(k), np.zeros(k, int), np.asarray(weights, float), 1,
                       attrs={"weight_exp": exp, "num_weight_bits": nwb})


def test_spike_reaches_the_compartment_one_step_later():
    net = _one(du=4095, vth=0)
    _drive(net, [2], [3])
    ours, _ = compare(net, 8)
    assert np.flatnonzero(ours.raster("n", 1)[:, 0]).tolist() == [4]
    assert ours.traces["n"]["u"][4, 0] == 1 << 1 << 6       # j=1, s=1, weight_exp 0: 128


def test_u_wraps_modulo_24_bits_not_once_like_lava():
    """u = wrap24(decay(u) + q): 2**23 - 1 decays to 8386559, then 8384511 (du 0: 4095/4096), + 254 << 7 << 6."""
    net = _one(u_init=2**23 - 1)
    _drive(net, [254], [0], exp=7)
    ours, _ = compare(net, 2)
    u1 = (8386559 * 4095 >> 12) + (127 << 8 << 6)      # 10465279: beyond 23 bits + sign
    assert ours.traces["n"]["u"][1, 0] == u1 - 2**24 == -6311937


def test_q_accumulator_wraps_at_22_bits():
    """Two synapses of 127 << (1 + 7) << 6 = 2080768 in one step: 4161536 wraps to -32768."""
    net = _one(du=4095)
    _drive(net, [254, 254], [0, 0], exp=7)
    ours, _ = compare(net, 2)
    assert ours.traces["n"]["u"][1, 0] == 2 * 2080768 - 2**22 == -32768


def test_v_saturates_both_ways():
    pos = _one("pos", bias_mant=4095, bias_exp=7, vth=2**17 - 1)
    neg = _one("neg", bias_mant=-4095, bias_exp=7)
    a, _ = compare(pos, 40)
    b, _ = compare(neg, 40)
    assert b.traces["n"]["v"][-1, 0] == -(2**23 - 1)
    assert a.traces["n"]["v"].max() <= 2**23 - 1 and a.spikes["n"][0].size >= 1


def test_negative_weights_and_mixed_sign():
    net = _one(du=4095)
    _drive(net, [-254, 100, -2], [0, 0, 1])
    ours, _ = compare(net, 3)
    assert ours.traces["n"]["u"][1, 0] == (-127 + 50) << 1 << 6
    assert ours.traces["n"]["u"][2, 0] == -1 << 1 << 6


def test_lossy_negative_exponent_rounds_each_synapse_half_to_even():
    """weight_exp -3 with 8 bits (s = 1): s2 = -2, round(j / 4): 2 -> 0 (half to even), 6 -> 2, 3 -> 1."""
    assert synaptic_input(np.array([4, 12, 6, -6]), -3, 8).tolist() == [0, 2 << 6, 1 << 6, -(1 << 6)]
    net = _one(du=4095)
    _drive(net, [4, 12, 6], [0, 1, 2], exp=-3)
    ours, _ = compare(net, 4)
    assert ours.traces["n"]["u"][1:, 0].tolist() == [0, 128, 64]


def test_large_exponent_and_small_weight_bits():
    """4-bit weights (s = 5): Wgt = j << 5, |j| <= 7; weight_exp 7 adds j << 12 << 6."""
    net = _one(du=4095)
    _drive(net, [7 << 5, -(7 << 5)], [0, 1], exp=7, nwb=4)
    ours, _ = compare(net, 3)
    assert ours.traces["n"]["u"][1:, 0].tolist() == [7 << 12 << 6, -(7 << 12 << 6)]


@pytest.mark.parametrize("refract", [0, 1, 2, 5])
def test_native_refractory_delay(refract):
    """A neuron driven above threshold every step fires every max(refract, 1) steps; v is held at 0
    for refract - 1 steps after each spike while u keeps integrating."""
    net = _one(bias_mant=100, bias_exp=0, vth=0, dv=4095, refract_delay=refract)
    ours, _ = compare(net, 20)
    period = max(refract, 1)
    assert np.flatnonzero(ours.raster("n", 1)[:, 0]).tolist() == list(range(0, 20, period))


def test_compiled_delays_become_relays_and_arrive_on_time():
    """Delay 5 at dt 1 ms: four relay stages (max_steps_in_core 1) deliver at t + 5, in both."""
    net = Network(name="delay")
    net.add_spike_source("s", [[2]])
    net.add_population("n", 1, "lif_curr_exp", {"tau_syn_E": 0.1, "v_thresh": -64.0, "tau_refrac": 0.0})
    net.add_projection("s", "n", [0], [0], 20.0, 5)
    compiled = compile_network(net, BOARD, seed=0).network
    assert sum("~relay" in p for p in compiled.populations) == 4
    ours, _ = compare(compiled, 12)
    assert np.flatnonzero(ours.raster("n", 1)[:, 0]).tolist() == [7]


def test_the_quantizer_emits_native_refractory_and_mixed_weights():
    net = Network(name="q")
    net.add_spike_source("s", [[0]] * 3)
    net.add_population("n", 2, "lif_curr_exp", {"tau_refrac": 3.0})
    net.connect_matrix("s", "n", np.array([[0.5, 1.0], [2.0, 0.1], [1.5, 0.7]]))
    result = compile_network(net, BOARD, seed=0)
    c = result.network
    assert family_of(BOARD).name == "loihi1" and c.populations["n"].model == "loihi1_lif"
    assert int(c.populations["n"].param("refract_delay")[0]) == 4   # 3 steps held + 1 (configure_lif)
    assert list(c.projections) == ["s->n"]                          # no refractory self-synapses
    w = c.projections["s->n"].weight
    # mixed 8-bit: j << 1 with |j| <= 127; the smallest fitting exponent puts the largest j in 64..127
    assert np.all(w % 2 == 0) and 128 <= np.abs(w).max() <= 254
    assert not [d for d in result.diagnostics if "Loihi 2" in str(d)]


def test_plastic_projection_is_refused_naming_it():
    from neurocompile.ir.network import STDPRule

    net = Network(name="stdp")
    net.add_spike_source("s", [[0]])
    net.add_population("n", 1, "lif_curr_exp")
    net.add_projection("s", "n", [0], [0], 0.5, 1, name="learn",
                       plasticity=STDPRule(20.0, 20.0, 0.01, 0.01, 0.0, 1.0))
    with pytest.raises(ModelError, match=r"projection 'learn' is plastic.*PES"):
        compile_network(net, BOARD, seed=0)


def test_bad_inputs_are_named():
    net = _one()
    _drive(net, [3], [0])                                   # odd: not a mixed 8-bit weight
    with pytest.raises(ModelError, match=r"projection 's->n': weight 3.0 .*not a Loihi 1"):
        Simulation(net, Loihi1Mode())
    far = _one("far")
    far.add_spike_source("s", [[0]])
    far.add_projection("s", "n", [0], [0], 2.0, 3)
    with pytest.raises(ModelError, match="no synaptic delays"):
        Simulation(far, Loihi1Mode())
    with pytest.raises(NengoLoihiLoweringError, match="no synaptic delays"):
        lower(far)


def test_hardware_is_refused_without_nxsdk():
    net = _one(bias_mant=10)
    with pytest.raises(NengoLoihiError, match="NxSDK"):
        run_lowered(lower(net), 0, 2, hardware=True)


def test_backend_plugin_runs_a_compiled_network_like_the_mode():
    net = Network(name="plugin")
    net.add_spike_source("s", [[0, 3, 4]] * 4)
    net.add_population("n", 3, "lif_curr_exp", {"tau_refrac": 2.0, "v_thresh": -60.0})
    net.connect_matrix("s", "n", np.full((4, 3), 1.5))
    result = compile_network(net, BOARD, seed=0)
    backend = NengoLoihiBackend()
    assert backend.available() == (True, "") and not backend.unsupported(result)
    theirs = backend.build(result, {}).run(15)
    ours = Simulation(result.network, mode_for(result.network, BOARD, None), 0).run(15)
    assert ours.mode == "loihi1" and theirs.mode == "nengo-loihi-emulator"
    np.testing.assert_array_equal(ours.raster("n", 3), theirs.raster("n", 3))
    assert ours.spikes["n"][0].size > 0


def test_nengo_41_is_flagged_untested_by_nengo_loihi():
    """The warning import_nengo_loihi() hides (and nothing else): nengo 4.1 is newer than 1.1.0 knows."""
    import nengo
    from nengo_loihi.version import check_nengo_version

    assert nengo.__version__.startswith("4.1")
    with pytest.warns(UserWarning, match="has not been tested with your `nengo` version"):
        check_nengo_version()


def test_mode_is_registered():
    assert MODES["loihi1"] is Loihi1Mode
