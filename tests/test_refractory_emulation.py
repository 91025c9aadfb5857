"""Refractory periods on Loihi 2 by self-synapses (neurocompile/targets/loihi2/refractory.py).

Checked: the kick's v response is exactly -b c_j during the period and 0 after it (direct
simulation of the linear recurrence); the lowered network runs in Lava 0.10 fixed_pt bit for bit
like our loihi2 mode (so what the emulation does is what Loihi's documented arithmetic does); no
neuron fires within k steps of its last spike, while the same network with the period dropped
does; under drive that makes every neuron fire as soon as it may, the rasters equal the float
network's true refractory rasters; the voltage scale leaves room for the kick.
"""
from __future__ import annotations

import numpy as np
import pytest

from neurocompile.backends.sim import Simulation
from neurocompile.backends.sim.float_mode import FloatMode
from neurocompile.backends.sim.loihi2_mode import Loihi2Mode
from neurocompile.targets.loihi2.quantize import quantize_loihi
from neurocompile.targets.loihi2.refractory import kick_input_units, kick_profile, split_kick
from test_quantize import LOIHI, ctx_for, ff_net


@pytest.mark.parametrize("k", [1, 2, 5, 9])
@pytest.mark.parametrize("du,dv", [(0, 1), (511, 256), (4095, 4095), (1219, 40)])
def test_kick_holds_v_down_for_k_steps_and_leaves_no_trace(k, du, dv):
    prof = kick_profile(k, du, dv)
    ku, kv = (4096 - (du + 1)) / 4096, (4096 - dv) / 4096
    u = v = 0.0
    ys = []
    for t in range(k + 12):
        u = ku * u + (prof.x[t] if t < prof.x.size else 0.0)
        v = kv * v + u
        ys.append(v)
    assert np.allclose(ys[:k], -prof.c, rtol=0, atol=1e-12)
    assert np.all(-prof.c <= -1.0 + 1e-12)                 # at least one bound below rest
    assert np.allclose(ys[k:], 0.0, atol=1e-9)
    assert np.allclose(prof.u[-1], 0.0, atol=1e-9)


def test_split_kick_is_exact_and_uses_legal_mantissas():
    x = kick_input_units(3, 511, 256, b_state=3.7e6, in_unit=64)
    parts = split_kick(x, high_exp=7, max_mantissa=255)
    total = np.zeros(x.size, dtype=np.int64)
    for (sign, exp), (delays, mants) in parts.items():
        assert np.all(np.sign(mants) == sign) and np.all(np.abs(mants) <= 255)
        np.add.at(total, delays - 1, (mants * 2 ** exp).astype(np.int64))
    assert np.array_equal(total, x)


def _isi_min(raster: np.ndarray) -> int:
    gaps = [np.diff(np.flatnonzero(col)).min() for col in raster.T if np.count_nonzero(col) > 1]
    return int(min(gaps)) if gaps else 10 ** 9


@pytest.mark.parametrize("k", [1, 3, 5])
def test_emulated_period_runs_in_lava_like_our_mode_and_is_never_violated(k):
    from lava_helpers import run_lava

    rng = np.random.default_rng(k)
    steps, n = 250, 8
    net = ff_net(rng.uniform(0.1, 2.5, (30, n)), -rng.uniform(0.1, 1.0, (30, n)), n_post=n,
                 params={"tau_refrac": float(k), "i_offset": 0.2}, steps=steps, rate=0.1, seed=k)
    ctx = ctx_for(LOIHI)
    q = quantize_loihi(net, ctx)
    rec = ctx.quantization.populations["lif"]
    assert rec["refractory_emulation"]["steps"] == k
    assert rec["voltage_scale"] <= rec["scale_limits"]["refractory_room"] * (1 + 1e-12)
    ours = Simulation(q, Loihi2Mode()).run(steps)
    raster = ours.raster("lif", n)
    lava = run_lava(q, steps)
    assert np.array_equal(lava.spikes["lif"], raster)
    assert np.array_equal(lava.v["lif"], ours.final_state["lif"]["v"])
    assert np.array_equal(lava.u["lif"], ours.final_state["lif"]["u"])
    assert raster.sum() > 5 * n
    assert _isi_min(raster) >= k + 1
    dropped = quantize_loihi(net, ctx_for(LOIHI, loihi_refractory="drop"))
    assert _isi_min(Simulation(dropped, Loihi2Mode()).run(steps).raster("lif", n)) < k + 1


@pytest.mark.parametrize("k", [1, 2, 5])
def test_under_saturating_drive_rasters_equal_the_true_refractory_float_rasters(k):
    rng = np.random.default_rng(10 + k)
    steps, n = 200, 10
    net = ff_net(rng.uniform(0.5, 3.0, (40, n)), -rng.uniform(0.1, 1.0, (40, n)), n_post=n,
                 params={"tau_refrac": float(k), "i_offset": 0.5}, steps=steps, rate=0.15, seed=k)
    float_raster = Simulation(net, FloatMode()).run(steps).raster("lif", n)
    q = quantize_loihi(net, ctx_for(LOIHI))
    loihi_raster = Simulation(q, Loihi2Mode()).run(steps).raster("lif", n)
    assert float_raster.sum() > steps * n / (k + 1) * 0.8
    assert np.array_equal(float_raster, loihi_raster)


def test_lava_imports_after_numba_fixed_the_multiprocessing_start_method():
    """Regression: training a model (numba parallel kernels) and then running Lava in one process."""
    import subprocess
    import sys

    code = ("import multiprocessing as mp; mp.get_start_method(); "   # fixes the default context
            "from neurocompile.backends.lava import import_lava; import_lava(); "
            "import lava.proc.dense.process; print('ok')")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and r.stdout.strip().endswith("ok"), r.stderr[-2000:]
