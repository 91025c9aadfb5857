"""Shared fixtures. Tests run against the installed package (pip install -e .[all])."""
from __future__ import annotations

import os

import numpy as np
import pytest

from neurocompile.ir.network import Network

CACHE_ENV = ("NEUROCOMPILE_CACHE_DIR", "XDG_CACHE_HOME", "NEUROCOMPILE_NO_CACHE")


@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    """matplotlib, imported while collecting, would create ~/.config/matplotlib: give it a
    temporary config/cache directory (unless the caller chose one), so tests leave $HOME alone."""
    factory = getattr(config, "_tmp_path_factory", None)
    if factory is not None and "MPLCONFIGDIR" not in os.environ:
        os.environ["MPLCONFIGDIR"] = str(factory.getbasetemp() / "mplconfig")


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session):
    """A CI runner started as a background job of a non-interactive shell inherits SIGINT
    ignored, and so would every CLI process the tests interrupt with SIGINT (an ignored signal
    survives exec): give this process Python's normal handler, which exec resets to the default."""
    import signal

    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory):
    """The whole session (and every CLI subprocess it starts) caches trained weights, and anything
    else that follows XDG_CACHE_HOME, in a temporary directory, never in the user's home; the cache
    is on, whatever the environment says, so tests see the default behaviour."""
    root = tmp_path_factory.mktemp("cache")
    saved = {k: os.environ.get(k) for k in CACHE_ENV}
    os.environ["XDG_CACHE_HOME"] = str(root / "xdg")
    os.environ["NEUROCOMPILE_CACHE_DIR"] = str(root / "neurocompile")
    os.environ.pop("NEUROCOMPILE_NO_CACHE", None)
    yield root / "neurocompile"
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture
def tiny_net() -> Network:
    """Two LIF populations fed by a spike source; small enough for any test."""
    net = Network(name="tiny", dt_ms=1.0, seed=7)
    net.add_spike_source("src", [[1, 5], [2], []])
    net.add_population("a", 4, "lif_curr_exp", {"tau_m": 10.0, "v_thresh": -60.0})
    net.add_population("b", 3, "lif_curr_exp", {"tau_m": np.array([10.0, 20.0, 30.0])})
    net.add_projection("src", "a", [0, 1, 2], [0, 1, 3], [1.0, 2.0, 0.5], [1, 2, 3], receptor="excitatory")
    net.add_projection("a", "b", [0, 1, 2, 3], [0, 1, 2, 0], -0.5, 1, receptor="inhibitory")
    return net
