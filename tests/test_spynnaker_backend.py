"""The `spynnaker` backend: our plan applied by sPyNNaker 1!7.4.1 on a virtual SpiNN-5, read back.

Each network runs once (module fixtures) in a subprocess with a private sPyNNaker home under
pytest's tmp directory (``SpynnakerEnv``: config under XDG_CONFIG_HOME, HOME pointed inside it,
bounded by a timeout). What sPyNNaker generated is read back from its data-spec database (the
decode of tests/test_spinnaker_weight_scaling.py, in backends/spynnaker/readback.py) and compared
synapse by synapse with our quantized network. sPyNNaker missing is a failure, not a skip.
"""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import re

import numpy as np
import pytest

from neurocompile.boards import load_board
from neurocompile.compiler import compile_network
from neurocompile.errors import ModelError, PluginError
from neurocompile.ir.network import Network, STDPRule
from neurocompile.plugins import check_backend, get_backend

pytestmark = pytest.mark.spinnaker

TIMEOUT_S = 600


def _require_spynnaker():
    missing = [m for m in ("spynnaker", "pyNN") if importlib.util.find_spec(m) is None]
    if missing:
        pytest.fail(f"{missing} not importable: sPyNNaker 1!7.4.1 and PyNN 0.13 are declared "
                    "dependencies (pip install -e '.[all]')", pytrace=False)


def _run(compiled, out_dir, steps=30, **options):
    _require_spynnaker()
    backend = get_backend("spynnaker")
    check_backend(backend, compiled)
    runner = backend.build(compiled, {"out_dir": out_dir, "timeout_s": TIMEOUT_S, "map_only": True, **options})
    result = runner.run(steps)
    return runner, result


# ------------------------------------------------------------------------------ synfire, METIS order
@pytest.fixture(scope="module")
def synfire_run(tmp_path_factory):
    from neurocompile.models.synfire import build

    net = build(n_groups=10, group_size=100, fan_in=30)
    c = compile_network(net, load_board("spinn-5"),
                        options={"max_neurons_per_core": 64, "partition_method": "metis"})
    out = tmp_path_factory.mktemp("synfire")
    runner, result = _run(c, out, own_placer=True)  # also sPyNNaker alone, same output directory
    return c, runner, result, out


def test_synfire_weights_bit_equal(synfire_run):
    c, runner, _, _ = synfire_run
    m = runner.mapping
    assert set(m["weights"]) == set(c.network.projections)
    for name, w in m["weights"].items():
        assert w["n_ours"] == c.network.projections[name].n_synapses > 0
        assert w["n_spynnaker"] == w["n_ours"], (name, w)
        assert w["equal"], (name, w)
    assert m["weights_equal"]
    # the forced shifts are the ones sPyNNaker wrote into every synapse core
    for pop, shifts in m["ours"]["ring_buffer_shifts"].items():
        cores = m["spynnaker"]["synaptic_cores"][pop]
        assert cores and all(core["ring_buffer_shifts"][:2] == shifts for core in cores)


