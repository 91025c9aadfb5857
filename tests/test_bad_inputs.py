"""Bad input never yields a traceback or a half-written output directory.

Each case runs the CLI as a user would and checks: non-zero exit, a single 'Error:' line naming
the object and the limit, and that the requested output directory does not exist afterwards.
"""
from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from cli_helpers import assert_clean_failure, assert_no_output_dir, run_cli
from neurocompile.ir import Network, save_network


def _net_file(tmp_path, name="bad.ncnet", mutate=None) -> str:
    net = Network(name="n")
    net.add_spike_source("s", [[1], [2]])
    net.add_population("x", 3, "lif_curr_exp")
    net.add_projection("s", "x", [0, 1], [0, 2], [0.5, 0.7], [1, 2], receptor="excitatory", name="s->x")
    if mutate:
        mutate(net)
    return str(save_network(net, tmp_path / name))


def _board_file(tmp_path, text: str) -> str:
    p = tmp_path / "board.yaml"
    p.write_text(text)
    return str(p)


GOOD_BOARD = """schema_version: 1
name: mini
family: spinnaker
description: one chip, two cores
topology: {kind: hexagonal, width: 1, height: 1}
cores_per_chip: 18
chip_limits: {cores: 2}
core_limits: {neurons: 256}
number_format: {state_integer_bits: 16, state_fraction_bits: 15, weight_bits: 16, max_ring_buffer_shift: 16}
delays: {min_steps: 1, max_steps_in_core: 16}
"""

CASES = {
    # name: (argv builder, fragments the error must contain)
    "unknown model": (lambda t: ["compile", "no_such_model"], ["unknown model 'no_such_model'", "synfire"]),
    "unknown board": (lambda t: ["compile", "synfire", "--board", "spinn-99"], ["unknown board 'spinn-99'", "spinn-5"]),
    "board yaml syntax": (lambda t: ["compile", "synfire", "--board", _board_file(t, "name: [unclosed\n")],
                          ["board.yaml", "not valid YAML"]),
    "board missing field": (lambda t: ["compile", "synfire", "--board", _board_file(t, GOOD_BOARD.replace("cores_per_chip: 18\n", ""))],
                            ["board.yaml", "'cores_per_chip'", "positive integer"]),
    "board negative limit": (lambda t: ["compile", "synfire", "--board", _board_file(t, GOOD_BOARD.replace("neurons: 256", "neurons: -4"))],
                             ["'core_limits.neurons'", "positive integer", "-4"]),
    "board unknown family": (lambda t: ["compile", "synfire", "--board", _board_file(t, GOOD_BOARD.replace("family: spinnaker", "family: truenorth"))],
                             ["'family'", "truenorth"]),
    "network file not zip": (lambda t: ["compile", str((t / "x.ncnet").write_bytes(b"junk") and t / "x.ncnet")],
                             ["x.ncnet", "not a zip archive"]),
    "network NaN weight": (lambda t: ["compile", _net_file(t, mutate=lambda n: n.projections["s->x"].weight.__setitem__(1, np.nan))],
                           ["projection 's->x'", "weight of synapse 1 is nan"]),
    "network zero delay": (lambda t: ["compile", _net_file(t, mutate=lambda n: n.projections["s->x"].delay.__setitem__(0, 0))],
                           ["projection 's->x'", "delays must be >= 1"]),
    "network index out of range": (lambda t: ["compile", _net_file(t, mutate=lambda n: n.projections["s->x"].post_idx.__setitem__(1, 3))],
                                   ["projection 's->x'", "post_idx value 3 out of range for population 'x' of size 3"]),
    "network unknown parameter": (lambda t: ["compile", _net_file(t, mutate=lambda n: n.populations["x"].params.__setitem__("tau", 3.0))],
                                  ["population 'x'", "unknown parameter(s) ['tau']"]),
    "network negative excitatory weight": (lambda t: ["compile", _net_file(t, mutate=lambda n: n.projections["s->x"].weight.__setitem__(0, -1.0))],
                                           ["projection 's->x'", "excitatory weights must be >= 0"]),
    "delay beyond board": (lambda t: ["compile", _net_file(t, mutate=lambda n: n.projections["s->x"].delay.__setitem__(0, 5000)), "--board", "spinn-5"],
                           ["projection 's->x'", "delay 5000 steps exceeds the spinn-5 maximum"]),
    "network does not fit": (lambda t: ["compile", "synfire", "--param", "group_size=3000", "--param", "fan_in=10", "--board", "spinn-3"],
                             ["network 'synfire'", "needs at least 160 cores on the board but spinn-3 allows 63"]),
    "bad param syntax": (lambda t: ["compile", "synfire", "--param", "n_groups"], ["'n_groups' must look like key=value"]),
    "unknown model option": (lambda t: ["compile", "synfire", "--param", "colour=red"], ["unknown option(s) ['colour']", "n_groups=10"]),
    "invalid model option value": (lambda t: ["compile", "synfire", "--param", "n_groups=1"], ["model 'synfire': invalid options", "n_groups >= 2"]),
    "unknown backend": (lambda t: ["simulate", "synfire", "--backend", "truenorth", "--steps", "5"], ["unknown backend 'truenorth'", "sim"]),
    "unknown sim mode": (lambda t: ["simulate", "synfire", "--mode", "posit8", "--steps", "5"], ["no 'posit8' mode", "float"]),
    "zero steps": (lambda t: ["simulate", "synfire", "--steps", "0"], ["--steps", "0"]),
    "nir file garbage": (lambda t: ["compile", str((t / "g.nir").write_bytes(b"junk") and t / "g.nir")], ["g.nir"]),
    "unknown compiler option": (lambda t: ["compile", "synfire", "--option", "colour=3"],
                                ["unknown compiler option(s) ['colour']", "weight_exp"]),
    "compiler option syntax": (lambda t: ["compile", "synfire", "--option", "weight_exp"], ["must look like KEY=JSON"]),
    "loihi cannot express reset": (lambda t: ["compile", _net_file(t, mutate=lambda n: n.populations["x"].params.__setitem__("v_reset", -70.0)),
                                              "--board", "loihi2-oheo-gulch"], ["population 'x'", "v_reset (-70 mV) differs from v_rest"]),
    "unsupported file version": (lambda t: ["compile", _versioned(t)], ["format_version 7 is not supported"]),
    "bad loihi_refractory value": (lambda t: ["compile", _net_file(t, mutate=lambda n: n.populations["x"].params.__setitem__("tau_refrac", 3.0)),
                                              "--board", "loihi2-oheo-gulch", "--option", "loihi_refractory=\"maybe\""],
                                   ["loihi_refractory", "'emulate', 'drop' or 'error'", "maybe"]),
    "network recommends unknown option": (lambda t: ["compile", _net_file(t, mutate=lambda n: n.metadata.__setitem__(
                                              "compile_options", {"loihi": {"colour": 3}})), "--board", "loihi2-oheo-gulch"],
                                          ["unknown compiler option(s) ['colour']"]),
    "network compile_options malformed": (lambda t: ["compile", _net_file(t, mutate=lambda n: n.metadata.__setitem__(
                                              "compile_options", ["loihi"])), "--board", "loihi2-oheo-gulch"],
                                          ["network 'n'", "metadata 'compile_options'", "options object"]),
}


