"""NIR import options on the CLI (issue 9): `--param KEY=VALUE` for a .nir TARGET.

The issue's case is snnTorch's Braille RNN (dt 0.1 ms, tau_mem 0.67 ms, forward-Euler export):
imported at the defaults (dt 1 ms, dirac spikes) its weights are 1/dt too large and Loihi's
threshold of the hidden layer becomes 0. The graph below is built like that export (RSynaptic
hidden layer as a subgraph `lif1` with a recurrent Linear, snnTorch's parameter formulas).
"""
from __future__ import annotations

import json

import nir
import numpy as np
import pytest

from cli_helpers import assert_clean_failure, assert_no_output_dir, run_cli
from neurocompile.ir import load_network

DT_S = 1e-4
LOIHI = "loihi2-oheo-gulch"
FIX = ["--param", "dt_ms=0.1", "--param", "spike_convention=unit_step"]


def _cuba(n: int, beta: float = 0.85, alpha: float = 0.9) -> nir.CubaLIF:
    """snnTorch's Synaptic export: tau = dt/(1-decay), r = tau_mem/dt, w_in = tau_syn/dt."""
    tau_mem, tau_syn = DT_S / (1 - beta), DT_S / (1 - alpha)
    return nir.CubaLIF(tau_syn=np.full(n, tau_syn), tau_mem=np.full(n, tau_mem), r=np.full(n, tau_mem / DT_S),
                       v_leak=np.zeros(n), v_threshold=np.ones(n), v_reset=np.zeros(n),
                       w_in=np.full(n, tau_syn / DT_S))


def braille_like(path, n_in=12, n_hid=38, n_out=7, steps=300, seed=0):
    rng = np.random.default_rng(seed)
    lif1 = nir.NIRGraph(nodes={"input": nir.Input(input_type={"input": np.array([n_hid])}),
                               "lif": _cuba(n_hid),
                               "w_rec": nir.Linear(weight=rng.normal(0, 0.03, (n_hid, n_hid))),
                               "output": nir.Output(output_type={"output": np.array([n_hid])})},
                        edges=[("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")])
    spikes = [np.flatnonzero(rng.random(steps) < 0.05) for _ in range(n_in)]
    indptr = np.concatenate([[0], np.cumsum([len(s) for s in spikes])])
    inp = nir.Input(input_type={"input": np.array([n_in])})
    # a stimulus for the test (neurocompile's metadata; other NIR tools ignore it)
    inp.metadata = {"neurocompile": {"p.spike_indptr": indptr, "p.spike_steps": np.concatenate(spikes)}}
    g = nir.NIRGraph(nodes={"input": inp,
                            "fc1": nir.Linear(weight=rng.normal(0.1, 0.3, (n_hid, n_in)) * 0.12),
                            "lif1": lif1,
                            "fc2": nir.Linear(weight=rng.normal(0.05, 0.3, (n_out, n_hid)) * 0.12),
                            "lif2": _cuba(n_out),
                            "output": nir.Output(output_type={"output": np.array([n_out])})},
                     edges=[("input", "fc1"), ("fc1", "lif1"), ("lif1", "fc2"), ("fc2", "lif2"), ("lif2", "output")])
    nir.write(str(path), g)
    return str(path)


def _text(res) -> str:
    """Output with the terminal's line wrapping undone."""
    return " ".join(res.output.split())


def _compile(tmp_path, path, name, *argv):
    out = tmp_path / name
    res = run_cli("compile", path, "--board", LOIHI, *argv, "-o", str(out))
    assert res.exit_code == 0, res.output
    return res, json.loads((out / "report.json").read_text()), load_network(out / "network.ncnet")


def test_defaults_warn_that_dt_is_too_coarse_and_the_loihi_threshold_collapses(tmp_path):
    path = braille_like(tmp_path / "braille.nir")
    res, rep, net = _compile(tmp_path, path, "default")
    assert "dt 1 ms is not well below tau_m = 0.666667 ms" in _text(res)
    assert "--param dt_ms=" in _text(res)
    # the failure the options fix: weights 1/dt too large leave the Loihi threshold a few input
    # units (0 in the trained network), and the compiler says so
    assert int(np.max(net.populations["lif1.lif"].params["vth"])) < 64
    assert "coarse voltage resolution" in _text(res)
    assert rep["nir_import"]["import_options"] == {"dt_ms": 1.0}
    assert rep["nir_import"]["spike_convention"] == "dirac"