def test_synfire_plan_applied(synfire_run):
    """Slices (after renumbering in our METIS order) and the chip of every slice are ours."""
    c, runner, _, out = synfire_run
    spec = json.loads((out / "spynnaker" / "network.json").read_text())
    chain = next(p for p in spec["populations"] if p["name"] == "chain")
    assert chain["perm"] is not None, "METIS order should make a non-identity permutation"
    assert chain["max_atoms_per_core"] == 63
    m = runner.mapping
    for pop, rows in m["ours"]["populations"].items():
        theirs = sorted((r["lo"], r["hi"], r["x"], r["y"]) for r in m["spynnaker"]["populations"][pop])
        assert [(r["lo"], r["hi"], r["x"], r["y"]) for r in rows] == theirs, pop
    assert m["spynnaker"]["chips_used"] == c.placements.chips_used == 2
    slice_diffs = [d for d in m["differences"] if "slice" in d or "chips used" in d or "shifts" in d
                   or "projection" in d]
    assert slice_diffs == []
    assert (out / "spynnaker" / "mapping.json").is_file()
    unc, comp = (m["spynnaker"][k] for k in ("routing_entries_uncompressed", "routing_entries_compressed"))
    assert unc and set(comp) == set(unc) and all(0 < comp[c] <= unc[c] for c in unc), (unc, comp)
    # every remaining difference is listed: routing entries, where PACMAN's tables hold drop entries
    # (no core, no link) for slices of a population whose tree reaches a chip without their targets;
    # the rest of each table is ours after the same merging (docs/spynnaker-backend.md)
    assert all(d.startswith(("routing entries", "application cores")) for d in m["differences"]), m["differences"]
    ours_rt, drop = m["ours"]["routing_entries"], m["spynnaker"]["routing_entries_drop"]
    assert set(unc) == set(ours_rt) and sum(drop.values()) > 0, (ours_rt, unc, drop)
    # without its drop entries PACMAN's table is never larger than ours (its application-level
    # trees give more slices the same route, so it merges at least as much) ...
    assert all(unc[k] - drop.get(k, 0) <= ours_rt[k] for k in unc), (ours_rt, unc, drop)
    # ... and on the chip holding the first slices the difference is exactly the drop entries
    assert unc["0,0"] - drop["0,0"] == ours_rt["0,0"], (ours_rt, unc, drop)


def test_home_untouched_and_reports_inside(synfire_run):
    _, _, _, out = synfire_run
    env = out / "spynnaker" / "env"
    assert (env / "xdg_config" / ".spynnaker.cfg").is_file()
    assert list((env / "home").iterdir()) == []  # HOME pointed here: nothing written
    assert (env / "reports").is_dir() and any((env / "reports").iterdir())
    cfg = (env / "xdg_config" / ".spynnaker.cfg").read_text()
    assert "virtual_board = True" in cfg and "version = 5" in cfg


def test_own_placer_comparison(synfire_run):
    """Our plan and sPyNNaker alone on the same network: our traffic model on what each placed."""
    c, runner, _, out = synfire_run
    runs = runner.mapping["own_placer"]
    ours = runs["our_model_of_our_plan"]
    # the model applied to our placement is the placement pass's own objective
    assert ours["traffic"]["hop_weighted_spikes_per_s"] == pytest.approx(c.placements.cost)
    # sPyNNaker put every core where we said: same traffic on its readback
    assert runs["our_plan"]["traffic"] == pytest.approx(ours["traffic"])
    assert runs["our_plan"]["chips_used"] == ours["chips_used"]
    alone = runs["spynnaker_alone"]
    assert alone["weights_equal"]  # forced shifts hold whatever the partition
    assert alone["cores_by_kind"]["population"] < runs["our_plan"]["cores_by_kind"]["population"]  # 256/core
    assert (out / "spynnaker_own_placer" / "mapping.json").is_file()
    report = json.loads((out / "report.json").read_text())
    assert report["spynnaker"]["own_placer"] == json.loads(json.dumps(runs))


def _check_report_holds_both_plans(c, runner, out):
    """report.json of the output directory: our plan (compile report) and sPyNNaker's, the weight
    check per projection and the differences, readable by `neurocompile report`."""
    from neurocompile.outdir import OUTPUT_MARKER
    from neurocompile.report.build import read_report

    report = read_report(out)  # the report's own checks pass
    sp = report["spynnaker"]
    assert sp["status"] == "mapped" and sp["error"] is None
    assert report["placement"] == c.report["placement"]  # ours, as compiled
    assert {r["population"] for r in report["placement"]} == set(sp["spynnaker"]["populations"])
    for key in ("placements", "chips_used", "cores_by_kind", "routing_entries_uncompressed",
                "routing_entries_compressed", "synaptic_cores"):
        assert key in sp["spynnaker"], key
    assert sp["weights_equal"] is True and set(sp["weights"]) == set(c.network.projections)
    assert all(w["equal"] for w in sp["weights"].values())
    assert sp["differences"] == runner.mapping["differences"]
    assert (out / sp["files"]["matrices"]).is_file() and (out / "network.ncnet").is_file()
    assert "report.json" in json.loads((out / OUTPUT_MARKER).read_text())["files"]
    assert not [p for p in out.parent.iterdir() if p.name.endswith(".partial")]  # no stage left


