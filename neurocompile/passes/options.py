"""The compiler options passes read from `CompileContext.options`, so a typo is an error, not a no-op."""
from __future__ import annotations

from typing import Any

from neurocompile.errors import NeurocompileError

COMPILER_OPTIONS: dict[str, str] = {
    "quantize": "false keeps the network float (no lowering to the board's number format)",
    "weight_exp": "Loihi: {projection: exp} overrides the chosen weight exponent",
    "weight_exp_min": "Loihi: lowest weight_exp the quantizer may choose (0 avoids the floor bias of negative exps)",
    "voltage_scale": "Loihi: {population: units per mV} overrides the chosen voltage scale",
    "loihi_accept": "Loihi: list of differences to accept with a warning: v_reset, tau_refrac",
    "loihi_refractory": "Loihi: 'emulate' (default: self-synapses hold v down), 'drop' or 'error'",
    "loihi_param_tolerance": "Loihi: relative error of effective parameters above which to warn",
    "loihi_v_headroom_bits": "Loihi: bits of voltage headroom below threshold kept for inhibition",
    "tau_syn": "Loihi: {population: ms} synaptic time constant when tau_syn_E != tau_syn_I",
    "ring_buffer_shift": "SpiNNaker: {population: shift | {receptor: shift}} or {projection: shift}",
    "spikes_per_second": "SpiNNaker: {population: Hz} expected rate in sPyNNaker's shift rule",
    "ring_buffer_sigma": "SpiNNaker: {population: sigma} in sPyNNaker's shift rule",
    "max_expected_summed_weight": "SpiNNaker: {population: {receptor: nA}} bound replacing the shift rule",
    "rates": "{population: Hz} firing rates for placement traffic (default: 10 Hz, Poisson rate)",
    "max_neurons_per_core": "{population: n} caps slice size below the board's limit",
    "placement_effort": "multiplier of the annealing work in placement (default 1.0)",
    "placement_starts": "initial placements tried: 'best' (default) or 'all'",
    "anneal_temperature": "placement annealing start temperature",
    "anneal_walk": "placement annealing moves per slice",
    "partition_method": "auto (default), contiguous (sPyNNaker-style) or metis",
    "metis_vertices": "vertices above which a population's graph is coarsened for METIS (default 20,000)",
    "metis_synapses": "synapses sampled for a population's METIS graph (default 50,000)",
    "workers": "processes used to partition very large networks",
}


def check_options(options: dict[str, Any]) -> None:
    unknown = sorted(set(options) - set(COMPILER_OPTIONS))
    if unknown:
        raise NeurocompileError(f"unknown compiler option(s) {unknown}; known: {', '.join(sorted(COMPILER_OPTIONS))}")
