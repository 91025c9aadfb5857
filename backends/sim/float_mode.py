"""`float` mode: IF_curr_exp in double precision with exact exponential integration.

Between steps the synaptic currents decay exponentially and the membrane equation
C dV/dt = -C (V - v_rest)/tau_m + I_e + I_i + i_offset is integrated exactly over dt (the
propagator method of Rotter & Diesmann 1999, as NEST's iaf_psc_exp does). It is the reference the
fixed-point modes are measured against in quantization studies.

Order within step t (shared with the fixed-point modes): input due at t is added to the synaptic
currents; the membrane is integrated over [t, t+dt) unless refractory; V >= v_thresh spikes and
resets to v_reset for round(tau_refrac/dt) steps; the synaptic currents decay.
"""
from __future__ import annotations

from typing import Hashable

import numpy as np

from neurocompile.backends.sim.modes import NeuronGroup, NumericMode
from neurocompile.ir.dynamics import psc_propagator
from neurocompile.ir.network import Network, Population, Projection


class FloatLIFGroup(NeuronGroup):
    state_vars = ("v", "i_syn_exc", "i_syn_inh", "refractory")

    def __init__(self, pop: Population, dt: float) -> None:
        p = pop.param
        self.n = pop.size
        tau_m, cm = p("tau_m"), p("cm")
        self.v_rest, self.v_reset, self.v_thresh = p("v_rest"), p("v_reset"), p("v_thresh")
        self.i_offset = p("i_offset")
        self.p22 = np.exp(-dt / tau_m)
        self.p21_e = psc_propagator(tau_m, p("tau_syn_E"), cm, dt)
        self.p21_i = psc_propagator(tau_m, p("tau_syn_I"), cm, dt)
        self.p20 = tau_m / cm * (1.0 - self.p22)  # constant current -> mV per step
        self.decay_e, self.decay_i = np.exp(-dt / p("tau_syn_E")), np.exp(-dt / p("tau_syn_I"))
        self.ref_steps = np.round(p("tau_refrac") / dt).astype(np.int64)
        self.v = p("v_init").copy()
        self.i_syn_exc = np.zeros(self.n)
        self.i_syn_inh = np.zeros(self.n)
        self.refractory = np.zeros(self.n, dtype=np.int64)

    def step(self, t: int, inputs: dict[Hashable, np.ndarray]) -> np.ndarray:
        if "excitatory" in inputs:
            self.i_syn_exc += inputs["excitatory"]
        if "inhibitory" in inputs:
            self.i_syn_inh += inputs["inhibitory"]
        free = self.refractory == 0
        v_new = (self.v_rest + (self.v - self.v_rest) * self.p22 + self.i_syn_exc * self.p21_e
                 + self.i_syn_inh * self.p21_i + self.i_offset * self.p20)
        self.v = np.where(free, v_new, self.v)
        self.refractory = np.where(free, 0, self.refractory - 1)
        spiking = np.flatnonzero(free & (self.v >= self.v_thresh))
        self.v[spiking] = self.v_reset[spiking]
        self.refractory[spiking] = self.ref_steps[spiking]
        self.i_syn_exc *= self.decay_e
        self.i_syn_inh *= self.decay_i
        return spiking


class FloatMode(NumericMode):
    name = "float"
    accum_dtype = np.float64
    neuron_models = ("lif_curr_exp",)

    def channel(self, proj: Projection) -> Hashable:
        return proj.receptor

    def synapse_values(self, proj: Projection) -> np.ndarray:
        return proj.weight.astype(np.float64)

    def make_group(self, pop: Population, incoming: list[Projection], net: Network) -> NeuronGroup:
        return FloatLIFGroup(pop, net.dt_ms)