def test_report_json_holds_both_plans(synfire_run):
    c, runner, _, out = synfire_run
    _check_report_holds_both_plans(c, runner, out)


# -------------------------------------------------- sources, Poisson, STDP, v recording, inhibition
def _mixed() -> Network:
    rng = np.random.default_rng(5)
    net = Network(name="mixed", dt_ms=1.0, seed=3)
    net.add_spike_source("src", [sorted(rng.choice(30, 3, replace=False).tolist()) for _ in range(30)])
    net.add_population("noise", 20, "poisson", {"rate": 20.0, "start": 2, "duration": 20})
    net.add_population("fast", 10, "poisson_fast", {"rate": 1500.0, "start": 0, "duration": 30})
    net.add_population("a", 50, "lif_curr_exp", {"tau_m": rng.uniform(10, 20, 50), "v_thresh": -55.0},
                       record=("spikes", "v"))
    net.add_population("b", 40, "lif_curr_exp", {"tau_syn_E": 3.0}, record=("spikes",))
    pre, post = np.nonzero(rng.random((30, 50)) < 0.3)
    net.add_projection("src", "a", pre, post, rng.uniform(0.5, 2.0, pre.size), rng.integers(1, 10, pre.size),
                       receptor="excitatory", name="src_a")
    pre, post = np.nonzero(rng.random((20, 50)) < 0.2)
    net.add_projection("noise", "a", pre, post, -rng.uniform(0.1, 0.6, pre.size), 2, receptor="inhibitory",
                       name="noise_a")
    net.add_projection("fast", "b", np.arange(10), np.arange(10), 0.05, 1, receptor="excitatory",
                       name="fast_b")
    pre, post = np.nonzero(rng.random((50, 40)) < 0.2)
    net.add_projection("a", "b", pre, post, rng.uniform(0.1, 0.4, pre.size), rng.integers(1, 5, pre.size),
                       receptor="excitatory", name="a_b_plastic",
                       plasticity=STDPRule(tau_plus=16.0, tau_minus=30.0, a_plus=0.01, a_minus=0.012,
                                           w_min=0.0, w_max=0.5))
    return net


@pytest.fixture(scope="module")
def mixed_run(tmp_path_factory):
    c = compile_network(_mixed(), load_board("spinn-5"), options={"max_neurons_per_core": 16})
    out = tmp_path_factory.mktemp("mixed")
    runner, result = _run(c, out)
    return c, runner, result, out


def test_mixed_static_plastic_poisson_weights_bit_equal(mixed_run):
    c, runner, _, out = mixed_run
    m = runner.mapping
    assert m["weights"]["a_b_plastic"]["equal"], m["weights"]["a_b_plastic"]
    assert all(w["equal"] and w["n_ours"] > 0 for w in m["weights"].values()), m["weights"]
    spec = json.loads((out / "spynnaker" / "network.json").read_text())
    q = next(q for q in spec["projections"] if q["name"] == "a_b_plastic")
    assert q["stdp"]["w_max"] == 0.5 and q["stdp"]["a_plus"] == 0.01
    a = next(p for p in spec["populations"] if p["name"] == "a")
    assert a["record"] == ["spikes", "v"] and isinstance(a["params"]["tau_m"], str)
    fast = next(p for p in spec["populations"] if p["name"] == "fast")   # sPyNNaker's own fast source
    assert fast["model"] == "poisson" and fast["params"]["rate"] == 1500.0
    # several cores (at most 16 neurons each), cut where ours are
    ours = [(r["lo"], r["hi"]) for r in m["ours"]["populations"]["a"]]
    assert len(ours) >= 4 and all(hi - lo < 16 for lo, hi in ours)
    assert [(r["lo"], r["hi"]) for r in m["spynnaker"]["populations"]["a"]] == ours


def test_virtual_board_result_is_empty_not_invented(mixed_run):
    _, _, result, _ = mixed_run
    assert result.mode == "spynnaker" and result.spikes == {}  # no hardware: no spikes claimed


