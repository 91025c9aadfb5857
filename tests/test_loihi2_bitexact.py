"""`--backend lava` against `--backend sim` (loihi2 mode), spike for spike and u/v bit for bit.

Both sides are ours: the lava backend (backends/lava, through tests/lava_helpers.py) runs Lava
0.10 fixed_pt itself, our simulator re-implements it; a difference is a bug in one of them. The
lava backend is pinned independently by hand-built Lava networks (tests/test_lava_backend.py).
Lava is required: these tests import it at module level and fail (never skip) without it.
Random networks come from hypothesis; every example is a batch of 1-3 networks packed into one
Lava run (lowering.py: pack) so 200 examples take a couple of minutes on 2 cores.
`-m slow` runs a variant with more examples.
"""
from __future__ import annotations

import warnings

import lava  # noqa: F401  -- deliberately unconditional: a missing Lava is a failure
import numpy as np
import pytest

pytestmark = pytest.mark.lava
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from lava.utils.weightutils import SignMode, clip_weights, determine_sign_mode, truncate_weights

from lava_helpers import LavaRun, run_lava
from neurocompile.backends.sim import MODES, Simulation
from neurocompile.backends.sim.loihi2_mode import (
    INHIBITORY, MIXED, EXCITATORY, Loihi2Mode, LoihiWeightWarning, lava_weights, sign_mode)
from neurocompile.errors import ModelError
from neurocompile.ir.network import Network

HC = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]


# ----- helpers ----------------------------------------------------------------------------------
def run_ours(net: Network, steps: int):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LoihiWeightWarning)
        return Simulation(net, Loihi2Mode()).run(steps)


def assert_bit_exact(net: Network, steps: int, lava_run: LavaRun) -> None:
    ours = run_ours(net, steps)
    for name, pop in net.populations.items():
        if pop.model != "loihi2_lif":
            continue
        mine, theirs = ours.raster(name, pop.size), lava_run.spikes[name]
        if not np.array_equal(mine, theirs):
            t = int(np.argmax(np.any(mine != theirs, axis=1)))
            raise AssertionError(
                f"{net.name}: population {name!r} first differs at step {t}: ours spiking "
                f"{np.flatnonzero(mine[t]).tolist()}, Lava {np.flatnonzero(theirs[t]).tolist()} "
                f"(projection kinds {lava_run.kinds})")
        for var, ref in (("u", lava_run.u[name]), ("v", lava_run.v[name])):
            got = ours.final_state[name][var]
            if not np.array_equal(got, ref):
                i = int(np.argmax(got != ref))
                raise AssertionError(f"{net.name}: population {name!r} final {var} differs at "
                                     f"neuron {i}: ours {got[i]}, Lava {ref[i]}")


def check_against_lava(nets: list[Network], steps: int, sparse=False, pack=True) -> list[LavaRun]:
    runs = run_lava(nets, steps, sparse=sparse, pack=pack)
    for net, r in zip(nets, runs):
        assert_bit_exact(net, steps, r)
    return runs


def _describe(nets: list[Network], runs: list[LavaRun]) -> None:
    """Hypothesis events (see --hypothesis-show-statistics): what the examples exercised."""
    kinds = {k for r in runs for k in r.kinds.values()}
    for k in sorted(kinds):
        event(f"kind {k}")
    lif = [(r.spikes[p], r.u[p]) for net, r in zip(nets, runs) for p in r.u]
    event("spikes: " + ("some" if any(s.any() for s, _ in lif) else "none"))
    if any(np.any(np.abs(u) >= 2**22) for _, u in lif):
        event("|final u| >= 2**22")
    for net in nets:
        for proj in net.projections.values():
            if proj.n_synapses and proj.attrs["weight_exp"] < 0 and np.unique(proj.delay).size > 1:
                event("negative weight_exp with several delays")
            if proj.n_synapses and sign_mode(proj.weight) == MIXED:
                event("mixed sign mode")
            fan_in = np.bincount(proj.post_idx, weights=np.abs(proj.weight))
            if proj.n_synapses and fan_in.max() * 2.0 ** (proj.attrs["weight_exp"] + 6) >= 2**31:
                event("possible input beyond int32")
    if any(np.any(np.abs(u) > 2**23) for _, u in lif):
        event("|final u| > 2**23 (beyond 24 bits)")


