"""Loihi routing: no tables to fill; chip-to-chip spike traffic and link loads along mesh paths."""
from __future__ import annotations

import numpy as np

from neurocompile.ir.network import Network
from neurocompile.passes.partition import Partition
from neurocompile.passes.placement import PlacementResult
from neurocompile.passes.resources import Target
from neurocompile.passes.routing import RoutingResult, grid_args, unicast_loads


def route_loihi(net: Network, part: Partition, t: Target, pl: PlacementResult) -> RoutingResult:
    res = RoutingResult("loihi")
    grid = pl.grid
    g = pl.graph
    A, B = g.src, g.dst
    ok = (pl.chip_of[A] >= 0) & (pl.chip_of[B] >= 0)
    A, B, W = A[ok], B[ok], g.rate[ok]
    inter = pl.chip_of[A] != pl.chip_of[B]
    A, B, W = A[inter], B[inter], W[inter]
    if A.size:
        load, total = unicast_loads(pl.chip_of[A].astype(np.int64), pl.chip_of[B].astype(np.int64),
                                     W.astype(np.float64), *grid_args(grid), grid.n_chips)
    else:
        load, total = np.zeros((grid.n_chips, 6)), 0.0
    res.link_load = load
    res.link_traversals_per_s = float(total)
    return res
