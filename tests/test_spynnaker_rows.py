"""The StaticSynapse subclass run_pynn.py gives sPyNNaker (pynn_script.sorted_rows_static_synapse):
its two replaced methods return exactly what 7.4.1's do, on random blocks (in-process, no
mapping: the methods use no sPyNNaker state). The mapped end result (every synapse bit-equal) is
checked by tests/test_spynnaker_backend.py."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.spinnaker


def _classes():
    missing = [m for m in ("spynnaker", "pyNN") if importlib.util.find_spec(m) is None]
    if missing:
        pytest.fail(f"{missing} not importable: sPyNNaker 1!7.4.1 and PyNN 0.13 are declared "
                    "dependencies (pip install -e '.[all]')", pytrace=False)
    from spynnaker.pyNN.models.neuron.synapse_dynamics import SynapseDynamicsStatic

    spec = importlib.util.spec_from_file_location(
        "nc_pynn_script", Path(__file__).parents[1] / "backends" / "spynnaker" / "pynn_script.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("nc_pynn_script", mod)
    spec.loader.exec_module(mod)
    cls = mod.sorted_rows_static_synapse_class()
    assert issubclass(cls, SynapseDynamicsStatic)
    return SynapseDynamicsStatic, cls.__new__(cls)  # no __init__: it needs sim.setup


def test_rows_and_read_back_equal_stock_on_random_blocks():
    stock, fast = _classes()
    rng = np.random.default_rng(0)
    for _ in range(40):
        n_rows, n = int(rng.integers(1, 300)), int(rng.integers(0, 5000))
        idx = rng.integers(0, n_rows, n)
        data = rng.integers(0, 256, (n, 4)).astype(np.uint8)
        cap = int(rng.integers(1, 60))  # max_n_synapses: rows longer than this are cut
        a = stock.convert_per_connection_data_to_rows(fast, idx, n_rows, data, cap)
        b = fast.convert_per_connection_data_to_rows(idx, n_rows, data, cap)
        assert len(a) == len(b) == n_rows
        assert all(x.dtype == y.dtype and np.array_equal(x, y) for x, y in zip(a, b))
        if not n:
            continue
        sizes = np.array([[len(r) // 4] for r in a], dtype=np.uint32)
        words = [r.view(np.uint32) for r in a]
        c1 = stock.read_static_synaptic_data(fast, 2, sizes, words, 256)
        c2 = fast.read_static_synaptic_data(2, sizes, words, 256)
        assert c1.dtype == c2.dtype and all(np.array_equal(c1[f], c2[f]) for f in c1.dtype.names)


_CONNECTOR_CHECK = r"""
import sys, runpy, numpy as np
mod = runpy.run_path(sys.argv[1])
import pyNN.spiNNaker as sim
from pacman.model.graphs.common import Slice
sim.setup(timestep=1.0)
cls = mod["sorted_list_connector_class"](sim)
rng = np.random.default_rng(1)
checked = split_checked = 0
for trial in range(30):
    n = int(rng.integers(1, 3000))
    pre, post = rng.integers(0, 200, n), rng.integers(0, 400, n)
    conns = np.stack([pre, post, rng.uniform(0.1, 1, n), rng.integers(1, 40, n) + 0.3], 1).astype(float)
    conns = conns[np.lexsort((conns[:, 1], conns[:, 0]))]  # (pre, post) order, as run_pynn.py passes
    stock, fast = sim.FromListConnector(conns), cls(conns)
    for n_post_atoms in (1, 7, 64, 256):
        for lo, hi in ((None, None), (1.0, 16.0), (17.0, 60.0), (100.0, 200.0)):
            a = stock.get_n_connections_from_pre_vertex_maximum(n_post_atoms, None, lo, hi)
            b = fast.get_n_connections_from_pre_vertex_maximum(n_post_atoms, None, lo, hi)
            assert a == b, (trial, n_post_atoms, lo, hi, a, b)
            checked += 1
    # _split_connections: same arrays and same per-core split as 7.4.1's, also when called
    # again with the same, then other, then the first arguments (the replacement keeps a result)
    def cuts(n_post, per_core):
        return [Slice(lo, min(lo + per_core, n_post) - 1) for lo in range(0, n_post, per_core)]
    calls = [(200, 400, cuts(400, 64)), (200, 400, cuts(400, 64)), (200, 400, cuts(400, 100)),
             (150, 300, cuts(300, 100)), (200, 400, cuts(400, 64))]
    for n_pre, n_post, slices in calls:
        a = stock._split_connections(n_pre, n_post, slices)
        b = fast._split_connections(n_pre, n_post, slices)
        for x, y in zip(a, b):
            assert (x is None and y is None) or np.array_equal(x, y), (trial, n_pre, n_post)
        sa, sb = stock._FromListConnector__split_conn_list, fast._FromListConnector__split_conn_list
        assert sorted(sa) == sorted(sb) and all(np.array_equal(sa[k], sb[k]) for k in sa)
        split_checked += 1