# ----- strategies -------------------------------------------------------------------------------
DECAY = st.one_of(st.sampled_from([0, 1, 2, 2047, 4094, 4095]), st.integers(0, 4095))
VTH = st.one_of(st.integers(0, 40), st.integers(0, 40), st.integers(0, 2000),
                st.integers(0, 2**17 - 1), st.sampled_from([0, 2**17 - 1]))
UV_EDGE = [0, 2**23 - 1, -(2**23) + 1, 2**23 - 64, -(2**23) + 64]


def _per_neuron(draw, n, elem, allow_array=True):
    if allow_array and n > 1 and draw(st.booleans()):
        return np.array(draw(st.lists(elem, min_size=n, max_size=n)), dtype=np.int64)
    return draw(elem)


@st.composite
def lif_params(draw, n: int, scalar_decays: bool):
    big = draw(st.booleans())
    return {
        "du": _per_neuron(draw, n, DECAY, not scalar_decays),
        "dv": _per_neuron(draw, n, DECAY, not scalar_decays),
        "vth": _per_neuron(draw, n, VTH, not scalar_decays),
        "bias_mant": _per_neuron(draw, n, st.one_of(st.just(0), st.integers(-(2**12), 2**12 - 1))),
        "bias_exp": _per_neuron(draw, n, st.integers(-7, 7)),
        "u_init": _per_neuron(draw, n, st.one_of(st.just(0), st.sampled_from(UV_EDGE[:3] + [-(2**23)]),
                                                 st.integers(-(2**23), 2**23 - 1))) if big else 0,
        "v_init": _per_neuron(draw, n, st.one_of(st.just(0), st.sampled_from(UV_EDGE),
                                                 st.integers(-(2**23) + 1, 2**23 - 1))) if big else 0,
    }


