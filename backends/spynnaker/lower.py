"""Lower a CompiledNetwork (SpiNNaker board) to the data ``pynn_script.py`` builds a PyNN network from.

``network.json``: dt, steps, populations (model, scalar parameters or npz keys, record list, our
plan: ``max_atoms_per_core``, ``placement``, ``max_expected_summed_weight``, ``perm``) and
projections (pre, post, receptor, STDP, npz key of the connection array). ``network.npz``: the
arrays. Everything is numpy: a projection is one ``(n, 4)`` float64 array ``[pre, post, |w| nA,
delay ms]`` handed to ``FromListConnector`` as is (no Python tuple per synapse).

Our plan in sPyNNaker's terms:

* Slices. sPyNNaker cuts a population into fixed-size index ranges (``max_atoms_per_core``); our
  partition (uniform slices on SpiNNaker) is made of equal slices along an ordering, so the
  population is created in that order (``perm``: PyNN id k is our neuron ``perm[k]``) and every
  index is renumbered with the inverse permutation.
* Placement. ``Population.add_placement_constraint(x, y)`` fixes the *application* vertex: in
  PACMAN 1!7.4.1 ``ApplicationPlacer._do_fixed_location`` puts every core of the population on that
  chip (``MachineVertex.get_fixed_location`` falls back to the application vertex's), and a core
  index ``p`` is tested with ``fixed.p not in next_cores`` on an iterator (consumed: it fails for a
  population of more than one core). So a population whose slices are all on one chip is
  constrained to it; for one spread over several chips the script wraps sPyNNaker's splitter and
  fixes each machine vertex on its slice's chip (``slice_chips``; pynn_script.pin_slices). Core
  indices are left to sPyNNaker.
* Ring-buffer shifts: ``max_expected_summed_weight = [forced(s_exc), forced(s_inh)]``.
* The 7.4.1 delay defect (docs/spynnaker-backend.md): a projection with synapses beyond the post's
  in-core delay slots (delay-extension rows) between populations of different neurons per core is
  refused with a ModelError naming it.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from neurocompile.errors import ModelError

#: sPyNNaker constants (spynnaker/pyNN/utilities/constants.py MAX_RING_BUFFER_BITS; IF_curr_exp has
#: two synapse types -> 1 type bit: population_vertex.py __update_max_delay).
MAX_RING_BUFFER_BITS = 14
IF_CURR_EXP_TYPE_BITS = 1


def n_bits(n: int) -> int:
    """pacman.utilities.utility_calls.get_n_bits."""
    return 0 if n == 0 else 1 if n == 1 else int(math.ceil(math.log2(n)))


def atoms_per_core(n_atoms: int, max_atoms: int) -> int:
    """Atoms per core sPyNNaker uses for keys and rows: min(n_atoms, max_atoms_per_core)."""
    return min(int(n_atoms), int(max_atoms))


def in_core_delay_slots(n_atoms: int, max_atoms: int) -> int:
    """Delay ticks a post population holds in its own ring buffer (beyond: delay extension)."""
    return 2 ** (MAX_RING_BUFFER_BITS - n_bits(atoms_per_core(n_atoms, max_atoms)) - IF_CURR_EXP_TYPE_BITS)


def slice_layout(compiled: Any, pop: str) -> tuple[np.ndarray, int, list[np.ndarray]]:
    """(order: PyNN id -> our neuron, max_atoms_per_core, slices' neurons) for our partition."""
    s = compiled.slices
    parts = [s.neurons(pop, j) for j in range(s.n_slices_of(pop))]
    sizes = [int(p.size) for p in parts]
    if any(sz != sizes[0] for sz in sizes[:-1]) or sizes[-1] > sizes[0]:
        raise ModelError(f"population {pop!r}: slices of sizes {sizes[:8]} cannot be reproduced by "
                         f"sPyNNaker's fixed-size splitter (all slices but the last must be equal); "
                         f"compile with --option uniform_slices=true")
    order = np.concatenate(parts).astype(np.int64)
    return order, sizes[0], parts


def delay_defects(compiled: Any, apc: dict[str, int]) -> list[str]:
    """Projections sPyNNaker 1!7.4.1 would mis-lay (delayed rows with unequal atoms per core)."""
    net, out = compiled.network, []
    for proj in net.projections.values():
        if proj.n_synapses == 0:
            continue
        pre, post = net.populations[proj.pre], net.populations[proj.post]
        post_apc = atoms_per_core(post.size, apc[post.name])
        pre_apc = atoms_per_core(pre.size, apc[pre.name])
        slots = in_core_delay_slots(post.size, apc[post.name])
        n_delayed = int(np.count_nonzero(proj.delay > slots))
        if n_delayed and pre_apc != post_apc:
            out.append(f"projection {proj.name!r}: {n_delayed} synapse(s) with delays beyond the "
                       f"{slots} in-core ticks of {post.name!r} (up to {int(proj.delay.max())}) go to "
                       f"delay-extension rows, and {proj.pre!r} has {pre_apc} neurons per core but "
                       f"{proj.post!r} {post_apc}: sPyNNaker 1!7.4.1 lays such rows out with the post's "
                       f"and reads them with the pre's atoms per core, so synapses get wrong delays "
                       f"without warning (docs/spynnaker-backend.md); give both the same neurons per "
                       f"core (--option max_neurons_per_core) or keep these delays within {slots} ticks")
    return out


def lower(compiled: Any, steps: int, use_plan: bool = True, allow_delay_defect: bool = False,
          sort_connections: bool = True) -> tuple[dict[str, Any], dict[str, np.ndarray], list[str]]:
    """(spec for network.json, arrays for network.npz, notes on what of the plan is not applied).

    ``allow_delay_defect`` lowers a plan that hits the 7.4.1 delay defect anyway (to reproduce it).
    ``sort_connections=False`` keeps the IR's synapse order in the FromListConnector lists, which
    7.4.1 mis-sizes (see below); only to reproduce that.
    """
    from neurocompile.targets.spinnaker.quantize import (
        forced_max_expected_summed_weight, raw_weights, ring_buffer_shifts_of)
    from neurocompile.targets.spinnaker.weights import weight_lsb

    net, board = compiled.network, compiled.board
    if net.number_format != "spinnaker":
        raise ModelError(f"network {net.name!r} is not quantized for SpiNNaker (number format "
                         f"{net.number_format!r}); compile it for a spinn-* board")
    if compiled.slices is None:
        raise ModelError("the compiled network has no partition; the spynnaker backend applies our plan")
    dt = float(net.dt_ms)
    arrays: dict[str, np.ndarray] = {}
    notes: list[str] = []
    pops_spec, inv, apc = [], {}, {}
    for i, pop in enumerate(net.populations.values()):
        order, max_atoms, parts = slice_layout(compiled, pop.name)
        apc[pop.name] = max_atoms
        if not use_plan:  # sPyNNaker alone: the population in its own order
            order = np.arange(pop.size, dtype=np.int64)
        inv_p = np.empty(pop.size, dtype=np.int64)
        inv_p[order] = np.arange(pop.size)
        inv[pop.name] = inv_p
        identity = bool(np.array_equal(order, np.arange(pop.size)))
        key = f"p{i}"
        # poisson_fast is sPyNNaker's own SpikeSourcePoisson too: it switches to a Poisson count
        # per tick by itself above 0.01 spikes per tick (spike_source_poisson.c), drawn on chip
        model = "poisson" if pop.model == "poisson_fast" else pop.model
        entry: dict[str, Any] = {"name": pop.name, "size": pop.size, "model": model,
                                 "record": [v for v in pop.record if v in ("spikes", "v")],
                                 "params": {}, "max_atoms_per_core": max_atoms if use_plan else None,
                                 "placement": None, "perm": None}
        if not identity:
            arrays[f"{key}_perm"] = order
            entry["perm"] = f"{key}_perm"
        if pop.model == "spike_array":
            indptr = np.asarray(pop.params["spike_indptr"], dtype=np.int64)
            steps_a = np.asarray(pop.params["spike_steps"], dtype=np.int64)
            counts = np.diff(indptr)[order]
            starts = indptr[:-1][order]
            idx = (np.repeat(starts - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
                   + np.arange(int(counts.sum())))
            arrays[f"{key}_indptr"] = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
            arrays[f"{key}_times"] = steps_a[idx].astype(np.float64) * dt
            entry["params"] = {"spike_indptr": f"{key}_indptr", "spike_times_ms": f"{key}_times"}
        elif model == "poisson":
            def put(name: str, values: np.ndarray, k: str = key) -> Any:
                v = values[order]
                if np.all(v == v[0]):
                    return float(v[0])
                arrays[f"{k}_{name}"] = v.astype(np.float64)
                return f"{k}_{name}"
            entry["params"]["rate"] = put("rate", pop.param("rate").astype(np.float64))
            entry["params"]["start_ms"] = put("start", pop.param("start").astype(np.float64) * dt)
            dur = pop.param("duration").astype(np.float64)
            entry["params"]["duration_ms"] = None if np.all(dur >= 2**31 - 1) else put("duration", dur * dt)
        elif pop.model == "lif_curr_exp":
            for name in ("tau_m", "cm", "v_rest", "v_reset", "v_thresh", "tau_refrac", "tau_syn_E",
                         "tau_syn_I", "i_offset", "v_init"):
                v = pop.param(name)[order]
                if np.all(v == v[0]):
                    entry["params"][name] = float(v[0])
                else:
                    arrays[f"{key}_{name}"] = v.astype(np.float64)
                    entry["params"][name] = f"{key}_{name}"
            shifts = ring_buffer_shifts_of(pop)
            entry["ring_buffer_shifts"] = [shifts["excitatory"], shifts["inhibitory"]]
            entry["max_expected_summed_weight"] = [forced_max_expected_summed_weight(shifts[r])
                                                   for r in ("excitatory", "inhibitory")]
            # Our plan has one combined neuron+synapse core per slice. Left to itself, sPyNNaker
            # 1!7.4.1 picks split neuron and synapse cores at dt < 1 ms whenever its synapse-rate
            # estimate asks for a synapse core (population_vertex.py use_combined_core,
            # n_synapse_cores_required), and it decides that the first time it is asked, which
            # could be before or after the projections exist. Say it outright.
            entry["n_synapse_cores"] = 0 if use_plan else None
        else:
            raise ModelError(f"population {pop.name!r}: model {pop.model!r} has no sPyNNaker counterpart "
                             f"(lif_curr_exp, spike_array, poisson and poisson_fast have)")
        if use_plan and compiled.placements is not None:
            off = compiled.slices.offset[pop.name]
            chips = {tuple(int(c) for c in compiled.placements.chip[off + j]) for j in range(len(parts))}
            if any(c[0] < 0 for c in chips):
                notes.append(f"population {pop.name!r}: not placed by us; sPyNNaker's placer chooses")
            elif len(chips) == 1:
                entry["placement"] = list(next(iter(chips)))
            elif model == "poisson":
                notes.append(f"population {pop.name!r}: our {len(parts)} slices are on {len(chips)} chips; "
                             f"a Poisson source's cores are made by SplitterPoissonDelegate (or merged "
                             f"into its target), so sPyNNaker's placer chooses")
            else:
                starts = np.cumsum([0] + [int(p.size) for p in parts[:-1]])
                entry["slice_chips"] = [[int(starts[j]), *(int(v) for v in compiled.placements.chip[off + j])]
                                        for j in range(len(parts))]
        pops_spec.append(entry)
    if use_plan:
        problems = delay_defects(compiled, apc)
        if problems and not allow_delay_defect:
            more = f" (and {len(problems) - 1} more projection(s) alike)" if len(problems) > 1 else ""
            raise ModelError(problems[0] + more)
        notes.extend(f"NOT SAFE: {p}" for p in problems)
    projs_spec = []
    for j, proj in enumerate(net.projections.values()):
        post = net.populations[proj.post]
        raw = raw_weights(net, proj)  # checks the weights are exact chip weights
        shift = ring_buffer_shifts_of(post)[proj.receptor]
        conns = np.empty((proj.n_synapses, 4), dtype=np.float64)
        conns[:, 0] = inv[proj.pre][proj.pre_idx]
        conns[:, 1] = inv[proj.post][proj.post_idx]
        conns[:, 2] = raw.astype(np.float64) * weight_lsb(shift)   # |w|, exact
        conns[:, 3] = proj.delay.astype(np.float64) * dt
        if sort_connections:
            # sPyNNaker 1!7.4.1 FromListConnector.get_n_connections_from_pre_vertex_maximum groups
            # the list with __numpy_group, which sorts a copy but splits the *unsorted* array at
            # the sorted split points: unless the list is sorted by (pre, post), the maximum row
            # length can come out too small and the synapses beyond it are dropped silently
            # (docs/spynnaker-backend.md). Sorted by pre then post, both groupings are right.
            conns = conns[np.lexsort((conns[:, 1], conns[:, 0]))]
        arrays[f"c{j}"] = conns
        q: dict[str, Any] = {"name": proj.name, "pre": proj.pre, "post": proj.post,
                             "receptor": proj.receptor, "connections": f"c{j}", "stdp": None}
        if proj.plasticity is not None:
            r = proj.plasticity
            q["stdp"] = {"tau_plus": r.tau_plus, "tau_minus": r.tau_minus, "a_plus": r.a_plus,
                         "a_minus": r.a_minus, "w_min": r.w_min, "w_max": r.w_max}
        projs_spec.append(q)
    spec = {"format": "neurocompile-pynn", "version": 1, "network": net.name, "dt_ms": dt,
            "steps": int(steps), "seed": int(compiled.seed), "board": board.name,
            "populations": pops_spec, "projections": projs_spec}
    return spec, arrays, notes
