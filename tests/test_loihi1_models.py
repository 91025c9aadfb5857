"""Every bundled model on loihi1-nahuku-32: compiled with the Loihi 1 lowering, run on
`--backend nengo_loihi` (nengo-loihi's emulator) and in our `loihi1` mode, spike for spike and
final u/v; CA3 (pair STDP, which nengo-loihi does not model) fails with an error naming it.
Short runs at small scale keep this to about a minute; bench/loihi1_emulator.py times longer ones.
"""
from __future__ import annotations

import warnings

import nengo_loihi  # noqa: F401  -- deliberately unconditional: a missing nengo-loihi is a failure
import numpy as np
import pytest

from neurocompile.backends.nengo_loihi import NengoLoihiBackend
from neurocompile.backends.sim import Simulation, mode_for
from neurocompile.boards import load_board
from neurocompile.compiler import compile_network
from neurocompile.errors import ModelError
from neurocompile.plugins import get_model

pytestmark = pytest.mark.nengo_loihi
BOARD = load_board("loihi1-nahuku-32")
MODELS = {
    "synfire": ({}, 60),
    "place_recognition": ({"n_places": 25, "epochs": 3}, 30),
    "motion": ({"n_movies": 2}, 15),
    "microcircuit": ({"scale": 0.01}, 15),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_runs_identically_on_nengo_loihi_and_our_loihi1_mode(name, tmp_path):
    kw, steps = MODELS[name]
    if name == "place_recognition":
        kw = {**kw, "cache_dir": str(tmp_path)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = compile_network(get_model(name).build(**kw), BOARD, seed=1, target=name)
    net = result.network
    assert net.number_format == "loihi1" and not result.report["mapping"]["violations"]
    ours = Simulation(net, mode_for(net, BOARD, None), seed=1).run(steps)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # the emulator warns on every wrap it performs
        theirs = NengoLoihiBackend().build(result, {"seed": 1}).run(steps)
    assert ours.mode == "loihi1" and theirs.mode == "nengo-loihi-emulator"
    for pop_name, pop in net.populations.items():
        np.testing.assert_array_equal(ours.raster(pop_name, pop.size), theirs.raster(pop_name, pop.size),
                                      err_msg=f"{name}: population {pop_name!r}")
        if pop.model == "loihi1_lif":
            for var in ("u", "v"):
                np.testing.assert_array_equal(ours.final_state[pop_name][var], theirs.final_state[pop_name][var])
    assert sum(s[0].size for p, s in ours.spikes.items() if net.populations[p].model == "loihi1_lif") > 0 \
        or name == "place_recognition"   # its modules need more than 30 steps of input to fire


def test_ca3_is_refused_naming_its_plastic_projection():
    with pytest.raises(ModelError, match=r"projection '[^']+' is plastic \(pair STDP\).*PES learning only"):
        compile_network(get_model("ca3").build(), BOARD, seed=1, target="ca3")