@st.composite
def network(draw, name: str, steps: int, scalar_decays: bool = False):
    """A random loihi2 network plus the set of its projections to run as Lava Sparse."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    net = Network(name=name)
    n_src = draw(st.integers(0, 2))
    for k in range(n_src):
        # 64 inputs of 255 << 7 push u past 2**24 + 2**23 (beyond the one conditional wrap);
        # test_overdrive_bit_exact_with_lava goes past int32
        size = draw(st.one_of(st.integers(1, 8), st.integers(1, 8), st.integers(1, 8),
                              st.just(64)))
        rate = draw(st.sampled_from([0.05, 0.2, 0.5, 1.0]))
        trains = [np.flatnonzero(rng.random(steps) < rate).tolist() for _ in range(size)]
        net.add_spike_source(f"src{k}", trains)
    n_lif = draw(st.integers(1, 3))
    for k in range(n_lif):
        size = draw(st.integers(1, 8))
        net.add_population(f"lif{k}", size, "loihi2_lif", draw(lif_params(size, scalar_decays)))
    pres = list(net.populations)
    posts = [p for p in pres if p.startswith("lif")]
    pairs = [(a, b) for a in pres for b in posts]
    chosen = draw(st.lists(st.sampled_from(pairs), min_size=0, max_size=5))
    sparse = set()
    for a, b in chosen:
        n_pre, n_post = net.populations[a].size, net.populations[b].size
        density = draw(st.sampled_from([0.2, 0.5, 1.0]))
        mask = rng.random((n_pre, n_post)) < density
        pre_idx, post_idx = np.nonzero(mask)
        n = pre_idx.size
        mode = draw(st.sampled_from([EXCITATORY, INHIBITORY, MIXED]))
        scale = draw(st.sampled_from(["small", "full", "over", "max"]))
        hi = {"small": 16, "full": 255, "over": 400, "max": 255}[scale]
        if scale == "max":  # every synapse at full strength: overflow provoking
            w = np.full(n, -255 if mode == INHIBITORY else 255)
            if mode == MIXED:
                w[rng.random(n) < 0.5] = -256
        elif mode == EXCITATORY:
            w = rng.integers(0, hi + 1, n)
        elif mode == INHIBITORY:
            w = -rng.integers(0, hi + 1, n)
        else:
            w = rng.integers(-hi - 1, hi + 1, n)
        nwb = draw(st.one_of(st.just(8), st.integers(1, 8)))
        if draw(st.booleans()):  # already-legal weights: what the compiler would emit
            w = lava_weights(w, nwb, mode if n else None)
        exp = draw(st.one_of(st.integers(-8, 7), st.integers(-8, -1), st.integers(5, 7)))
        dkind = draw(st.sampled_from(["one", "one", "const", "small", "wide"]))
        if dkind == "one":
            d = np.ones(n, dtype=np.int64)
        elif dkind == "const":
            d = np.full(n, draw(st.integers(1, 64)), dtype=np.int64)
        elif dkind == "small":
            d = rng.integers(1, 5, n)
        else:
            d = rng.integers(1, 65, n)
        proj = net.add_projection(a, b, pre_idx, post_idx, w, d,
                                  attrs={"weight_exp": exp, "num_weight_bits": nwb})
        if draw(st.booleans()):  # Sparse, or DelaySparse when delays > 1
            sparse.add(proj.name)
    return net, sparse


@st.composite
def batches(draw, max_nets: int = 3, max_steps: int = 40, scalar_decays: bool = False):
    steps = draw(st.integers(1, max_steps))
    nets, sparse = [], set()
    for i in range(draw(st.integers(1, max_nets))):
        net, sp_names = draw(network(f"net{i}", steps, scalar_decays))
        nets.append(net)
        sparse |= {(net.name, p) for p in sp_names}
    return nets, steps, sparse


def _sparse_fn(sparse):
    return lambda net, proj: (net.name, proj.name) in sparse


# ----- property tests against Lava --------------------------------------------------------------
@settings(max_examples=200, deadline=None, suppress_health_check=HC)
@given(batches())
def test_random_networks_bit_exact_with_lava(batch):
    nets, steps, sparse = batch
    _describe(nets, check_against_lava(nets, steps, sparse=_sparse_fn(sparse)))


@st.composite
def overdrive(draw):
    """1100 full-strength inputs onto a few neurons: u beyond 24 bits, the input << 6 beyond int32."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    steps = draw(st.integers(1, 30))
    net = Network(name="overdrive")
    n_src = draw(st.sampled_from([300, 1100, 1100]))
    rate = draw(st.sampled_from([0.3, 0.9, 1.0]))
    net.add_spike_source("src", [np.flatnonzero(rng.random(steps) < rate).tolist()
                                 for _ in range(n_src)])
    n = draw(st.integers(1, 4))
    net.add_population("lif", n, "loihi2_lif", draw(lif_params(n, False)))
    mode = draw(st.sampled_from([EXCITATORY, INHIBITORY, MIXED]))
    w = np.full((n_src, n), -255 if mode == INHIBITORY else 255)
    if mode == MIXED:
        w[rng.random(w.shape) < draw(st.sampled_from([0.1, 0.5, 0.9]))] = -256
    exp = draw(st.one_of(st.just(7), st.integers(3, 7)))
    net.connect_matrix("src", "lif", w, attrs={"weight_exp": exp,
                                               "num_weight_bits": draw(st.integers(1, 8))})
    if draw(st.booleans()):  # recurrent, so wrapped values feed back through spikes
        net.connect_matrix("lif", "lif", rng.integers(-256, 256, (n, n)),
                           delay=draw(st.integers(1, 3)), attrs={"weight_exp": 7})
    return [net], steps, set()


@settings(max_examples=30, deadline=None, suppress_health_check=HC)
@given(overdrive())
def test_overdrive_bit_exact_with_lava(batch):
    nets, steps, sparse = batch
    _describe(nets, check_against_lava(nets, steps, sparse=_sparse_fn(sparse)))


@pytest.mark.slow
@settings(max_examples=2000, deadline=None, suppress_health_check=HC)
@given(batches(max_nets=4, max_steps=120))
def test_random_networks_bit_exact_with_lava_slow(batch):
    nets, steps, sparse = batch
    check_against_lava(nets, steps, sparse=_sparse_fn(sparse))


@settings(max_examples=8, deadline=None, suppress_health_check=HC)
@given(batches(max_nets=2, max_steps=30, scalar_decays=True))
def test_packed_lowering_equals_literal_lava_network(batch):
    """The packed lowering (one LIF with per-neuron du/dv/vth, block matrices) == literal Lava."""
    nets, steps, sparse = batch
    packed = run_lava(nets, steps, sparse=_sparse_fn(sparse), pack=True)
    literal = run_lava(nets, steps, sparse=_sparse_fn(sparse), pack=False)
    for net, a, b in zip(nets, packed, literal):
        for name, pop in net.populations.items():
            np.testing.assert_array_equal(a.spikes[name], b.spikes[name])
            if pop.model == "loihi2_lif":
                np.testing.assert_array_equal(a.u[name], b.u[name])
                np.testing.assert_array_equal(a.v[name], b.v[name])
        assert_bit_exact(net, steps, b)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.integers(-600, 600), min_size=1, max_size=40), st.integers(1, 8))
