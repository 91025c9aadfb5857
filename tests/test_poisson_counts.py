"""poisson_fast sources draw k ~ Poisson(rate x dt) by inversion: checked against scipy's
Poisson quantile function (k = the smallest count whose CDF reaches u), not against our code."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from neurocompile.ir.sources import PoissonTable


@pytest.mark.parametrize("lam", [0.0, 1e-4, 0.3, 1.55, 7.0, 42.5, 900.0])
def test_counts_are_the_poisson_quantile_of_the_uniform(lam):
    rng = np.random.default_rng(7)
    u = rng.random(20000)
    u[:3] = [0.0, np.nextafter(1.0, 0.0), 0.5]
    table = PoissonTable(np.full(u.size, lam))
    # scipy gives ppf(0) = -1 by convention; the smallest k with CDF(k) >= 0 is 0
    expected = np.maximum(stats.poisson.ppf(u, lam), 0) if lam > 0 else np.zeros(u.size)
    np.testing.assert_array_equal(table.counts(u), expected)


def test_mixed_means_each_neuron_its_own_row():
    rng = np.random.default_rng(3)
    lam = rng.choice([0.0, 0.2, 1.5, 12.0], 5000)
    u = rng.random(lam.size)
    expected = np.where(lam > 0, stats.poisson.ppf(u, np.where(lam > 0, lam, 1.0)), 0)
    np.testing.assert_array_equal(PoissonTable(lam).counts(u), expected)
