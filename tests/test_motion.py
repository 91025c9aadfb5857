"""HD-SNN motion model (models/motion): event generator, trained layer, pruning, deployment.

One CI-scale training (experiment.SCALES["ci"], ~10-20 s CPU) is shared by the module's tests.
"""
from __future__ import annotations

import numpy as np
import pytest

import skimage  # noqa: F401  (a declared dependency: missing it must fail, not skip)

from neurocompile.boards.registry import board_files, load_board  # noqa: E402
from neurocompile.errors import BoardError  # noqa: E402
from neurocompile.ir.validate import validate_network  # noqa: E402
from neurocompile.models.motion import deploy, events as ev, experiment, hdsnn as hd  # noqa: E402

SEED = 0


# ----------------------------------------------------------------------------------------------
# Event generator
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ev.STIMULUS_KINDS)
def test_events_are_deterministic_and_seeded(kind):
    a = ev.make_movie(kind, 4, 1, size=(24, 24), steps=25, seed=3, index=7)
    b = ev.make_movie(kind, 4, 1, size=(24, 24), steps=25, seed=3, index=7)
    c = ev.make_movie(kind, 4, 1, size=(24, 24), steps=25, seed=4, index=7)
    assert a.shape == (25, 2, 24, 24) and a.dtype == bool
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert 0.001 < a.mean() < 0.5  # a plausible DVS event density


def test_direction_changes_events_and_moves_them_the_right_way():
    # The same stimulus (same seed and index) in different directions gives different events ...
    movies = [ev.make_movie("texture", d, 2, size=(32, 32), steps=30, split="test", seed=1, index=5)
              for d in range(ev.N_DIRECTIONS)]
    for d in range(1, ev.N_DIRECTIONS):
        assert not np.array_equal(movies[0], movies[d])
    # ... and a single bar's events travel along the direction (y axis up, 12 directions).
    for d in (0, 3, 6, 9):
        rng = np.random.default_rng(0)
        movie = np.full((31, 32, 32), 0.5)
        theta = 2 * np.pi * d / ev.N_DIRECTIONS
        x, y = np.meshgrid(np.arange(32.0), -np.arange(32.0))
        for t in range(31):  # bar through the centre, moving 1 px/step
            s = (x - 15.5) * np.cos(theta) + (y + 15.5) * np.sin(theta) - (t - 15)
            movie[t] += 0.4 * (np.abs(s) < 1.5)
        e = ev.dvs_events(movie, ev.DVSParams(noise=0.0), rng)
        tt, _, rr, cc = np.nonzero(e)
        early, late = tt < 10, tt >= 20
        dx = cc[late].mean() - cc[early].mean()
        dy = -(rr[late].mean() - rr[early].mean())
        ang = np.degrees(np.arctan2(dy, dx)) % 360
        assert min(abs(ang - 30 * d), 360 - abs(ang - 30 * d)) < 10, (d, ang)


def test_dataset_is_balanced_and_splits_use_different_images():
    ds = ev.make_dataset(1, "train", size=(16, 16), steps=22, kinds=("texture",), seed=2)
    assert np.array_equal(np.sort(ds.labels), np.arange(ev.N_CLASSES))
    assert not set(ev.TRAIN_IMAGES) & set(ev.TEST_IMAGES)
    spikes = ev.to_spike_times(ds.events[0])
    assert len(spikes) == 2 * 16 * 16
    assert sum(len(s) for s in spikes) == int(ds.events[0].sum())


def test_symmetry_sharing_is_equivariant():
    rng = np.random.default_rng(1)
    shape = (21, 2, 5, 5)
    w = rng.standard_normal((ev.N_CLASSES, int(np.prod(shape))))
    b = rng.standard_normal(ev.N_CLASSES)
    ws, bs = hd.symmetrize(w, b, shape)
    ws2, _ = hd.symmetrize(ws, bs, shape)
    assert np.allclose(ws, ws2)
    layer = hd.HDSNNLayer(hd.LayerGeometry(kernel=5, stride=3), ws.reshape((-1,) + shape), bs)
    movie = ev.make_movie("texture", 1, 0, size=(20, 20), steps=24, index=1)  # (20-5) % 3 == 0
    z = layer.potentials(movie).sum(axis=(0, 1, 2))
    zr = layer.potentials(np.ascontiguousarray(hd.transform_kernel(movie, 1, 1))).sum(axis=(0, 1, 2))
    assert np.allclose(zr[hd.transform_label(np.arange(ev.N_CLASSES), 1, 1)], z, rtol=1e-4, atol=1e-3)


