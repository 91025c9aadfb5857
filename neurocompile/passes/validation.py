"""Validation pass: the IR is well formed and its timestep and delays suit the board."""
from __future__ import annotations

import numpy as np

from neurocompile.errors import ResourceError
from neurocompile.ir.network import Network
from neurocompile.ir.validate import validate_network
from neurocompile.passes.pipeline import CompileContext


def validate(net: Network, ctx: CompileContext) -> Network:
    validate_network(net)
    board = ctx.board
    if board.timestep_ms and not any(np.isclose(net.dt_ms, ts) for ts in board.timestep_ms):
        ctx.warn(f"dt_ms={net.dt_ms} is not among the timesteps {list(board.timestep_ms)} documented "
                 f"for {board.name}; real-time behaviour on the board is not guaranteed")
    limit = board.delays.max_steps_extended
    for proj in net.projections.values():
        if proj.n_synapses and int(proj.delay.max()) > limit:
            raise ResourceError(
                f"projection {proj.name!r}: delay {int(proj.delay.max())} steps exceeds the "
                f"{board.name} maximum of {limit} steps (delays: {board.delays.extension}); "
                f"hint: shorten delays or increase dt_ms")
    ctx.info(f"{net.n_neurons} neurons, {net.n_synapses} synapses in {len(net.populations)} "
             f"populations and {len(net.projections)} projections")
    return net