def test_weight_truncation_equals_lava_weightutils(weights, nwb):
    """Our lava_weights() == weightutils.clip_weights(.., 8) then truncate_weights (Dense.run_spk)."""
    w = np.array(weights)
    lava_mode = determine_sign_mode(w)
    ref = truncate_weights(clip_weights(w, lava_mode, num_bits=8), lava_mode, nwb)
    assert sign_mode(w) == {SignMode.EXCITATORY: EXCITATORY, SignMode.INHIBITORY: INHIBITORY,
                            SignMode.MIXED: MIXED}[lava_mode]
    np.testing.assert_array_equal(lava_weights(w, nwb), ref)


# ----- hand-written regressions -----------------------------------------------------------------
def _one(net_name="one", **params) -> Network:
    net = Network(name=net_name)
    p = {"du": 0, "dv": 0, "vth": 2**17 - 1}
    p.update(params)
    net.add_population("n", 1, "loihi2_lif", p)
    return net


def test_lava_is_installed():
    import lava.proc.lif.models as m

    assert hasattr(m, "PyLifModelBitAcc")


def test_step_mapping_single_spike():
    """Source spike at our step k: Dense target spikes at k+1, DelayDense (IR d) at k+d; a LIF
    driven by bias alone spikes at our step 0 == Lava's first time step (sink column 0)."""
    k, steps = 3, 20
    net = Network(name="map")
    spike_steps = [[k]]
    net.add_spike_source("s", spike_steps)
    net.add_population("fast", 1, "loihi2_lif", {"du": 4095, "vth": 0})
    net.add_population("late", 1, "loihi2_lif", {"du": 4095, "vth": 0})
    net.add_population("bias", 1, "loihi2_lif", {"bias_mant": 100, "vth": 0})
    net.add_projection("s", "fast", [0], [0], 1, 1)
    net.add_projection("s", "late", [0], [0], 1, 7)
    r = check_against_lava([net], steps)[0]
    assert np.flatnonzero(r.spikes["fast"][:, 0]).tolist() == [k + 1]
    assert np.flatnonzero(r.spikes["late"][:, 0]).tolist() == [k + 7]
    assert r.spikes["bias"][0, 0]
    assert r.kinds == {"s->fast": "dense", "s->late": "delay_dense"}


def test_u_wraps_once_at_2_pow_23():
    net = _one(u_init=2**23 - 1)
    net.add_spike_source("s", [[0]])
    net.add_projection("s", "n", [0], [0], 100, 1)
    # step 0: u = (8388607*4095)>>12 = 8386559; step 1: (8386559*4095)>>12 = 8384511 + 100<<6
    # = 8390911 > 2**23 -> 8390911 - 2**24 = -8386305 (one conditional wrap, not modular)
    u1 = (8386559 * 4095 >> 12) + 6400 - 2**24
    r = check_against_lava([net], 2)[0]
    assert r.u["n"][0] == u1 == -8386305


def test_input_beyond_int32_wraps_like_lava():
    """1100 synapses x 255 << 7 = 35.9M; << 6 overflows int32 in Lava's LIF (left_shift of int32)."""
    n = 1100
    net = _one(du=4095)
    net.add_spike_source("s", [[0]] * n)
    net.add_projection("s", "n", np.arange(n), np.zeros(n), 255, 1, attrs={"weight_exp": 7})
    a = (n * 255) << 7
    wrapped = ((a << 6) + 2**31) % 2**32 - 2**31
    u = wrapped - 2**24 if wrapped > 2**23 else (wrapped + 2**24 if wrapped <= -(2**23) else wrapped)
    r = check_against_lava([net], 2)[0]
    assert r.u["n"][0] == u


def test_v_saturates_both_ways():
    pos = _one("pos", bias_mant=4095, bias_exp=7, vth=2**17 - 1)        # 524160/step
    neg = _one("neg", bias_mant=-4096, bias_exp=7, vth=2**17 - 1)      # -524288/step
    runs = check_against_lava([pos, neg], 40)
    assert runs[1].v["n"][0] == -(2**23 - 1)      # clipped at -(2**23 - 1), never -2**23
    # +: 16 steps reach 8386560 <= 8388544 = vth << 6; the 17th clips to 8388607 > vth << 6: spike
    assert np.flatnonzero(runs[0].spikes["n"][:, 0]).tolist()[:2] == [16, 33]


