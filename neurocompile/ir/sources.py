"""What the IR's spike sources emit: explicit spike arrays and seeded Poisson trains.

Part of the IR's meaning, not of one backend: which neurons of a source spike at each step for a
given seed. The simulator's modes, the models' host-side readouts and the hardware backends
(which must feed the chip the same spikes) all draw them here, so one seed gives one raster.
"""
from __future__ import annotations

import zlib

import numba
import numpy as np

from neurocompile.ir.network import Population


def population_rng(seed: int, pop_name: str) -> np.random.Generator:
    """One independent stream per population, stable across runs and Python versions."""
    return np.random.default_rng(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, zlib.crc32(pop_name.encode())]))


class SpikeArraySource:
    """Replays spike_steps (CSR by neuron) in step order."""

    def __init__(self, pop: Population) -> None:
        indptr = np.asarray(pop.params["spike_indptr"], dtype=np.int64)
        steps = np.asarray(pop.params["spike_steps"], dtype=np.int64)
        neuron = np.repeat(np.arange(pop.size, dtype=np.int32), np.diff(indptr))
        order = np.lexsort((neuron, steps))
        steps, neuron = steps[order], neuron[order]
        # A neuron listed twice at the same step spikes once (hardware sends one packet): the
        # repeats are dropped here once, not with np.unique at every step.
        keep = np.ones(steps.size, dtype=bool)
        keep[1:] = (steps[1:] != steps[:-1]) | (neuron[1:] != neuron[:-1])
        self._steps, self._neurons = steps[keep], neuron[keep]
        self.n = pop.size

    def spikes_at(self, t: int) -> np.ndarray:
        lo, hi = np.searchsorted(self._steps, [t, t + 1])
        return self._neurons[lo:hi].copy()  # sorted, unique, int32 (as np.unique returned)


class PoissonSource:
    """Bernoulli approximation of a Poisson process: P(spike in a step) = rate * dt."""

    def __init__(self, pop: Population, dt_ms: float, seed: int) -> None:
        self.n = pop.size
        self._p = np.clip(pop.param("rate") * dt_ms / 1000.0, 0.0, 1.0)
        self._start = pop.param("start")
        self._end = self._start + pop.param("duration")
        self._rng = population_rng(seed, pop.name)

    def uniforms(self, steps: int, out: np.ndarray | None = None) -> np.ndarray:
        """The next `steps` rows of draws, (steps, n), as `steps` calls of spikes_at consume them
        (into `out`, C-contiguous, when given)."""
        if out is not None:
            return self._rng.random(out=out)
        return self._rng.random((steps, self.n))

    def spikes_at(self, t: int) -> np.ndarray:
        draw = self._rng.random(self.n)  # always drawn, so a neuron's stream ignores the others' windows
        active = (t >= self._start) & (t < self._end)
        return np.flatnonzero(active & (draw < self._p)).astype(np.int32)


class PoissonCountSource:
    """A Poisson count per neuron and step, k ~ Poisson(rate * dt), as sPyNNaker's fast sources
    emit (spike_source_poisson.c, rates per tick above SLOW_RATE_PER_TICK_CUTOFF = 0.01). A neuron
    that fires k times in a step appears k times in the step's spikes, so each of its synapses
    delivers its weight k times.

    Drawn by inversion: one uniform u per neuron and step (the generator's `random`, always drawn,
    as PoissonSource does) and k = the first index whose Poisson CDF reaches u. One double per draw
    keeps the stream identical whether a step is drawn here or inside the simulator's compiled
    loop (backends/sim/fused.py), and costs a few ns where numpy's `poisson` takes ~50 ns."""

    def __init__(self, pop: Population, dt_ms: float, seed: int) -> None:
        self.n = pop.size
        self.table = PoissonTable(pop.param("rate") * dt_ms / 1000.0)
        self._start = pop.param("start")
        self._end = self._start + pop.param("duration")
        self._rng = population_rng(seed, pop.name)

    def uniforms(self, steps: int, out: np.ndarray | None = None) -> np.ndarray:
        """The next `steps` rows of draws, (steps, n), as `steps` calls of spikes_at consume them
        (into `out`, C-contiguous, when given)."""
        if out is not None:
            return self._rng.random(out=out)
        return self._rng.random((steps, self.n))

    def spikes_at(self, t: int) -> np.ndarray:
        counts = self.table.counts(self._rng.random(self.n))
        counts[(t < self._start) | (t >= self._end)] = 0
        return np.repeat(np.arange(self.n, dtype=np.int32), counts)


class PoissonTable:
    """Poisson CDFs of each distinct mean (lam = rate x dt), for inversion sampling."""

    def __init__(self, lam: np.ndarray) -> None:
        lam = np.maximum(np.asarray(lam, dtype=np.float64), 0.0)
        means, self.row = np.unique(lam, return_inverse=True)
        rows = [_poisson_cdf(m) for m in means]
        self.start = np.concatenate([[0], np.cumsum([r.size for r in rows])]).astype(np.int64)
        self.cdf = np.concatenate(rows)
        self.row = self.row.astype(np.int64)
        #: where each row's search starts: its mean, floored (always inside the row)
        self.guess = self.start[:-1] + np.minimum(np.floor(means).astype(np.int64),
                                                  np.diff(self.start) - 1)

    def counts(self, u: np.ndarray) -> np.ndarray:
        out = np.empty(u.size, dtype=np.int64)
        poisson_counts(u, self.cdf, self.start, self.guess, self.row, out)
        return out


def _poisson_cdf(lam: float) -> np.ndarray:
    """P(K <= k) for k = 0..kmax, kmax far enough in the tail (< 1e-30 left) that the last entry,
    forced to 1.0, changes nothing a double can tell."""
    from scipy.special import pdtr

    if lam == 0.0:
        return np.ones(1)
    kmax = int(np.ceil(lam + 14.0 * np.sqrt(lam) + 30.0))
    cdf = pdtr(np.arange(kmax + 1), lam)
    cdf[-1] = 1.0
    return cdf


@numba.njit(cache=True, nogil=True)
def poisson_counts(u, cdf, start, guess, row, out):  # pragma: no cover - compiled
    """out[i] = first k with cdf_row(i)[k] >= u[i] (the one sampling rule). The walk starts at
    the row's mean (`guess`, an index into cdf): about sqrt(lam) steps, ~2 for the
    microcircuit's lam ~ 1.5, where a binary search costs ~6 unpredictable branches."""
    for i in range(u.size):
        r = row[i]
        lo = start[r]
        x = u[i]
        k = guess[r]
        if cdf[k] < x:
            while cdf[k] < x:   # ends: the row's last entry is 1.0 > x
                k += 1
        else:
            while k > lo and cdf[k - 1] >= x:
                k -= 1
        out[i] = k - lo


Source = SpikeArraySource | PoissonSource | PoissonCountSource


def make_source(pop: Population, dt_ms: float, seed: int) -> Source:
    if pop.model == "spike_array":
        return SpikeArraySource(pop)
    if pop.model == "poisson":
        return PoissonSource(pop, dt_ms, seed)
    if pop.model == "poisson_fast":
        return PoissonCountSource(pop, dt_ms, seed)
    raise ValueError(f"{pop.model} is not a spike source")
