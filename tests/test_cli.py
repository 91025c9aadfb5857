"""Every CLI command, end to end on the bundled example."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from cli_helpers import run_cli
from neurocompile.ir import load_network


def test_boards_lists_the_six_boards():
    res = run_cli("boards")
    assert res.exit_code == 0, res.output
    for name in ("spinn-3", "spinn-5", "spinnaker-24board", "loihi2-oheo-gulch", "loihi2-kapoho-point",
                 "loihi1-nahuku-32"):
        assert name in res.output
    assert "1,152" in res.output  # the 24-board machine's chip count


def test_models_lists_synfire_with_options():
    res = run_cli("models")
    assert res.exit_code == 0, res.output
    assert "synfire" in res.output and "n_groups=10" in res.output


def test_compile_writes_network_and_report(tmp_path):
    out = tmp_path / "c"
    res = run_cli("compile", "synfire", "--board", "spinn-5", "-o", out, "--seed", "5")
    assert res.exit_code == 0, res.output
    report = json.loads((out / "report.json").read_text())
    assert report["report_version"] == 2 and report["seed"] == 5
    assert report["board"]["name"] == "spinn-5"
    assert [p["pass"] for p in report["passes"]] == ["validate", "quantize", "delays", "partition", "placement",
                                                   "routing", "resource_check"]
    net = load_network(out / "network.ncnet")
    # Every neuron of every population is placed exactly once (slices are runs of neuron indices).
    for pop in net.populations.values():
        covered = np.zeros(pop.size, dtype=int)
        for s in report["placement"]:
            if s["population"] == pop.name:
                for a, b in s["ranges"]:
                    covered[a:b + 1] += 1
        assert np.all(covered == 1), pop.name
    assert report["mapping"]["summary"]["cores_used"] == len(report["placement"])
    assert report["utilization"]["cores_used"] == len(report["placement"])
    assert net.seed == 5


def test_compile_is_deterministic(tmp_path):
    for d in ("a", "b"):
        assert run_cli("compile", "synfire", "-o", tmp_path / d, "--seed", "2").exit_code == 0
    ra = json.loads((tmp_path / "a" / "report.json").read_text())
    rb = json.loads((tmp_path / "b" / "report.json").read_text())
    assert ra["placement"] == rb["placement"]
    assert (tmp_path / "a" / "network.ncnet").read_bytes() == (tmp_path / "b" / "network.ncnet").read_bytes()


def test_compile_accepts_a_network_file_and_model_params(tmp_path):
    assert run_cli("compile", "synfire", "--param", "n_groups=4", "-o", tmp_path / "c").exit_code == 0
    res = run_cli("compile", tmp_path / "c" / "network.ncnet", "--board", "loihi2-oheo-gulch", "-o", tmp_path / "d")
    assert res.exit_code == 0, res.output
    report = json.loads((tmp_path / "d" / "report.json").read_text())
    assert report["network"]["neurons"] == 4 * 100 + 100 + 4 * 25


def test_simulate_writes_outputs_and_is_bit_identical(tmp_path):
    for d in ("s1", "s2"):
        res = run_cli("simulate", "synfire", "--steps", "150", "-o", tmp_path / d, "--seed", "3")
        assert res.exit_code == 0, res.output
    summary = json.loads((tmp_path / "s1" / "summary.json").read_text())
    assert summary["seed"] == 3 and summary["steps"] == 150 and summary["mode"] == "spinnaker"
    chain = next(p for p in summary["populations"] if p["name"] == "chain")
    assert chain["spikes"] > 1000  # the pulse travels around the ring
    a, b = np.load(tmp_path / "s1" / "spikes.npz"), np.load(tmp_path / "s2" / "spikes.npz")
    assert sorted(a.files) == sorted(b.files)
    for k in a.files:
        assert np.array_equal(a[k], b[k])
    assert (tmp_path / "s1" / "raster.png").stat().st_size > 10_000


def test_report_prints_summary_and_json(tmp_path):
    assert run_cli("compile", "synfire", "-o", tmp_path / "c").exit_code == 0
    res = run_cli("report", tmp_path / "c")
    assert res.exit_code == 0, res.output
    assert "synfire on spinn-5" in res.output and "Busiest resources" in res.output
    assert all(f"  {p} " in res.output for p in ("chain", "stimulus", "inhibitory"))  # a line per population
    res = run_cli("report", tmp_path / "c", "--json")
    assert json.loads(res.output)["report_version"] == 2


def test_help_explains_each_command_with_an_example():
    for cmd in ("boards", "models", "compile", "simulate", "report"):
        res = run_cli(cmd, "--help")
        assert res.exit_code == 0 and "Example" in res.output, cmd


def test_installed_console_script_runs():
    # The real entry point, in a fresh process: what a user types.
    exe = [sys.executable, "-m", "neurocompile.cli", "--version"]
    proc = subprocess.run(exe, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "neurocompile" in proc.stdout


def test_compile_and_simulate_a_nir_file(tmp_path):
    from neurocompile.models.synfire import build
    from neurocompile.nir_import import save_nir

    path = tmp_path / "syn.nir"
    save_nir(build(n_groups=3, inhibition=False), path)
    res = run_cli("compile", path, "--board", "spinn-5", "-o", tmp_path / "c")
    assert res.exit_code == 0, res.output
    report = json.loads((tmp_path / "c" / "report.json").read_text())
    assert report["network"]["neurons"] == 3 * 100 + 100
    res = run_cli("simulate", path, "--steps", "60")
    assert res.exit_code == 0, res.output


def test_simulate_on_each_board_family_uses_its_arithmetic(tmp_path):
    for board, mode in (("spinn-5", "spinnaker"), ("loihi2-oheo-gulch", "loihi2")):
        out = tmp_path / board
        res = run_cli("simulate", "synfire", "--board", board, "--steps", "120", "-o", out,
                      "--param", "inhibition=false")
        assert res.exit_code == 0, res.output
        summary = json.loads((out / "summary.json").read_text())
        assert summary["mode"] == mode
        chain = next(p for p in summary["populations"] if p["name"] == "chain")
        assert chain["spikes"] > 500, (board, chain)  # the quantized chain still propagates
    res = run_cli("simulate", "synfire", "--board", "spinn-5", "--mode", "float", "--steps", "50")
    assert res.exit_code == 0 and "float mode" in res.output


def test_compiler_option_overrides_weight_exp(tmp_path):
    out = tmp_path / "c"
    res = run_cli("compile", "synfire", "--board", "loihi2-oheo-gulch", "-o", out,
                  "--option", 'weight_exp={"feedforward": 3}')
    assert res.exit_code == 0, res.output
    report = json.loads((out / "report.json").read_text())
    assert report["quantization"]["projections"]["feedforward"]["weight_exp"] == 3
    net = load_network(out / "network.ncnet")
    assert net.projections["feedforward"].attrs["weight_exp"] == 3


def test_simulate_output_is_byte_identical_whatever_the_string_hashing(tmp_path):
    """Same inputs and seed in two fresh processes with different PYTHONHASHSEED: spikes.npz is
    byte-identical (a set once ordered its populations by hash)."""
    import os

    got = []
    for h in ("1", "2"):
        out = tmp_path / f"run{h}"
        env = dict(os.environ, PYTHONHASHSEED=h)
        proc = subprocess.run([sys.executable, "-m", "neurocompile.cli", "simulate", "ca3", "--steps", "60",
                               "-o", str(out)], capture_output=True, text=True, timeout=300, env=env)
        assert proc.returncode == 0, proc.stderr
        got.append((out / "spikes.npz").read_bytes())
    assert got[0] == got[1]