def test_du_4095_clears_and_du_0_still_decays():
    clear = _one("clear", du=4095, u_init=1000)
    slow = _one("slow", du=0, u_init=4096)
    runs = check_against_lava([clear, slow], 3)
    assert runs[0].u["n"][0] == 0
    assert runs[1].u["n"][0] == 4093  # 4096 -> 4095 -> 4094 -> 4093: (4096 - (0 + 1)) / 4096


def test_odd_weights_in_mixed_mode_round_down_and_warn():
    net = _one("odd", du=4095)
    net.add_spike_source("s", [[0], [2], [4], [6]])
    proj = net.add_projection("s", "n", [0, 1, 2, 3], [0, 0, 0, 0], [3, -3, 1, -1], 1,
                              name="odd_w")
    with pytest.warns(LoihiWeightWarning):
        np.testing.assert_array_equal(Loihi2Mode().synapse_values(proj), [2, -4, 0, -2])
    with pytest.warns(LoihiWeightWarning, match=r"'odd_w'.*mixed.*changes 4 of 4 weights"):
        Simulation(net, Loihi2Mode()).run(1)
    r = check_against_lava([net], 8)[0]
    assert r.u["n"][0] == -2 << 6


def test_legal_weights_do_not_warn():
    net = _one("legal")
    net.add_spike_source("s", [[0]])
    net.add_projection("s", "n", [0, 0], [0, 0], [254, -256], 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", LoihiWeightWarning)
        Simulation(net, Loihi2Mode()).run(2)


def test_negative_exp_shifts_each_delay_bucket_separately():
    """Two spikes emitted at different steps arriving together: floor(3/4) + floor(3/4) = 0 in Lava
    (DelayDense shifts each step's per-delay sum), not floor(6/4) = 1; emitted together with the
    same delay they form one sum: 6 >> 2 = 1."""
    apart = _one("apart", du=4095)
    apart.add_spike_source("s", [[0], [1]])
    apart.add_projection("s", "n", [0, 1], [0, 0], [3, 3], [4, 3], attrs={"weight_exp": -2})
    together = _one("together", du=4095)
    together.add_spike_source("s", [[0], [0]])
    together.add_projection("s", "n", [0, 1], [0, 0], [3, 3], [4, 4], attrs={"weight_exp": -2})
    runs = check_against_lava([apart, together], 5)  # arrival at step 4 == the last step
    assert runs[0].u["n"][0] == 0
    assert runs[1].u["n"][0] == 1 << 6


def test_delay_above_64_is_rejected():
    net = _one("far")
    net.add_spike_source("s", [[0]])
    net.add_projection("s", "n", [0], [0], 1, 65)
    with pytest.raises(ModelError, match="delays must be 1..64"):
        Simulation(net, Loihi2Mode())


def test_mode_is_registered():
    assert MODES["loihi2"] is Loihi2Mode


def test_packing_keeps_negative_exp_projections_onto_one_population_apart():
    """Regression (found by the property test): the packed lowering put two weight_exp = -3 projections
    into lif1 into one Lava process, which floor-shifts their summed input once instead of each
    sum separately. Ours, the literal Lava network and the packed one must all agree."""
    net = Network(name="negexp")
    net.add_population("lif0", 2, "loihi2_lif", {"du": 0, "dv": 0, "vth": 0, "bias_mant": 1, "bias_exp": 0})
    net.add_population("lif1", 5, "loihi2_lif", {"du": 0, "dv": 0, "vth": 0, "bias_mant": 0, "bias_exp": 0})
    e0, e3 = {"weight_exp": 0, "num_weight_bits": 8}, {"weight_exp": -3, "num_weight_bits": 8}
    net.add_projection("lif0", "lif0", [1, 1], [0, 1], [2, 13], 1, name="a", attrs=e0)
    net.add_projection("lif1", "lif1", [1, 1, 2, 3, 3], [1, 3, 0, 0, 1], [11, 6, 6, -4, 12], 1, name="b", attrs=e3)
    net.add_projection("lif0", "lif1", [0, 1, 1], [1, 1, 3], [-13, 13, 10], 1, name="c", attrs=e3)
    packed = check_against_lava([net], 12)[0]
    literal = run_lava(net, 12, pack=False)
    np.testing.assert_array_equal(packed.spikes["lif1"], literal.spikes["lif1"])
