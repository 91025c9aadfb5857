"""Resource check: each kind of network that cannot fit fails with a message naming what, how much, the limit."""
from __future__ import annotations

import json

import numpy as np
import pytest

from mapping_helpers import custom_board, modular_network, run_mapping
from neurocompile.errors import ResourceError
from neurocompile.ir.network import Network
from neurocompile.passes.mapping_report import mapping_report


def _fails(net, board, **kw) -> str:
    with pytest.raises(ResourceError) as e:
        run_mapping(net, board, **kw)
    assert e.value.exit_code == 3
    return str(e.value)


def test_fits_and_reports():
    net = modular_network(n_modules=6, size=700, seed=1)
    ctx = run_mapping(net, "spinn-5", seed=1)
    assert ctx.violations == []
    rep = mapping_report(net, ctx)
    json.dumps(rep, allow_nan=False)
    s = rep["summary"]
    assert s["cores_used"] == len(rep["slices"]) >= s["cores_lower_bound"] == 6 * 3
    assert s["chips_used"] >= s["chips_lower_bound"] >= 1
    assert s["inter_chip_spikes_per_s"] >= 0 and "average_hops" in s
    assert s["max_routing_entries_per_chip"] <= s["router_entries_limit"] == 1023
    assert s["hop_weighted_spikes_per_s"] <= s["baseline_spynnaker_style"]["hop_weighted_spikes_per_s"] + 1e-6
    core = rep["cores"][0]
    for r in ("neurons", "dtcm_bytes", "sdram_bytes", "row_words", "delay_steps"):
        assert core[r]["value"] <= core[r]["limit"]
    chip = rep["chips"][0]
    assert chip["cores"]["value"] <= chip["cores"]["limit"] and "router_entries" in chip
    sl = rep["slices"][0]
    assert sl["chip"] is not None and sl["ranges"][0][0] == sl["start"]
    assert rep["resources"]["dtcm_bytes"]["provenance"] == "estimate"


def test_too_many_neurons_for_the_board():
    net = Network("big")
    net.add_population("a", 20_000)
    msg = _fails(net, "spinn-3")
    # 4 chips: 3 x 16 + 15 (Ethernet chip) application cores
    assert ("network 'big' (79 slices) needs 79 cores on the board but spinn-3 allows 63 (4 chips); "
            "hint: use a larger board or fewer neurons; largest populations: 'a' (20,000 neurons)") in msg


def test_single_neuron_with_too_many_input_axons():
    net = Network("fanin")
    net.add_population("src", 5_000, "poisson", {"rate": 1.0})
    net.add_population("dst", 10)
    net.add_projection("src", "dst", np.arange(5_000), np.zeros(5_000, dtype=int), 1.0, 1)
    msg = _fails(net, "loihi1-nahuku-32")
    assert ("population 'dst' neuron 0 needs 5,000 input axons on one core even alone but loihi1-nahuku-32 "
            "allows 4,096 per core; hint: this cannot be fixed by splitting the population") in msg


def test_single_neuron_with_too_much_synapse_memory():
    # 3,000 inputs with 90 synapses each onto one neuron: 90 weights -> 2 blocks per axon
    net = Network("mem")
    net.add_population("src", 3_000, "poisson", {"rate": 1.0})
    net.add_population("dst", 4)
    pre = np.repeat(np.arange(3_000), 90)
    net.add_projection("src", "dst", pre, np.zeros(pre.size, dtype=int), 1.0, 1)
    msg = _fails(net, "loihi1-nahuku-32")
    # bits per weight 8 (weight) + 0 (delay) + 0 (index, 1 neuron) ; block 64: ceil((512+10)/64)*64 = 576,
    # block 26: ceil((208+10)/64)*64 = 256 -> 832 bits per axon x 3,000 axons
    assert ("population 'dst' neuron 0 needs 2,496,000 bits of synapse memory on one core even alone but "
            "loihi1-nahuku-32 allows 1,048,576 per core") in msg


