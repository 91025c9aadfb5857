"""Shared fixtures. Tests run against the installed package (pip install -e .[all])."""
from __future__ import annotations

import numpy as np
import pytest

from neurocompile.ir.network import Network


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