def _versioned(tmp_path) -> str:
    p = tmp_path / "v7.ncnet"
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("manifest.json", json.dumps({"format": "neurocompile-network", "format_version": 7}))
    return str(p)


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_fails_cleanly(tmp_path, case):
    argv_fn, fragments = CASES[case]
    out = tmp_path / "out"
    argv = argv_fn(tmp_path) + ["-o", str(out)]
    res = run_cli(*argv)
    assert_clean_failure(res, *fragments)
    assert_no_output_dir(out)


def test_report_on_missing_or_corrupt_report(tmp_path):
    assert_clean_failure(run_cli("report", tmp_path), "no report at", "neurocompile compile")
    (tmp_path / "report.json").write_text("{not json")
    assert_clean_failure(run_cli("report", tmp_path), "not a valid report")
    (tmp_path / "report.json").write_text(json.dumps({"report_version": 42}))
    assert_clean_failure(run_cli("report", tmp_path), "report_version 42 is not supported")


def test_output_path_is_a_file(tmp_path):
    f = tmp_path / "out"
    f.write_text("keep me")
    assert_clean_failure(run_cli("compile", "synfire", "-o", f), "is a file")
    assert f.read_text() == "keep me"


def test_failed_run_keeps_previous_output(tmp_path):
    out = tmp_path / "out"
    assert run_cli("compile", "synfire", "-o", out).exit_code == 0
    before = (out / "report.json").read_text()
    assert_clean_failure(run_cli("compile", "synfire", "--param", "n_groups=1", "-o", out), "invalid options")
    assert (out / "report.json").read_text() == before
