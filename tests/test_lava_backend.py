"""The lava backend itself, pinned by Lava networks written here by hand (no neurocompile lowering),
plus its errors, timeout and clean-up. Lava is required (module-level import: fails, never skips)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import zlib

import lava  # noqa: F401  -- deliberately unconditional: a missing Lava is a failure
import numpy as np
import pytest
import scipy.sparse as sp

from neurocompile.backends.lava import LavaBackend, LavaError, import_lava, run_networks
from neurocompile.backends.lava.lowering import LavaLoweringError, lower
from neurocompile.backends.sim import Simulation
from neurocompile.backends.sim.loihi2_mode import Loihi2Mode
from neurocompile.ir.network import Network, STDPRule
from neurocompile.ir.sources import PoissonSource

pytestmark = pytest.mark.lava

import_lava()
from lava.magma.core.run_conditions import RunSteps  # noqa: E402
from lava.magma.core.run_configs import Loihi2SimCfg  # noqa: E402
from lava.proc.dense.process import DelayDense, Dense  # noqa: E402
from lava.proc.io.sink import RingBuffer as Sink  # noqa: E402
from lava.proc.io.source import RingBuffer as Source  # noqa: E402
from lava.proc.lif.process import LIF  # noqa: E402
from lava.proc.sparse.process import DelaySparse, Sparse  # noqa: E402


def hand_run(raster_in: np.ndarray, lif_kw: dict, conn, steps: int, recurrent=None):
    """Source(raster) -> conn -> LIF (+ optional recurrent conn), written directly in Lava."""
    n = lif_kw.pop("n")
    src = Source(data=raster_in.T.astype(np.int32))
    lif = LIF(shape=(n,), **lif_kw)
    sink = Sink(shape=(n,), buffer=steps)
    src.s_out.connect(conn.s_in)
    conn.a_out.connect(lif.a_in)
    if recurrent is not None:
        lif.s_out.connect(recurrent.s_in)
        recurrent.a_out.connect(lif.a_in)
    lif.s_out.connect(sink.a_in)
    try:
        lif.run(condition=RunSteps(num_steps=steps), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        spikes = np.asarray(sink.data.get()).T != 0
        return spikes, np.asarray(lif.u.get()).astype(np.int64), np.asarray(lif.v.get()).astype(np.int64)
    finally:
        lif.stop()


def ir_net(raster_in, params, w, d, exp, nwb, rec=None):
    net = Network(name="hand")
    net.add_spike_source("in", [np.flatnonzero(raster_in[:, i]).tolist() for i in range(raster_in.shape[1])])
    net.add_population("lif", params["n"], "loihi2_lif",
                       {"du": params["du"], "dv": params["dv"], "vth": params["vth"],
                        "bias_mant": params["bias_mant"], "bias_exp": params["bias_exp"]})
    post, pre = np.nonzero(w)
    net.add_projection("in", "lif", pre, post, w[post, pre], d[post, pre] + 1, name="in",
                       attrs={"weight_exp": exp, "num_weight_bits": nwb})
    if rec is not None:
        rw, rexp = rec
        post, pre = np.nonzero(rw)
        net.add_projection("lif", "lif", pre, post, rw[post, pre], 1, name="rec",
                           attrs={"weight_exp": rexp, "num_weight_bits": 8})
    return net


CASES = [  # (connection class, weight_exp, num_weight_bits, max Lava delay, recurrent)
    ("Dense", -2, 8, 0, False), ("Dense", 3, 6, 0, True), ("Sparse", -1, 8, 0, False),
    ("Sparse", 0, 7, 0, True), ("DelayDense", -3, 8, 5, False), ("DelayDense", 1, 8, 9, True),
    ("DelaySparse", -2, 8, 4, False), ("DelaySparse", 2, 5, 7, False),
]


@pytest.mark.parametrize("cls,exp,nwb,dmax,rec", CASES)
def test_backend_equals_hand_built_lava(cls, exp, nwb, dmax, rec):
    rng = np.random.default_rng(zlib.crc32(f"{cls}{exp}{nwb}".encode()))
    steps, n_in, n = 40, 12, 6
    raster = rng.random((steps, n_in)) < 0.3
    w = (rng.integers(-128, 128, (n, n_in)) * 2) * (rng.random((n, n_in)) < 0.5)
    d = rng.integers(0, dmax + 1, (n, n_in)) * (w != 0)
    params = dict(n=n, du=300, dv=200, vth=20, bias_mant=np.arange(n) * 10, bias_exp=2)
    rw = (rng.integers(-128, 128, (n, n)) * 2) * (rng.random((n, n)) < 0.4) if rec else None
    kw = dict(weight_exp=exp, num_weight_bits=nwb)
    if cls == "Dense":
        conn = Dense(weights=w, **kw)
    elif cls == "Sparse":
        conn = Sparse(weights=sp.csr_matrix(w), **kw)
    elif cls == "DelayDense":
        conn = DelayDense(weights=w, delays=d, **kw)
    else:
        conn = DelaySparse(weights=sp.csr_matrix(w), delays=sp.csr_matrix(d), **kw)
    recurrent = Dense(weights=rw, weight_exp=1) if rec else None
    hs, hu, hv = hand_run(raster, dict(params), conn, steps, recurrent)
    net = ir_net(raster, params, w, d, exp, nwb, (rw, 1) if rec else None)
    kind = "sparse" if "Sparse" in cls else "dense"
    low = lower([net], kind=lambda _n, p: kind if p.name == "in" else "dense")
    assert low.kinds[0]["in"] == {"Dense": "dense", "Sparse": "sparse", "DelayDense": "delay_dense",
                                  "DelaySparse": "delay_sparse"}[cls] or dmax == 0
    from neurocompile.backends.lava import run_lowered

    r = run_lowered(low, [0], steps)[0][0]
    assert hs.any(), "the case must spike to test anything"
    np.testing.assert_array_equal(r.raster("lif", n), hs)
    np.testing.assert_array_equal(r.final_state["lif"]["u"], hu)
    np.testing.assert_array_equal(r.final_state["lif"]["v"], hv)


def test_poisson_source_feeds_the_irs_spikes():
    """A hand-built Lava network fed our PoissonSource's draws == the backend on the IR network."""
    steps, n_src, seed = 50, 20, 1234
    net = Network(name="pois", seed=seed)
    pois = net.add_population("p", n_src, "poisson", {"rate": 150.0, "start": 5, "duration": 30})
    net.add_population("lif", 3, "loihi2_lif", {"du": 500, "dv": 500, "vth": 20})
    pre, post = np.meshgrid(np.arange(n_src), np.arange(3), indexing="ij")
    net.add_projection("p", "lif", pre.ravel(), post.ravel(), 60, 1, attrs={"weight_exp": 0})
    ps = PoissonSource(pois, net.dt_ms, seed)
    raster = np.zeros((steps, n_src), dtype=bool)
    for t in range(steps):
        raster[t, ps.spikes_at(t)] = True
    w = np.full((3, n_src), 60)
    hs, hu, hv = hand_run(raster, dict(n=3, du=500, dv=500, vth=20), Dense(weights=w), steps)
    r = run_networks(net, steps)
    np.testing.assert_array_equal(r.raster("p", n_src), raster)
    np.testing.assert_array_equal(r.raster("lif", 3), hs)
    np.testing.assert_array_equal(r.final_state["lif"]["v"], hv)
    assert raster[:5].sum() == 0 and raster[35:].sum() == 0 and raster.sum() > 20
    # a different seed gives different spikes: the seed reaches the source
    assert not np.array_equal(run_networks(net, steps, seeds=[seed + 1]).raster("p", n_src), raster)


