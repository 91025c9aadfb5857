"""Place recognition (Hussaini et al. 2023) at CI scale: 50 places, 2 modules of 25 places.

The expensive part (training + calibration + query inference + deployment check) runs once per
module in the `experiment` fixture (~20 s of CPU once numba's cache is warm).
"""
from __future__ import annotations

import numpy as np
import pytest

from neurocompile.ir import validate_network
from neurocompile.models.place_recognition import build, routes
from neurocompile.models.place_recognition.evaluate import (format_table, metrics, pr_auc,
                                                            recall_at_n, run_experiment)
from neurocompile.models.place_recognition.train import (HYPERACTIVE_GRID, SNNConfig,
                                                         TrainedEnsemble)

CI_PLACES = 50
CI_EPOCHS = 20


# ----- the route generator -----------------------------------------------------------------------
def test_world_and_traverses_are_deterministic_per_seed():
    a, b, c = routes.make_world(30, seed=3), routes.make_world(30, seed=3), routes.make_world(30, seed=4)
    for la, lb in zip(a.layers, b.layers):
        assert np.array_equal(la.mat, lb.mat) and np.array_equal(la.shade, lb.shade)
    assert any(not np.array_equal(la.mat, lc.mat) for la, lc in zip(a.layers, c.layers))
    t1 = routes.render_traverse(a, "spring_evening", seed=5)
    t2 = routes.render_traverse(b, "spring_evening", seed=5)
    t3 = routes.render_traverse(a, "spring_evening", seed=6)
    assert t1.images.shape == (30, 28, 28) and t1.images.dtype == np.uint8
    assert np.array_equal(t1.images, t2.images)
    assert not np.array_equal(t1.images, t3.images)        # other viewpoint jitter and noise
    sub = routes.render_traverse(a, "spring_evening", seed=5, places=[4, 17])
    assert np.array_equal(sub.images, t1.images[[4, 17]])  # a subset renders like the full traverse


def test_appearance_change_changes_pixels_but_places_stay_distinct():
    world = routes.make_world(40, seed=0)
    ref = routes.render_traverse(world, "summer_day", seed=1)
    ref2 = routes.render_traverse(world, "summer_day", seed=2)
    qry = routes.render_traverse(world, "spring_evening", seed=3)
    change = np.abs(qry.grey - ref.grey).mean()
    same_cond = np.abs(ref2.grey - ref.grey).mean()
    assert change > 0.05 and change > 1.5 * same_cond     # lighting/season change moves pixels
    # Season changes the greyscale structure, not only a global intensity map.
    corr = [np.corrcoef(q.ravel(), r.ravel())[0, 1] for q, r in zip(qry.grey, ref.grey)]
    assert np.median(corr) < 0.95
    # Places are distinct: under the same condition (other viewpoint jitter and noise) an image
    # is mostly closer to its own place than to any place 10 or more steps away.
    d = np.abs(ref2.images[:, None].astype(float) - ref.images[None].astype(float)).mean(axis=(2, 3))
    far = np.abs(np.subtract.outer(np.arange(40), np.arange(40))) >= 10
    closer = np.diag(d) < np.where(far, d, np.inf).min(axis=1)
    assert closer.mean() >= 0.7, closer.mean()


def test_patch_normalisation():
    flat = np.full((28, 28), 0.3)
    assert np.all(routes.patch_normalise(flat) == 127)    # zero-variance patches -> 0 -> 127
    rng = np.random.default_rng(0)
    img = rng.random((2, 28, 28))
    out = routes.patch_normalise(img)
    assert out.shape == (2, 28, 28) and out.dtype == np.uint8
    # Invariant to a global brightness/contrast change (what patch normalisation is for).
    assert np.array_equal(routes.patch_normalise(3.0 * img + 0.2), out)
    # Centre pixel by hand: z-score in its 7 x 7 neighbourhood, clipped to [-1, 1].
    p = img[0, 10:17, 10:17]
    z = np.clip((img[0, 13, 13] - p.mean()) / p.std(), -1, 1)
    assert out[0, 13, 13] == np.uint8(255 * (1 + z) / 2)


# ----- metrics -----------------------------------------------------------------------------------
def test_metrics_on_known_cases():
    truth = np.arange(4)
    perfect = np.eye(4)
    assert recall_at_n(perfect, truth, (1, 2)) == {1: 1.0, 2: 1.0}
    assert pr_auc(perfect, truth) == pytest.approx(1.0)
    wrong = np.roll(np.eye(4), 1, axis=1)
    assert recall_at_n(wrong, truth, (1,))[1] == 0.0
    assert pr_auc(wrong, truth) == pytest.approx(0.0)
    # Half right; the confident ones right: precision stays 1 up to recall 0.5.
    s = np.array([[0.9, 0, 0, 0], [0, 0.8, 0, 0], [0, 0, 0, 0.2], [0.1, 0, 0, 0]])
    m = metrics(s, truth)
    assert m["R@1"] == 0.5 and m["PR-AUC"] == pytest.approx(0.5)


