"""`neurocompile diff`: the measures on hand-made rasters, and the command on real runs
(same seed twice, float vs spinnaker, mismatched inputs) with its exit codes."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from cli_helpers import assert_clean_failure, run_cli
from neurocompile.report.diff import compare_population


def _pop(pairs):
    steps = np.array([s for s, _ in pairs], dtype=np.int64)
    ids = np.array([n for _, n in pairs], dtype=np.int64)
    return steps, ids


def test_identical_rasters():
    a = _pop([(1, 0), (5, 2), (9, 1)])
    d = compare_population("p", 3, a, a, 20, 1.0)
    assert (d.identical, d.within_one, d.correlation, d.first_step, d.rate_error_hz) == (1.0, 1.0, 1.0, None, 0.0)


def test_one_step_shift_is_not_identical_but_within_one_step():
    a = _pop([(3, 0), (7, 1), (12, 1)])
    b = _pop([(4, 0), (6, 1), (12, 1)])
    d = compare_population("p", 2, a, b, 20, 1.0)
    assert d.identical == pytest.approx(1 / 3)
    assert d.within_one == 1.0
    assert (d.first_step, d.first_neuron) == (3, 0)
    assert d.correlation == pytest.approx(1.0)


def test_shift_never_crosses_to_the_next_neuron():
    # neuron 0 at the last step and neuron 1 at step 0 are far apart, not one step
    a = _pop([(9, 0)])
    b = _pop([(0, 1)])
    d = compare_population("p", 2, a, b, 10, 1.0)
    assert d.identical == 0.0 and d.within_one == 0.0
    assert (d.first_step, d.first_neuron) == (0, 1)


def test_extra_spikes_and_rates():
    a = _pop([(1, 0), (2, 0), (3, 0), (4, 1)])
    b = _pop([(1, 0), (4, 1)])
    d = compare_population("p", 2, a, b, 100, 1.0)  # 0.1 s
    assert d.identical == 0.5 and d.within_one == 0.5
    assert d.rate_a_hz == pytest.approx(4 / (2 * 0.1)) and d.rate_error_hz == pytest.approx(10.0)
    assert (d.first_step, d.first_neuron) == (2, 0)


def test_silent_populations_agree_and_one_silent_side_has_no_correlation():
    none = _pop([])
    assert compare_population("p", 4, none, none, 10, 1.0).identical == 1.0
    d = compare_population("p", 4, none, _pop([(2, 1)]), 10, 1.0)
    assert d.identical == 0.0 and d.correlation is None


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("diff")
    assert run_cli("compile", "ca3", "-o", root / "c").exit_code == 0
    for name, extra in (("a", []), ("b", [])):
        res = run_cli("simulate", root / "c", "--steps", "100", "-o", root / name, *extra)
        assert res.exit_code == 0, res.output
    res = run_cli("simulate", "ca3", "--mode", "float", "--steps", "100", "-o", root / "float")
    assert res.exit_code == 0, res.output
    return root


def test_same_run_twice_exits_0(runs):
    res = run_cli("diff", runs / "a", runs / "b")
    assert res.exit_code == 0, res.output
    assert "identical: every spike" in res.output


def test_float_vs_spinnaker_differs_and_names_the_first_divergence(runs):
    from neurocompile.report.diff import diff_runs, first_divergence
    from neurocompile.report.runs import load_run

    res = run_cli("diff", runs / "a", runs / "float")
    assert res.exit_code == 1, res.output
    # the first divergence printed is the earliest differing spike, found here independently
    za, zb = np.load(runs / "a" / "spikes.npz"), np.load(runs / "float" / "spikes.npz")
    earliest = None
    for key in za.files:
        if not key.endswith("/steps"):
            continue
        pop = key[:-len("/steps")]
        sa = set(zip(za[key].tolist(), za[pop + "/neurons"].tolist()))
        sb = set(zip(zb[key].tolist(), zb[pop + "/neurons"].tolist()))
        for step, n in sorted(sa ^ sb)[:1]:
            if earliest is None or step < earliest[0]:
                earliest = (step, n, pop)
    assert earliest is not None, "float and spinnaker ca3 runs were expected to differ"
    first = first_divergence(diff_runs(load_run(runs / "a"), load_run(runs / "float")))
    assert (first.first_step, first.first_neuron) == earliest[:2]
    assert f"step {earliest[0]}" in res.output and f"neuron {earliest[1]}" in res.output
    worst = max(1 - d.identical for d in diff_runs(load_run(runs / "a"), load_run(runs / "float")))
    assert run_cli("diff", runs / "a", runs / "float", "--tolerance", repr(worst)).exit_code == 0
    assert run_cli("diff", runs / "a", runs / "float", "--tolerance", f"{worst * 0.9:.6f}").exit_code == 1


def test_a_planted_single_spike_is_found_where_it_was_planted(runs, tmp_path):
    """One extra spike in a copy of run a: diff names its population, neuron and step exactly."""
    planted = tmp_path / "planted"
    shutil.copytree(runs / "a", planted)
    z = dict(np.load(planted / "spikes.npz"))
    sizes = {p["name"]: p["size"] for p in json.loads((planted / "summary.json").read_text())["populations"]}

    def free_slot(pop):
        # the population's last spiking step (no earlier difference can exist), at a neuron
        # that did not spike then; None when every neuron of the population spiked there
        steps, neurons = z[pop + "/steps"], z[pop + "/neurons"]
        step = int(steps.max())
        free = sorted(set(range(sizes[pop])) - set(neurons[steps == step].tolist()))
        return (step, free[0]) if free else None

    pop, (step, neuron) = next((p, s) for p in sizes if z.get(p + "/steps") is not None
                               and z[p + "/steps"].size and (s := free_slot(p)) is not None)
    steps, neurons = z[pop + "/steps"], z[pop + "/neurons"]
    order = np.lexsort((np.append(neurons, neuron), np.append(steps, step)))
    z[pop + "/steps"] = np.append(steps, step).astype(steps.dtype)[order]
    z[pop + "/neurons"] = np.append(neurons, neuron).astype(neurons.dtype)[order]
    np.savez(planted / "spikes.npz", **z)
    res = run_cli("diff", runs / "a", planted)
    assert res.exit_code == 1, res.output
    assert f"{pop}" in res.output and f"neuron {neuron}" in res.output and f"step {step}" in res.output
    from neurocompile.report.diff import diff_runs, first_divergence
    from neurocompile.report.runs import load_run

    first = first_divergence(diff_runs(load_run(runs / "a"), load_run(planted)))
    assert (first.name, first.first_step, first.first_neuron) == (pop, step, neuron)


def _edit_summary(src, dst, change, spikes=None):
    shutil.copytree(src, dst)
    s = json.loads((dst / "summary.json").read_text())
    change(s)
    (dst / "summary.json").write_text(json.dumps(s))
    if spikes is not None and spikes.exists():
        shutil.copy(spikes, dst / "spikes.npz")
    return dst


def test_mismatched_runs_are_one_error_line_with_exit_2(runs, tmp_path):
    def resize(s):
        s["populations"][1]["size"] += 1

    def redt(s):
        s["dt_ms"] = 0.1

    def rename(s):
        old = s["populations"][0]["name"]
        s["populations"][0]["name"] = "renamed"
        with np.load(runs / "b" / "spikes.npz") as z:
            arrays = {k.replace(f"{old}/", "renamed/", 1) if k.startswith(f"{old}/") else k: z[k] for k in z.files}
        np.savez(tmp_path / "renamed.npz", **arrays)

    def lengthen(s):
        s["steps"] = 200

    cases = [(resize, "neurons in"), (redt, "different timesteps"), (rename, "different populations"),
             (lengthen, "different lengths")]
    for i, (change, words) in enumerate(cases):
        other = _edit_summary(runs / "b", tmp_path / f"x{i}", change, tmp_path / "renamed.npz")
        (tmp_path / "renamed.npz").unlink(missing_ok=True)
        res = run_cli("diff", runs / "a", other)
        assert_clean_failure(res, words, code=2)
    assert_clean_failure(run_cli("diff", runs / "a", runs / "c"), "no simulation output", code=2)
    assert_clean_failure(run_cli("diff", runs / "a", tmp_path / "missing"), "not a directory", code=2)
    bad = tmp_path / "bad"
    shutil.copytree(runs / "b", bad)
    (bad / "spikes.npz").write_bytes(b"not a zip")
    assert_clean_failure(run_cli("diff", runs / "a", bad), "spikes.npz", code=2)
    assert run_cli("diff", runs / "a", runs / "b", "--tolerance", "2").exit_code == 2


def test_help_documents_tolerance_and_exit_codes():
    res = run_cli("diff", "--help")
    assert res.exit_code == 0
    assert "--tolerance" in res.output and "Exit code: 0" in res.output and "Example" in res.output
