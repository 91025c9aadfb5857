"""Event-driven synaptic propagation: cost is spikes x fan-out, never N^2.

Each projection's synapses are sorted by presynaptic neuron once (CSR by pre). At every step the
rows of the neurons that spiked are scattered into a delay ring buffer of the target channel.
The scatter loop is compiled with numba; sums are exact integers in the fixed-point modes.
"""
from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from neurocompile.ir.network import Projection


@numba.njit(cache=True, nogil=True)
def _scatter(spiking, indptr, post, weight, delay, ring, slot0):  # pragma: no cover - compiled
    depth = ring.shape[0]
    for s in spiking:
        for k in range(indptr[s], indptr[s + 1]):
            ring[(slot0 + delay[k]) % depth, post[k]] += weight[k]


@dataclass
class PreSortedSynapses:
    """A projection's synapses sorted by pre: row s is indptr[s]:indptr[s+1]."""

    indptr: np.ndarray
    post: np.ndarray
    weight: np.ndarray
    delay: np.ndarray
    order: np.ndarray  # position in the projection's arrays, to write plastic weights back

    @classmethod
    def build(cls, proj: Projection, n_pre: int, weight: np.ndarray) -> "PreSortedSynapses":
        order = np.argsort(proj.pre_idx, kind="stable")
        counts = np.bincount(proj.pre_idx, minlength=n_pre)
        indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        return cls(indptr, proj.post_idx[order].astype(np.int64), np.ascontiguousarray(weight[order]),
                   proj.delay[order].astype(np.int64), order)

    def scatter(self, spiking: np.ndarray, ring: np.ndarray, t: int) -> int:
        """Add the weights of `spiking` neurons' synapses into ring[(t + delay) % depth]."""
        if spiking.size:
            _scatter(spiking.astype(np.int64), self.indptr, self.post, self.weight, self.delay, ring, t)
        return int((self.indptr[spiking + 1] - self.indptr[spiking]).sum()) if spiking.size else 0


class RingBuffer:
    """Per-channel input buffer over future steps; depth = max delay + 1."""

    def __init__(self, depth: int, n: int, dtype: type) -> None:
        self.data = np.zeros((depth, n), dtype=dtype)

    def take(self, t: int) -> np.ndarray:
        """The input due at step t; the slot is cleared for reuse at t + depth."""
        slot = t % self.data.shape[0]
        row = self.data[slot].copy()
        self.data[slot] = 0
        return row