unsorted = conns[rng.permutation(len(conns))]
assert not mod["_sorted_by_pre_post"](unsorted)  # then the stock method runs
sim.end()
print("OK", checked, split_checked)
"""


def test_list_connector_maximum_equals_stock_on_sorted_lists(tmp_path):
    """SortedListConnector's longest (pre, post core) row equals 7.4.1's on sorted lists, for
    several post atoms per core and delay ranges, and its _split_connections returns 7.4.1's arrays
    and per-core split over a sequence of repeated and changed arguments (needs sim.setup: in a
    private sPyNNaker home)."""
    _classes()
    from neurocompile.targets.spinnaker.spynnaker_env import make_spynnaker_env

    senv = make_spynnaker_env(tmp_path / "env")
    script = Path(__file__).parents[1] / "backends" / "spynnaker" / "pynn_script.py"
    proc = senv.run([sys.executable, "-c", _CONNECTOR_CHECK, str(script)], timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "OK 480 150" in proc.stdout


_ROW_DATA_CHECK = r"""
import sys, runpy, numpy as np
mod = runpy.run_path(sys.argv[1])
import pyNN.spiNNaker as sim
from spynnaker.pyNN.models.neuron import synapse_io
from spynnaker.pyNN.models.neural_projections.connectors import AbstractConnector
sim.setup(timestep=1.0)
stock = synapse_io._get_row_data          # 7.4.1's own function (nothing installed in this process)
assert getattr(stock, "replaces", None) is None
fallbacks = []
def counted(*a):
    fallbacks.append(1)
    return stock(*a)
fast = mod["row_data_static"](counted)
static = [sim.StaticSynapse(), mod["sorted_rows_static_synapse"]()]
plastic = sim.STDPMechanism(
    timing_dependence=sim.SpikePairRule(tau_plus=20.0, tau_minus=20.0, A_plus=0.01, A_minus=0.012),
    weight_dependence=sim.AdditiveWeightDependence(w_min=0.0, w_max=1.0))
rng = np.random.default_rng(2)

def block(n, n_rows):
    c = np.zeros(n, dtype=AbstractConnector.NUMPY_SYNAPSES_DTYPE)
    c["source"] = rng.integers(0, n_rows, n)
    c["target"] = rng.integers(0, 1100, n)              # also beyond the neuron-id mask
    c["weight"] = rng.uniform(-70000, 70000, n)         # abs, rint, & 0xFFFF as in 7.4.1
    c["delay"] = rng.integers(1, 17, n).astype(float)
    c["synapse_type"] = rng.integers(0, 2, n)
    return c

static_checked = 0
for trial in range(60):
    n_rows = int(rng.integers(1, 400))
    n = int(rng.integers(0, 6000))
    c = block(n, n_rows)
    # undelayed rows (row = source), or delayed-matrix rows (row indices over n_rows x stages,
    # some beyond n_rows: 7.4.1 drops those)
    idx = c["source"] if trial % 2 else rng.integers(0, n_rows + 20, n).astype(np.uint32)
    cap = int(rng.integers(1, 80))                      # max_row_n_synapses: longer rows are cut
    words = cap + int(rng.integers(0, 8))               # allowed row length >= cap
    args = (c, idx, n_rows, int(rng.integers(1, 5)))
    tail = (cap, words, int(rng.choice([1, 32, 64, 100, 256, 1024])))
    for dyn in static:
        a = stock(*args, dyn, *tail)
        before = len(fallbacks)
        b = fast(*args, dyn, *tail)
        assert len(fallbacks) == before, "static rows went to the stock function"
        assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b), trial
        static_checked += 1
    if trial % 6 == 0 and n:  # plastic rows: 7.4.1's function runs (fallback), same bytes
        pa = stock(*args, plastic, *tail)
        before = len(fallbacks)
        pb = fast(*args, plastic, *tail)
        assert len(fallbacks) == before + 1 and np.array_equal(pa, pb)
# a row longer than max_row_n_words: 7.4.1 raises, and so does the replacement (it falls back)
c = block(50, 1)
for f in (stock, fast):
    try:
        f(c, np.zeros(50, np.uint32), 1, 2, static[1], 50, 10, 256)
        raise SystemExit("no error")
    except ValueError:
        pass
sim.end()
print("OK", static_checked)
"""


def test_row_data_static_equals_stock_get_row_data(tmp_path):
    """row_data_static (run_pynn.py's replacement of 7.4.1's synapse_io._get_row_data) gives the
    same words as 7.4.1's function on random static blocks (undelayed and delayed-matrix row
    indices, rows cut by max_row_n_synapses, padding, weights and targets beyond their fields),
    for StaticSynapse and SortedRowsStaticSynapse, without falling back; plastic rows go to 7.4.1's
    function. Needs sim.setup (the dynamics objects): in a private sPyNNaker home."""
    _classes()
    from neurocompile.targets.spinnaker.spynnaker_env import make_spynnaker_env

    senv = make_spynnaker_env(tmp_path / "env")
    script = Path(__file__).parents[1] / "backends" / "spynnaker" / "pynn_script.py"
    proc = senv.run([sys.executable, "-c", _ROW_DATA_CHECK, str(script)], timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "OK 120" in proc.stdout