def test_the_cli_import_options_fix_the_threshold(tmp_path):
    path = braille_like(tmp_path / "braille.nir")
    res, rep, net = _compile(tmp_path, path, "fixed", *FIX)
    assert "not well below" not in _text(res) and "coarse voltage resolution" not in _text(res)
    for pop in ("lif1.lif", "lif2"):
        assert int(np.max(net.populations[pop].params["vth"])) >= 64, pop
        thr = rep["quantization"]["populations"][pop]["v_thresh - v_rest"]
        assert thr["max_rel_error"] < 1e-3
    assert rep["network"]["dt_ms"] == 0.1
    assert rep["nir_import"]["import_options"] == {"dt_ms": 0.1, "spike_convention": "unit_step"}
    assert rep["nir_import"]["import_options_given"] == ["dt_ms", "spike_convention"]
    assert net.dt_ms == 0.1


def test_import_options_reach_simulate_and_change_the_weights_as_documented(tmp_path):
    path = braille_like(tmp_path / "braille.nir")
    res = run_cli("simulate", path, "--board", LOIHI, "--mode", "float", "--steps", "50", *FIX,
                  "--param", "name=braille", "-o", str(tmp_path / "s"))
    assert res.exit_code == 0, res.output
    assert "braille: 50 steps" in _text(res)
    _, _, a = _compile(tmp_path, path, "a", "--option", "quantize=false")
    _, _, b = _compile(tmp_path, path, "b", "--option", "quantize=false", *FIX)
    wa = a.projections["input->lif1.lif:exc"].weight
    wb = b.projections["input->lif1.lif:exc"].weight
    # dirac: w_in W / tau_syn = W / dt (in NIR seconds); unit_step: W
    np.testing.assert_allclose(wa, wb / DT_S, rtol=1e-9)


def test_time_unit_and_delta_tau_options(tmp_path):
    lif = nir.LIF(tau=np.full(2, 20.0), r=np.ones(2), v_leak=np.zeros(2), v_threshold=np.ones(2))
    g = nir.NIRGraph(nodes={"input": nir.Input(input_type={"input": np.array([2])}), "w": nir.Linear(weight=np.eye(2)),
                            "lif": lif, "output": nir.Output(output_type={"output": np.array([2])})},
                     edges=[("input", "w"), ("w", "lif"), ("lif", "output")])
    path = tmp_path / "ms.nir"
    nir.write(str(path), g)
    out = tmp_path / "c"
    res = run_cli("compile", str(path), "--param", "time_unit_ms=1", "--param", "delta_tau_syn_ms=0.05",
                  "--option", "quantize=false", "-o", str(out))
    assert res.exit_code == 0, res.output
    net = load_network(out / "network.ncnet")
    assert float(np.max(net.populations["lif"].params["tau_m"])) == 20.0
    assert float(np.max(net.populations["lif"].params["tau_syn_E"])) == 0.05
    rep = json.loads((out / "report.json").read_text())
    assert rep["nir_import"]["import_options"] == {"dt_ms": 1.0, "time_unit_ms": 1.0, "delta_tau_syn_ms": 0.05}


