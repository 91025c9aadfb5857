"""The CompiledNetwork: typed result of compile, saved and loaded back identical, run without recompiling."""
from __future__ import annotations

import numpy as np
import pytest

from neurocompile.boards import load_board
from neurocompile.compiled import CompiledNetwork, load_compiled, save_compiled
from neurocompile.compiler import compile_network, write_compiled
from neurocompile.errors import FileFormatError
from neurocompile.ir.fileformat import network_to_manifest
from neurocompile.models.synfire import build as synfire
from cli_helpers import assert_clean_failure, run_cli


def _same_network(a, b) -> None:
    ma, arrays_a = network_to_manifest(a)
    mb, arrays_b = network_to_manifest(b)
    assert ma == mb
    assert arrays_a.keys() == arrays_b.keys()
    for k in arrays_a:
        assert arrays_a[k].dtype == arrays_b[k].dtype and np.array_equal(arrays_a[k], arrays_b[k]), k


def assert_same_compiled(a: CompiledNetwork, b: CompiledNetwork) -> None:
    _same_network(a.network, b.network)
    assert a.board.summary() == b.board.summary()
    assert (a.seed, a.target) == (b.seed, b.target)
    assert a.quantization.to_dict() == b.quantization.to_dict()
    assert a.delays.to_dict() == b.delays.to_dict()
    assert a.slices.offset == b.slices.offset and a.slices.method == b.slices.method
    assert a.slices.lower_bound_cores == b.slices.lower_bound_cores
    assert a.slices.labels.keys() == b.slices.labels.keys()
    for p in a.slices.labels:
        assert np.array_equal(a.slices.labels[p], b.slices.labels[p])
    assert np.array_equal(a.slices.extra_cores, b.slices.extra_cores)
    assert np.array_equal(a.placements.chip, b.placements.chip)
    assert np.array_equal(a.placements.core, b.placements.core)
    assert (a.placements.method, a.placements.cost) == (b.placements.method, b.placements.cost)
    for name in ("keys", "entries_raw", "entries_merged", "entries", "link_load"):
        assert np.array_equal(getattr(a.routing, name), getattr(b.routing, name)), name
    assert a.report == b.report
    assert a.slice_table() == b.slice_table()


@pytest.mark.parametrize("board", ["spinn-5", "spinnaker-24board", "loihi2-kapoho-point"])
def test_compiled_network_round_trips(tmp_path, board):
    net = synfire(n_groups=6, group_size=300)
    c = compile_network(net, load_board(board), seed=3, target="synfire")
    assert c.slices.n_slices == len(c.report["placement"]) > 1
    assert c.placements.chip.shape == (c.slices.n_slices, 2)
    out = write_compiled(c, tmp_path / "c")
    assert_same_compiled(c, load_compiled(out))
    # the slice table is the report's placement, from typed arrays
    rows = c.slice_table()
    for row, entry in zip(rows, c.report["placement"]):
        assert (row["population"], row["slice"], row["n_neurons"], row["core"]) == \
            (entry["population"], entry["slice"], entry["n_neurons"], entry["core"])
        assert list(row["chip"]) == entry["chip"]


def test_compile_leaves_the_callers_network_alone():
    net = synfire(n_groups=3, group_size=60)
    net.seed = 11
    c = compile_network(net, load_board("spinn-5"), seed=5)
    assert net.seed == 11 and c.seed == 5 and c.network.seed == 5
    assert net.number_format is None


def test_simulate_compiled_dir_equals_simulate_model_without_running_a_pass(tmp_path, monkeypatch):
    assert run_cli("compile", "synfire", "--board", "spinn-5", "--seed", "4", "-o", tmp_path / "c").exit_code == 0
    ref = run_cli("simulate", "synfire", "--board", "spinn-5", "--seed", "4", "--steps", "150", "-o", tmp_path / "a")
    assert ref.exit_code == 0, ref.output

    import neurocompile.passes.pipeline as pipeline

    def no_pass(*a, **k):
        raise AssertionError("a pass ran while simulating a compiled directory")

    monkeypatch.setattr(pipeline, "run_pipeline", no_pass)
    import neurocompile.compiler as compiler
    monkeypatch.setattr(compiler, "run_pipeline", no_pass)
    res = run_cli("simulate", tmp_path / "c", "--steps", "150", "-o", tmp_path / "b")
    assert res.exit_code == 0, res.output
    a, b = np.load(tmp_path / "a" / "spikes.npz"), np.load(tmp_path / "b" / "spikes.npz")
    assert a.files == b.files and len(a.files) > 0
    for k in a.files:
        assert np.array_equal(a[k], b[k]), k
    assert sum(a[k].size for k in a.files if k.endswith("/steps")) > 0


def test_report_of_compiled_dir_lists_every_slice_from_the_saved_record(tmp_path):
    assert run_cli("compile", "synfire", "--board", "spinn-5", "-o", tmp_path / "c").exit_code == 0
    c = load_compiled(tmp_path / "c")
    res = run_cli("report", tmp_path / "c", "--all")
    assert res.exit_code == 0, res.output
    assert f"Slices ({c.slices.n_slices})" in res.output  # --all lists them all
    for row in c.slice_table():
        assert f"{row['population']}[{row['slice']}]" in res.output


def test_compiled_dir_refuses_other_board_and_float_mode(tmp_path):
    assert run_cli("compile", "synfire", "--board", "spinn-5", "-o", tmp_path / "c").exit_code == 0
    assert_clean_failure(run_cli("simulate", tmp_path / "c", "--board", "spinn-3"), "compiled for board 'spinn-5'")
    assert_clean_failure(run_cli("simulate", tmp_path / "c", "--mode", "float"), "--mode float")
    assert_clean_failure(run_cli("simulate", tmp_path / "c", "--param", "n_groups=3"), "already compiled")


def test_damaged_compiled_dir_is_a_clean_error(tmp_path):
    assert run_cli("compile", "synfire", "--board", "spinn-5", "-o", tmp_path / "c").exit_code == 0
    (tmp_path / "c" / "plan.npz").write_bytes(b"not a zip")
    with pytest.raises(FileFormatError, match="plan.npz"):
        load_compiled(tmp_path / "c")
    assert_clean_failure(run_cli("simulate", tmp_path / "c", "--steps", "5"), "plan.npz")
    (tmp_path / "c" / "compiled.json").write_text('{"format": "neurocompile-compiled", "format_version": 99}')
    assert_clean_failure(run_cli("report", tmp_path / "c"), "format_version 99")


def test_save_compiled_writes_what_load_reads(tmp_path):
    c = compile_network(synfire(n_groups=2, group_size=20, fan_in=10), load_board("loihi2-oheo-gulch"), seed=1)
    save_compiled(c, tmp_path)
    assert_same_compiled(c, load_compiled(tmp_path))


def test_a_compiled_dir_named_like_a_model_is_reached_as_a_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run_cli("compile", "synfire", "--param", "n_groups=3", "--param", "group_size=60",
                   "-o", "synfire").exit_code == 0
    as_model = run_cli("simulate", "synfire", "--steps", "20")
    assert as_model.exit_code == 0 and "is the model 'synfire', not the compiled directory" in as_model.output
    assert "chain" in as_model.output and "1,000" in as_model.output      # the model's default size
    as_dir = run_cli("simulate", "./synfire", "--steps", "20")
    assert as_dir.exit_code == 0 and "180" in as_dir.output                # 3 x 60 from the directory
    assert_clean_failure(run_cli("compile", "./synfire"), "compiled network directory")