# ----------------------------------------------------------------- the 7.4.1 delayed-synapse defect
def _delay_net() -> Network:
    """Two copies of one long-delay projection onto 200-neuron posts (32 in-core delay ticks at 200
    neurons per core): from a pre with fewer neurons per core than the post, and from one with as
    many."""
    rng = np.random.default_rng(11)
    net = Network(name="delays", dt_ms=1.0, seed=1)
    net.add_spike_source("pre_small", [[1]] * 40)
    net.add_spike_source("pre_same", [[1]] * 200)
    net.add_population("post_bad", 200, "lif_curr_exp")
    net.add_population("post_ok", 200, "lif_curr_exp")
    pre, post = np.nonzero(rng.random((40, 200)) < 0.06)
    d = rng.integers(1, 120, pre.size)
    w = rng.uniform(0.1, 0.5, pre.size)
    net.add_projection("pre_small", "post_bad", pre, post, w, d, receptor="excitatory", name="mislaid")
    net.add_projection("pre_same", "post_ok", pre, post, w, d, receptor="excitatory", name="control")
    return net


def _delay_compiled():
    return compile_network(_delay_net(), load_board("spinn-5"),
                           options={"max_neurons_per_core": {"pre_small": 10, "pre_same": 200,
                                                             "post_bad": 200, "post_ok": 200}})


def test_delay_defect_refused_with_projection_named():
    c = _delay_compiled()
    with pytest.raises(ModelError, match=r"projection 'mislaid'.*'pre_small' has 10 neurons per core but "
                                         r"'post_bad' 200") as e:
        get_backend("spynnaker").build(c, {})
    assert "control" not in str(e.value)


def test_delay_defect_reproduced(tmp_path):
    """Forced through, sPyNNaker writes the mis-laid projection's synapses with wrong delays (or
    drops them); the control with equal neurons per core is exact."""
    c = _delay_compiled()
    runner, _ = _run(c, tmp_path, allow_delay_defect=True)
    w = runner.mapping["weights"]
    assert w["control"]["equal"], w["control"]
    bad = w["mislaid"]
    assert not bad["equal"], bad
    assert bad["n_spynnaker"] != bad["n_ours"] or bad["n_delay_mismatch"] > 0
    print(f"\n[delay defect] mislaid: {bad}")
    assert any("NOT SAFE" in n and "mislaid" in n for n in runner.mapping["notes"])


def test_delay_defect_also_when_pre_has_more_neurons_per_core(tmp_path):
    """The opposite direction (pre 200 per core, post 100) is mis-laid too: the refusal covers
    every unequal pair, not only pre < post."""
    rng = np.random.default_rng(11)
    net = Network(name="d2", dt_ms=1.0, seed=1)
    net.add_spike_source("pre_big", [[1]] * 200)
    net.add_population("post", 200, "lif_curr_exp")
    pre, post = np.nonzero(rng.random((200, 200)) < 0.012)
    net.add_projection("pre_big", "post", pre, post, rng.uniform(0.1, 0.5, pre.size),
                       rng.integers(1, 200, pre.size), receptor="excitatory", name="p")
    c = compile_network(net, load_board("spinn-5"),
                        options={"max_neurons_per_core": {"pre_big": 200, "post": 100}})
    with pytest.raises(ModelError, match="projection 'p'.*'pre_big' has 200 neurons per core but 'post' 100"):
        get_backend("spynnaker").build(c, {})
    runner, _ = _run(c, tmp_path, steps=10, allow_delay_defect=True)
    w = runner.mapping["weights"]["p"]
    assert not w["equal"] and w["n_delay_mismatch"] > 0, w
    print(f"\n[delay defect, pre > post] {w}")


