"""Delay legalization (neurocompile/passes/delays.py): relays split long delays exactly and fire
once per spike; SpiNNaker delay extensions follow sPyNNaker's stage rule; rejections name the
projection, the delay and the limit."""
from __future__ import annotations

import copy
import dataclasses
import json

import numpy as np
import pytest

from neurocompile.backends.sim import Simulation
from neurocompile.backends.sim.float_mode import FloatMode
from neurocompile.backends.sim.loihi2_mode import Loihi2Mode
from neurocompile.backends.sim.modes import NumericMode
from neurocompile.boards import load_board
from neurocompile.boards.schema import Delays
from neurocompile.errors import ModelError, ResourceError
from neurocompile.ir.network import Network, STDPRule
from neurocompile.ir.validate import validate_network
from neurocompile.passes.delays import (RELAY_ROLE, float_relay_params, legalize_delays,
                                        loihi_relay_params)
from neurocompile.passes.pipeline import CompileContext
from neurocompile.targets.loihi2.quantize import quantize_loihi

LOIHI = load_board("loihi2-oheo-gulch")
SPINN = load_board("spinn-5")
D = LOIHI.delays.max_steps_in_core  # 64


class UnlimitedLoihi2Mode(Loihi2Mode):
    """The loihi2 mode without its 1..64 delay check: the engine handles any delay, so this is the
    reference for what a long delay should do."""

    def check(self, net: Network) -> None:
        NumericMode.check(self, net)


def ctx_for(board, **options) -> CompileContext:
    return CompileContext(board=board, options=options)


def random_trains(rng, n, steps, p):
    return [sorted(np.flatnonzero(rng.random(steps) < p).tolist()) for _ in range(n)]


def long_delay_net(seed=0, steps=400, max_delay=256) -> Network:
    """Two sources and a LIF population with delays across 1..max_delay, shared pre neurons."""
    rng = np.random.default_rng(seed)
    net = Network(name="delays", dt_ms=1.0, seed=seed)
    net.add_spike_source("src", random_trains(rng, 12, steps - max_delay, 0.08))
    net.add_spike_source("src2", random_trains(rng, 5, steps - max_delay, 0.2))
    lif = {"tau_m": 10.0, "tau_syn_E": 2.0, "tau_syn_I": 2.0, "v_thresh": -60.0, "tau_refrac": 0.0}
    net.add_population("a", 8, "lif_curr_exp", lif, record=("spikes",))
    net.add_population("b", 6, "lif_curr_exp", lif, record=("spikes",))
    pre, post = np.nonzero(rng.random((12, 8)) < 0.5)
    d = rng.integers(1, max_delay + 1, pre.size)
    d[:4] = [D, D + 1, 2 * D, max_delay]  # the chunk boundaries
    net.add_projection("src", "a", pre, post, rng.uniform(1.0, 3.0, pre.size), d, receptor="excitatory")
    pre, post = np.nonzero(rng.random((12, 6)) < 0.4)
    net.add_projection("src", "b", pre, post, rng.uniform(1.0, 3.0, pre.size),
                       rng.integers(1, max_delay + 1, pre.size), receptor="excitatory", name="src->b")
    pre, post = np.nonzero(rng.random((5, 8)) < 0.6)
    net.add_projection("src2", "a", pre, post, rng.uniform(-2.0, -0.5, pre.size),
                       rng.integers(D + 1, max_delay + 1, pre.size), receptor="inhibitory")
    pre, post = np.nonzero(rng.random((8, 6)) < 0.5)  # neuron -> neuron, short and long
    net.add_projection("a", "b", pre, post, 2.5, rng.integers(1, 2 * D, pre.size), receptor="excitatory")
    return net


