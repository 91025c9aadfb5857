"""New networks from old ones without copying what did not change.

Passes are pure: they return a new `Network` and never mutate their input. Building that new
network shares every array and parameter value the pass did not replace (numpy arrays are never
modified in place anywhere in the compiler), so quantizing a 100M-synapse network adds the new
weight arrays, not a second copy of the indices and delays. A pass that changes something passes
the new value in `changes`.
"""
from __future__ import annotations

import copy
from typing import Any

from neurocompile.ir.network import Network, Population, Projection


def clone_population(pop: Population, **changes: Any) -> Population:
    fields = dict(name=pop.name, size=pop.size, model=pop.model, params=dict(pop.params),
                  record=tuple(pop.record), annotations=copy.deepcopy(pop.annotations))
    fields.update(changes)
    return Population(**fields)


def clone_projection(proj: Projection, **changes: Any) -> Projection:
    fields = dict(name=proj.name, pre=proj.pre, post=proj.post, pre_idx=proj.pre_idx,
                  post_idx=proj.post_idx, weight=proj.weight, delay=proj.delay,
                  receptor=proj.receptor, plasticity=proj.plasticity,  # STDPRule is frozen
                  attrs=dict(proj.attrs))
    fields.update(changes)
    return Projection(**fields)


def clone_network(net: Network) -> Network:
    """A new network whose tables can be changed freely; arrays are shared until replaced."""
    return Network(name=net.name, dt_ms=net.dt_ms, seed=net.seed,
                   populations={k: clone_population(p) for k, p in net.populations.items()},
                   projections={k: clone_projection(p) for k, p in net.projections.items()},
                   number_format=net.number_format, metadata=copy.deepcopy(net.metadata))


__all__ = ["clone_network", "clone_population", "clone_projection"]
