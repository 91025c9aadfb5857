"""Delay legalization: every delay must fit what the target holds in one hop, or be extended.

The board says how (``board.delays``, IR convention: a spike at step t arrives at t + delay):

* ``min_steps <= delay <= max_steps_in_core``: nothing to do.
* ``max_steps_in_core < delay <= max_steps_extended``, by ``extension``:

  - ``"none"``: impossible; :class:`ResourceError` naming the projection, the delay and the limit.
  - ``"delay_extension_cores"`` (SpiNNaker): the IR is **not** rewritten; sPyNNaker inserts
    delay-extension vertices itself. We predict them so the partitioner can reserve the cores, in
    ``ctx.delays.extensions[pre_population]``, following sPyNNaker 1!7.4.1
    (``spynnaker/pyNN/extra_algorithms/delay_support_adder.py``,
    ``_DelaySupportAdder._check_delay_values`` l.185-241 and
    ``_create_delay_app_vertex_and_pre_edge`` l.142-183):

    * per application edge (pre -> post population; every projection between the pair) with
      maximum delay ``d``: no extension if ``d <= delay_per_stage`` where ``delay_per_stage`` is
      the post population's in-core delay range (``splitter.max_support_delay()``; equal to
      ``max_steps_in_core`` whenever an extension is needed, see below);
    * else ``n_stages = ceil(d / delay_per_stage) - 1`` (l.240) and the edge is routed through the
      pre population's ONE delay-extension vertex (one per outgoing partition, l.159-172), whose
      stage count is the maximum over its edges (``delay_extension_vertex.py``
      ``set_new_n_delay_stages_and_delay_per_stage`` l.118-135: only ever increases);
    * an extension provides ``MAX_SLOTS (8) * delay_per_stage`` more ticks
      (``DelayExtensionVertex.get_max_delay_ticks_supported`` l.105-111); beyond
      ``delay_per_stage * 9`` it raises ``DelayExtensionException`` (l.231-237). The board file's
      ``max_steps_extended`` is exactly that number;
    * the extension vertex has the pre population's atoms and is split exactly like it
      (``splitter_delay_vertex_slice.py`` ``create_machine_vertices`` l.78-88: one machine vertex
      per out-going slice of the source): **one delay-extension core per core of the pre
      population**, whatever the number of stages.

    ``delay_per_stage`` is ``min(2**ceil(log2(max incoming delay)), slots)`` with ``slots =
    2**(14 - atom_bits - synapse_type_bits)`` (``population_vertex.py``
    ``max_delay_steps_incoming`` l.753-762, ``__update_max_delay`` l.778-799); when an extension
    is needed the first term is >= slots, so it is ``slots``. ``atom_bits`` is that of the post
    population's atoms per core, ``min(size, max_atoms_per_core)``, which is what the partitioner
    may give it (the board's neurons per core, or the user's/model's ``max_neurons_per_core``):
    32 ticks at 256 (the board file's ``max_steps_in_core``), 64 at 128, 2048 at 4. Slices can be
    smaller than that, so this is a prediction (an upper bound); the partition pass settles it
    from the slices made (``targets/spinnaker/resources.delay_extension_cores``). If one pre
    population needs extensions towards posts with different slot counts, sPyNNaker raises ("The
    delay per stage is already set"); we warn about that case.

  - ``"relay_neurons"`` (Loihi): the IR is rewritten. For each presynaptic population with long
    delays, a chain of relay populations ``<pre>~relay<s>`` (s = 1..K) holds copies of the
    pre spike trains delayed by ``s * D`` steps (``D = max_steps_in_core``), with one relay neuron
    per (pre neuron, stage) that some synapse needs. A synapse with delay ``d > D`` is re-routed
    to leave from stage ``k = ceil(d / D) - 1`` with the remaining delay ``d - k*D`` (in 1..D), so
    the total delay is exactly ``d``; relay chains are shared by all projections of the pre
    population. Relay feed synapses have delay D (pre -> stage 1, stage s-1 -> stage s).

* ``delay > max_steps_extended`` or ``< min_steps``: :class:`ResourceError` naming the projection,
  the delay and the limit, with a hint (a larger ``dt_ms`` makes the same delay fewer steps).

Relay neurons must fire exactly once per input spike, in the step the input arrives:

* ``loihi2_lif`` relay (:func:`loihi_relay_params`): ``du = dv = 4095, vth = 0, bias = 0``, input
  weight = the largest legal excitatory mantissa, ``weight_exp = 0``. In Lava's fixed point
  ``u = u * (4096 - (du + 1)) >> 12 = 0`` every step before the input is added, so ``u = a << 6``
  with ``a`` the relay's input this step (``w`` or 0: a relay has exactly one input synapse and
  its pre neuron spikes at most once per step); ``v`` is 0 at the start of every step (it is reset
  on a spike and never set otherwise), so ``v = 0*(4096-dv)>>12 + u = a << 6`` and
  ``v > vth << 6 = 0`` iff an input arrived. Exactly one spike per input spike, same step.
* ``loihi1_lif`` relay: the same parameters with ``refract_delay = 0`` (no refractory step) and the
  largest mixed-sign weight (254 at 8 bits: Loihi 1 synapses are always mixed sign); nengo-loihi's
  emulator decays u and v the same way, so the same proof holds.
* ``lif_curr_exp`` relay (:func:`float_relay_params`, for float networks legalized before
  quantization): ``tau_m = dt``, ``tau_syn = max(dt/10, 1e-3 ms)``, ``v_rest = v_reset = 0``,
  ``v_thresh = 1 mV``, no refractory period, weight ``2 / p21`` nA (an arrival raises V by >= 2 mV
  since V >= 0 and the residual current is >= 0). Without input V stays below
  ``2 r / ((1 - r)(1 - p22))`` (r = exp(-dt/tau_syn), p22 = exp(-dt/tau_m): the residual of an
  input in every past step), checked to be < 0.5 mV, so no second spike. quantize_loihi maps these
  relays to the ``loihi2_lif`` relay above (population annotation ``role = "delay_relay"``).

Plastic projections are never re-routed through relays: an STDP rule would see the relay's spike
(k*D steps late) and a shorter delay, i.e. different pairing times. That is an error.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from neurocompile.boards.schema import Board, LoihiFormat
from neurocompile.errors import ModelError, ResourceError
from neurocompile.ir.clone import clone_network, clone_population, clone_projection
from neurocompile.ir.network import DELAY_DTYPE, INDEX_DTYPE, Network, Population, Projection
from neurocompile.passes.pipeline import CompileContext
from neurocompile.passes.resources import get_n_bits

RELAY_ROLE = "delay_relay"
RELAY_SEPARATOR = "~relay"

# sPyNNaker 1!7.4.1 delay_extension_vertex.py l.49: DelayExtensionVertex.MAX_SLOTS = 8 (used only
# to cross-check the board file; the limit itself is read from board.delays.max_steps_extended).
SPYNNAKER_DELAY_EXTENSION_MAX_SLOTS = 8


# ------------------------------------------------------------------------------------------------
# Relay neurons
# ------------------------------------------------------------------------------------------------
def loihi_relay_weight(fmt: LoihiFormat, mixed: bool = False) -> int:
    """Largest weight Lava keeps unchanged in excitatory sign mode (clip to 255, drop 8-nwb bits);
    with `mixed` (Loihi 1's only synapse format) one more low bit is dropped."""
    k = 8 - int(fmt.weight_bits) + int(mixed)
    return (255 >> k) << k


LOIHI_RELAY_MODELS = ("loihi2_lif", "loihi1_lif")


def loihi_relay_params(model: str = "loihi2_lif") -> dict[str, int]:
    """Relay neuron parameters (proof of 'one spike per input' in the docstring; the same holds for
    loihi1_lif, whose refract_delay 0 adds no refractory step)."""
    out = {"du": 4095, "dv": 4095, "vth": 0, "bias_mant": 0, "bias_exp": 0, "u_init": 0, "v_init": 0}
    if model == "loihi1_lif":
        out["refract_delay"] = 0
    return out


def float_relay_params(dt_ms: float) -> tuple[dict[str, float], float]:
    """lif_curr_exp relay parameters and its input weight (nA) for time step dt_ms."""
    tau_m = float(dt_ms)
    tau_s = max(dt_ms / 10.0, 1e-3)
    r, p22 = math.exp(-dt_ms / tau_s), math.exp(-dt_ms / tau_m)
    p21 = tau_m * tau_s / (tau_s - tau_m) * (r - p22)  # cm = 1 nF; float_mode.psc_propagator
    residual_bound = 2.0 * r / ((1.0 - r) * (1.0 - p22))
    if not residual_bound < 0.5:
        raise ModelError(f"dt_ms={dt_ms}: too small for a lif_curr_exp delay relay (synaptic time "
                         f"constants below 1e-3 ms are not allowed); quantize before legalizing delays")
    params = {"tau_m": tau_m, "cm": 1.0, "v_rest": 0.0, "v_reset": 0.0, "v_init": 0.0,
              "v_thresh": 1.0, "tau_refrac": 0.0, "tau_syn_E": tau_s, "tau_syn_I": tau_s,
              "i_offset": 0.0}
    return params, 2.0 / p21


def is_relay(pop: Population) -> bool:
    return pop.annotations.get("role") == RELAY_ROLE


# ------------------------------------------------------------------------------------------------
# The pass
# ------------------------------------------------------------------------------------------------
def _hint(net: Network, delay: int, limit: int) -> str:
    factor = math.ceil(delay / limit)
    return (f"hint: shorten the delay, or increase dt_ms (delays are whole steps of dt_ms="
            f"{net.dt_ms:g}: at dt_ms={net.dt_ms * factor:g} this delay is {math.ceil(delay / factor)} steps)")


def _check_range(net: Network, board: Board, proj: Projection) -> None:
    d = board.delays
    lo, hi = int(proj.delay.min()), int(proj.delay.max())
    if lo < d.min_steps:
        raise ResourceError(f"projection {proj.name!r}: delay {lo} steps is below the {board.name} "
                            f"minimum of {d.min_steps} steps")
    limit = d.max_steps_in_core if d.extension == "none" else d.max_steps_extended
    if hi > limit:
        how = ("no delay extension mechanism" if d.extension == "none"
               else f"{d.max_steps_in_core} steps per hop, extended by {d.extension.replace('_', ' ')}")
        raise ResourceError(f"projection {proj.name!r}: delay {hi} steps exceeds the {board.name} "
                            f"maximum of {limit} steps ({how}); {_hint(net, hi, limit)}")


def legalize_delays(net: Network, ctx: CompileContext) -> Network:
    """Check every delay against the board; extend (SpiNNaker) or split through relays (Loihi)."""
    board = ctx.board
    long_projs = []
    for proj in net.projections.values():
        if proj.n_synapses == 0:
            continue
        _check_range(net, board, proj)
        if int(proj.delay.max()) > board.delays.max_steps_in_core:
            long_projs.append(proj)
    if not long_projs:
        ctx.info(f"all delays fit in one hop (<= {board.delays.max_steps_in_core} steps); nothing to do")
        return net
    if board.delays.extension == "delay_extension_cores":
        _predict_delay_extensions(net, ctx, long_projs)
        return net
    if board.delays.extension == "relay_neurons":
        return _insert_relays(net, ctx, long_projs)
    raise ModelError(f"board {board.name}: unknown delay extension {board.delays.extension!r}")


# ----- SpiNNaker --------------------------------------------------------------------------------
def _in_core_steps(ctx: CompileContext, posts: list[Population]) -> dict[str, int]:
    """Ticks each post population holds in its own ring buffer at the most neurons per core the
    partitioner may give it (the board's limit, or the user's/model's max_neurons_per_core):
    sPyNNaker's slots at min(size, max_atoms_per_core) atoms (population_vertex.py __update_max_delay)."""
    from neurocompile.passes.partition import neuron_cap
    from neurocompile.passes.resources import target_of
    from neurocompile.targets.spinnaker.resources import _in_core_slots

    t = ctx.target or target_of(ctx.board)  # the board read once for all of them
    return {p.name: int(_in_core_slots(t, p, np.asarray([min(p.size, neuron_cap(t, p, ctx.options))]))[0])
            for p in posts}


def _predict_delay_extensions(net: Network, ctx: CompileContext, long_projs: list[Projection]) -> None:
    out: dict[str, dict[str, Any]] = ctx.delays.extensions
    in_core = _in_core_steps(ctx, [net.populations[name] for name in sorted({p.post for p in long_projs})])
    edges: dict[tuple[str, str], int] = {}
    for proj in net.projections.values():  # an application edge holds every projection of the pair
        if proj.n_synapses and proj.post in in_core:
            key = (proj.pre, proj.post)
            edges[key] = max(edges.get(key, 0), int(proj.delay.max()))
    for proj in long_projs:
        d, per_stage = int(proj.delay.max()), in_core[proj.post]
        if d <= per_stage:
            continue
        stages = math.ceil(d / per_stage) - 1
        n_long = int(np.count_nonzero(proj.delay > per_stage))
        ctx.info(f"projection {proj.name!r}: {n_long} of {proj.n_synapses} synapses have delays above "
                 f"the {per_stage} in-core steps of {proj.post!r} (max {d}): sPyNNaker routes them "
                 f"through the delay extension of {proj.pre!r} ({stages} stage(s) of {per_stage} steps)",
                 proj.name)
    for (pre, post), d in edges.items():
        per_stage = in_core[post]
        if d <= per_stage:
            continue
        entry = out.setdefault(pre, {"max_delay": 0, "stages": 0, "delay_per_stage": per_stage,
                                     "n_atoms": net.populations[pre].size, "posts": {}})
        entry["max_delay"] = max(entry["max_delay"], d)
        entry["stages"] = max(entry["stages"], math.ceil(d / per_stage) - 1)
        entry["posts"][post] = per_stage
    for pre, entry in out.items():
        slots = entry["posts"]
        if len(set(slots.values())) > 1:
            ctx.warn(f"population {pre!r} needs delay extensions towards populations with "
                     f"different in-core delay ranges ({', '.join(f'{p}: {s}' for p, s in slots.items())} "
                     f"steps, from their neurons per core): sPyNNaker 1!7.4.1 raises "
                     f"DelayExtensionException for this; give them the same max atoms per core", pre)
        entry["delay_per_stage"] = min(slots.values())
        entry["posts"] = sorted(slots)
        ctx.info(f"population {pre!r}: delay extension with {entry['stages']} stage(s) of "
                 f"{entry['delay_per_stage']} steps (max delay {entry['max_delay']}), one extra core per "
                 f"core of {pre!r} ({entry['n_atoms']} atoms)", pre)
    if not out:
        ctx.info("every delay fits the in-core ring buffer of its post population at its neurons per core; "
                 "no delay extensions")


# ----- Loihi relays -----------------------------------------------------------------------------
def _unique_name(net_names: set[str], base: str) -> str:
    name, i = base, 1
    while name in net_names:
        i += 1
        name = f"{base}#{i}"
    return name


def _insert_relays(net: Network, ctx: CompileContext, long_projs: list[Projection]) -> Network:
    board = ctx.board
    D = board.delays.max_steps_in_core
    out = clone_network(net)
    for proj in long_projs:
        if proj.plasticity is not None:
            raise ModelError(f"projection {proj.name!r}: plastic (STDP) synapses with delays above "
                             f"{D} steps cannot be split through relay neurons on {board.name}: the "
                             f"rule would pair the relay's spike ({D}+ steps late) instead of the "
                             f"pre neuron's; shorten the delays to <= {D} steps or increase dt_ms")
    loihi_models = [p.model for p in net.populations.values() if p.model in LOIHI_RELAY_MODELS]
    fmt = board.number_format
    if loihi_models:
        relay_model = loihi_models[0]
        if not isinstance(fmt, LoihiFormat):
            raise ModelError(f"board {board.name}: {relay_model} relay neurons need a Loihi number format")
        relay_params = loihi_relay_params(relay_model)
        relay_w: float = float(loihi_relay_weight(fmt, mixed=relay_model == "loihi1_lif"))
        relay_receptor = "input"
        relay_attrs = {"weight_exp": 0, "num_weight_bits": int(fmt.weight_bits)}
    else:
        relay_model = "lif_curr_exp"
        relay_params, relay_w = float_relay_params(net.dt_ms)
        relay_receptor, relay_attrs = "excitatory", {}

    by_pre: dict[str, list[Projection]] = {}
    for proj in long_projs:
        by_pre.setdefault(proj.pre, []).append(proj)
    summary = ctx.delays.relays
    replaced: dict[str, list[Projection]] = {}
    names = set(out.populations)
    proj_names = set(out.projections)
    for pre, projs in by_pre.items():
        n_pre = net.populations[pre].size
        need = np.zeros(n_pre, dtype=np.int64)  # relay stages each pre neuron needs
        for proj in projs:
            k = np.maximum((proj.delay.astype(np.int64) + D - 1) // D - 1, 0)
            np.maximum.at(need, proj.pre_idx, k)
        n_stages = int(need.max())
        stage_pops: list[str] = []
        pos: list[np.ndarray] = [np.arange(n_pre)]  # pos[s][i]: index of pre neuron i in stage s
        prev = pre
        for s in range(1, n_stages + 1):
            members = np.flatnonzero(need >= s)
            name = _unique_name(names, f"{pre}{RELAY_SEPARATOR}{s}")
            names.add(name)
            stage_pops.append(name)
            out.populations[name] = Population(
                name, int(members.size), relay_model, dict(relay_params), (),
                {"role": RELAY_ROLE, "relay_of": pre, "stage": s, "stage_delay": s * D})
            idx = np.full(n_pre, -1, dtype=np.int64)
            idx[members] = np.arange(members.size)
            feed_name = _unique_name(proj_names, f"{prev}->{name}")
            proj_names.add(feed_name)
            out.projections[feed_name] = Projection(
                feed_name, prev, name, pos[-1][members].astype(INDEX_DTYPE),
                np.arange(members.size, dtype=INDEX_DTYPE), np.full(members.size, relay_w),
                np.full(members.size, D, dtype=DELAY_DTYPE), relay_receptor, None, dict(relay_attrs))
            pos.append(idx)
            prev = name
        n_relays = sum(out.populations[n].size for n in stage_pops)
        summary[pre] = {"stages": n_stages, "stage_delay": D, "populations": stage_pops,
                        "neurons": n_relays}
        ctx.info(f"population {pre!r}: {n_stages} relay stage(s) of {D} steps added "
                 f"({', '.join(stage_pops)}; {n_relays} relay neurons, one per pre neuron and stage "
                 f"needed)", pre)
        for proj in projs:
            k = (proj.delay.astype(np.int64) + D - 1) // D - 1
            short = k == 0
            parts: list[Projection] = []
            if short.any():
                parts.append(clone_projection(proj, pre_idx=proj.pre_idx[short],
                                              post_idx=proj.post_idx[short],
                                              weight=proj.weight[short], delay=proj.delay[short]))
            notes = []
            for s in range(1, int(k.max()) + 1):
                sel = k == s
                if not sel.any():
                    continue
                name = _unique_name(proj_names, f"{proj.name}{RELAY_SEPARATOR}{s}")
                proj_names.add(name)
                parts.append(clone_projection(
                    proj, name=name, pre=stage_pops[s - 1],
                    pre_idx=pos[s][proj.pre_idx[sel]].astype(INDEX_DTYPE),
                    post_idx=proj.post_idx[sel], weight=proj.weight[sel],
                    delay=(proj.delay[sel].astype(np.int64) - s * D).astype(DELAY_DTYPE)))
                notes.append(f"{int(sel.sum())} via {stage_pops[s - 1]!r} as {name!r}")
            replaced[proj.name] = parts
            removed = "" if short.any() else f"; {proj.name!r} itself is removed (no short synapses left)"
            ctx.info(f"projection {proj.name!r}: {int((~short).sum())} of {proj.n_synapses} synapses "
                     f"have delays above {D} steps (max {int(proj.delay.max())}): re-routed through "
                     f"relays, total delays unchanged ({'; '.join(notes)}{removed})", proj.name)
    # Rebuild the projection table in the original order (replacements in place), feeds last.
    feeds = {n: p for n, p in out.projections.items() if n not in net.projections}
    table: dict[str, Projection] = {}
    for name, proj in out.projections.items():
        if name in feeds:
            continue
        for p in replaced.get(name, [proj]):
            table[p.name] = p
    table.update(feeds)
    out.projections = table
    return out


__all__ = ["RELAY_ROLE", "float_relay_params", "is_relay", "legalize_delays",
           "loihi_relay_params", "loihi_relay_weight"]