def test_a_neuron_resting_above_threshold_runs_on_loihi_as_in_float(tmp_path):
    # NIR's two_lif_neurons case: v_leak above v_threshold, so neuron 0 fires on its own.
    n = 2
    lif = nir.CubaLIF(tau_syn=np.full(n, 0.005), tau_mem=np.full(n, 0.01), r=np.ones(n),
                      v_leak=np.array([1.5, 0.0]), v_threshold=np.ones(n), v_reset=np.zeros(n), w_in=np.ones(n))
    g = nir.NIRGraph(nodes={"input": nir.Input(input_type={"input": np.array([1])}),
                            "w": nir.Linear(weight=np.ones((n, 1))), "lif": lif,
                            "output": nir.Output(output_type={"output": np.array([n])})},
                     edges=[("input", "w"), ("w", "lif"), ("lif", "output")])
    path = str(tmp_path / "two.nir")
    nir.write(path, g)
    rasters = {}
    for mode in ("loihi2", "float"):
        out = tmp_path / mode
        res = run_cli("simulate", path, "--board", LOIHI, "--mode", mode, "--steps", "200", "-o", str(out))
        assert res.exit_code == 0, res.output
        z = np.load(out / "spikes.npz")
        rasters[mode] = (z["lif/steps"].tolist(), z["lif/neurons"].tolist())
    steps, neurons = rasters["float"]
    assert set(neurons) == {0} and len(steps) >= 15  # fires on its own, regularly; neuron 1 never
    assert rasters["loihi2"] == rasters["float"]
    res = run_cli("compile", path, "--board", LOIHI, "-o", str(tmp_path / "c"))
    assert res.exit_code == 0, res.output
    diags = json.loads((tmp_path / "c" / "report.json").read_text())["diagnostics"]
    assert any("rest at or above threshold" in d["message"] for d in diags)


BAD = {
    "unknown option": (["--param", "dt=0.1"], ["unknown import option 'dt'", "dt_ms", "spike_convention"]),
    "dt not a number": (["--param", "dt_ms=fast"], ["option dt_ms", "must be a number", "'fast'"]),
    "dt negative": (["--param", "dt_ms=-0.1"], ["option dt_ms", "positive", "-0.1"]),
    "dt nan": (["--param", "dt_ms=nan"], ["option dt_ms", "finite", "'nan'"]),
    "time unit zero": (["--param", "time_unit_ms=0"], ["option time_unit_ms", "positive"]),
    "bad convention": (["--param", "spike_convention=euler"], ["spike_convention", "dirac, unit_step", "'euler'"]),
}


@pytest.mark.parametrize("case", sorted(BAD))
@pytest.mark.parametrize("cmd", ["compile", "simulate"])
def test_bad_nir_options_fail_cleanly(tmp_path, case, cmd):
    path = braille_like(tmp_path / "braille.nir")
    argv, fragments = BAD[case]
    out = tmp_path / "out"
    steps = ["--steps", "5"] if cmd == "simulate" else []
    assert_clean_failure(run_cli(cmd, path, *steps, *argv, "-o", str(out)), *fragments)
    assert_no_output_dir(out)


def test_nir_options_are_refused_for_models(tmp_path):
    assert_clean_failure(run_cli("compile", "synfire", "--param", "dt_ms=0.1"), "unknown option(s) ['dt_ms']")


def test_help_documents_the_nir_options():
    res = run_cli("compile", "--help")
    assert "dt_ms" in _text(res) and "spike_convention" in _text(res) and "docs/nir.md" in _text(res)


def test_a_neuron_resting_above_threshold_is_bit_exact_with_lava(tmp_path):
    from test_loihi2_bitexact import check_against_lava

    n = 3
    lif = nir.CubaLIF(tau_syn=np.full(n, 0.005), tau_mem=np.array([0.01, 0.02, 0.01]), r=np.ones(n),
                      v_leak=np.array([1.5, 3.0, 0.0]), v_threshold=np.ones(n), v_reset=np.array([0.0, -0.5, 0.0]),
                      w_in=np.ones(n))
    g = nir.NIRGraph(nodes={"input": nir.Input(input_type={"input": np.array([1])}),
                            "w": nir.Linear(weight=np.ones((n, 1))), "lif": lif,
                            "output": nir.Output(output_type={"output": np.array([n])})},
                     edges=[("input", "w"), ("w", "lif"), ("lif", "output")])
    path = str(tmp_path / "three.nir")
    nir.write(path, g)
    out = tmp_path / "c"
    res = run_cli("compile", path, "--board", LOIHI, "-o", str(out))
    assert res.exit_code == 0, res.output
    net = load_network(out / "network.ncnet")
    runs = check_against_lava([net], 150)
    spikes = runs[0].spikes["lif"]
    assert spikes[:, 0].sum() >= 10 and spikes[:, 1].sum() >= 10 and spikes[:, 2].sum() == 0
