"""Why the full-scale microcircuit cannot reach 5 s per simulated second on one core here.

Every synaptic event is a read-modify-write of one ring-buffer cell at an address the spike
decides (its target neuron and delay): `ring[i] += w` for random i. This times exactly that
loop, compiled, over working sets from 1 MB to the full-scale microcircuit's float64 rings
(77,169 neurons x 2 receptors x 54 delay slots x 8 bytes = 66 MB). At the ~1e9 events per
simulated second the full-scale network makes, the per-event cost is the floor of the wall time:

    .venv/bin/python bench/random_access.py
"""
from __future__ import annotations

import time

import numba
import numpy as np


@numba.njit(cache=True)
def scatter(ring, idx, w):  # pragma: no cover - compiled
    for k in range(idx.size):
        ring[idx[k]] += w[k]


def main() -> None:
    n = 30_000_000
    rng = np.random.default_rng(0)
    print("working set | ns per random read-modify-write (float64) | s per 1e9 events")
    for mb in (1, 4, 8, 16, 32, 66):
        size = mb * 2**20 // 8
        ring = np.zeros(size)
        idx = rng.integers(0, size, n)
        w = rng.random(n)
        scatter(ring, idx[:10], w[:10])
        t = time.perf_counter()
        scatter(ring, idx, w)
        ns = (time.perf_counter() - t) / n * 1e9
        print(f"{mb} MB | {ns:.1f} | {ns:.0f}")


if __name__ == "__main__":
    main()
