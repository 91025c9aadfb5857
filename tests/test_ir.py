"""Network IR: construction, validation errors, graph view and the .ncnet file format."""
from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from neurocompile.errors import FileFormatError, ModelError
from neurocompile.ir import Network, STDPRule, load_network, save_network, validate_network


def test_construction_and_graph(tiny_net):
    validate_network(tiny_net)
    g = tiny_net.graph()
    assert set(g.nodes) == {"src", "a", "b"}
    assert g.nodes["a"]["size"] == 4
    assert [k for _, _, k in g.edges(keys=True)] == ["src->a", "a->b"]
    assert tiny_net.n_synapses == 7 and tiny_net.n_neurons == 10


def test_param_broadcast_and_defaults(tiny_net):
    b = tiny_net.populations["b"]
    np.testing.assert_array_equal(b.param("tau_m"), [10.0, 20.0, 30.0])
    np.testing.assert_array_equal(b.param("v_rest"), [-65.0] * 3)  # PyNN default


def test_connect_matrix_keeps_nonzeros():
    net = Network()
    net.add_population("x", 3)
    w = np.array([[0, 0.5, 0], [0.2, 0, 0], [0, 0, 0.1]])
    d = np.array([[1, 2, 1], [3, 1, 1], [1, 1, 4]])
    proj = net.connect_matrix("x", "x", w, delay=d, receptor="excitatory")
    got = {(int(i), int(j)): (float(wv), int(dv)) for i, j, wv, dv in
           zip(proj.pre_idx, proj.post_idx, proj.weight, proj.delay)}
    assert got == {(0, 1): (0.5, 2), (1, 0): (0.2, 3), (2, 2): (0.1, 4)}


def test_unique_projection_names():
    net = Network()
    net.add_population("x", 2)
    p1 = net.add_projection("x", "x", [0], [1], 0.1)
    p2 = net.add_projection("x", "x", [1], [0], 0.1)
    assert (p1.name, p2.name) == ("x->x", "x->x#2")


@pytest.mark.parametrize("mutate, message", [
    (lambda n: n.projections["src->a"].weight.__setitem__(0, np.nan), "weight of synapse 0 is nan"),
    (lambda n: n.projections["src->a"].weight.__setitem__(1, np.inf), "must be finite"),
    (lambda n: n.projections["src->a"].delay.__setitem__(2, 0), "delays must be >= 1"),
    (lambda n: n.projections["src->a"].post_idx.__setitem__(0, 4), "out of range for population 'a' of size 4"),
    (lambda n: n.projections["a->b"].weight.__setitem__(0, 0.5), "inhibitory weights must be <= 0"),
    (lambda n: n.populations["a"].params.__setitem__("tau_mem", 3.0), "unknown parameter(s) ['tau_mem']"),
    (lambda n: n.populations["a"].params.__setitem__("tau_m", np.ones(3)), "must be a scalar or have length 4"),
    (lambda n: n.populations["a"].params.__setitem__("tau_m", -1.0), "outside the allowed range"),
    (lambda n: n.populations["a"].params.__setitem__("v_reset", -50.0), "v_thresh (-60 mV) must be above v_reset"),
    (lambda n: setattr(n.projections["src->a"], "receptor", "gaba"), "receptor 'gaba' not available"),
    (lambda n: setattr(n, "dt_ms", float("nan")), "dt_ms must be a positive finite number"),
    (lambda n: setattr(n.projections["a->b"], "plasticity", STDPRule(w_min=1.0, w_max=0.5)), "w_max (0.5) must be >= w_min"),
])
def test_validation_names_object_and_limit(tiny_net, mutate, message):
    mutate(tiny_net)
    with pytest.raises(ModelError) as e:
        validate_network(tiny_net)
    assert message in str(e.value)
    assert "\n" not in str(e.value)


def test_construction_errors():
    net = Network()
    net.add_population("x", 2)
    with pytest.raises(ModelError, match="size must be a positive integer"):
        net.add_population("y", 0)
    with pytest.raises(ModelError, match="unknown neuron model 'izh'"):
        net.add_population("z", 2, "izh")
    with pytest.raises(ModelError, match="population 'nope' does not exist"):
        net.add_projection("x", "nope", [0], [0], 0.1)
    with pytest.raises(ModelError, match="whole timesteps"):
        net.add_projection("x", "x", [0], [0], 0.1, delay=1.5)
    with pytest.raises(ModelError, match="already exists"):
        net.add_population("x", 3)


