"""The resource model's per-part statistics: the sequential kernel for projections stored in
presynaptic order must give exactly what the general (gather by part) kernel gives."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings, strategies as st

from neurocompile.passes.resources import _proj_part_stats, _proj_part_stats_by_pre


@settings(max_examples=60, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**31 - 1), want_out=st.booleans())
def test_sequential_kernel_equals_general_kernel(seed, want_out):
    rng = np.random.default_rng(seed)
    n_pre, n_post = int(rng.integers(1, 60)), int(rng.integers(1, 60))
    n = int(rng.integers(0, 3000))
    pre = np.sort(rng.integers(0, n_pre, n)).astype(np.int32)
    post = rng.integers(0, n_post, n).astype(np.int32)
    delay = rng.integers(1, 40, n).astype(np.int32)
    n_parts = int(rng.integers(1, 9))
    label = rng.integers(0, n_parts, n_post).astype(np.int64)
    split = rng.integers(0, 40, n_parts).astype(np.int64)
    bpw = rng.integers(1, 33, n_parts).astype(np.int64)
    blk, hdr, word = int(rng.integers(1, 300)), int(rng.integers(0, 64)), int(rng.choice([1, 32, 64]))
    args = (pre, post, delay, label, n_parts, n_pre, split, bpw, blk, hdr, word, want_out)
    for a, b in zip(_proj_part_stats(*args), _proj_part_stats_by_pre(*args)):
        np.testing.assert_array_equal(a, b)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**31 - 1))
def test_sequential_pair_kernel_equals_general_kernel(seed):
    """Placement's slice pairs: same pairs, same rate sums and counts (order aside)."""
    from neurocompile.passes.placement import _pairs_kernel, _pairs_kernel_by_pre

    rng = np.random.default_rng(seed)
    n_pre, n_post, n = int(rng.integers(1, 50)), int(rng.integers(1, 50)), int(rng.integers(0, 2000))
    pre = np.sort(rng.integers(0, n_pre, n)).astype(np.int32)
    post = rng.integers(0, n_post, n).astype(np.int32)
    na, nb = int(rng.integers(1, 7)), int(rng.integers(1, 7))
    pl, ql = rng.integers(0, na, n_pre).astype(np.int64), rng.integers(0, nb, n_post).astype(np.int64)
    rate = rng.uniform(0, 50, n_pre)
    got = [_pairs_kernel(pre, post, pl, ql, na, nb, rate), _pairs_kernel_by_pre(pre, post, pl, ql, na, nb, rate)]
    (a1, b1, w1, c1), (a2, b2, w2, c2) = [(a[o], b[o], w[o], c[o]) for a, b, w, c in got
                                          for o in [np.lexsort((b, a))]]
    for x, y in ((a1, a2), (b1, b2), (w1, w2), (c1, c2)):
        np.testing.assert_array_equal(x, y)
