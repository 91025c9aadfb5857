"""Connection lists from PyNN connectors in time and memory linear in the synapses made.

PyNN's generic connectors walk the pre x post matrix column by column (FixedProbability draws one
random number per pair, FixedNumberPre argsorts a column per post neuron), and sPyNNaker's host
side has quadratic paths too (../shared/DESIGN.md). Building the cortical microcircuit's 0.3
billion synapses that way is out of reach, so the standard connectors are drawn directly:

* FixedProbability: a Bernoulli process over the flattened matrix, sampled by geometric gaps
  (O(synapses), same distribution as one uniform per pair);
* FixedTotalNumber: `n` uniform pairs (with replacement, PyNN's default), or `n` distinct ones;
* FixedNumberPre/Post: `n` per neuron, with or without replacement;
* AllToAll, OneToOne, FromList, Array: their pairs, vectorised.

Any other connector returns None and goes through PyNN's own `connect` (projections.py collects
its columns). Random choices come from a numpy Generator seeded by one draw from the connector's
own PyNN rng, so a seeded script gives the same network every time (not the same network as
pyNN.nest draws: the algorithms differ, the distributions do not).
"""
from __future__ import annotations

from typing import Any

import numpy as np
from pyNN import connectors as pc

from neurocompile.errors import ModelError

MAX_DENSE_PAIRS = 2**31  # AllToAll/Array pairs built at once; beyond this the list itself is the problem


def generator_for(connector: Any) -> np.random.Generator:
    """A Generator seeded by one draw from the connector's PyNN rng (NumpyRNG, GSLRNG, ...)."""
    rng = getattr(connector, "rng", None)
    if rng is None:
        return np.random.default_rng(151985012)  # PyNN's own default seed (connectors._get_rng)
    draw = rng.next(2, "uniform", {"low": 0.0, "high": 1.0})
    return np.random.default_rng([int(d * 2**32) for d in np.atleast_1d(draw)])


def _no_self(connector: Any, same: np.ndarray | None, pre: np.ndarray, post: np.ndarray):
    """Drop pairs that join a neuron to itself when the connector forbids it."""
    if same is None or getattr(connector, "allow_self_connections", True) is True:
        return pre, post
    keep = same[0][pre] != same[1][post]
    return pre[keep], post[keep]


def _bernoulli_pairs(gen: np.random.Generator, n_pre: int, n_post: int, p: float):
    """Every (i, j) independently with probability p, in O(pairs made): geometric gaps."""
    total = n_pre * n_post
    if p <= 0 or total == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    if p >= 1:
        flat = np.arange(total, dtype=np.int64)
    else:
        chunks, pos = [], -1
        expected = int(total * p * 1.05) + 64
        while pos < total:
            gaps = gen.geometric(p, size=expected)
            flat = pos + np.cumsum(gaps, dtype=np.int64)
            chunks.append(flat[flat < total])
            pos = int(flat[-1])
            expected = max(64, int((total - pos) * p * 1.05) + 64)
        flat = np.concatenate(chunks)
    return flat // n_post, flat % n_post


def _per_neuron(gen: np.random.Generator, n_each: int, n_choices: int, n_neurons: int,
                replace: bool, name: str) -> np.ndarray:
    """(n_neurons, n_each) choices from range(n_choices), each row without repeats unless `replace`."""
    if replace:
        return gen.integers(0, n_choices, size=(n_neurons, n_each), dtype=np.int64)
    if n_each > n_choices:
        raise ModelError(f"{name}: n={n_each} without replacement exceeds the {n_choices} neurons "
                         "to choose from")
    return np.stack([gen.choice(n_choices, n_each, replace=False) for _ in range(n_neurons)]) \
        if n_neurons else np.zeros((0, n_each), np.int64)