# --------------------------------------------- the 7.4.1 FromListConnector row-length defect
def _row_length_net() -> Network:
    """Pre neuron 0 sends 128 synapses into post core 0 (posts 0..127; 200 per core); 64 other pre
    neurons send one synapse each into core 1 and come first in the list."""
    net = Network(name="rows", dt_ms=1.0, seed=1)
    net.add_spike_source("pre", [[1]] * 100)
    net.add_population("post", 400, "lif_curr_exp")
    pre = np.concatenate([np.arange(1, 65), np.zeros(128, dtype=np.int64)])
    post = np.concatenate([200 + np.arange(1, 65), np.arange(128)])
    net.add_projection("pre", "post", pre, post, 0.2, 2, receptor="excitatory", name="rows")
    return net


@pytest.fixture(scope="module")
def row_length_compiled():
    return compile_network(_row_length_net(), load_board("spinn-5"),
                           options={"max_neurons_per_core": {"pre": 100, "post": 200}})


def test_row_length_defect_reproduced_with_unsorted_list(row_length_compiled, tmp_path):
    """7.4.1 sizes rows from a mis-grouped list (FromListConnector.__numpy_group splits the unsorted
    array at the sorted split points): in IR order pre 0's 128 synapses fall into two chunks of 64,
    the row is sized 64 and the rest is dropped without a warning."""
    runner, _ = _run(row_length_compiled, tmp_path, steps=5, sort_connections=False)
    w = runner.mapping["weights"]["rows"]
    assert w["n_ours"] == 192 and w["n_spynnaker"] < w["n_ours"], w
    print(f"\n[row-length defect, unsorted list] {w}")


def test_sorted_list_avoids_row_length_defect(row_length_compiled, tmp_path):
    runner, _ = _run(row_length_compiled, tmp_path, steps=5)
    w = runner.mapping["weights"]["rows"]
    assert w["equal"] and w["n_spynnaker"] == 192, w
    conns = np.load(tmp_path / "spynnaker" / "network.npz")["c0"]
    assert np.all(np.diff(conns[:, 0]) >= 0)


# ------------------------------------------------------------------------------ bundled models
# CI scale of tests/test_model_compile_matrix.py; one mapping per model (module fixture), each on
# a virtual SpiNN-5 (every model fits one board at this scale: asserted below).
MODELS = {
    "synfire": {},
    "ca3": {},
    "place_recognition": {"n_places": 25, "epochs": 3},
    "motion": {"n_movies": 2},
    "microcircuit": {"scale": 0.02},
}


def test_every_bundled_model_is_mapped():
    from neurocompile.plugins import model_entries

    assert set(MODELS) == set(model_entries()), "give the new model a CI-scale entry in MODELS"


@pytest.fixture(scope="module", params=list(MODELS))
def bundled_run(request, tmp_path_factory):
    from neurocompile.plugins import get_model

    name = request.param
    base = tmp_path_factory.mktemp(name)
    kwargs = dict(MODELS[name])
    if name == "place_recognition":
        kwargs["cache_dir"] = str(base / "cache")
    c = compile_network(get_model(name).build(**kwargs), load_board("spinn-5"), seed=1, target=name)
    runner, _ = _run(c, base / "out", steps=20)
    return c, runner, base / "out"


def test_bundled_model_maps_with_bit_equal_weights(bundled_run):
    c, runner, _ = bundled_run
    m = runner.mapping
    assert c.placements.chips_used <= c.board.n_chips  # one SpiNN-5 is enough at CI scale
    assert m["weights_equal"] and all(w["n_ours"] == w["n_spynnaker"] > 0 for w in m["weights"].values())
    assert m["spynnaker"]["chips_used"] == c.placements.chips_used
    # no difference but PACMAN's drop entries (empty routes for slices whose packets pass a chip
    # with no target; docs/spynnaker-backend.md): "... differ on N chip(s) ... on N of them the
    # difference is exactly PACMAN's drop entries"
    for d in m["differences"]:
        found = re.match(r"routing entries differ on (\d+) chip\(s\).*on (\d+) of them the difference is "
                         r"exactly PACMAN's drop entries", d)
        assert found and found.group(1) == found.group(2), d
    drop = m["spynnaker"].get("routing_entries_drop") or {}
    assert m["ours"]["routing_entries"] == {c: n - drop.get(c, 0)
                                            for c, n in m["spynnaker"]["routing_entries_uncompressed"].items()}


