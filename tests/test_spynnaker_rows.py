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
sim.setup(timestep=1.0)
cls = mod["sorted_list_connector_class"](sim)
rng = np.random.default_rng(1)
checked = 0
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
unsorted = conns[rng.permutation(len(conns))]
assert not mod["_sorted_by_pre_post"](unsorted)  # then the stock method runs
sim.end()
print("OK", checked)
"""


def test_list_connector_maximum_equals_stock_on_sorted_lists(tmp_path):
    """SortedListConnector's longest (pre, post core) row equals 7.4.1's on sorted lists, for
    several post atoms per core and delay ranges (needs sim.setup: in a private sPyNNaker home)."""
    _classes()
    from neurocompile.targets.spinnaker.spynnaker_env import make_spynnaker_env

    senv = make_spynnaker_env(tmp_path / "env")
    script = Path(__file__).parents[1] / "backends" / "spynnaker" / "pynn_script.py"
    proc = senv.run([sys.executable, "-c", _CONNECTOR_CHECK, str(script)], timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "OK 480" in proc.stdout