def connection_pairs(connector: Any, n_pre: int, n_post: int, same: np.ndarray | None,
                     name: str) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]] | None:
    """(pre, post, per-synapse values given by the connector) or None for PyNN's own path.

    `same` is (pre_keys, post_keys): the neurons' identities, so self connections can be found
    when pre and post overlap (None when they cannot)."""
    c = connector
    kind = type(c)
    if kind is pc.AllToAllConnector:
        if n_pre * n_post > MAX_DENSE_PAIRS:
            raise ModelError(f"{name}: AllToAll of {n_pre} x {n_post} neurons is more than "
                             f"{MAX_DENSE_PAIRS:,} synapses")
        pre, post = np.divmod(np.arange(n_pre * n_post, dtype=np.int64), n_post)
        return (*_no_self(c, same, pre, post), {})
    if kind is pc.OneToOneConnector:
        if n_pre != n_post:
            raise ModelError(f"{name}: OneToOne needs equal sizes, got {n_pre} and {n_post}")
        idx = np.arange(n_pre, dtype=np.int64)
        return idx, idx.copy(), {}
    if kind is pc.FixedProbabilityConnector:
        p = float(c.p_connect)
        pre, post = _bernoulli_pairs(generator_for(c), n_pre, n_post, p)
        return (*_no_self(c, same, pre, post), {})
    if kind is pc.FixedTotalNumberConnector:
        n = int(c.n)
        gen = generator_for(c)
        if c.with_replacement:
            # n independent uniform pairs, generated already sorted by pre (what the simulator
            # wants, with no sort of 10**8 synapses): a multinomial count per pre neuron, then
            # that many uniform posts each. Same distribution as drawing the pairs one by one.
            counts = gen.multinomial(n, np.full(n_pre, 1.0 / n_pre)) if n_pre else np.zeros(0, np.int64)
            pre = np.repeat(np.arange(n_pre, dtype=np.int32), counts)
            post = gen.integers(0, n_post, size=n, dtype=np.int32)
            if same is not None and not c.allow_self_connections:
                bad = same[0][pre] == same[1][post]
                while bad.any():  # redraw the post of self pairs (PyNN redraws the pair)
                    post[bad] = gen.integers(0, n_post, size=int(bad.sum()))
                    bad = same[0][pre] == same[1][post]
            return pre, post, {}
        if same is not None and not c.allow_self_connections:
            return None  # distinct pairs excluding the diagonal: PyNN's path
        if n > n_pre * n_post:
            raise ModelError(f"{name}: {n} distinct synapses exceed the {n_pre * n_post} pairs")
        flat = gen.choice(n_pre * n_post, size=n, replace=False)
        return flat // n_post, flat % n_post, {}
    if kind in (pc.FixedNumberPreConnector, pc.FixedNumberPostConnector):
        if not isinstance(c.n, (int, np.integer)) or (same is not None and not c.allow_self_connections):
            return None
        gen, n = generator_for(c), int(c.n)
        if kind is pc.FixedNumberPreConnector:
            pre = _per_neuron(gen, n, n_pre, n_post, c.with_replacement, name).ravel()
            post = np.repeat(np.arange(n_post, dtype=np.int64), n)
        else:
            post = _per_neuron(gen, n, n_post, n_pre, c.with_replacement, name).ravel()
            pre = np.repeat(np.arange(n_pre, dtype=np.int64), n)
        return pre, post, {}
    if kind is pc.ArrayConnector:
        arr = np.asarray(c.array)
        if arr.shape != (n_pre, n_post):
            raise ModelError(f"{name}: ArrayConnector array is {arr.shape}, the projection is "
                             f"({n_pre}, {n_post})")
        pre, post = np.nonzero(arr)
        return pre.astype(np.int64), post.astype(np.int64), {}
    if kind is pc.FromListConnector:
        return _from_list(c, n_pre, n_post, name)
    return None


def _from_list(c: Any, n_pre: int, n_post: int, name: str):
    data = np.asarray(c.conn_list, dtype=float)
    if data.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), {}
    if data.ndim != 2 or data.shape[1] < 2:
        raise ModelError(f"{name}: FromListConnector list must have rows (i, j, ...), got shape {data.shape}")
    pre, post = data[:, 0], data[:, 1]
    for end, idx, n in (("pre", pre, n_pre), ("post", post, n_post)):
        if np.any(idx != np.round(idx)) or np.any(idx < 0) or np.any(idx >= n):
            raise ModelError(f"{name}: FromListConnector {end} index out of range 0..{n - 1} "
                             "or not an integer")
    columns = list(c.column_names) if getattr(c, "column_names", None) else []
    values = {col: data[:, 2 + k] for k, col in enumerate(columns) if 2 + k < data.shape[1]}
    return pre.astype(np.int64), post.astype(np.int64), values
