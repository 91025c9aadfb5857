"""Every bundled model compiles for every bundled board it fits, in that board's number format, with
a report.json that follows report.schema.json, and `simulate` runs each; a model that does not fit fails with one resource error naming the limit."""
from __future__ import annotations

import json

import numpy as np
import pytest

from neurocompile.backends.sim import Simulation, mode_for
from neurocompile.boards import load_board
from neurocompile.compiler import compile_network, merged_options
from neurocompile.errors import ModelError, ResourceError
from neurocompile.ir.validate import validate_network
from neurocompile.plugins import get_model
from neurocompile.report.schema import first_error
from cli_helpers import assert_clean_failure, run_cli

BOARDS = ["spinn-3", "spinn-5", "spinnaker-24board", "loihi2-oheo-gulch", "loihi2-kapoho-point",
          "loihi1-nahuku-32"]
FORMAT = {"spinnaker": "spinnaker", "loihi2": "loihi2", "loihi1": "loihi1"}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    cache = str(tmp_path_factory.mktemp("pr-cache"))
    return {
        "synfire": get_model("synfire").build(),
        "ca3": get_model("ca3").build(),
        "place_recognition": get_model("place_recognition").build(n_places=25, epochs=3, cache_dir=cache),
        "motion": get_model("motion").build(n_movies=2),
    }


@pytest.mark.parametrize("board_name", BOARDS)
def test_every_model_compiles_for_every_board_and_runs_in_its_arithmetic(models, board_name):
    board = load_board(board_name)
    for name, net in models.items():
        if board.family == "loihi1" and name == "ca3":   # pair STDP: no Loihi 1 model of it (PES only)
            with pytest.raises(ModelError, match=r"projection '.*' is plastic \(pair STDP\).*PES"):
                compile_network(net, board, seed=1, target=name)
            continue
        result = compile_network(net, board, seed=1, target=name)
        compiled = result.network
        assert compiled.number_format == FORMAT[board.family], (name, board_name)
        assert result.report["mapping"]["summary"]["cores_used"] >= 1
        # report.json as written (JSON round trip) follows the shipped schema, estimates included
        assert first_error(json.loads(json.dumps(result.report, allow_nan=False))) is None, (name, board_name)
        assert result.report["estimates"]["energy"]["joules_per_simulated_second"] > 0, (name, board_name)
        errors = [d for d in result.diagnostics if d.level == "error"]
        assert not errors, (name, board_name, errors)
        validate_network(compiled)                       # what `simulate network.ncnet` loads
        res = Simulation(compiled, mode_for(compiled, board, None), seed=1).run(30)
        assert res.mode == FORMAT[board.family]
        lif = [p for p in compiled.populations.values() if not p.neuron_model.is_source]
        assert lif and all(p.name in res.spikes for p in lif)


def test_model_options_for_loihi_are_applied_and_user_options_win(models):
    net = models["place_recognition"]
    loihi, spinn = load_board("loihi2-oheo-gulch"), load_board("spinn-5")
    opts, from_model = merged_options(net, loihi, {"tau_syn": {"m0_exc": 2.0}})
    assert opts["tau_syn"]["m0_exc"] == 2.0 and "loihi_accept" in from_model
    assert merged_options(net, spinn, None) == ({}, [])
    report = compile_network(net, loihi).report
    assert report["options"]["effective"]["loihi_accept"] == ["v_reset"]


def test_a_model_too_big_for_the_board_fails_with_one_resource_error(tmp_path):
    big = get_model("synfire").build(n_groups=100, group_size=300)
    with pytest.raises(ResourceError, match="cores"):
        compile_network(big, load_board("spinn-3"))
    out = tmp_path / "out"
    r = run_cli("compile", "synfire", "--board", "spinn-3", "--param", "n_groups=100",
                "--param", "group_size=300", "-o", out)
    assert_clean_failure(r, "cores", "spinn-3")
    assert not out.exists()