def test_too_much_fan_in_with_a_fan_in_limit():
    board = custom_board("spinn-5", core_limits={"fan_in_synapses": 500})
    net = Network("f")
    net.add_population("src", 1_000)
    net.add_population("dst", 3)
    net.add_projection("src", "dst", np.arange(600), np.zeros(600, dtype=int), 0.1, 1)
    msg = _fails(net, board)
    assert "population 'dst' neuron 0 needs 600 incoming synapses on one core even alone but spinn-5-custom " \
           "allows 500 per core" in msg


def test_delays_too_long_loihi():
    net = Network("d")
    net.add_population("a", 10)
    net.add_population("b", 10)
    net.add_projection("a", "b", np.arange(10), np.arange(10), 1.0, 300, name="a_to_b")
    msg = _fails(net, "loihi1-nahuku-32")
    assert ("projection 'a_to_b' into population 'b' neuron 0 (and 9 more neurons) needs 300 steps of delay on "
            "one core even alone but loihi1-nahuku-32 allows 64 per core; hint:") in msg


def test_delays_too_long_spinnaker_even_at_one_neuron_per_core():
    net = Network("d")
    net.add_population("a", 2)
    net.add_population("b", 2)
    net.add_projection("a", "b", [0, 1], [0, 1], 0.1, 40_000, name="slow")
    msg = _fails(net, "spinn-5")
    # 1 neuron per core: 2**(14 - 1 - 1) = 4,096 ring-buffer slots, x 9 with delay extensions
    assert "projection 'slow' into population 'b' neuron 0 (and 1 more neurons) needs 40,000 steps of delay" in msg
    assert "but spinn-5 allows 36,864 per core" in msg


def test_sdram_per_chip():
    board = custom_board("spinn-5", chip_limits={"sdram_bytes": 100_000})
    net = Network("s")
    net.add_population("src", 20_000, "poisson", {"rate": 1.0})
    net.add_population("dst", 10)
    net.add_projection("src", "dst", np.arange(100), np.arange(100) % 10, 0.1, 1)
    msg = _fails(net, board)
    # 20,000 rows of (1 synapse + 3 header) words on the one core
    assert "population 'dst' neuron 0 (and 9 more neurons) needs 320," in msg
    assert "bytes of SDRAM on one core even alone but spinn-5-custom allows 100,000 per chip" in msg
    assert "hint: this cannot be fixed by splitting the population; split large presynaptic populations" in msg


def test_routing_table_overflow():
    board = custom_board("spinn-5", chip_limits={"router_entries": 3})
    net = Network("r")
    net.add_population("t", 4)
    for i in range(5):
        net.add_population(f"s{i}", 2)
        net.add_projection(f"s{i}", "t", [0, 1], [0, 1], 0.1, 1)
    msg = _fails(net, board)
    assert "needs 5 routing table entries on one chip" in msg and "allows 3 per chip" in msg


def test_all_violations_are_listed():
    net = Network("multi")
    net.add_population("a", 10)
    net.add_population("b", 10)
    net.add_population("src", 5_000, "poisson", {"rate": 1.0})
    net.add_projection("a", "b", np.arange(10), np.arange(10), 1.0, 300, name="slow")
    net.add_projection("src", "a", np.arange(5_000), np.zeros(5_000, dtype=int), 1.0, 1)
    msg = _fails(net, "loihi1-nahuku-32")
    assert msg.startswith("2 resource limits exceeded on loihi1-nahuku-32: ")
    assert "input axons" in msg and "steps of delay" in msg


def test_row_too_long_from_multapses():
    net = Network("rows")
    net.add_population("a", 1)
    net.add_population("b", 4)
    net.add_projection("a", "b", np.zeros(300, dtype=int), np.zeros(300, dtype=int), 0.1, 1, name="multi")
    msg = _fails(net, "spinn-5")
    assert ("population 'b' neuron 0 needs 300 words in one synaptic row on one core even alone but spinn-5 "
            "allows 256 per core") in msg