def test_bundled_model_report_holds_both_plans(bundled_run):
    _check_report_holds_both_plans(*bundled_run)


# ---------------------------------------------------------------------------------- export
def test_export_runs_without_neurocompile(tmp_path, mixed_run):
    c = mixed_run[0]
    files = get_backend("spynnaker").export(c, tmp_path / "out")
    d = tmp_path / "out" / "spynnaker"
    assert {f.name for f in files} >= {"run_pynn.py", "network.json", "network.npz"}
    from neurocompile.targets.spinnaker.spynnaker_env import make_spynnaker_env

    senv = make_spynnaker_env(tmp_path / "env")
    # neurocompile made unimportable in the child: any import of it fails
    boot = ("import sys, runpy; sys.modules['neurocompile'] = None; "
            f"sys.argv = [{str(d / 'run_pynn.py')!r}, '--steps', '20', '--spikes', "
            f"{str(tmp_path / 'spikes.npz')!r}]; runpy.run_path(sys.argv[0], run_name='__main__')")
    proc = senv.run([sys.executable, "-c", boot], timeout=TIMEOUT_S)
    assert proc.returncode == 0, proc.stderr[-4000:]
    with np.load(tmp_path / "spikes.npz") as z:
        assert bool(z["virtual_board"])
    assert list((senv.root / "home").iterdir()) == []


def test_a_loihi_compile_is_refused_before_any_subprocess():
    from neurocompile.models.synfire import build

    c = compile_network(build(n_groups=3, group_size=20, fan_in=5), load_board("loihi2-oheo-gulch"))
    with pytest.raises(PluginError, match="targets spinnaker.*number format 'loihi2'"):
        get_backend("spynnaker").build(c, {})


def test_simulate_on_a_virtual_board_says_nothing_ran(tmp_path):
    """`neurocompile simulate --backend spynnaker` on a virtual board: mapped, then a clear error,
    never a table of zero spikes."""
    proc = subprocess.run([sys.executable, "-m", "neurocompile.cli", "simulate", "synfire", "--board", "spinn-5",
                           "--backend", "spynnaker", "--steps", "20", "--param", "n_groups=3", "--param",
                           "group_size=20", "--param", "fan_in=5"],
                          capture_output=True, text=True, timeout=TIMEOUT_S, cwd=tmp_path,
                          env={**os.environ, "TMPDIR": str(tmp_path)})  # its work dir lands here
    assert proc.returncode != 0
    assert "virtual board runs nothing: no spikes" in proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr


def test_export_script_imports_no_neurocompile_at_top_level():
    src = (Path(__file__).parents[1] / "backends" / "spynnaker" / "pynn_script.py").read_text()
    top = [ln for ln in src.splitlines() if ln.startswith(("import ", "from "))]
    assert not any("neurocompile" in ln for ln in top), top


def test_spynnaker_refusal_is_one_line(tmp_path):
    """A network sPyNNaker refuses: its exception as one line, stderr kept in the output."""
    c = compile_network(_mixed(), load_board("spinn-5"), options={"max_neurons_per_core": 16})
    present = set(map(tuple, c.board.topology.chips))
    missing = next((x, y) for x in range(8) for y in range(8) if (x, y) not in present)
    off = c.slices.offset["b"]
    c.placements.chip[off:off + c.slices.n_slices_of("b")] = missing  # a chip SpiNN-5 does not have
    with pytest.raises(PluginError) as e:
        _run(c, tmp_path)
    msg = str(e.value)
    assert msg.startswith("sPyNNaker failed: ") and "\n" not in msg
    assert f"{missing[0]}, {missing[1]}" in msg, msg
    assert (tmp_path / "spynnaker" / "spynnaker_stderr.txt").is_file()
    sp = json.loads((tmp_path / "report.json").read_text())["spynnaker"]  # the output is whole
    assert sp["status"] == "failed" and sp["error"] == msg and sp["own_placer"] is None


if __name__ == "__main__":
    sys.exit(subprocess.call([sys.executable, "-m", "pytest", __file__, "-v"]))
