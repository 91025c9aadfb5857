"""The shared STDP row walk (backends/sim/stdp_walk.py) and declared implementations (@implements).

Bit-exactness of each arithmetic is tested against its oracles in test_stdp.py,
test_spinnaker_stdp.py and test_ca3.py; this file checks the plumbing: which implementation a mode
gets, the error when there is none, and that numba's on-disk cache serves the per-arithmetic
walks in a new process (a cold compile at every CLI start would be a regression).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass

import pytest

from neurocompile.backends.sim import Simulation
from neurocompile.backends.sim.float_mode import FloatMode
from neurocompile.backends.sim.loihi2_mode import Loihi2Mode
from neurocompile.backends.sim.loihi2_stdp import Loihi2PairSTDP
from neurocompile.backends.sim.spinnaker_mode import SpinnakerMode
from neurocompile.backends.sim.spinnaker_stdp import SpinnakerPairSTDP
from neurocompile.backends.sim.stdp import (PLASTICITY, FloatPairSTDP, implementation_for,
                                            implements)
from neurocompile.errors import ModelError
from neurocompile.ir.network import Network, STDPRule


def test_each_mode_gets_its_declared_implementation():
    assert implementation_for(STDPRule, FloatMode()) is FloatPairSTDP
    assert implementation_for(STDPRule, Loihi2Mode()) is Loihi2PairSTDP
    assert implementation_for(STDPRule, SpinnakerMode()) is SpinnakerPairSTDP
    assert dict(PLASTICITY) == {"float": FloatPairSTDP, "loihi2": Loihi2PairSTDP,
                                "spinnaker": SpinnakerPairSTDP}
    with pytest.raises(TypeError):
        PLASTICITY["float"] = SpinnakerPairSTDP  # declared, not patched in


def test_a_mode_class_declaration_wins_over_the_mode_name():
    from neurocompile.models.ca3.evaluate import UnboundedHistoryFloatMode, UnboundedHistoryFloatSTDP

    assert UnboundedHistoryFloatMode().name == "float"
    assert implementation_for(STDPRule, UnboundedHistoryFloatMode()) is UnboundedHistoryFloatSTDP
    assert implementation_for(STDPRule, FloatMode()) is FloatPairSTDP

    @dataclass(frozen=True)
    class MyRule(STDPRule):  # a rule subclass falls back on its base's implementations
        pass

    assert implementation_for(MyRule, Loihi2Mode()) is Loihi2PairSTDP


def test_a_second_implementation_for_the_same_rule_and_mode_is_refused():
    with pytest.raises(ValueError, match="already has an implementation"):
        @implements(STDPRule, mode="float")
        class Other(FloatPairSTDP):
            pass
    assert PLASTICITY["float"] is FloatPairSTDP


def test_no_implementation_names_projection_rule_and_mode():
    class NoStdpMode(FloatMode):
        name = "nostdp"

    net = Network(name="n", dt_ms=1.0)
    net.add_spike_source("pre", [[1]])
    net.add_population("post", 1, "lif_curr_exp", {})
    net.add_projection("pre", "post", [0], [0], 0.5, 1, receptor="excitatory", name="learner",
                       plasticity=STDPRule())
    with pytest.raises(ModelError, match=r"'learner'.*STDPRule.*'nostdp' mode has no STDP") as e:
        Simulation(net, NoStdpMode())
    assert "mode 'float'" in str(e.value) and "mode 'spinnaker'" in str(e.value)


def test_each_arithmetic_has_its_own_compiled_walk():
    kernels = [c.kernels for c in (FloatPairSTDP, Loihi2PairSTDP, SpinnakerPairSTDP)]
    names = {k.pre_spikes.py_func.__qualname__ for k in kernels}
    assert len(names) == 3 and all(n.startswith("pre_spikes_") for n in names)
    assert len({id(k.pre_spikes) for k in kernels}) == 3


_CHILD = """
import json, numpy as np
from neurocompile.backends.sim.stdp import FloatPairSTDP
from neurocompile.backends.sim.loihi2_stdp import Loihi2PairSTDP
from neurocompile.backends.sim.spinnaker_stdp import SpinnakerPairSTDP
import bench_case
out = {}
for cls in (FloatPairSTDP, Loihi2PairSTDP, SpinnakerPairSTDP):
    bench_case.exercise(cls)
    hits = misses = 0
    for k in cls.kernels:
        hits += sum(k.stats.cache_hits.values())
        misses += sum(k.stats.cache_misses.values())
    out[cls.__name__] = [hits, misses]
print(json.dumps(out))
"""

_CASE = """
import numpy as np
from neurocompile.backends.sim.propagation import PreSortedSynapses
from neurocompile.ir.network import Network, STDPRule

def exercise(cls):
    loihi = cls.__name__.startswith("Loihi2")
    net = Network(dt_ms=1.0)
    net.add_spike_source("pre", [[], []])
    net.add_population("post", 2, "loihi2_lif" if loihi else "lif_curr_exp",
                       {"du": 4095, "dv": 4095} if loihi else {})
    rule = STDPRule(20.0, 20.0, 2.0, 2.0, 0.0, 100.0) if loihi else STDPRule()
    pr = net.add_projection("pre", "post", [0, 0, 1], [0, 1, 1], [10.0, 20.0, 30.0] if loihi else 0.5,
                            [1, 2, 3], receptor="input" if loihi else "excitatory", plasticity=rule)
    if cls.__name__.startswith("Spinnaker"):
        syn = PreSortedSynapses.build(pr, 2, np.array([100, 200, 300], dtype=np.int64))
        stdp = cls(pr, syn, net, shift=5)
    else:
        syn = PreSortedSynapses.build(pr, 2, pr.weight.astype(np.int64) if loihi else pr.weight.copy())
        stdp = cls(pr, syn, net)
    I = np.int64
    stdp.step(1, np.array([0], I), np.array([1], I))
    stdp.step(4, np.array([0, 1], I), np.array([0], I))
    stdp.weights(include_pending=True)
"""


def test_walk_kernels_load_from_numbas_disk_cache_in_a_new_process(tmp_path):
    (tmp_path / "bench_case.py").write_text(_CASE)
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache"),
           "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    runs = []
    for _ in range(2):  # empty cache: compiles and writes; second process: loads only
        out = subprocess.run([sys.executable, "-c", _CHILD], env=env, check=True, capture_output=True,
                             text=True, cwd=tmp_path).stdout
        runs.append(json.loads(out.strip().splitlines()[-1]))
    for name in ("FloatPairSTDP", "Loihi2PairSTDP", "SpinnakerPairSTDP"):
        assert runs[0][name] == [0, 3], runs[0]   # 3 walks compiled (post, pre, pending)
        assert runs[1][name] == [3, 0], runs[1]   # and loaded, none recompiled
