"""Issue 9: --param / --option values, TARGET resolution, --seed, core lower bounds.

Bad values give one `Error:` line naming the option, the value and what is allowed (never a
Python message such as "'<' not supported between 'str' and 'int'"), and no output directory.
"""
from __future__ import annotations

import json
import time

import numpy as np
import pytest

from cli_helpers import assert_clean_failure, assert_no_output_dir, run_cli
from neurocompile.ir import Network, load_network, save_network

SMALL = ["--param", "n_groups=2", "--param", "group_size=20", "--param", "fan_in=5"]


def _poisson_net(tmp_path, name="p.ncnet", n_in=1000, n_out=256, seed=11) -> str:
    net = Network(name="pois", seed=seed)
    net.add_population("in", n_in, "poisson", {"rate": 20.0})
    net.add_population("out", n_out, "lif_curr_exp")
    net.add_projection("in", "out", np.arange(n_out), np.arange(n_out), 0.5, 1, receptor="excitatory", name="in->out")
    return str(save_network(net, tmp_path / name))


BAD = {
    "int not a number": (lambda t: ["compile", "synfire", "--param", "n_groups=abc"],
                         ["model 'synfire'", "option n_groups", "must be an integer", "'abc'"]),
    "int given as float": (lambda t: ["compile", "synfire", "--param", "group_size=2.7"],
                           ["option group_size", "must be an integer", "'2.7'"]),
    "population size negative": (lambda t: ["compile", "synfire", "--param", "group_size=-5"],
                                 ["model 'synfire'", "group_size >= 1"]),
    "population size zero": (lambda t: ["compile", "synfire", "--param", "n_groups=0"], ["n_groups >= 2"]),
    "population size huge": (lambda t: ["compile", "synfire", "--param", "n_groups=100000"],
                             ["10,000,000 neurons", "at most"]),
    "bool not true/false": (lambda t: ["compile", "synfire", "--param", "inhibition=no"],
                            ["option inhibition", "must be true or false", "'no'"]),
    "bool as 0": (lambda t: ["compile", "synfire", "--param", "inhibition=0"], ["must be true or false", "'0'"]),
    "float nan": (lambda t: ["compile", "synfire", "--param", "weight_nA=nan"],
                  ["option weight_nA", "finite number", "'nan'"]),
    "float text": (lambda t: ["compile", "synfire", "--param", "weight_nA=heavy"],
                   ["option weight_nA", "must be a number", "'heavy'"]),
    "negative seed param": (lambda t: ["compile", "synfire", "--param", "seed=-3"], ["option seed", "'-3'"]),
    "negative epochs": (lambda t: ["compile", "place_recognition", "--param", "epochs=-1"],
                        ["model 'place_recognition'", "epochs must be in 1..10000", "-1"]),
    "place_recognition zero places": (lambda t: ["compile", "place_recognition", "--param", "n_places=0"],
                                      ["n_places", "1..100000"]),
    "motion negative size": (lambda t: ["compile", "motion", "--param", "size=-1"], ["size must be in 7..256", "-1"]),
    "motion size not int": (lambda t: ["compile", "motion", "--param", "n_movies=abc"],
                            ["option n_movies", "must be an integer", "'abc'"]),
    "ca3 huge": (lambda t: ["compile", "ca3", "--param", "n_cues=1000000"], ["n_cues <= 10000"]),
    "empty param name": (lambda t: ["compile", "synfire", "--param", "=3"], ["no name"]),
    "param on an ncnet": (lambda t: ["compile", _poisson_net(t), "--param", "dt_ms=0.1"],
                          ["--param ['dt_ms']", "not to the network file"]),
    "negative --seed": (lambda t: ["compile", "synfire", "--seed", "-1"], ["--seed", "-1"]),
    # compiler options
    "rate NaN": (lambda t: ["compile", _poisson_net(t), "--option", 'rates={"in": NaN}'],
                 ["compiler option rates", "NaN", "finite"]),
    "rate Infinity": (lambda t: ["compile", _poisson_net(t), "--option", 'rates={"in": -Infinity}'],
                      ["compiler option rates", "Infinity"]),
    "rate overflow": (lambda t: ["compile", _poisson_net(t), "--option", 'rates={"in": 1e999}'],
                      ["compiler option rates", "infinite"]),
    "negative Poisson rate": (lambda t: ["compile", _poisson_net(t), "--option", 'rates={"in": -5}'],
                              ["compiler option rates", "population 'in'", ">= 0 Hz", "-5"]),
    "negative rate in a list": (lambda t: ["compile", _poisson_net(t, n_in=2), "--option", 'rates={"in": [3, -1]}'],
                                ["population 'in'", ">= 0 Hz", "-1"]),
    "rate of unknown population": (lambda t: ["compile", _poisson_net(t), "--option", 'rates={"inn": 5}'],
                                   ["no population 'inn'", "in, out"]),
    "rate list of wrong length": (lambda t: ["compile", _poisson_net(t), "--option", 'rates={"in": [1, 2, 3]}'],
                                  ["population 'in' has 1,000 neurons", "3 rates"]),
    "rates not a mapping": (lambda t: ["compile", _poisson_net(t), "--option", "rates=5"],
                            ["compiler option rates", "{population: Hz}", "5"]),
    "rate a string": (lambda t: ["compile", _poisson_net(t), "--option", 'rates={"in": "fast"}'],
                      ["population 'in'", "'fast'"]),
    "workers zero": (lambda t: ["compile", "synfire", "--option", "workers=0"], ["workers", "integer >= 1", "0"]),
    "effort negative": (lambda t: ["compile", "synfire", "--option", "placement_effort=-1"],
                        ["placement_effort", "> 0", "-1"]),
    "neurons per core zero": (lambda t: ["compile", "synfire", "--option", 'max_neurons_per_core={"chain": 0}'],
                              ["max_neurons_per_core", "population 'chain'", "0"]),
    "partition method": (lambda t: ["compile", "synfire", "--option", "partition_method=fast"],
                         ["partition_method", "auto, contiguous, metis", "'fast'"]),
    "quantize not bool": (lambda t: ["compile", "synfire", "--option", "quantize=no"], ["quantize", "true or false"]),
    "simulate rate NaN": (lambda t: ["simulate", _poisson_net(t), "--steps", "5", "--option", 'rates={"in": NaN}'],
                          ["compiler option rates", "NaN"]),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_option_values_fail_cleanly(tmp_path, case):
    argv_fn, fragments = BAD[case]
    out = tmp_path / "out"
    res = run_cli(*argv_fn(tmp_path), "-o", str(out))
    err = assert_clean_failure(res, *fragments)
    for leak in ("not supported between", "negative dimensions", "Traceback", "object has no attribute"):
        assert leak not in err
    assert_no_output_dir(out)


@pytest.mark.parametrize("value,inhibition", [("false", False), ("False", False), ("TRUE", True), ("true", True)])
def test_booleans_accept_true_and_false_only(tmp_path, value, inhibition):
    out = tmp_path / "c"
    res = run_cli("compile", "synfire", *SMALL, "--param", f"inhibition={value}", "-o", str(out))
    assert res.exit_code == 0, res.output
    assert ("inhibitory" in load_network(out / "network.ncnet").populations) is inhibition


def test_valid_rates_reach_the_report(tmp_path):
    out = tmp_path / "c"
    res = run_cli("compile", _poisson_net(tmp_path), "--option", 'rates={"in": 0, "out": [2.5]}', "-o", str(out))
    assert res.exit_code == 0, res.output
    report = json.loads((out / "report.json").read_text())
    assert report["options"]["effective"]["rates"] == {"in": 0, "out": [2.5]}


# ------------------------------------------------------------------------------ TARGET resolution
def test_a_folder_named_like_a_model_does_not_hide_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for seed in ("1", "2"):
        res = run_cli("compile", "synfire", *SMALL, "--seed", seed, "-o", "synfire")
        assert res.exit_code == 0, res.output
        assert "warning" not in res.output
        assert json.loads((tmp_path / "synfire" / "report.json").read_text())["seed"] == int(seed)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["synfire"]


def test_a_file_named_like_a_model_is_ignored_with_a_warning_and_reachable_as_dot_slash(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _poisson_net(tmp_path, name="synfire.ncnet")
    (tmp_path / "synfire.ncnet").rename(tmp_path / "synfire")
    res = run_cli("compile", "synfire", *SMALL, "-o", "a")
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "is the model 'synfire'" in text and "./synfire" in text
    assert json.loads((tmp_path / "a" / "report.json").read_text())["network"]["name"] == "synfire"
    res = run_cli("compile", "./synfire", "-o", "b")
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "b" / "report.json").read_text())["network"]["name"] == "pois"