def _sim(net, steps):
    return Simulation(net, Loihi2Mode()).run(steps)


def _assert_same(net, steps, lava_res):
    ours = _sim(net, steps)
    for name, pop in net.populations.items():
        np.testing.assert_array_equal(lava_res.raster(name, pop.size), ours.raster(name, pop.size), name)
        if name in ours.final_state:
            for var in ("u", "v"):
                np.testing.assert_array_equal(lava_res.final_state[name][var], ours.final_state[name][var])


@pytest.mark.parametrize("exp", [2, -2])
def test_multapses_split_or_merge_exactly(exp):
    net = Network(name="multi")
    net.add_spike_source("s", [[0, 3, 4], [1, 3], [2, 5, 6]])
    net.add_population("n", 2, "loihi2_lif", {"du": 1000, "dv": 100, "vth": 100000})
    # pair (0, 0) three times (two with delay 2, one with delay 5), pair (2, 1) twice
    net.add_projection("s", "n", [0, 0, 0, 2, 2, 1], [0, 0, 0, 1, 1, 1], [6, 10, 20, -8, -4, 14],
                       [2, 2, 5, 3, 3, 1], name="m", attrs={"weight_exp": exp})
    low = lower([net])
    assert len(low.kinds[0]) > 1 and all(k.startswith("m") for k in low.kinds[0])
    _assert_same(net, 12, run_networks(net, 12))


