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
    _check_core_lower_bound(net, ctx)
    ctx.info(f"{net.n_neurons} neurons, {net.n_synapses} synapses in {len(net.populations)} "
             f"populations and {len(net.projections)} projections")
    return net


def _check_core_lower_bound(net: Network, ctx: CompileContext) -> None:
    """A network that cannot fit even at full cores fails here, in a second, not after partitioning.

    The bound is the partitioner's own (`core_lower_bound`: per-model neurons per core, fan-in),
    so it never exceeds the cores a successful compile uses; relays and delay-extension cores
    only add to it.
    """
    from neurocompile.passes.partition import core_lower_bound
    from neurocompile.passes.resources import HINTS, target_of

    board = ctx.board
    t = target_of(board)
    bounds = core_lower_bound(t, net, ctx.options)
    need = sum(bounds.values())
    have = board.n_cores
    if need <= have:
        return
    worst = sorted(bounds.items(), key=lambda kv: -kv[1])[:3]
    biggest = ", ".join(f"{name!r} ({net.populations[name].size:,} neurons: >= {k:,} cores at "
                        f"{t.neuron_limit(net.populations[name]):,} per core)" for name, k in worst)
    raise ResourceError(f"network {net.name!r} needs at least {need:,} cores on the board but {board.name} "
                        f"allows {have:,} ({board.n_chips} chips); hint: {HINTS['cores']}; largest: {biggest}")