def test_a_missing_network_file_and_an_unknown_model_are_told_apart(tmp_path):
    assert_clean_failure(run_cli("compile", str(tmp_path / "net.ncnet")), "net.ncnet", "does not exist")
    assert_clean_failure(run_cli("compile", "synfyre"), "unknown model 'synfyre'", "synfire")


# -------------------------------------------------------------------------------------- seeds
@pytest.mark.parametrize("cmd", ["compile", "simulate"])
def test_seed_defaults_to_the_network_files_seed_and_is_recorded(tmp_path, cmd):
    path = _poisson_net(tmp_path, seed=11)
    extra = ["--steps", "5"] if cmd == "simulate" else []
    record = "report.json" if cmd == "compile" else "summary.json"
    for given, expected in ((None, 11), ("3", 3), ("0", 0)):
        out = tmp_path / f"o{given}"
        res = run_cli(cmd, path, *extra, *(["--seed", given] if given else []), "-o", str(out))
        assert res.exit_code == 0, res.output
        assert json.loads((out / record).read_text())["seed"] == expected
        if cmd == "compile":
            assert load_network(out / "network.ncnet").seed == expected


def test_model_seed_defaults_to_0_or_its_seed_param(tmp_path):
    for argv, expected in (([], 0), (["--param", "seed=5"], 5), (["--param", "seed=5", "--seed", "7"], 7)):
        out = tmp_path / f"o{expected}"
        res = run_cli("compile", "synfire", *SMALL, *argv, "-o", str(out))
        assert res.exit_code == 0, res.output
        assert json.loads((out / "report.json").read_text())["seed"] == expected


