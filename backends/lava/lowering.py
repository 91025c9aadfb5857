"""Lower IR networks (loihi2 number format) to Lava process specs: plain numpy arrays. One job.

Mapping (the step/delay conventions are in processes.py and backends/sim/loihi2_mode.py):
- `loihi2_lif` population -> one Lava `LIF` "slot" (u, v, du, dv, vth, bias_mant, bias_exp);
  `spike_array` / `poisson` -> one `RingBuffer` source slot fed the raster of sources.py.
- projection (or part of one, below) -> one connection process: `Dense`/`Sparse` when all its
  delays are 1, `DelayDense`/`DelaySparse` (Lava delay = IR delay - 1) otherwise; Sparse when the
  projection's density (synapses / (n_pre * n_post)) is below SPARSE_BELOW (DELAY_SPARSE_BELOW
  with delays; bench/lava_backend.py --crossover measures them) or the matrix is huge. The connection gets the projection's own sign mode explicitly and the
  weights Lava would use (`lava_weights`: idempotent under that mode), weight_exp, num_weight_bits.
- Relays and delay stages of the delays pass and quantize's refractory self-synapses are ordinary
  loihi2_lif populations and projections by then: they lower like any other.
Multapses (several synapses on one (pre, post) pair: a Lava matrix holds one weight and one delay
per pair). weight_exp >= 0: the r-th synapse of every pair goes to part r (a left shift of a sum
is linear mod 2**32, so separate processes add up exactly). weight_exp < 0: Lava floor-shifts
each process's per-step, per-delay sum, as our IR does per projection, so parts may not split a
(post, delay) bucket: duplicates with equal delays are merged into one synapse (refused when the
sum is not a weight Lava keeps), then, if pairs remain duplicated, the projection is split by
delay value (each (post, delay) bucket stays whole).
Packing (`pack=True`, used to batch many small networks into one Lava run): all LIF populations
of all networks share one LIF process (du, dv, vth per neuron: PyLifModelBitAcc is elementwise)
and all sources one RingBuffer; parts share a connection process when pre/post slot, kind,
weight_exp, num_weight_bits and sign mode agree, no (pre, post) pair repeats and, for
weight_exp < 0, no post neuron is shared (floor(a/2^k) + floor(b/2^k) != floor((a+b)/2^k)).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from neurocompile.errors import ModelError
from neurocompile.ir.network import Network, Projection
from neurocompile.targets.loihi2.arith import MAX_IR_DELAY, lava_weights, sign_mode

from neurocompile.backends.lava import learning

# Below these densities a projection becomes Sparse / DelaySparse, else Dense / DelayDense.
# Measured with `bench/lava_backend.py --crossover` (400 -> 400, 2 shared cores, README "Lava
# backend"): Dense and Sparse run at the same speed within the noise from 0.5% to 30% density, so
# Sparse is chosen only where it saves memory without costing time (< 2%); DelaySparse (which
# rebuilds its per-delay matrix stack every step) beats DelayDense below ~5% and loses above.
# Any matrix over DENSE_MAX_ENTRIES (n_post * n_pre) goes sparse: a dense int32 copy would cost
# 4 bytes per entry in every Lava process that holds it.
SPARSE_BELOW = 0.02
DELAY_SPARSE_BELOW = 0.05
DENSE_MAX_ENTRIES = 2**25
LIF_MODEL, SOURCE_MODELS = "loihi2_lif", ("spike_array", "poisson")
IR_PARAMS = {"u": "u_init", "v": "v_init", "du": "du", "dv": "dv", "vth": "vth",
             "bias_mant": "bias_mant", "bias_exp": "bias_exp"}

KindChoice = Callable[[Network, Projection], str | None]


class LavaLoweringError(ModelError):
    """A feature of the network that Lava 0.10 cannot express (names it and where)."""


@dataclass
class Part:
    name: str
    proj: Projection
    pre_idx: np.ndarray
    post_idx: np.ndarray
    weight: np.ndarray        # as Lava keeps them
    delay: np.ndarray         # IR delays
    exp: int
    nwb: int
    mode: str


@dataclass
class Lowered:
    """Process specs for one Lava run of one or several networks."""

    arrays: dict[str, np.ndarray]
    nets: list[Network]
    loc: dict[tuple[int, str], tuple[str, int]]       # (net index, population) -> (slot, offset)
    kinds: list[dict[str, str]]                       # per network: part name -> process kind
    source_pops: dict[str, list[tuple[int, str, int]]] = field(default_factory=dict)
    plastic: dict[tuple[int, str], int] = field(default_factory=dict)   # (net, projection) -> conn index

    @property
    def n_processes(self) -> int:
        a = self.arrays
        return 2 * int(a["n_lif"]) + int(a["n_src"]) + int(a["n_conn"])


def check_network(net: Network) -> None:
    """Raise LavaLoweringError for the first thing in `net` Lava cannot express."""
    for pop in net.populations.values():
        extra = [v for v in pop.record if v not in ("spikes", "u", "v")]
        if extra or (pop.model != LIF_MODEL and [v for v in pop.record if v != "spikes"]):
            raise LavaLoweringError(f"population {pop.name!r}: records {', '.join(pop.record)}; the lava "
                                    f"backend records spikes, and u, v of {LIF_MODEL} populations")
        if pop.model != LIF_MODEL and pop.model not in SOURCE_MODELS:
            raise LavaLoweringError(
                f"population {pop.name!r}: neuron model {pop.model!r} has no Lava 0.10 process; the lava "
                f"backend runs {LIF_MODEL} (compile for a loihi2 board) and sources {', '.join(SOURCE_MODELS)}")
    for proj in net.projections.values():
        where = f"projection {proj.name!r}"
        if net.populations[proj.post].model != LIF_MODEL:
            raise LavaLoweringError(f"{where}: targets {proj.post!r}, which is not a {LIF_MODEL} population")
        if proj.plasticity is not None:
            why = learning.unsupported(proj, net)
            if why is not None:
                raise LavaLoweringError(f"{where}: plastic, {why}")
        if not proj.n_synapses:
            continue
        if proj.delay.min() < 1 or proj.delay.max() > MAX_IR_DELAY:
            raise LavaLoweringError(f"{where}: delays {int(proj.delay.min())}..{int(proj.delay.max())} steps; "
                                    f"Lava's DelayDense/DelaySparse take 1..{MAX_IR_DELAY} (0..63 + delivery)")
        if np.any(proj.weight != np.round(proj.weight)):
            raise LavaLoweringError(f"{where}: non-integer weights; compile for a loihi2 board first")
        for key, lo, hi in (("weight_exp", -8, 7), ("num_weight_bits", 1, 8)):
            val = proj.attrs.get(key, 0 if key == "weight_exp" else 8)
            if int(val) != val or not lo <= int(val) <= hi:
                raise LavaLoweringError(f"{where}: {key} {val!r} is not an integer {lo}..{hi}")


def split_parts(proj: Projection) -> list[Part]:
    """The projection as parts with at most one synapse per (pre, post) pair (module doc)."""
    exp = int(proj.attrs.get("weight_exp", 0))
    nwb = int(proj.attrs.get("num_weight_bits", 8))
    mode = sign_mode(proj.weight)
    w = lava_weights(proj.weight, nwb, mode)
    pre, post, d = (np.asarray(proj.pre_idx, np.int64), np.asarray(proj.post_idx, np.int64),
                    np.asarray(proj.delay, np.int64))

    def part(name, sel):
        return Part(name, proj, pre[sel], post[sel], w[sel], d[sel], exp, nwb, mode)

    pairs = pre * (1 << 32) + post
    if np.unique(pairs).size == pairs.size:
        return [part(proj.name, slice(None))]
    if exp >= 0:
        order = np.argsort(pairs, kind="stable")
        sp = pairs[order]
        starts = np.r_[True, sp[1:] != sp[:-1]]
        group_start = np.maximum.accumulate(np.where(starts, np.arange(pairs.size), 0))
        rank = np.empty(pairs.size, dtype=np.int64)
        rank[order] = np.arange(pairs.size) - group_start
        return [part(f"{proj.name}#{r}", rank == r) for r in range(int(rank.max()) + 1)]
    # weight_exp < 0: merge equal-delay duplicates, then split by delay if pairs still repeat
    keys = np.stack([pre, post, d], axis=1)
    uk, inv = np.unique(keys, axis=0, return_inverse=True)
    inv = inv.ravel()
    merged = np.zeros(uk.shape[0], dtype=np.int64)
    np.add.at(merged, inv, w)
    kept = lava_weights(merged, nwb, mode)
    if np.any(kept != merged):
        i = int(np.flatnonzero(kept != merged)[0])
        raise LavaLoweringError(
            f"projection {proj.name!r}: several synapses on pair (pre {uk[i, 0]}, post {uk[i, 1]}) with "
            f"delay {uk[i, 2]} and weight_exp {exp} < 0: Lava holds one weight per pair and floor-shifts "
            f"each connection process's sum, so they must merge into one weight, but their sum "
            f"{int(merged[i])} is not a legal {mode} {nwb}-bit weight")
    pre, post, d, w = uk[:, 0], uk[:, 1], uk[:, 2], merged
    pairs = pre * (1 << 32) + post
    if np.unique(pairs).size == pairs.size:
        return [part(proj.name, slice(None))]
    return [part(f"{proj.name}@d{int(v)}", d == v) for v in np.unique(d)]


def choose_kind(p: Part, n_pre: int, n_post: int, sparse_below: float | None = None) -> str:
    delayed = p.delay.size > 0 and int(p.delay.max()) > 1
    density = p.weight.size / max(1, n_pre * n_post)
    limit = sparse_below if sparse_below is not None else (DELAY_SPARSE_BELOW if delayed else SPARSE_BELOW)
    base = "sparse" if density < limit or n_pre * n_post > DENSE_MAX_ENTRIES else "dense"
    return f"delay_{base}" if delayed else base


def lower(nets: Sequence[Network], *, pack: bool = False, kind: KindChoice | None = None,
          sparse_below: float | None = None) -> Lowered:
    """Process specs for running `nets` together in one Lava session (sources added by with_sources)."""
    nets = list(nets)
    for net in nets:
        check_network(net)
        plastic = [p.name for p in net.projections.values() if p.plasticity is not None]
        if pack and plastic:
            raise LavaLoweringError(f"projection {plastic[0]!r}: plastic; pack=True would give its "
                                    f"LearningDense every pair of the shared LIF process, so run it unpacked")
    loc: dict[tuple[int, str], tuple[str, int]] = {}
    lif_members: dict[str, list[tuple[int, str, int]]] = {}
    src_members: dict[str, list[tuple[int, str, int]]] = {}
    sizes: dict[str, int] = {}
    for i, net in enumerate(nets):
        for name, pop in net.populations.items():
            is_lif = pop.model == LIF_MODEL
            members = lif_members if is_lif else src_members
            if pack:
                slot = "lif0" if is_lif else "src0"
            else:
                slot = f"{'lif' if is_lif else 'src'}{len(members)}"
            off = sizes.get(slot, 0)
            members.setdefault(slot, []).append((i, name, off))
            sizes[slot] = off + pop.size
            loc[(i, name)] = (slot, off)
    a: dict[str, np.ndarray] = {"n_lif": np.array(len(lif_members)), "n_src": np.array(len(src_members))}
    for slot, members in lif_members.items():
        a[f"{slot}_size"] = np.array(sizes[slot])
        for key, ir in IR_PARAMS.items():
            a[f"{slot}_{key}"] = np.concatenate([nets[i].populations[n].param(ir) for i, n, _ in members]
                                                ).astype(np.int64)
        rec = sorted({v for i, n, _ in members for v in nets[i].populations[n].record if v in ("u", "v")})
        if rec:
            a[f"{slot}_record"] = np.array(rec)
    for slot in src_members:
        a[f"{slot}_size"] = np.array(sizes[slot])
    groups: list[dict] = []
    kinds: list[dict[str, str]] = []
    for i, net in enumerate(nets):
        kinds.append({})
        for proj in net.projections.values():
            if not proj.n_synapses:
                continue
            pre_slot, pre_off = loc[(i, proj.pre)]
            post_slot, post_off = loc[(i, proj.post)]
            n_pre, n_post = net.populations[proj.pre].size, net.populations[proj.post].size
            for p in split_parts(proj):
                k = choose_kind(p, n_pre, n_post, sparse_below)
                forced = kind(net, proj) if kind is not None else None
                if forced is not None:
                    k = ("delay_" if k.startswith("delay_") else "") + forced
                if proj.plasticity is not None:
                    k = "learning_dense"   # its own process: the rule, relay and weights are its own
                    # all-zero weights take the receptor's sign (our STDP's convention)
                    p.mode = "inhibitory" if learning.plastic_sign(proj, net) < 0 else "excitatory"
                kinds[i][p.name] = k
                rows, cols = p.post_idx + post_off, p.pre_idx + pre_off
                pairs = set((rows * (1 << 32) + cols).tolist())
                posts = set(rows.tolist())
                key = (pre_slot, post_slot, k, p.exp, p.nwb, p.mode)
                g = None
                if k == "learning_dense":
                    g = dict(key=key, rows=[], cols=[], w=[], d=[], pairs=set(), posts=set(), plastic=(i, proj))
                    groups.append(g)
                elif pack:
                    for cand in groups:
                        if cand["key"] == key and not (cand["pairs"] & pairs) and (
                                p.exp >= 0 or not (cand["posts"] & posts)):
                            g = cand
                            break
                if g is None:
                    g = dict(key=key, rows=[], cols=[], w=[], d=[], pairs=set(), posts=set())
                    groups.append(g)
                g["rows"].append(rows)
                g["cols"].append(cols)
                g["w"].append(p.weight)
                g["d"].append(p.delay - 1 if k != "learning_dense" else np.zeros_like(p.delay))
                g["pairs"] |= pairs
                g["posts"] |= posts
    a["n_conn"] = np.array(len(groups))
    plastic: dict[tuple[int, str], int] = {}
    for k, g in enumerate(groups):
        pre_slot, post_slot, kd, exp, nwb, mode = g["key"]
        a[f"conn{k}_kind"], a[f"conn{k}_pre"], a[f"conn{k}_post"] = (np.array(kd), np.array(pre_slot),
                                                                      np.array(post_slot))
        for f in ("rows", "cols", "w", "d"):
            a[f"conn{k}_{f}"] = np.concatenate(g[f]).astype(np.int64)
        a[f"conn{k}_exp"], a[f"conn{k}_nwb"], a[f"conn{k}_sign"] = np.array(exp), np.array(nwb), np.array(mode)
        if "plastic" in g:
            i, proj = g["plastic"]
            for key, val in learning.rule_spec(proj, nets[i]).items():
                a[f"conn{k}_{key}"] = val
            plastic[(i, proj.name)] = k
    return Lowered(a, nets, loc, kinds, src_members, plastic)


def with_sources(low: Lowered, seeds: Sequence[int], steps: int) -> dict[str, np.ndarray]:
    """The arrays plus every source slot's raster for `steps` steps (sources.py, per-network seed)."""
    from neurocompile.backends.lava.sources import source_spikes

    a = dict(low.arrays)
    for slot, members in low.source_pops.items():
        ts, ns = [], []
        for i, name, off in members:
            net = low.nets[i]
            t, n = source_spikes(net.populations[name], net.dt_ms, seeds[i], steps)
            ts.append(t)
            ns.append(n + off)
        a[f"{slot}_t"] = np.concatenate(ts) if ts else np.zeros(0, np.int64)
        a[f"{slot}_n"] = np.concatenate(ns) if ns else np.zeros(0, np.int64)
    for (i, name), k in low.plastic.items():
        a[f"conn{k}_rng_seed"] = np.array(learning.rng_seed(seeds[i], name))
    return a