def trace_total_delays(orig: Network, new: Network, proj_name: str) -> list[tuple[int, int, float, int]]:
    """(pre, post, weight, total delay) of every synapse that replaces `proj_name`, walking relays."""
    out = []
    for p in new.projections.values():
        if p.name != proj_name and not p.name.startswith(proj_name + "~relay"):
            continue
        for i, j, w, d in zip(p.pre_idx, p.post_idx, p.weight, p.delay):
            src, idx, total = p.pre, int(i), int(d)
            while new.populations[src].annotations.get("role") == RELAY_ROLE:
                feed = [f for f in new.projections.values() if f.post == src]
                assert len(feed) == 1
                f = feed[0]
                k = int(np.flatnonzero(f.post_idx == idx)[0])
                src, idx, total = f.pre, int(f.pre_idx[k]), total + int(f.delay[k])
            assert src == orig.projections[proj_name].pre
            out.append((idx, int(j), float(w), total))
    return sorted(out)


# ------------------------------------------------------------------------------------------------
# Loihi: relays
# ------------------------------------------------------------------------------------------------
def test_split_delays_are_exact_and_fit_one_hop():
    net = long_delay_net()
    before = copy.deepcopy(net)
    ctx = ctx_for(LOIHI)
    out = legalize_delays(net, ctx)
    validate_network(out)
    for p in out.projections.values():
        assert 1 <= p.delay.min() and p.delay.max() <= D
    for name, proj in net.projections.items():
        want = sorted((int(i), int(j), float(w), int(d))
                      for i, j, w, d in zip(proj.pre_idx, proj.post_idx, proj.weight, proj.delay))
        assert trace_total_delays(net, out, name) == want
    # The input is untouched.
    for name, proj in before.projections.items():
        assert np.array_equal(net.projections[name].delay, proj.delay)
    assert set(net.populations) == set(before.populations)
    # One relay neuron per (pre neuron, stage needed); stages shared across projections of a pre.
    rel = ctx.delays.relays
    assert set(rel) == {"src", "src2", "a"}
    assert rel["src"]["stages"] == 3 and rel["a"]["stages"] == 1
    for pre, entry in rel.items():
        need = np.zeros(net.populations[pre].size, dtype=int)
        for p in net.projections_from(pre):
            np.maximum.at(need, p.pre_idx, (p.delay.astype(int) + D - 1) // D - 1)
        sizes = [out.populations[n].size for n in entry["populations"]]
        assert sizes == [int((need >= s).sum()) for s in range(1, entry["stages"] + 1)]
    json.dumps(ctx.delays.to_dict())
    # Every changed projection is reported.
    infos = [d for d in ctx.diagnostics if d.level == "info"]
    for name in ("src->a", "src->b", "src2->a", "a->b"):
        assert any(d.subject == name and "re-routed" in d.message for d in infos), name


def test_float_network_with_relays_spikes_like_the_original():
    net = long_delay_net(seed=3)
    out = legalize_delays(net, ctx_for(LOIHI))
    r0 = Simulation(net, FloatMode()).run(400)
    r1 = Simulation(out, FloatMode()).run(400)
    for pop in net.populations:
        assert np.array_equal(r0.raster(pop, net.populations[pop].size),
                              r1.raster(pop, net.populations[pop].size)), pop
    assert sum(r0.spike_counts()[p] for p in ("a", "b")) > 20  # the test exercises something


def test_quantized_network_with_relays_is_bit_exact_in_loihi2_mode():
    net = long_delay_net(seed=5)
    q = quantize_loihi(net, ctx_for(LOIHI))
    ref = Simulation(q, UnlimitedLoihi2Mode()).run(400)
    legal = legalize_delays(q, ctx_for(LOIHI))
    res = Simulation(legal, Loihi2Mode()).run(400)
    for pop in net.populations:
        n = net.populations[pop].size
        assert np.array_equal(ref.raster(pop, n), res.raster(pop, n)), pop
    for pop in ("a", "b"):
        for var in ("u", "v"):
            assert np.array_equal(ref.final_state[pop][var], res.final_state[pop][var])
    assert ref.spike_counts()["a"] > 5 and ref.spike_counts()["b"] > 5


def test_legalize_then_quantize_equals_quantize_then_legalize():
    net = long_delay_net(seed=8)
    a = quantize_loihi(legalize_delays(net, ctx_for(LOIHI)), ctx_for(LOIHI))
    b = legalize_delays(quantize_loihi(net, ctx_for(LOIHI)), ctx_for(LOIHI))
    assert list(a.populations) == list(b.populations)
    for name, pa in a.populations.items():
        pb = b.populations[name]
        assert pa.model == pb.model == ("loihi2_lif" if not pa.neuron_model.is_source else pa.model)
        for k in set(pa.params) | set(pb.params):
            assert np.array_equal(np.asarray(pa.param(k) if k in pa.neuron_model.params else pa.params[k]),
                                  np.asarray(pb.param(k) if k in pb.neuron_model.params else pb.params[k])), (name, k)
    assert sorted(a.projections) == sorted(b.projections)
    for name, pa in a.projections.items():
        pb = b.projections[name]
        assert (pa.pre, pa.post, pa.receptor) == (pb.pre, pb.post, pb.receptor)
        for f in ("pre_idx", "post_idx", "delay"):
            assert np.array_equal(getattr(pa, f), getattr(pb, f)), (name, f)
        # A projection split before quantization gets its own weight_exp (from its own largest
        # weight): the effective weights agree to within half the coarser weight step.
        ea, eb = pa.attrs["weight_exp"], pb.attrs["weight_exp"]
        assert abs(ea - eb) <= 1
        diff = np.abs(pa.weight * 2.0 ** ea - pb.weight * 2.0 ** eb)
        assert np.all(diff <= 2.0 ** max(ea, eb) / 2 + 2.0 ** min(ea, eb) / 2), name


def relay_chain_net(trains, model: str, stages: int = 2) -> Network:
    """src -> relay stage 1 -> ... built by the pass from one long-delay projection."""
    n = len(trains)
    net = Network(name="relay", dt_ms=1.0)
    net.add_spike_source("src", trains)
    if model == "loihi2_lif":
        net.add_population("sink", n, "loihi2_lif", {"du": 4095, "dv": 4095, "vth": 1000})
        net.add_projection("src", "sink", np.arange(n), np.arange(n), 1, stages * D + 1,
                           receptor="input", attrs={"weight_exp": 0, "num_weight_bits": 8})
    else:
        net.add_population("sink", n, "lif_curr_exp", {"tau_refrac": 0.0})
        net.add_projection("src", "sink", np.arange(n), np.arange(n), 0.01, stages * D + 1,
                           receptor="excitatory")
    return legalize_delays(net, ctx_for(LOIHI))


def relay_trains(steps: int, seed: int = 0) -> list[list[int]]:
    rng = np.random.default_rng(seed)
    trains = [list(range(steps)),                       # every step
              list(range(0, steps, 2)),                 # every other step
              [0, 1, 2, 5, 6, 30, 31, 32, 33],          # bursts
              []]                                        # silent
    trains += random_trains(rng, 4, steps, 0.3)
    return trains


@pytest.mark.parametrize("model", ["loihi2_lif", "lif_curr_exp"])
def test_relays_fire_exactly_once_per_input_spike(model):
    steps = 100
    trains = relay_trains(steps)
    net = relay_chain_net(trains, model)
    mode = Loihi2Mode() if model == "loihi2_lif" else FloatMode()
    res = Simulation(net, mode).run(steps + 2 * D + 2)
    src = res.raster("src", len(trains))
    for s in (1, 2):
        name = f"src~relay{s}"
        relay = net.populations[name]
        assert relay.annotations["role"] == RELAY_ROLE and relay.size == len(trains)
        if model == "loihi2_lif":
            assert relay.params == loihi_relay_params()
        r = res.raster(name, relay.size)
        expected = np.zeros_like(r)
        expected[s * D:] = src[:r.shape[0] - s * D]  # the pre train, s * D steps later
        assert np.array_equal(r, expected), s


def test_loihi_relays_fire_exactly_once_per_input_spike_in_lava():
    """The same property in Lava fixed_pt itself (via the lava backend), and loihi2 mode == Lava."""
    from lava_helpers import run_lava

    steps = 60
    trains = relay_trains(steps, seed=1)
    net = relay_chain_net(trains, "loihi2_lif", stages=1)
    total = steps + D + 2
    lava = run_lava(net, total)
    sim = Simulation(net, Loihi2Mode()).run(total)
    src = sim.raster("src", len(trains))
    relay = lava.spikes["src~relay1"]
    expected = np.zeros_like(relay)
    expected[D:] = src[:total - D]
    assert np.array_equal(relay, expected)
    for pop in net.populations:
        assert np.array_equal(lava.spikes[pop], sim.raster(pop, net.populations[pop].size)), pop


def test_float_relay_parameters_are_safe_for_small_steps():
    for dt in (1.0, 0.1, 0.01, 0.005):
        params, w = float_relay_params(dt)
        assert params["tau_refrac"] == 0.0 and w > 0
    with pytest.raises(ModelError, match="dt_ms"):
        float_relay_params(0.0005)


def test_plastic_long_delay_projection_is_rejected_on_loihi():
    net = long_delay_net()
    net.projections["src->a"].plasticity = STDPRule(w_max=5.0)
    with pytest.raises(ModelError, match="'src->a'.*plastic"):
        legalize_delays(net, ctx_for(LOIHI))


# ------------------------------------------------------------------------------------------------
# Rejections
# ------------------------------------------------------------------------------------------------
def one_projection(delay: int, dt: float = 1.0) -> Network:
    net = Network(name="one", dt_ms=dt)
    net.add_spike_source("s", [[0]] * 4)
    net.add_population("p", 4, "lif_curr_exp", {"tau_refrac": 0.0})
    net.add_projection("s", "p", np.arange(4), np.arange(4), 1.0, [1, 2, 3, delay],
                       receptor="excitatory", name="long one")
    return net


@pytest.mark.parametrize("board,limit", [(LOIHI, 256), (SPINN, 288)])
def test_delay_beyond_extension_is_rejected_with_name_delay_limit_and_hint(board, limit):
    legalize_delays(one_projection(limit), ctx_for(board))  # the limit itself is fine
    with pytest.raises(ResourceError) as e:
        legalize_delays(one_projection(limit + 1), ctx_for(board))
    msg = str(e.value)
    assert "'long one'" in msg and f"{limit + 1} steps" in msg and f"{limit} steps" in msg
    assert board.name in msg and "dt_ms" in msg


def test_board_without_extension_rejects_above_one_hop():
    board = dataclasses.replace(LOIHI, delays=Delays(1, 64, 64, "none"))
    legalize_delays(one_projection(64), ctx_for(board))
    with pytest.raises(ResourceError, match=r"'long one': delay 65 steps exceeds .* maximum of 64 steps "
                                            r"\(no delay extension mechanism\)"):
        legalize_delays(one_projection(65), ctx_for(board))


def test_delay_below_board_minimum_is_rejected():
    board = dataclasses.replace(LOIHI, delays=Delays(2, 64, 256, "relay_neurons"))
    with pytest.raises(ResourceError, match="'long one': delay 1 steps is below .* minimum of 2"):
        legalize_delays(one_projection(5), ctx_for(board))


def test_short_delays_leave_the_network_alone():
    net = one_projection(10)
    ctx = ctx_for(LOIHI)
    assert legalize_delays(net, ctx) is net
    assert "nothing to do" in ctx.diagnostics[0].message


# ------------------------------------------------------------------------------------------------
# SpiNNaker: delay extensions predicted, IR untouched
# ------------------------------------------------------------------------------------------------
def full_core_projection(delay: int, post_size: int = 256) -> Network:
    """A projection into a post population that fills whole 256-neuron cores (32 in-core ticks)."""
    net = Network(name="one", dt_ms=1.0)
    net.add_spike_source("s", [[0]] * 4)
    net.add_population("p", post_size, "lif_curr_exp", {"tau_refrac": 0.0})
    net.add_projection("s", "p", np.arange(4), np.arange(4), 1.0, [1, 2, 3, delay],
                       receptor="excitatory", name="long one")
    return net


@pytest.mark.parametrize("delay,stages", [(32, 0), (33, 1), (64, 1), (65, 2), (200, 6), (288, 8)])
def test_spinnaker_delay_extension_stages_follow_spynnaker(delay, stages):
    # delay_support_adder.py l.240: n_stages = ceil(max_delay / delay_per_stage) - 1, 32 per stage
    net = full_core_projection(delay)
    ctx = ctx_for(SPINN)
    out = legalize_delays(net, ctx)
    assert out is net
    ext = ctx.delays.extensions
    if stages == 0:
        assert ext == {}
    else:
        assert ext == {"s": {"max_delay": delay, "stages": stages, "delay_per_stage": 32,
                             "n_atoms": 4, "posts": ["p"]}}
        assert any(d.subject == "long one" and f"{stages} stage(s)" in d.message for d in ctx.diagnostics)
        json.dumps(ctx.delays.to_dict())


@pytest.mark.parametrize("post_size,cap,in_core", [(4, None, 2048), (100, None, 64), (300, None, 32),
                                                   (300, 128, 64), (300, 64, 128)])
def test_spinnaker_in_core_ticks_follow_the_neurons_per_core_the_partitioner_will_use(post_size, cap, in_core):
    # population_vertex.py __update_max_delay: 2 ** (14 - atom_bits(min(size, max_atoms)) - 1) ticks
    # in the post's own ring buffer; sPyNNaker adds no extension below that
    options = {} if cap is None else {"max_neurons_per_core": {"p": cap}}
    for delay, extended in ((min(in_core, 288), False), (in_core + 1, True)):
        if delay > 288:
            continue
        ctx = ctx_for(SPINN, **options)
        legalize_delays(full_core_projection(delay, post_size), ctx)
        assert bool(ctx.delays.extensions) == extended, (post_size, cap, delay)
        if extended:
            assert ctx.delays.extensions["s"]["delay_per_stage"] == in_core


def test_spinnaker_extension_per_pre_population_takes_the_max_over_edges():
    net = Network(name="ext", dt_ms=1.0)
    net.add_spike_source("s", [[0]] * 3)
    for name in ("p", "q", "r"):
        net.add_population(name, 300, "lif_curr_exp")
    net.add_projection("s", "p", [0], [0], 1.0, 40, receptor="excitatory")
    net.add_projection("s", "q", [1], [1], 1.0, 130, receptor="excitatory")
    net.add_projection("s", "r", [2], [2], 1.0, 20, receptor="excitatory")
    ctx = ctx_for(SPINN)
    legalize_delays(net, ctx)
    assert ctx.delays.extensions == {
        "s": {"max_delay": 130, "stages": 4, "delay_per_stage": 32, "n_atoms": 3, "posts": ["p", "q"]}}
    assert not [d for d in ctx.diagnostics if d.level == "warning"]


def test_spinnaker_warns_when_posts_have_different_in_core_delay_ranges():
    net = Network(name="ext", dt_ms=1.0)
    net.add_spike_source("s", [[0]] * 2)
    net.add_population("big", 256, "lif_curr_exp")
    net.add_population("small", 100, "lif_curr_exp")  # 7 atom bits: 64 slots in sPyNNaker
    net.add_projection("s", "big", [0], [0], 1.0, 100, receptor="excitatory")
    net.add_projection("s", "small", [1], [1], 1.0, 100, receptor="excitatory")
    ctx = ctx_for(SPINN)
    legalize_delays(net, ctx)
    warns = [d for d in ctx.diagnostics if d.level == "warning"]
    assert len(warns) == 1 and "DelayExtensionException" in warns[0].message and "big: 32" in warns[0].message


def test_legalized_and_quantized_networks_survive_the_file_format(tmp_path):
    from neurocompile.ir.fileformat import load_network, save_network
    from neurocompile.targets.spinnaker.quantize import quantize_spinnaker

    nets = {"loihi": legalize_delays(quantize_loihi(long_delay_net(), ctx_for(LOIHI)), ctx_for(LOIHI)),
            "spinnaker": quantize_spinnaker(long_delay_net(max_delay=200), ctx_for(SPINN))}
    for name, net in nets.items():
        back = load_network(save_network(net, tmp_path / f"{name}.ncnet"))
        assert back.number_format == net.number_format
        for k, p in net.populations.items():
            assert back.populations[k].annotations == p.annotations and back.populations[k].model == p.model
        for k, p in net.projections.items():
            q = back.projections[k]
            assert np.array_equal(q.weight, p.weight) and np.array_equal(q.delay, p.delay) and q.attrs == p.attrs


def test_relay_neurons_are_estimated_at_the_rate_of_the_neuron_they_copy():
    """Placement traffic and energy estimates (resources.firing_rates): a relay fires once per
    spike of its pre neuron, so it gets that neuron's rate, stage after stage, not the 10 Hz default."""
    from neurocompile.passes.delays import is_relay
    from neurocompile.passes.resources import DEFAULT_RATE_HZ, firing_rates

    net = long_delay_net()
    out = legalize_delays(net, ctx_for(LOIHI))
    relays = [p for p in out.populations.values() if is_relay(p)]
    assert relays and any(p.annotations["stage"] >= 2 for p in relays)
    for given in ({}, {"a": np.linspace(1.0, 8.0, 8)}):
        rates = firing_rates(out, {"rates": given})
        for pop in relays:
            src = pop.annotations["relay_of"]
            # walk back through the feed projections to the pre neuron each relay copies
            idx, name = np.arange(pop.size), pop.name
            while name != src:
                feed = next(p for p in out.projections.values() if p.post == name)
                order = np.argsort(feed.post_idx)
                idx, name = feed.pre_idx[order][idx], feed.pre
            np.testing.assert_array_equal(rates[pop.name], rates[src][idx])
        spike_src = firing_rates(out, {})["src"]
        assert not np.allclose(spike_src, DEFAULT_RATE_HZ)  # the sources' own rates reach their relays


def _partitioned(net: Network, **options):
    from neurocompile.passes.partition import partition

    ctx = ctx_for(SPINN, **options)
    partition(legalize_delays(net, ctx), ctx)
    return ctx


def test_the_slices_made_decide_delay_extensions_not_the_cap():
    # 120 neurons at most 100 per core are cut into two equal slices of 60: sPyNNaker gives them
    # 2**(14 - 6 - 1) = 128 in-core ticks, so a delay of 100 needs no extension (the prediction
    # from the cap, 64 ticks, did; the partition drops it and says so)
    net = full_core_projection(100, post_size=120)
    ctx = _partitioned(net, max_neurons_per_core={"p": 100})
    sizes = sorted(np.bincount(ctx.partition.labels["p"]).tolist())
    assert sizes == [60, 60]
    assert ctx.delays.extensions == {}
    assert int(ctx.partition.extra_cores.sum()) == 0
    assert any("no delay extension after all" in d.message for d in ctx.diagnostics)


def test_every_slice_of_a_population_has_the_in_core_ticks_of_its_largest():
    # 257 neurons at 256 per core: slices of 129 and 128. sPyNNaker sizes both cores from
    # max_atoms_per_core (our largest slice, 129: 8 bits, 32 ticks), so a delay of 40 into the
    # 128-neuron slice (7 bits, 64 ticks on its own) still goes through a delay extension
    net = Network(name="last", dt_ms=1.0)
    net.add_spike_source("s", [[0]] * 2)
    net.add_population("p", 257, "lif_curr_exp")
    ctx0 = _partitioned(net)
    small = int(np.argmin(np.bincount(ctx0.partition.labels["p"])))
    target = int(np.flatnonzero(ctx0.partition.labels["p"] == small)[0])
    net.add_projection("s", "p", [0, 1], [0, target], 1.0, [1, 40], receptor="excitatory")
    ctx = _partitioned(net)
    assert sorted(np.bincount(ctx.partition.labels["p"]).tolist()) == [128, 129]
    assert ctx.partition.labels["p"][target] == small
    assert "s" in ctx.delays.extensions and int(ctx.partition.extra_cores.sum()) == 1
