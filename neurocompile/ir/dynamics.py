"""What `lif_curr_exp` means in discrete time, shared by the simulator, the quantizers and models.

IF_curr_exp integrated exactly over one step (Rotter & Diesmann 1999, NEST's iaf_psc_exp): a
current that decays with tau_s adds `psc_propagator(...)` mV per nA to V over the step it is
present at the start of. Passes and models use it to reason about a synapse's effect on V without
importing a backend.
"""
from __future__ import annotations

import numpy as np


def psc_propagator(tau_m: np.ndarray, tau_s: np.ndarray, cm: np.ndarray, dt: float) -> np.ndarray:
    """mV added to V over one step per nA of exponentially decaying current present at its start."""
    em, es = np.exp(-dt / tau_m), np.exp(-dt / tau_s)
    near = np.isclose(tau_m, tau_s, rtol=1e-9, atol=0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        general = tau_m * tau_s / (cm * (tau_s - tau_m)) * (es - em)
    return np.where(near, dt / cm * em, general)  # limit tau_s -> tau_m