def test_negative_exp_multapse_that_cannot_merge_names_the_projection():
    net = Network(name="bad")
    net.add_spike_source("s", [[0]])
    net.add_population("n", 1, "loihi2_lif", {})
    net.add_projection("s", "n", [0, 0], [0, 0], [200, 200], 1, name="dup", attrs={"weight_exp": -1})
    with pytest.raises(LavaLoweringError, match=r"projection 'dup'.*pair \(pre 0, post 0\).*400"):
        lower([net])


def test_features_lava_cannot_express_are_named():
    net = Network(name="f")
    net.add_population("a", 2, "lif_curr_exp", {})
    with pytest.raises(LavaLoweringError, match=r"population 'a': neuron model 'lif_curr_exp'"):
        lower([net])
    net = Network(name="g")
    net.add_population("a", 2, "loihi2_lif", {})
    net.add_projection("a", "a", [0], [1], 2, 1, name="plastic", plasticity=STDPRule())
    with pytest.raises(LavaLoweringError, match=r"projection 'plastic': plastic, 1 of 4 \(pre, post\) pairs"):
        lower([net])
    net = Network(name="h")
    net.add_population("a", 2, "loihi2_lif", {})
    net.add_projection("a", "a", [0], [1], 2, 70, name="far")
    with pytest.raises(LavaLoweringError, match=r"projection 'far': delays 70..70"):
        lower([net])


def test_missing_lava_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "lava.magma.core.run_configs", None)
    ok, why = LavaBackend().available()
    assert not ok and "pip install" in why and "lava-nc" in why and "Python 3.10" in why
    with pytest.raises(LavaError, match="Python 3.10"):
        import_lava()


def _children_of(pid: int) -> set[int]:
    out = set()
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                out.add(int(d))
    return out


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


# A Lava process whose model never finishes a step: a hung runtime, on purpose.
HUNG = textwrap.dedent('''
    import sys, time
    import numpy as np
    from neurocompile.backends.lava import import_lava
    import_lava()
    from lava.magma.core.process.process import AbstractProcess
    from lava.magma.core.process.ports.ports import OutPort
    from lava.magma.core.process.variable import Var
    from lava.magma.core.model.py.model import PyLoihiProcessModel
    from lava.magma.core.model.py.ports import PyOutPort
    from lava.magma.core.model.py.type import LavaPyType
    from lava.magma.core.decorator import implements, requires, tag
    from lava.magma.core.resources import CPU
    from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

    class Hang(AbstractProcess):
        def __init__(self):
            super().__init__()
            self.s_out = OutPort(shape=(1,))
            self.u = Var(shape=(1,), init=0)
            self.v = Var(shape=(1,), init=0)

    @implements(proc=Hang, protocol=LoihiProtocol)
    @requires(CPU)
    @tag("fixed_pt")
    class PyHang(PyLoihiProcessModel):
        s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32)
        u: np.ndarray = LavaPyType(np.ndarray, np.int32)
        v: np.ndarray = LavaPyType(np.ndarray, np.int32)
        def run_spk(self):
            time.sleep(3600)
''')

