"""`loihi1` mode: bit-exact with nengo-loihi 1.1's `EmulatorInterface` (the public bit-accurate
model of the Loihi 1 chip) on the same blocks: spikes, u (current) and v (voltage) every step.

The arithmetic is the target's (neurocompile/targets/loihi1/arith.py, whose docstring has the
per-step contract and where each rule was read); this module only wires it into the engine:
- one input channel per population: nengo-loihi applies weight_exp to each synapse
  (`synaptic_input`), so the summed input of all projections is one exact int64 sum, wrapped to
  21 bits + sign inside the compartment step as the emulator's `overflow_signed(q0, Q_BITS)`;
- a spike at t reaches the compartment at t + 1 (IR delay 1); the emulator has no synaptic delays
  (`CompartmentState.MAX_DELAY = 1`), so any other delay is refused (a loihi1 board's delays pass
  turns longer delays into relay neurons);
- u, v start at u_init, v_init (the nengo_loihi backend writes them into the emulator's state).
Checked against the emulator by tests/test_loihi1_bitexact.py.
"""
from __future__ import annotations

from typing import Hashable

import numpy as np

from neurocompile.backends.sim.loihi2_mode import Loihi2Synapses
from neurocompile.backends.sim.modes import NeuronGroup, NumericMode
from neurocompile.backends.sim.propagation import PreSortedSynapses
from neurocompile.errors import ModelError
from neurocompile.ir.network import Network, Population, Projection
from neurocompile.targets.loihi1.arith import (DECAY_UNITY, V_LIMIT, WEIGHT_BITS_MAP, WEIGHT_EXP_RANGE,
                                               compartment_step, legal_weights, synaptic_input)

CHANNEL = "input"


class Loihi1LIFGroup(NeuronGroup):
    state_vars = ("u", "v")

    def __init__(self, pop: Population) -> None:
        p = pop.param
        self.n = pop.size
        self.u = p("u_init").astype(np.int64).copy()
        self.v = p("v_init").astype(np.int64).copy()
        self.ref = np.zeros(self.n, dtype=np.int64)
        self.u_keep = DECAY_UNITY - 1 - p("du").astype(np.int64)   # decay_int(offset=1)
        self.v_keep = DECAY_UNITY - p("dv").astype(np.int64)
        self.bias = p("bias_mant").astype(np.int64) << p("bias_exp").astype(np.int64)
        self.vth_eff = p("vth").astype(np.int64) << 6
        self.refract = p("refract_delay").astype(np.int64)
        self._zero = np.zeros(self.n, dtype=np.int64)
        self._out = np.zeros(self.n, dtype=np.int64)

    def step(self, t: int, inputs: dict[Hashable, np.ndarray]) -> np.ndarray:
        q = inputs.get(CHANNEL, self._zero)
        k = compartment_step(self.u, self.v, self.ref, q, self.u_keep, self.v_keep, self.bias,
                             self.vth_eff, self.refract, -V_LIMIT, V_LIMIT, self._out)
        return self._out[:k].copy()


class Loihi1Synapses(Loihi2Synapses):
    """The loihi2 mode's compact CSR scatter, with int32 values: one spike adds up to
    127 << 14 << 6 = 2**27 (8-bit weight at weight_exp 7), beyond int16."""

    weight_dtype = np.int32


class Loihi1Mode(NumericMode):
    name = "loihi1"
    accum_dtype = np.int64
    neuron_models = ("loihi1_lif",)

    def check(self, net: Network) -> None:
        super().check(net)
        lo, hi = WEIGHT_EXP_RANGE
        for proj in net.projections.values():
            owner = f"projection {proj.name!r}"
            if proj.n_synapses and np.any(proj.delay != 1):
                raise ModelError(f"{owner}: delays {int(proj.delay.min())}..{int(proj.delay.max())} steps; "
                                 f"nengo-loihi's Loihi 1 model has no synaptic delays (IR delay 1 only): "
                                 f"compile for a loihi1 board, whose delays pass inserts relay neurons")
            nwb = proj.attrs.get("num_weight_bits", 8)
            if nwb not in WEIGHT_BITS_MAP[1:]:
                raise ModelError(f"{owner}: num_weight_bits must be one of {list(WEIGHT_BITS_MAP[1:])} "
                                 f"on Loihi 1 (SynapseConfig.WEIGHT_BITS_MAP), got {nwb!r}")
            exp = proj.attrs.get("weight_exp", 0)
            if int(exp) != exp or not lo <= int(exp) <= hi:
                raise ModelError(f"{owner}: weight_exp must be an integer {lo}..{hi}, got {exp!r}")
            bad = ~legal_weights(proj.weight, int(nwb))
            if proj.n_synapses and bad.any():
                i = int(np.argmax(bad))
                s = 9 - int(nwb)
                raise ModelError(f"{owner}: weight {proj.weight[i]!r} (synapse {i}) is not a Loihi 1 "
                                 f"{int(nwb)}-bit mixed-sign weight (a multiple of {2 ** s} with "
                                 f"magnitude <= {(2 ** (8 - s) - 1) << s}); quantize first")

    def channel(self, proj: Projection) -> Hashable:
        return CHANNEL

    def synapse_values(self, proj: Projection) -> np.ndarray:
        """What one spike adds to the compartment input (nengo-loihi's discretize_weights)."""
        return synaptic_input(proj.weight, int(proj.attrs.get("weight_exp", 0)),
                              int(proj.attrs.get("num_weight_bits", 8)))

    def build_synapses(self, proj: Projection, n_pre: int, n_post: int) -> PreSortedSynapses:
        return Loihi1Synapses.build(proj, n_pre, self.synapse_values(proj), n_post)

    def make_group(self, pop: Population, incoming: list[Projection], net: Network) -> NeuronGroup:
        return Loihi1LIFGroup(pop)