def test_source_cannot_receive_synapses():
    net = Network()
    net.add_spike_source("s", [[1]])
    net.add_population("x", 1)
    net.add_projection("x", "s", [0], [0], 0.1)
    with pytest.raises(ModelError, match="is a spike source"):
        validate_network(net)


def _assert_same(a: Network, b: Network) -> None:
    assert (a.name, a.dt_ms, a.seed, a.number_format, a.metadata) == (b.name, b.dt_ms, b.seed, b.number_format, b.metadata)
    assert list(a.populations) == list(b.populations)
    for name, p in a.populations.items():
        q = b.populations[name]
        assert (p.size, p.model, p.record, p.annotations) == (q.size, q.model, q.record, q.annotations)
        assert p.params.keys() == q.params.keys()
        for k, v in p.params.items():
            np.testing.assert_array_equal(np.asarray(v), np.asarray(q.params[k]))
            assert np.asarray(v).dtype == np.asarray(q.params[k]).dtype
    assert list(a.projections) == list(b.projections)
    for name, p in a.projections.items():
        q = b.projections[name]
        assert (p.pre, p.post, p.receptor, p.plasticity, p.attrs) == (q.pre, q.post, q.receptor, q.plasticity, q.attrs)
        for arr in ("pre_idx", "post_idx", "weight", "delay"):
            x, y = getattr(p, arr), getattr(q, arr)
            assert x.dtype == y.dtype and x.tobytes() == y.tobytes()  # bit-exact


def test_round_trip_small(tiny_net, tmp_path):
    tiny_net.projections["a->b"].plasticity = STDPRule(tau_plus=16.8, a_plus=0.1 / 3)
    tiny_net.metadata["source"] = {"paper": "x", "value": 0.1 + 0.2}
    path = save_network(tiny_net, tmp_path / "t.ncnet")
    _assert_same(tiny_net, load_network(path))


def test_round_trip_one_million_synapses(tmp_path):
    rng = np.random.default_rng(0)
    net = Network(name="big", dt_ms=0.1, seed=11)
    net.add_population("in", 5000, "poisson", {"rate": rng.uniform(1, 20, 5000)})
    net.add_population("out", 2000, "lif_curr_exp", {"tau_m": rng.uniform(5, 30, 2000), "cm": 0.25})
    n = 1_000_000
    # Weights with full float64 mantissas: a lossy format would change them.
    net.add_projection("in", "out", rng.integers(0, 5000, n), rng.integers(0, 2000, n),
                       rng.random(n) * np.pi, rng.integers(1, 144, n), receptor="excitatory",
                       plasticity=STDPRule())
    path = save_network(net, tmp_path / "big.ncnet")
    back = load_network(path)
    _assert_same(net, back)
    validate_network(back)


def test_save_is_atomic_and_leaves_no_temp(tiny_net, tmp_path):
    path = tmp_path / "t.ncnet"
    save_network(tiny_net, path)
    tiny_net.metadata["bad"] = float("nan")  # not JSON: the save must fail and keep the old file
    with pytest.raises(FileFormatError):
        save_network(tiny_net, path)
    assert load_network(path).metadata == {}
    assert [p.name for p in tmp_path.iterdir()] == ["t.ncnet"]


def test_load_errors(tmp_path, tiny_net):
    with pytest.raises(FileFormatError, match="does not exist"):
        load_network(tmp_path / "missing.ncnet")
    junk = tmp_path / "junk.ncnet"
    junk.write_bytes(b"not a zip")
    with pytest.raises(FileFormatError, match="not a zip archive"):
        load_network(junk)
    good = save_network(tiny_net, tmp_path / "good.ncnet")
    with zipfile.ZipFile(good) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    for name, change, message in [
        ("v2.ncnet", {"format_version": 99}, "format_version 99 is not supported"),
        ("fmt.ncnet", {"format": "other"}, "not a neurocompile network file"),
    ]:
        m = dict(manifest, **change)
        with zipfile.ZipFile(tmp_path / name, "w") as zf:
            zf.writestr("manifest.json", json.dumps(m))
        with pytest.raises(FileFormatError, match=message):
            load_network(tmp_path / name)
    # Manifest that references an array the archive does not hold (truncated file).
    with zipfile.ZipFile(tmp_path / "trunc.ncnet", "w") as zf:
        zf.writestr("manifest.json", json.dumps(manifest))
    with pytest.raises(FileFormatError, match="missing from the file"):
        load_network(tmp_path / "trunc.ncnet")