# ----- the experiment at CI scale ----------------------------------------------------------------
@pytest.fixture(scope="module")
def experiment():
    return run_experiment(CI_PLACES, 25, seed=0, cfg=SNNConfig(epochs=CI_EPOCHS), single=False,
                          deploy_check=4, boards=("spinn-5", "loihi2-oheo-gulch"), board_queries=25,
                          log=lambda s: None)


def test_recall_well_above_chance_and_against_sad(experiment):
    rows, chance = experiment["rows"], 1.0 / CI_PLACES
    snn, sad = rows["Modular SNN ensemble, regularised"], rows["SAD"]
    print("\n" + format_table(experiment))
    assert experiment["modules"] == 2
    assert sad["R@1"] >= 10 * chance
    assert snn["R@1"] >= 10 * chance
    assert snn["R@5"] >= snn["R@1"]
    # The baseline check that can fail: the SNN must reach a good fraction of SAD.
    assert snn["R@1"] >= 0.6 * sad["R@1"], (snn, sad)
    assert 0.0 <= snn["PR-AUC"] <= 1.0 and 0.0 <= sad["PR-AUC"] <= 1.0


def test_regularisation_ablation(experiment):
    rows = experiment["rows"]
    reg, noreg = rows["Modular SNN ensemble, regularised"], rows["Modular SNN ensemble, no regularisation"]
    cal = reg["calibration"]
    assert cal["grid"] == list(HYPERACTIVE_GRID)
    assert reg["hyperactive_threshold"] == cal["chosen"] and noreg["hyperactive_threshold"] == 0
    # tau is chosen on the calibration traverse: never worse there than no regularisation.
    assert max(cal["recall@1"]) == cal["recall@1"][cal["grid"].index(cal["chosen"])]
    assert max(cal["recall@1"]) >= cal["recall@1"][0]
    assert 0 <= reg["removed_neurons"] < reg["assigned_neurons"]
    for r in (reg, noreg):
        assert 0.0 <= r["R@1"] <= 1.0


def test_deployed_network_agrees_with_numpy_inference(experiment):
    d = experiment["deploy"]
    assert d["queries"] == 4
    # Same input spike trains: the IR network in the float simulator computes exactly what the
    # numpy inference computes.
    assert d["identical_counts"] == d["queries"] and d["agreement_matched"] == 1.0
    # Independent Poisson draws: the same top-1 place on most queries.
    assert d["agreement_independent"] >= 0.5, d["per_query"]
    assert d["network"]["populations"] == 6


def test_compiled_for_each_board_the_network_keeps_most_of_its_float_recall(experiment):
    b = experiment["boards"]
    assert b["queries"] == 25
    rows = b["rows"]
    fl = rows["SNN float"]
    assert fl["R@1"] >= 5 / CI_PLACES
    for label in ("SNN on spinn-5 (spinnaker)", "SNN on loihi2-oheo-gulch (loihi2)"):
        row = rows[label]
        assert row["R@1"] >= 0.6 * fl["R@1"], (label, row, fl)
        assert row["top1_agreement_with_float"] >= 0.5, (label, row)
        assert row["cores"] >= 4       # 2 modules x (input, exc, inh) at least


def test_build_entry_point_validates_and_caches(tmp_path):
    net = build(n_places=25, places_per_module=25, query=3, epochs=3, cache_dir=str(tmp_path))
    validate_network(net)
    assert set(net.populations) == {"m0_input", "m0_exc", "m0_inh"}
    exc = net.populations["m0_exc"]
    assert exc.model == "lif_curr_exp" and np.ndim(exc.params["v_thresh"]) == 1   # per neuron
    assert net.populations["m0_input"].model == "poisson"
    meta = net.metadata["place_recognition"]
    assert meta["true_place"] == 3 and meta["modules"] == [0]
    w = net.projections["m0_input->exc"]
    assert np.all(w.weight > 0) and w.receptor == "excitatory"
    inh = net.projections["m0_inh->exc"]
    assert np.all(inh.weight < 0) and not np.any(inh.pre_idx == inh.post_idx)
    files = list(tmp_path.glob("place_recognition-*.npz"))
    assert len(files) == 1
    again = build(n_places=25, places_per_module=25, query=3, epochs=3, cache_dir=str(tmp_path))
    assert np.array_equal(again.projections["m0_input->exc"].weight, w.weight)
    ens = TrainedEnsemble.load(files[0])
    assert ens.n_modules == 1 and ens.assignments.shape == (1, 400)
    with pytest.raises(ValueError):
        build(n_places=25, query=25, epochs=1)
    with pytest.raises(ValueError):
        build(n_places=25, module=3, epochs=1)
