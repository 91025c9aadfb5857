"""The spikes the Lava backend feeds for the IR's sources: exactly neurocompile.ir.sources's.

Lava has no seeded Poisson generator that matches ours (and a RingBuffer is what the chip's host
would replay), so every spike_array and poisson population is precomputed here, for the run's
seed and number of steps, with the very objects our simulator steps (`make_source`), and fed to
Lava through one `lava.proc.io.source.RingBuffer` per source slot.
"""
from __future__ import annotations

import numpy as np

from neurocompile.ir.network import Population
from neurocompile.ir.sources import make_source


def source_spikes(pop: Population, dt_ms: float, seed: int, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """(step, neuron) of every spike `pop` emits in steps 0..steps-1, in step order."""
    src = make_source(pop, dt_ms, seed)
    ts, ids = [], []
    for t in range(steps):  # Poisson draws are sequential per step: replay them in order
        s = src.spikes_at(t)
        if s.size:
            ts.append(np.full(s.size, t, dtype=np.int64))
            ids.append(s.astype(np.int64))
    if not ts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(ts), np.concatenate(ids)
