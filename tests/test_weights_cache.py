"""The trained-weights cache (neurocompile/cache.py) and the models that use it.

Tiny trainings only (place_recognition: 5 places, 1 epoch; motion: 1 movie per class, 3 L-BFGS
iterations), each in a cache directory of its own under pytest's tmp (conftest.py isolates the
session's cache from the user's home as well).
"""
from __future__ import annotations

import json
import os
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest

from cli_helpers import run_cli
from neurocompile import cache
from neurocompile.ir import load_network
from neurocompile.ir.network import Network

PR = {"n_places": 5, "places_per_module": 5, "epochs": 1}


@pytest.fixture
def cache_dir(tmp_path, monkeypatch) -> Path:
    d = tmp_path / "weights-cache"
    monkeypatch.setenv("NEUROCOMPILE_CACHE_DIR", str(d))
    monkeypatch.delenv("NEUROCOMPILE_NO_CACHE", raising=False)
    return d


def _pr(**kw) -> Network:
    from neurocompile.models.place_recognition import build

    return build(**{**PR, **kw})


def _arrays(net: Network) -> dict[str, np.ndarray]:
    """Every weight, delay and per-neuron parameter array of the network, by name."""
    out = {}
    for name, p in net.projections.items():
        out[f"{name}.weight"], out[f"{name}.delay"] = np.asarray(p.weight), np.asarray(p.delay)
        out[f"{name}.pre"], out[f"{name}.post"] = np.asarray(p.pre_idx), np.asarray(p.post_idx)
    for name, pop in net.populations.items():
        for k, v in pop.params.items():
            out[f"{name}.{k}"] = np.asarray(v)
    return out


def _assert_same_network(a: Network, b: Network) -> None:
    xa, xb = _arrays(a), _arrays(b)
    assert xa.keys() == xb.keys()
    for k in xa:
        assert xa[k].dtype == xb[k].dtype and np.array_equal(xa[k], xb[k]), k
    strip = lambda m: {k: v for k, v in m.items() if k != cache.METADATA_KEY}  # noqa: E731
    assert strip(a.metadata) == strip(b.metadata)


