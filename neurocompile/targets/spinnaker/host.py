"""The sPyNNaker host's weight rule for one post population: written once, used twice.

sPyNNaker (1!7.4.1) picks, per post population and receptor, a ring-buffer left shift from the
expected input (weights.py transcribes `get_ring_buffer_shifts`), then stores each synapse's
weight as ``rint(|w| * 2**(15 - shift)) & 0xFFFF``. Two places need that rule:

* the quantize pass (quantize.py), which then *legalizes*: it clamps the shift to the board's
  maximum and saturates what does not fit, so the compiled network never wraps silently;
* the simulator's spinnaker mode on an unquantized network, which reproduces what stock
  sPyNNaker would do with it, wrap-around included.

Both hand the projections to the rule here, in the same order and form, so they choose the same
shifts; a compiled (quantized) network carries its shifts and exact weights, and the mode reads
those instead of running the rule again.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from neurocompile.errors import ModelError
from neurocompile.ir.network import Population, Projection
from neurocompile.targets.spinnaker import weights as sw

RECEPTORS = ("excitatory", "inhibitory")
RECEPTOR_INDEX = {"excitatory": sw.EXCITATORY, "inhibitory": sw.INHIBITORY}
SHIFT_ANNOTATION = "ring_buffer_shift"


def list_projections(incoming: Sequence[Projection], dt_ms: float) -> list[sw.ListProjection]:
    """Incoming projections as the FromListConnector lists sPyNNaker's rule takes.

    Delays ``delay * dt`` ms, empty projections skipped, and a plastic projection counted with
    sPyNNaker's STDP statistics: every weight ``max(max|w|, w_max)``, no variance
    (``synapse_dynamics_stdp.py`` l.511-531).
    """
    lists = []
    for proj in incoming:
        if proj.n_synapses == 0:
            continue
        w = proj.weight
        if proj.plasticity is not None:
            w = np.full(proj.n_synapses, max(float(np.max(np.abs(w))), proj.plasticity.w_max))
        lists.append(sw.ListProjection(pre=proj.pre_idx, post=proj.post_idx, weights=w,
                                       delays=proj.delay * dt_ms, receptor=RECEPTOR_INDEX[proj.receptor],
                                       pre_key=proj.pre))
    return lists


def summed_weight_per_receptor(value: Any, owner: str) -> list[float] | None:
    """sPyNNaker's ``max_expected_summed_weight``: ``{receptor: nA}`` or ``[exc, inh]`` -> list."""
    if value is None:
        return None
    if isinstance(value, dict):
        return [float(value.get(r, 0.0)) for r in RECEPTORS]
    if np.ndim(value) != 1 or len(value) != len(RECEPTORS):
        raise ModelError(f"{owner}: max_expected_summed_weight must be {{receptor: nA}} or "
                         f"[excitatory, inhibitory], got {value!r:.80}")
    return [float(x) for x in value]


def expected_input(pop: Population, incoming: Sequence[Projection], dt_ms: float, *,
                   spikes_per_second: float | None = None, ring_buffer_sigma: float | None = None,
                   max_expected_summed_weight: Any = None) -> dict[str, sw.ReceptorBound]:
    """Per receptor, the maximum input per tick sPyNNaker sizes the ring buffer for."""
    bounds = sw.max_expected_input(
        list_projections(incoming, dt_ms), n_synapse_types=len(RECEPTORS), timestep_ms=dt_ms,
        spikes_per_second=spikes_per_second, ring_buffer_sigma=ring_buffer_sigma,
        max_expected_summed_weight=summed_weight_per_receptor(max_expected_summed_weight,
                                                              f"population {pop.name!r}"))
    return {r: bounds[RECEPTOR_INDEX[r]] for r in RECEPTORS}


def rule_shifts(bounds: dict[str, sw.ReceptorBound]) -> dict[str, int]:
    """The shift sPyNNaker's rule picks for each receptor."""
    return {r: sw.shift_for(b.max_weight) for r, b in bounds.items()}


def annotated_shifts(pop: Population, max_shift: int) -> dict[str, int]:
    """A population's ``ring_buffer_shift`` annotation ({receptor: s} or one int for both)."""
    if SHIFT_ANNOTATION not in pop.annotations:
        return {}
    val = pop.annotations[SHIFT_ANNOTATION]
    vals = dict(val) if isinstance(val, dict) else {r: val for r in RECEPTORS}
    bad = set(vals) - set(RECEPTORS)
    if bad:
        raise ModelError(f"population {pop.name!r}: annotation {SHIFT_ANNOTATION} has unknown "
                         f"receptor(s) {sorted(bad)}; use {list(RECEPTORS)}")
    out = {}
    for r, s in vals.items():
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or not 0 <= s <= max_shift:
            raise ModelError(f"population {pop.name!r}: annotation {SHIFT_ANNOTATION}[{r!r}] must be "
                             f"an integer 0..{max_shift}, got {s!r:.40}")
        out[r] = int(s)
    return out


def scaled_weights(weights: np.ndarray, shift: int) -> tuple[np.ndarray, np.ndarray]:
    """(sPyNNaker's stored uint16 ``rint(|w| * scale) & 0xFFFF``, the unwrapped ``rint(|w| * scale)``)."""
    scale = float(sw.weight_scales([shift])[0])        # raw units per nA = 2**(15 - shift)
    return sw.quantize(weights, scale), np.rint(np.abs(weights) * scale)


__all__ = ["RECEPTORS", "RECEPTOR_INDEX", "SHIFT_ANNOTATION", "annotated_shifts", "expected_input",
           "list_projections", "rule_shifts", "scaled_weights", "summed_weight_per_receptor"]
