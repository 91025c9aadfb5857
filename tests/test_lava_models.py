"""Every bundled model at CI scale: `neurocompile simulate DIR --backend lava` == `--backend sim`
(loihi2 mode), spike raster for spike raster, through the CLI on a compiled directory."""
from __future__ import annotations

import lava  # noqa: F401  -- deliberately unconditional: a missing Lava is a failure
import numpy as np
import pytest

from cli_helpers import assert_clean_failure, run_cli

pytestmark = pytest.mark.lava

MODELS = {  # model: (board, --param options, steps)
    "synfire": ("loihi2-oheo-gulch", ["n_groups=4", "group_size=30", "fan_in=20"], 120),
    "place_recognition": ("loihi2-kapoho-point", ["n_places=4", "places_per_module=2", "epochs=1"], 30),
    "motion": ("loihi2-kapoho-point", ["n_movies=2", "size=16"], 60),
}


@pytest.mark.parametrize("model", sorted(MODELS))
def test_model_on_lava_equals_sim(model, tmp_path):
    board, params, steps = MODELS[model]
    comp = tmp_path / "compiled"
    args = [a for p in params for a in ("--param", p)]
    res = run_cli("compile", model, "--board", board, *args, "-o", comp)
    assert res.exit_code == 0, res.output
    assert (comp / "lava" / "run_lava.py").is_file()
    out = {}
    for backend in ("sim", "lava"):
        res = run_cli("simulate", comp, "--backend", backend, "--steps", steps, "-o", tmp_path / backend)
        assert res.exit_code == 0, res.output
        out[backend] = dict(np.load(tmp_path / backend / "spikes.npz"))
    assert out["sim"].keys() == out["lava"].keys()
    for key in out["sim"]:
        np.testing.assert_array_equal(out["lava"][key], out["sim"][key], key)
    lif_spikes = sum(v.size for k, v in out["sim"].items() if k.endswith("/steps"))
    assert lif_spikes > 0


def test_ca3_is_refused_with_its_plastic_projections_named(tmp_path):
    res = run_cli("simulate", "ca3", "--board", "loihi2-kapoho-point", "--backend", "lava", "--steps", 10)
    assert_clean_failure(res, "backend 'lava' cannot run network", "plastic projection(s) 'CA3")


def test_spinnaker_board_is_refused(tmp_path):
    res = run_cli("simulate", "synfire", "--board", "spinn-3", "--backend", "lava", "--steps", 10,
                  "--param", "n_groups=2", "--param", "group_size=5", "--param", "fan_in=3")
    assert_clean_failure(res, "board 'spinn-3' is spinnaker; backend 'lava' targets loihi2")
