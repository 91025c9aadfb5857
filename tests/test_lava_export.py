"""`compile --board loihi2-*` writes lava/: a script that rebuilds and runs the network with only
lava-nc and numpy. Run here in a subprocess with neurocompile blocked from import."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import lava  # noqa: F401  -- deliberately unconditional: a missing Lava is a failure
import numpy as np
import pytest

from neurocompile.backends.lava import LavaBackend
from neurocompile.backends.sim import Simulation
from neurocompile.backends.sim.loihi2_mode import Loihi2Mode
from neurocompile.boards import load_board
from neurocompile.compiled import load_compiled
from neurocompile.compiler import compile_network, write_compiled
from neurocompile.ir.network import Network
from neurocompile.plugins import get_model

pytestmark = pytest.mark.lava

RUNNER = ("import sys\n"
          "sys.modules['neurocompile'] = None  # any neurocompile import now raises ImportError\n"
          "p = sys.argv[1]\n"
          "sys.argv = [p] + sys.argv[2:]\n"
          "exec(compile(open(p).read(), p, 'exec'), {'__name__': '__main__', '__file__': p})\n"
          "assert not [m for m in sys.modules if m.startswith('neurocompile.')], 'imported neurocompile'\n")


def poisson_net() -> Network:
    net = Network(name="pois", seed=3)
    net.add_population("noise", 30, "poisson", {"rate": 80.0})
    net.add_population("exc", 12, "lif_curr_exp", {"v_thresh": -60.0})
    rng = np.random.default_rng(0)
    pre, post = np.nonzero(rng.random((30, 12)) < 0.4)
    net.add_projection("noise", "exc", pre, post, rng.uniform(0.2, 2.0, pre.size), rng.integers(1, 5, pre.size))
    net.add_projection("exc", "exc", [0, 1, 2], [3, 4, 5], -1.0, 2, receptor="inhibitory")
    return net


@pytest.mark.parametrize("which", ["synfire", "poisson"])
def test_exported_script_reproduces_the_backend_without_neurocompile(which, tmp_path):
    net = (get_model("synfire").build(n_groups=4, group_size=30, fan_in=20) if which == "synfire"
           else poisson_net())
    compiled = compile_network(net, load_board("loihi2-oheo-gulch"), seed=net.seed)
    out = tmp_path / "out"
    write_compiled(compiled, out)
    assert compiled.export_notes == ["backend 'lava' wrote lava/"]
    script = out / "lava" / "run_lava.py"
    assert not re.search(r"^\s*(import|from)\s+neurocompile", script.read_text(), re.M)
    steps = 120
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    r = subprocess.run([sys.executable, "-c", RUNNER, str(script), "--steps", str(steps), "-o",
                        str(tmp_path / "spikes.npz"), "--timeout", "300"],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    got = dict(np.load(tmp_path / "spikes.npz"))
    loaded = load_compiled(out)
    ours = LavaBackend().build(loaded, {}).run(steps)
    sim = Simulation(loaded.network, Loihi2Mode(), loaded.seed).run(steps)
    total = 0
    for name, pop in loaded.network.populations.items():
        raster = np.zeros((steps, pop.size), dtype=bool)
        raster[got[name + ".steps"], got[name + ".ids"]] = True
        np.testing.assert_array_equal(raster, ours.raster(name, pop.size), name)
        np.testing.assert_array_equal(raster, sim.raster(name, pop.size), name)
        if name in sim.final_state:
            total += int(raster.sum())
            np.testing.assert_array_equal(got[name + ".v"], sim.final_state[name]["v"])
            np.testing.assert_array_equal(got[name + ".u"], sim.final_state[name]["u"])
    assert total > 20, "the LIF populations must spike for the comparison to mean anything"


def test_exported_script_rebuilds_plastic_ca3_without_neurocompile(tmp_path):
    # CA3's functional protocol, first 45 steps (3 learns and a recall by cue): LearningDense with
    # the rule, relay and rng_seed of network.npz gives the backend's spikes and weights exactly.
    net = get_model("ca3").build(protocol="functional")
    compiled = compile_network(net, load_board("loihi2-kapoho-point"), seed=5)
    out = tmp_path / "out"
    write_compiled(compiled, out)
    steps = 45
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    r = subprocess.run([sys.executable, "-c", RUNNER, str(out / "lava" / "run_lava.py"), "--steps", str(steps),
                        "-o", str(tmp_path / "spikes.npz"), "--timeout", "300"],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    got = dict(np.load(tmp_path / "spikes.npz"))
    loaded = load_compiled(out)
    ours = LavaBackend().build(loaded, {}).run(steps)
    for name, pop in loaded.network.populations.items():
        raster = np.zeros((steps, pop.size), dtype=bool)
        raster[got[name + ".steps"], got[name + ".ids"]] = True
        np.testing.assert_array_equal(raster, ours.raster(name, pop.size), name)
    plastic = [p.name for p in loaded.network.projections.values() if p.plasticity is not None]
    assert sorted(ours.weights) == sorted(plastic) and len(plastic) == 2
    for name in plastic:
        np.testing.assert_array_equal(got[name + ".weights"], ours.weights[name], name)
    assert ours.weights[plastic[0]].max() > 0, "learning must have changed weights"


def test_spinnaker_compile_writes_no_lava(tmp_path):
    net = get_model("synfire").build(n_groups=2, group_size=5, fan_in=3)
    compiled = compile_network(net, load_board("spinn-3"), seed=1)
    write_compiled(compiled, tmp_path / "o")
    assert not (tmp_path / "o" / "lava").exists()
    assert not any("'lava'" in note for note in compiled.export_notes)
    # the SpiNNaker toolchain's own project is what a SpiNNaker compile exports
    assert (tmp_path / "o" / "spynnaker" / "run_pynn.py").is_file()
    assert compiled.export_notes == ["backend 'spynnaker' wrote spynnaker/"]


def test_a_network_lava_cannot_express_compiles_with_a_note_and_no_lava_dir(tmp_path):
    from neurocompile.compiled import CompiledNetwork  # noqa: F401
    from neurocompile.compiler import export_for_toolchains

    net = Network(name="dup", seed=1)
    net.add_spike_source("s", [[0]])
    net.add_population("n", 1, "lif_curr_exp", {})
    net.add_projection("s", "n", [0], [0], 1.0, 1)
    compiled = compile_network(net, load_board("loihi2-oheo-gulch"), seed=1)
    proj = next(iter(compiled.network.projections.values()))
    # a multapse with weight_exp < 0 whose weights cannot merge: Lava cannot express it
    proj.pre_idx, proj.post_idx = np.array([0, 0], np.int32), np.array([0, 0], np.int32)
    proj.weight, proj.delay = np.array([200.0, 200.0]), np.array([1, 1], np.int32)
    proj.attrs["weight_exp"], proj.attrs["num_weight_bits"] = -1, 8
    (tmp_path / "stage").mkdir()
    notes = export_for_toolchains(compiled, tmp_path / "stage")
    assert len(notes) == 1 and "exported nothing" in notes[0] and repr(proj.name) in notes[0]
    assert not (tmp_path / "stage" / "lava").exists()
