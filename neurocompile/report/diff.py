"""`neurocompile diff RUN_A RUN_B`: how far two simulation outputs are apart, population by population.

Made for the comparisons this project lives on (sim vs lava, float vs loihi2, two seeds). A spike
is the pair (neuron, step). Per population:

- identical: spikes present in both runs at the same neuron and step, over the larger spike count
  (1 when neither run spikes);
- within one step: spikes of A with a spike of B on the same neuron at most one step away, and
  the same from B's side; the smaller of the two counts over the larger spike count;
- count correlation: Pearson correlation of spikes per neuron (A vs B); 1 if both count vectors
  are equal and constant, undefined (shown "-") if only one is constant;
- rate error: |rate A - rate B| in Hz (mean over the population and the run);
- first divergence: the first step at which the two spike sets differ, and the lowest neuron
  that differs there.

Tolerance: the runs "differ" when, in any population, the fraction of spikes that are not
identical (1 - identical) exceeds `tolerance` (default 0: the rasters must be equal).
Exit codes (cli.py): 0 same within tolerance, 1 differ, 2 bad input.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurocompile.errors import NeurocompileError
from neurocompile.report.runs import SimRun


@dataclass(frozen=True)
class PopDiff:
    name: str
    size: int
    spikes_a: int
    spikes_b: int
    identical: float
    within_one: float
    correlation: float | None
    rate_a_hz: float
    rate_b_hz: float
    first_step: int | None      # first step where the spike sets differ
    first_neuron: int | None    # lowest differing neuron at that step

    @property
    def rate_error_hz(self) -> float:
        return abs(self.rate_a_hz - self.rate_b_hz)


def check_comparable(a: SimRun, b: SimRun) -> None:
    """One error naming the first mismatch of populations, sizes, dt or length."""
    only_a = [n for n in a.sizes if n not in b.sizes]
    only_b = [n for n in b.sizes if n not in a.sizes]
    if only_a or only_b:
        parts = ([f"only in {a.path}: {', '.join(only_a[:5])}"] if only_a else []) + \
                ([f"only in {b.path}: {', '.join(only_b[:5])}"] if only_b else [])
        raise NeurocompileError(f"the runs have different populations ({'; '.join(parts)})")
    for n, size in a.sizes.items():
        if b.sizes[n] != size:
            raise NeurocompileError(f"population {n!r} has {size} neurons in {a.path} but {b.sizes[n]} in {b.path}")
    if a.dt_ms != b.dt_ms:
        raise NeurocompileError(f"the runs have different timesteps: dt {a.dt_ms} ms in {a.path}, {b.dt_ms} ms in {b.path}")
    if a.steps != b.steps:
        raise NeurocompileError(f"the runs have different lengths: {a.steps} steps in {a.path}, {b.steps} in {b.path}; "
                                f"simulate both with the same --steps")


def _keys(steps: np.ndarray, ids: np.ndarray, n_steps: int) -> np.ndarray:
    """One integer per spike, ordered by neuron then step; +-1 is the same neuron a step away."""
    return np.unique(ids.astype(np.int64) * (n_steps + 2) + steps.astype(np.int64) + 1)


def compare_population(name: str, size: int, a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray],
                       n_steps: int, dt_ms: float) -> PopDiff:
    ka, kb = _keys(*a, n_steps), _keys(*b, n_steps)
    denom = max(ka.size, kb.size)
    same = np.intersect1d(ka, kb, assume_unique=True).size
    near_a = np.isin(ka, kb) | np.isin(ka - 1, kb) | np.isin(ka + 1, kb)
    near_b = np.isin(kb, ka) | np.isin(kb - 1, ka) | np.isin(kb + 1, ka)
    ca = np.bincount(a[1], minlength=size)[:size].astype(float)
    cb = np.bincount(b[1], minlength=size)[:size].astype(float)
    if ca.std() > 0 and cb.std() > 0:
        corr: float | None = float(np.corrcoef(ca, cb)[0, 1])
    else:
        corr = 1.0 if np.array_equal(ca, cb) else None
    seconds = n_steps * dt_ms / 1000.0
    rate = (lambda k: k / (size * seconds) if size and seconds else 0.0)
    first_step = first_neuron = None
    diff = np.setxor1d(ka, kb, assume_unique=True)
    if diff.size:
        steps = diff % (n_steps + 2) - 1
        first_step = int(steps.min())
        first_neuron = int((diff[steps == first_step] // (n_steps + 2)).min())
    return PopDiff(name, size, int(ka.size), int(kb.size), same / denom if denom else 1.0,
                   min(int(near_a.sum()), int(near_b.sum())) / denom if denom else 1.0, corr,
                   rate(ka.size), rate(kb.size), first_step, first_neuron)


def diff_runs(a: SimRun, b: SimRun) -> list[PopDiff]:
    check_comparable(a, b)
    return [compare_population(n, size, a.spikes[n], b.spikes[n], a.steps, a.dt_ms) for n, size in a.sizes.items()]


def first_divergence(diffs: list[PopDiff]) -> PopDiff | None:
    """The population whose first differing spike comes earliest (ties: the first population)."""
    hits = [d for d in diffs if d.first_step is not None]
    return min(hits, key=lambda d: d.first_step) if hits else None


def within_tolerance(diffs: list[PopDiff], tolerance: float) -> bool:
    return all(1.0 - d.identical <= tolerance + 1e-12 for d in diffs)