HUNG_MAIN = textwrap.dedent('''
    import sys
    sys.path.insert(0, sys.argv[2])
    from hang_proc import Hang
    from lava.proc.io.sink import RingBuffer as Sink
    from neurocompile.backends.lava.processes import Built
    from neurocompile.backends.lava.runtime import LavaRunError, run_built

    b = Built()
    h = Hang(); s = Sink(shape=(1,), buffer=5); h.s_out.connect(s.a_in)
    b.lifs, b.sinks, b.components = [h], [s], [[0]]
    print("READY", flush=True)
    try:
        run_built(b, 5, timeout=float(sys.argv[1]))
    except LavaRunError as e:
        print("ERROR", e, flush=True)
''')


def _start_hung(tmp_path, timeout: float):
    # the process and its model in an importable module without side effects (Lava's compiler
    # imports the module of a process to find its models), the run in the script
    # imports, as models, every module in that module's directory: keep the script elsewhere)
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc" / "hang_proc.py").write_text(HUNG)
    (tmp_path / "hung.py").write_text(HUNG_MAIN)
    return subprocess.Popen([sys.executable, str(tmp_path / "hung.py"), str(timeout), str(tmp_path / "proc")],
                            stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_hung_runtime_ends_in_a_clear_error_and_leaves_no_process(tmp_path):
    p = _start_hung(tmp_path, 4.0)
    seen: set[int] = set()
    deadline = time.monotonic() + 60
    while p.poll() is None and time.monotonic() < deadline:
        seen |= _children_of(p.pid)
        time.sleep(0.2)
    out, err = p.communicate(timeout=30)
    assert "ERROR the Lava runtime did not finish 5 steps within the 4 s timeout" in out, (out, err[-3000:])
    assert len(seen) >= 2, "Lava's child processes were never seen: the test would prove nothing"
    time.sleep(0.5)
    assert not [c for c in seen if _alive(c)], "Lava child processes outlived the timeout"


def test_ctrl_c_leaves_no_lava_process(tmp_path):
    p = _start_hung(tmp_path, 600.0)
    seen: set[int] = set()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(seen) < 3:
        seen |= _children_of(p.pid)
        time.sleep(0.2)
    assert len(seen) >= 3, "Lava's child processes never started"
    time.sleep(1.0)
    os.kill(p.pid, signal.SIGINT)
    p.communicate(timeout=60)
    assert p.returncode != 0
    time.sleep(0.5)
    assert not [c for c in seen if _alive(c)], "Lava child processes outlived Ctrl-C"


def test_u_v_traces_equal_our_simulators():
    net = Network(name="tr")
    net.add_spike_source("s", [[0, 2, 3, 7], [1, 4, 9]])
    net.add_population("a", 3, "loihi2_lif", {"du": 300, "dv": 100, "vth": 30}, record=("spikes", "v", "u"))
    net.add_population("b", 2, "loihi2_lif", {"du": 50, "vth": 5000}, record=("v",))
    net.add_projection("s", "a", [0, 1, 1], [0, 1, 2], [120, 90, -40], [1, 2, 1])
    net.add_projection("a", "b", [0, 1, 2], [0, 1, 1], 100, 1)
    steps = 15
    r = run_networks(net, steps)
    ours = _sim(net, steps)
    assert set(r.traces) == {"a", "b"} and set(r.traces["a"]) == {"u", "v"} and set(r.traces["b"]) == {"v"}
    for pop, vs in ours.traces.items():
        for var, arr in vs.items():
            np.testing.assert_array_equal(r.traces[pop][var], arr, f"{pop}.{var}")
    assert np.any(r.traces["a"]["v"] != 0) and np.any(r.traces["b"]["v"] != 0)
    net.populations["b"].record = ("i_syn_exc",)
    with pytest.raises(LavaLoweringError, match=r"population 'b': records i_syn_exc"):
        lower([net])


def test_hardware_run_is_refused_without_lava_loihi():
    """Loihi2HwCfg without Intel's lava-loihi would quietly run CPU models: refused by name."""
    from lava.utils import loihi

    from neurocompile.backends.lava.runtime import LavaRunError, run_config

    assert not loihi.is_installed()  # this machine has no lava-loihi; the hardware path is untested
    with pytest.raises(LavaRunError, match="lava-loihi"):
        run_config(hardware=True)
    assert type(run_config()).__name__ == "Loihi2SimCfg"