def _files(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


# ----- where, whether, keys ----------------------------------------------------------------------
def test_cache_directory_follows_xdg_and_the_override(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("NEUROCOMPILE_CACHE_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert cache.cache_dir() == tmp_path / "home" / ".cache" / "neurocompile"
    monkeypatch.setenv("XDG_CACHE_HOME", "")                       # empty: the default
    assert cache.cache_dir() == tmp_path / "home" / ".cache" / "neurocompile"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/dir")           # relative: invalid, ignored
    assert cache.cache_dir() == tmp_path / "home" / ".cache" / "neurocompile"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_dir() == tmp_path / "xdg" / "neurocompile"
    monkeypatch.setenv("NEUROCOMPILE_CACHE_DIR", str(tmp_path / "mine"))
    assert cache.cache_dir() == tmp_path / "mine"


def test_cache_switch_precedence(monkeypatch):
    monkeypatch.delenv("NEUROCOMPILE_NO_CACHE", raising=False)
    assert cache.enabled()
    monkeypatch.setenv("NEUROCOMPILE_NO_CACHE", "1")
    assert not cache.enabled() and cache.enabled(True)             # an explicit argument wins
    with cache.settings(enabled=True):
        assert cache.enabled()
    with cache.settings(enabled=None):                             # None: leave the rule alone
        assert not cache.enabled()
    monkeypatch.setenv("NEUROCOMPILE_NO_CACHE", "0")
    with cache.settings(enabled=False):
        assert not cache.enabled() and cache.enabled(True)
    assert cache.enabled()


def test_key_is_order_independent_and_changes_with_any_training_option_or_version():
    base = cache.cache_key("m", 1, a=1, cfg={"x": 0.5, "y": (1, 2)})
    assert base == cache.cache_key("m", 1, cfg={"y": [1, 2], "x": 0.5}, a=1)
    assert base != cache.cache_key("m", 2, a=1, cfg={"x": 0.5, "y": (1, 2)})
    assert base != cache.cache_key("m", 1, a=2, cfg={"x": 0.5, "y": (1, 2)})
    assert base != cache.cache_key("m", 1, a=1, cfg={"x": 0.5000001, "y": (1, 2)})
    assert base != cache.cache_key("n", 1, a=1, cfg={"x": 0.5, "y": (1, 2)})
    with pytest.raises(TypeError):
        cache.cache_key("m", 1, a=object())


# ----- place_recognition -------------------------------------------------------------------------
def test_place_recognition_cache_hit_is_bit_identical_to_a_fresh_training(cache_dir):
    first = _pr()
    meta = first.metadata[cache.METADATA_KEY]
    assert meta["source"] == "trained" and meta["stored"] and meta["cache_enabled"]
    assert _files(cache_dir) == [meta["file"]] and meta["cache_key"] in meta["file"]
    hit = _pr()
    assert hit.metadata[cache.METADATA_KEY] == {**meta, "source": "cache", "stored": False}
    fresh = _pr(cache=False)
    assert fresh.metadata[cache.METADATA_KEY] == {**meta, "stored": False, "cache_enabled": False}
    _assert_same_network(hit, fresh)
    _assert_same_network(first, fresh)


def test_place_recognition_key_follows_training_options_only(cache_dir):
    from neurocompile.models.place_recognition import train_or_load

    keys = {}
    for label, kw in {"base": {}, "query": {"query": 3}, "module": {"module": 0},
                      "epochs": {"epochs": 2}, "seed": {"seed": 1}, "places": {"n_places": 6}}.items():
        keys[label] = _pr(**kw).metadata[cache.METADATA_KEY]["cache_key"]
    assert keys["query"] == keys["module"] == keys["base"]           # inference-only options
    assert len({keys[k] for k in ("base", "epochs", "seed", "places")}) == 4
    assert len(_files(cache_dir)) == 4
    other = train_or_load(5, 5, 0, 1, n_exc=20)                     # any SNNConfig field counts
    assert other.provenance["cache_key"] not in keys.values() and other.n_exc == 20


@pytest.fixture(scope="module")
def good_entry(tmp_path_factory):
    """(network, entry file name, entry bytes, bytes of another key's entry), trained once."""
    d = tmp_path_factory.mktemp("good")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NEUROCOMPILE_CACHE_DIR", str(d))
        net, other = _pr(), _pr(epochs=2)
    name = net.metadata[cache.METADATA_KEY]["file"]
    return net, name, (d / name).read_bytes(), (d / other.metadata[cache.METADATA_KEY]["file"]).read_bytes()


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "other_entry"])
def test_a_damaged_cache_file_is_ignored_with_a_warning_and_retrained(cache_dir, good_entry, damage):
    good, name, data, other = good_entry
    path = cache_dir / name
    cache_dir.mkdir()
    path.write_bytes({"truncate": data[: len(data) // 2], "garbage": b"not a cache file" * 100,
                      "empty": b"", "other_entry": other}[damage])   # other: a whole, valid file of another key
    with pytest.warns(cache.CacheWarning, match="unreadable cache file .*retraining"):
        again = _pr()
    assert again.metadata[cache.METADATA_KEY]["source"] == "trained"
    _assert_same_network(good, again)
    assert path.read_bytes() == data                                 # repaired by the retraining
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _pr().metadata[cache.METADATA_KEY]["source"] == "cache"


def test_an_unwritable_cache_is_a_warning_not_an_error(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    monkeypatch.setenv("NEUROCOMPILE_CACHE_DIR", str(blocker / "cache"))   # parent is a file
    with pytest.warns(cache.CacheWarning) as record:
        net = _pr()
    messages = [str(w.message).split(" (")[0] for w in record if w.category is cache.CacheWarning]
    assert messages == [                                             # one warning, no "unreadable"
        f"could not write cache file {blocker / 'cache' / net.metadata[cache.METADATA_KEY]['file']}"]
    meta = net.metadata[cache.METADATA_KEY]
    assert meta["source"] == "trained" and not meta["stored"]
    assert blocker.read_text() == "x"


def test_cache_dir_option_and_nothing_written_outside_the_cache(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("NEUROCOMPILE_CACHE_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    own = tmp_path / "own"
    net = _pr(cache_dir=str(own))                                    # the model's own directory
    assert _files(own) == [net.metadata[cache.METADATA_KEY]["file"]]
    assert list(home.iterdir()) == []
    _pr()                                                            # the XDG default
    assert [p.relative_to(home).as_posix() for p in home.rglob("*")] == [
        ".cache", ".cache/neurocompile", f".cache/neurocompile/{net.metadata[cache.METADATA_KEY]['file']}"]
    assert not [p for p in (home / ".cache" / "neurocompile").iterdir() if p.name.startswith(".")]


def test_training_reports_progress_through_the_hook(cache_dir, capsys):
    calls = []

    class Recorder:
        def __init__(self, description: str, total: int) -> None:
            calls.append(("open", description, total))

        def __enter__(self):
            return lambda done, total: calls.append((done, total))

        def __exit__(self, *exc) -> None:
            calls.append("close")

    previous = cache.set_progress_factory(Recorder)
    try:
        _pr()
        _pr()                                                        # a hit trains nothing
    finally:
        cache.set_progress_factory(previous)
    assert calls[0][0] == "open" and "place_recognition" in calls[0][1]
    total = calls[0][2]
    assert calls[-1] == "close" and calls[-2] == (total, total) and calls.count("close") == 1
    done = [c[0] for c in calls[1:-1]]
    assert done == sorted(done) and all(c[1] == total for c in calls[1:-1])
    _pr(epochs=2)                                                    # the default bar: not a terminal
    assert capsys.readouterr().err == ""


def test_concurrent_writers_never_expose_a_partial_file(tmp_path):
    """Threads racing to train and store the same key: every read sees a whole file."""
    big = np.arange(200_000, dtype=np.float64)
    errors: list[BaseException] = []

    def save(obj, f):
        np.save(f, obj)

    def worker() -> None:
        try:
            for _ in range(10):
                obj, prov = cache.load_or_train("race", "k", 1, lambda: big.copy(), np.load, save,
                                                directory=tmp_path, suffix=".npy")
                assert np.array_equal(obj, big)
                if prov.source == "cache":
                    (tmp_path / "race-k.npy").unlink(missing_ok=True)   # force more writes
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    with warnings.catch_warnings():
        warnings.simplefilter("error")      # a partial file would be "unreadable": a warning
        threads = [threading.Thread(target=worker) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors, errors
    assert [p.name for p in tmp_path.iterdir() if p.name != "race-k.npy"] == []   # no temp files


# ----- the CLI -----------------------------------------------------------------------------------
def _compile(out: Path, *extra: str):
    params = [a for k, v in PR.items() for a in ("--param", f"{k}={v}")]
    return run_cli("compile", "place_recognition", "--board", "spinn-5", "-o", out, *params, *extra)


def test_cli_compile_uses_the_cache_and_no_cache_bypasses_it(cache_dir, tmp_path):
    res = _compile(tmp_path / "c1")
    assert res.exit_code == 0, res.output
    first = load_network(tmp_path / "c1" / "network.ncnet").metadata[cache.METADATA_KEY]
    assert first["source"] == "trained" and first["stored"]
    entry = cache_dir / first["file"]
    res = _compile(tmp_path / "c2")
    assert res.exit_code == 0, res.output
    assert load_network(tmp_path / "c2" / "network.ncnet").metadata[cache.METADATA_KEY]["source"] == "cache"
    # --no-cache neither reads (a damaged entry is not even looked at) nor writes it.
    entry.write_bytes(b"damaged")
    res = _compile(tmp_path / "c3", "--no-cache")
    assert res.exit_code == 0, res.output
    assert "cache file" not in res.output
    meta = load_network(tmp_path / "c3" / "network.ncnet").metadata[cache.METADATA_KEY]
    assert meta["source"] == "trained" and not meta["cache_enabled"] and not meta["stored"]
    assert entry.read_bytes() == b"damaged" and _files(cache_dir) == [first["file"]]
    _assert_same_network(load_network(tmp_path / "c1" / "network.ncnet"),
                         load_network(tmp_path / "c3" / "network.ncnet"))
    # Without the flag the damaged entry is reported on one line, retrained and repaired.
    res = _compile(tmp_path / "c4")
    assert res.exit_code == 0, res.output
    assert "Traceback" not in res.output
    assert "unreadable cache file" in res.output
    assert load_network(tmp_path / "c4" / "network.ncnet").metadata[cache.METADATA_KEY]["source"] == "trained"
    assert entry.stat().st_size > 1000


def test_cli_simulate_has_no_cache_and_env_var_disables_the_cache(cache_dir, tmp_path, monkeypatch):
    params = [a for k, v in PR.items() for a in ("--param", f"{k}={v}")]
    res = run_cli("simulate", "place_recognition", "--board", "spinn-5", "--steps", "5", "--no-cache", *params)
    assert res.exit_code == 0, res.output
    assert _files(cache_dir) == []
    monkeypatch.setenv("NEUROCOMPILE_NO_CACHE", "1")
    assert _compile(tmp_path / "e1").exit_code == 0
    assert _files(cache_dir) == []
    assert "--no-cache" in run_cli("compile", "--help").output
    assert "--no-cache" in run_cli("simulate", "--help").output


# ----- motion ------------------------------------------------------------------------------------
TINY_MOTION = {"train_per_class": 1, "rows_per_movie": 8, "max_iter": 3}


def test_motion_cache_hit_is_bit_identical_and_keyed_by_training_options(cache_dir):
    from neurocompile.models.motion import experiment as ex
    from neurocompile.models.motion import hdsnn as hd

    sc = ex.get_scale("ci", **TINY_MOTION)
    first = ex.deployable_layer(sc, 0)
    assert first.info["provenance"]["source"] == "trained" and first.info["provenance"]["stored"]
    hit = ex.deployable_layer(sc, 0)
    assert hit.info["provenance"]["source"] == "cache"
    fresh = ex.deployable_layer(sc, 0, cache=False)
    assert fresh.info["provenance"]["source"] == "trained" and not fresh.info["provenance"]["cache_enabled"]
    for layer in (hit, first):
        assert layer.weights.dtype == fresh.weights.dtype and np.array_equal(layer.weights, fresh.weights)
        assert np.array_equal(layer.bias, fresh.bias) and layer.theta == fresh.theta
        assert layer.geom == fresh.geom
        assert {k: v for k, v in layer.info.items() if k not in ("train_data", "provenance")} == \
               {k: v for k, v in fresh.info.items() if k not in ("train_data", "provenance")}
    events = ex.test_set(ex.get_scale(sc, test_per_class=1), 0, 32).events[:2]
    for ev in events:
        assert np.array_equal(hit.spike_counts(ev), fresh.spike_counts(ev))
    key = ex.deployable_key
    assert key(sc, 0) == key(ex.get_scale(sc, deploy_size=48, test_per_class=9, eval_size=64), 0)
    assert len({key(sc, 0), key(sc, 1), key(ex.get_scale(sc, deploy_keep=0.1), 0),
                key(ex.get_scale(sc, max_iter=4), 0), key(ex.get_scale(sc, kernel=9), 0),
                key(ex.get_scale(sc, l2=0.1), 0)}) == 6
    # A damaged entry: warning, retrained, same layer.
    path = cache_dir / first.info["provenance"]["file"]
    path.write_bytes(path.read_bytes()[:100])
    with pytest.warns(cache.CacheWarning):
        again = ex.deployable_layer(sc, 0)
    assert again.info["provenance"]["source"] == "trained" and np.array_equal(again.weights, fresh.weights)
    # save_layer / load_layer round trip keeps every number.
    back, extra = hd.load_layer(path)
    assert extra["cache_key"] == key(sc, 0) and np.array_equal(back.weights, fresh.weights)
    assert json.dumps(back.info)


def test_motion_training_reports_lbfgs_progress():
    from neurocompile.models.motion import experiment as ex
    from neurocompile.models.motion import hdsnn as hd

    sc = ex.get_scale("ci", **TINY_MOTION)
    seen = []
    hd.train_layer(ex.train_set(sc, 0), ex.geometry(sc), sc.rows_per_movie, max_iter=3,
                   progress=lambda done, total: seen.append((done, total)))
    assert seen and seen[-1] == (3, 3) and all(t == 3 and 1 <= d <= 3 for d, t in seen)


def test_session_cache_is_not_the_users_home():
    assert os.environ["NEUROCOMPILE_CACHE_DIR"] and Path.home() not in cache.cache_dir().parents