# ---------------------------------------------------------------------------------- lower bounds
def test_the_core_lower_bound_counts_poisson_sources_at_their_own_capacity(tmp_path):
    # 1,000 Poisson sources fit 2 SpiNNaker cores (500 each) and 256 LIF neurons 1: 3 cores, not
    # ceil(1256 / 256) = 5 (the bound once exceeded the answer: "cores 24/767 (lower bound 25)").
    out = tmp_path / "c"
    res = run_cli("compile", _poisson_net(tmp_path), "--board", "spinn-5", "-o", str(out))
    assert res.exit_code == 0, res.output
    util = json.loads((out / "report.json").read_text())["utilization"]
    assert util["cores_lower_bound"] == 3 == util["cores_used"]
    assert util["chips_lower_bound"] <= util["chips_used"]
    assert 0 < util["mean_core_neuron_fill"] <= 1.0
    text = run_cli("report", str(out)).output
    assert "(lower bound 3)" in text


@pytest.mark.parametrize("target,board", [("synfire", "spinn-5"), ("synfire", "loihi2-oheo-gulch"),
                                          ("ca3", "spinn-3"), ("ca3", "loihi2-oheo-gulch")])
def test_a_lower_bound_never_exceeds_the_answer(tmp_path, target, board):
    out = tmp_path / "c"
    res = run_cli("compile", target, "--board", board, "-o", str(out))
    assert res.exit_code == 0, res.output
    rep = json.loads((out / "report.json").read_text())
    util, summ = rep["utilization"], rep["mapping"]["summary"]
    assert util["cores_lower_bound"] <= util["cores_used"]
    assert summ["cores_lower_bound"] <= summ["cores_used"]
    assert util["mean_core_neuron_fill"] <= 1.0


def test_a_network_far_too_big_fails_before_partitioning(tmp_path):
    net = Network(name="big")
    net.add_population("p", 10_000_000, "lif_curr_exp")
    net.add_population("q", 1000, "lif_curr_exp")
    net.add_projection("p", "q", [0, 1], [0, 2], [0.5, 0.7], [1, 2], receptor="excitatory", name="p->q")
    path = save_network(net, tmp_path / "big.ncnet")
    out = tmp_path / "out"
    t0 = time.process_time()  # CPU time: the machine may be busy with other jobs
    res = run_cli("compile", str(path), "--board", "spinn-3", "-o", str(out))
    elapsed = time.process_time() - t0
    assert_clean_failure(res, "network 'big' needs at least 39,067 cores on the board but spinn-3 allows 63",
                         "'p' (10,000,000 neurons: >= 39,063 cores at 256 per core)", code=3)
    assert elapsed < 1.0, elapsed  # it took 33-74 s of partitioning and placement before
    assert_no_output_dir(out)
