"""The bundled microcircuit: the paper's structure, and its rates against NEST's full-scale means."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import truncnorm

from neurocompile.boards import load_board
from neurocompile.compiler import compile_network
from neurocompile.models.microcircuit import REFERENCE_RATES
from neurocompile.plugins import get_backend, get_model

# Potjans & Diesmann (2014) Table 5: neurons per population at full scale.
FULL = {"L23E": 20683, "L23I": 5834, "L4E": 21915, "L4I": 5479, "L5E": 4850, "L5I": 1065,
        "L6E": 14395, "L6I": 2948}


@pytest.fixture(scope="module")
def net():
    return get_model("microcircuit").build(scale=0.1, t_sim=1000.0)


def test_structure_follows_the_paper(net):
    assert {p: net.populations[p].size for p in FULL} == {p: round(n * 0.1) for p, n in FULL.items()}
    assert net.n_neurons == 7717 and 2.9e6 < net.n_synapses < 3.1e6  # NEST at scale 0.1: 7,717 and 3.0 M
    psc = net.projections["L4E->L23E"].weight.mean() / net.projections["L23E->L23E"].weight.mean()
    assert 1.9 < psc < 2.1  # L4E -> L2/3E doubled
    inh = net.projections["L23I->L23E"]
    assert inh.receptor == "inhibitory" and np.all(inh.weight <= 0)
    g = -inh.weight.mean() / net.projections["L23E->L23E"].weight.mean()
    assert 3.9 < g < 4.1
    # delays: 1.5 ms (exc) and 0.75 ms (inh) at dt 0.1 ms, 50 % sd, clipped below at one step:
    # the mean of that truncated normal, in steps
    for proj, mean in ((net.projections["L23E->L4E"], 1.5), (inh, 0.75)):
        expected = truncnorm.mean((0.1 - mean) / (0.5 * mean), np.inf, loc=mean, scale=0.5 * mean) / 0.1
        assert abs(proj.delay.mean() - expected) < 0.1 and proj.delay.min() >= 1


def test_poisson_background_uses_poisson_counts_per_step():
    """K_ext x k_scale x 8 Hz per neuron: 1.3-2.3 spikes per 0.1 ms step at full in-degree, 0.13-0.23
    at k_scale 0.1, above the 0.1 where a Bernoulli draw's variance is 10 % short: fast sources."""
    net = get_model("microcircuit").build(scale=0.1, background="poisson")
    bg = net.populations["L4E_bg"]
    assert bg.model == "poisson_fast" and bg.size == net.populations["L4E"].size
    assert bg.params["rate"] == 8.0 * round(2100 * 0.1)
    (feed,) = [p for p in net.projections.values() if p.pre == "L4E_bg"]
    assert feed.post == "L4E" and feed.n_synapses == bg.size  # one source per neuron


SCRIPT = Path(__file__).resolve().parents[1] / "models" / "microcircuit" / "microcircuit.py"


def _run_script(args: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    res = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=600,
                         env=env, cwd=cwd)
    assert res.returncode == 0, res.stderr[-3000:]
    return res.stdout


def test_the_same_script_runs_under_nest():
    """pyNN.nest with NEST 3.10 from PyPI, unedited (scale 0.01, 100 ms): it builds and fires."""
    out = _run_script(["simulator=nest", "scale=0.01", "t_sim=100"])
    rates = {line.split()[0]: float(line.split()[-2]) for line in out.splitlines() if line.endswith(" Hz")}
    assert set(rates) == set(FULL) and sum(rates.values()) > 0


def test_the_same_script_maps_under_spynnaker(tmp_path):
    """pyNN.spiNNaker, unedited, on a virtual SpiNN-5 (mapping only), config in a directory we own."""
    from neurocompile.targets.spinnaker.spynnaker_env import make_spynnaker_env

    senv = make_spynnaker_env(tmp_path / "spynnaker")
    out = _run_script(["simulator=spiNNaker", "scale=0.01", "t_sim=10"],
                      env={**os.environ, **senv.overrides}, cwd=senv.workdir)
    assert "virtual board" in out and all(f"{p} " in out for p in FULL)
    assert any(senv.report_dir.iterdir())  # sPyNNaker's reports landed in our directory


@pytest.mark.parametrize("board", ["spinnaker-24board", "loihi2-kapoho-point", "loihi1-nahuku-32"])
def test_microcircuit_compiles_for_the_big_boards(net, board):
    """Every population is placed and within every limit. On Loihi 1 this needed the output-axon
    split to run to its fixed point (4 rounds left 16 slices over 4,096 output axons)."""
    compiled = compile_network(net, load_board(board), seed=55)
    placed = {s["population"] for s in compiled.report["placement"]}
    assert placed >= set(FULL)
    assert not compiled.report["mapping"]["violations"]