# ----------------------------------------------------------------------------------------------
# Trained layer (CI scale)
# ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ci():
    return experiment.run("ci", seed=SEED, simulate=True)


def _row(res, prefix):
    return next(r for r in res["rows"] if r["what"].startswith(prefix))


def test_hdsnn_beats_chance_and_the_no_delay_baseline(ci):
    full = _row(ci, "HD-SNN, delays")
    base = _row(ci, "no-delay baseline")
    chance36, chance12 = 1 / 36, 1 / 12
    assert full["acc36"] >= 5 * chance36, full
    assert full["acc12"] >= 3 * chance12, full
    assert full["acc36"] >= base["acc36"] + 0.10, (full, base)


def test_pruning_keeps_most_accuracy(ci):
    full = ci["pruning"][0]
    at20 = next(p for p in ci["pruning"] if p["keep"] == 0.2)
    assert at20["weights"] == pytest.approx(0.2 * full["weights"], rel=0.01)
    assert at20["acc36"] >= 0.7 * full["acc36"], ci["pruning"]
    dep = _row(ci, "deployable (analytic)")
    assert dep["acc36"] >= 0.7 * full["acc36"], (dep, full)


def test_deployed_network_matches_the_analytic_layer(ci):
    d = ci["deployment"]
    assert d["movies"] == 36
    assert 1 <= d["delay_min"] and d["delay_max"] <= 21
    assert d["agreement"] >= 0.9, d
    assert d["spiking_acc36"] >= 4 / 36, d


def test_build_returns_a_valid_network_that_fits_every_board(ci, tmp_path):
    from neurocompile.ir.fileformat import load_network, save_network
    from neurocompile.models.motion import build

    net = build(n_movies=3, seed=SEED)  # reuses the CI training (cached)
    validate_network(net)
    meta = net.metadata["motion"]
    src, out = net.populations["events"], net.populations["motion"]
    assert src.model == "spike_array" and src.size == 2 * 32 * 32
    assert net.populations["bias"].model == "spike_array" and net.populations["bias"].size == 1
    assert out.model == "lif_curr_exp" and out.size == 36 * meta["positions"][0] * meta["positions"][1]
    assert {"events->motion:exc", "events->motion:inh"} <= set(net.projections)
    assert set(net.projections) <= {"events->motion:exc", "events->motion:inh",
                                    "bias->motion:exc", "bias->motion:inh"}
    for proj in net.projections.values():
        sign = 1 if proj.receptor == "excitatory" else -1
        assert proj.name.endswith(proj.receptor[:3]) and np.all(sign * proj.weight > 0), proj.name
    kernel = [p for p in net.projections.values() if p.pre == "events"]
    delays = np.concatenate([p.delay for p in kernel])
    assert delays.min() >= 1 and delays.max() <= 21 and len(np.unique(delays)) > 10
    assert all(np.all(p.delay == 1) for p in net.projections.values() if p.pre == "bias")
    families = set()
    for name in board_files():  # fits in-core on every board: no delay extension needed
        try:
            board = load_board(name)
        except BoardError:  # a board file being edited elsewhere is not this model's concern
            continue
        assert board.delays.min_steps <= delays.min(), board.name
        # except Loihi 1, whose nengo-loihi model delivers in one step only: relays, within reach
        reach = board.delays.max_steps_extended if board.family == "loihi1" else board.delays.max_steps_in_core
        assert delays.max() <= reach, board.name
        families.add(board.family)
    assert {"spinnaker", "loihi2"} <= families, families
    kept = meta["weights_kept"] / meta["weights_total"]
    assert kept == pytest.approx(0.05, rel=0.01)
    sim = deploy.simulate(net)
    assert list(sim["decisions"]) == meta["analytic_decisions"]
    back = load_network(save_network(net, tmp_path / "motion.ncnet"))
    assert back.n_synapses == net.n_synapses and back.metadata["motion"] == meta
    with pytest.raises(ValueError):
        build(scale="nope")
