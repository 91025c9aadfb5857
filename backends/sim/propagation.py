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
    order: np.ndarray | None  # position in the projection's arrays, to write plastic weights back

    @classmethod
    def build(cls, proj: Projection, n_pre: int, weight: np.ndarray,
              into: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None
              ) -> "PreSortedSynapses":
        """Sort by pre (skipped when the projection already is, as generated connectors make
        it); `into` = (indptr, post, weight, delay) slices of a shared store to fill in place
        of new arrays (backends/sim/fused.py's flat layout). `order` is None when the
        projection was already sorted (identity, not stored)."""
        pre = proj.pre_idx
        order = None if proj.sorted_by_pre else np.argsort(pre, kind="stable")
        take = (lambda a: a) if order is None else (lambda a: a[order])
        counts = np.bincount(pre, minlength=n_pre)
        if into is None:
            indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
            keep = order if order is not None else np.arange(pre.size)
            return cls(indptr, take(proj.post_idx).astype(np.int64), np.ascontiguousarray(take(weight)),
                       take(proj.delay).astype(np.int64), keep)
        indptr, post, w, d = into
        indptr[0] = 0
        np.cumsum(counts, out=indptr[1:])
        post[:] = take(proj.post_idx)
        w[:] = take(weight)
        d[:] = take(proj.delay)
        return cls(indptr, post, w, d, order)

    def scatter(self, spiking: np.ndarray, ring: np.ndarray, t: int) -> int:
        """Add the weights of `spiking` neurons' synapses into ring[(t + delay) % depth]."""
        if spiking.size:
            _scatter(spiking.astype(np.int64), self.indptr, self.post, self.weight, self.delay, ring, t)
        return int((self.indptr[spiking + 1] - self.indptr[spiking]).sum()) if spiking.size else 0


class RingBuffer:
    """Per-channel input buffer over future steps; depth = max delay + 1. `data` may be a view
    into a store shared by all channels (fused.py)."""

    def __init__(self, depth: int, n: int, dtype: type, data: np.ndarray | None = None) -> None:
        self.data = np.zeros((depth, n), dtype=dtype) if data is None else data

    def take(self, t: int) -> np.ndarray:
        """The input due at step t; the slot is cleared for reuse at t + depth."""
        slot = t % self.data.shape[0]
        row = self.data[slot].copy()
        self.data[slot] = 0
        return row
