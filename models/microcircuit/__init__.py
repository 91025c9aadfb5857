"""The cortical microcircuit (Potjans & Diesmann 2014) as a bundled model, from its PyNN script.

The network is what `microcircuit.py` (next to this file) declares, captured through
neurocompile.pynn, so the model and the script users run under pyNN.nest or pyNN.spiNNaker are
one text. Reference rates: the NEST example's full-scale means (FULL_MEAN_RATES in the script).
"""
from __future__ import annotations

from pathlib import Path

from neurocompile.errors import ModelError
from neurocompile.ir.network import Network

SCRIPT = Path(__file__).with_name("microcircuit.py")
#: Mean rates (Hz) of the full-scale network in NEST's Potjans_2014 example, in population order.
REFERENCE_RATES = {"L23E": 0.971, "L23I": 2.868, "L4E": 4.746, "L4I": 5.396, "L5E": 8.142, "L5I": 9.078,
                   "L6E": 0.991, "L6I": 7.523}
MAX_SCALE = 1.0


def build(scale: float = 0.1, k_scale: float = 0.0, background: str = "dc", t_sim: float = 1000.0,
          seed: int = 55) -> Network:
    """Cortical microcircuit (Potjans & Diesmann 2014), 8 populations, DC or Poisson background

    scale: fraction of the 77,169 neurons; k_scale: fraction of the in-degrees (0: same as scale;
    weights and a DC term compensate, as in NEST's example); background: dc or poisson (K_ext x
    8 Hz); t_sim: the script's run length in ms (sources last that long); seed: connectivity,
    weights, delays, initial voltages.
    """
    from neurocompile.pynn.script import capture_script

    if not 0.0 < scale <= MAX_SCALE:
        raise ModelError(f"microcircuit: scale must be in (0, {MAX_SCALE}], got {scale}")
    if not 0.0 <= k_scale <= 1.0:
        raise ModelError(f"microcircuit: k_scale must be in [0, 1] (0: same as scale), got {k_scale}")
    if background not in ("dc", "poisson"):
        raise ModelError(f"microcircuit: background must be 'dc' or 'poisson', got {background!r}")
    if not 0.0 < t_sim <= 1e7:
        raise ModelError(f"microcircuit: t_sim must be in (0, 1e7] ms, got {t_sim}")
    if not 0 <= seed < 2**32:
        raise ModelError(f"microcircuit: seed must be in [0, 2**32), got {seed}")
    args = ["simulator=neurocompile", f"scale={scale!r}", f"k_scale={(k_scale or scale)!r}",
            f"background={background}", f"t_sim={t_sim!r}", f"seed={seed}"]
    net, _ = capture_script(SCRIPT, args)
    net.name = "microcircuit"
    net.metadata["reference_rates_hz"] = dict(REFERENCE_RATES)
    # Measured (bench/microcircuit.py, scale 0.1, 0.5 s): emulating the 2 ms refractory period
    # on Loihi leaves room for only 623 state units per mV (scale_limited_by: refractory_room), so
    # 0.088 nA weights need weight_exp = -7 and Lava's per-step floor of the summed input eats
    # 0.29 nA per step: L2/3E fires at 0.51 Hz instead of 0.76-0.98 Hz. Dropping the period
    # (rates below 10 Hz: a neuron rarely fires twice within 2 ms) gives 19,217 units/mV and rates
    # within 12 % of the float mode. The user's --option loihi_refractory=emulate restores it.
    # On SpiNNaker at dt 0.1 ms the delays reach 53 ticks; at more than 128 neurons per core only 32
    # fit in a core's ring buffer, the rest go to delay-extension rows, which sPyNNaker 1!7.4.1
    # mis-lays between populations of unequal neurons per core (docs/spynnaker-backend.md) and our
    # sPyNNaker backend refuses. 128 per core leaves 64 in-core ticks: no extension rows at all.
    spinnaker_cap = {name: 128 for name in net.populations if net.populations[name].model == "lif_curr_exp"}
    net.metadata["compile_options"] = {"loihi": {"loihi_refractory": "drop"},
                                       "spinnaker": {"max_neurons_per_core": spinnaker_cap}}
    net.metadata["source"] = "Potjans & Diesmann (2014), Cereb. Cortex 24:785; tables as in NEST's Potjans_2014 example"
    return net
