"""Run neurocompile Networks in Lava 0.10 (`Loihi2SimCfg(select_tag="fixed_pt")`) as an oracle.

Supported: `loihi2_lif` populations, `spike_array` sources, projections onto loihi2_lif with
integer weights and attrs weight_exp / num_weight_bits, IR delays 1..64. Each projection becomes
  - `lava.proc.dense.process.Dense` when all its delays are 1 (Lava delivers one step later),
  - `lava.proc.sparse.process.Sparse` instead, when `sparse(net, proj)` says so (delays all 1),
  - `lava.proc.dense.process.DelayDense` with delays `d - 1` otherwise (Lava 0.10 has no
    fixed-point DelaySparse model).
Spike arrays become `lava.proc.io.source.RingBuffer`, spikes are read through
`lava.proc.io.sink.RingBuffer`, final u and v with `Var.get()` before `stop()`.

Step-index mapping (read in the source, checked empirically by
tests/test_loihi2_bitexact.py::test_step_mapping_single_spike):
  Lava's `PyLoihiProcessModel.time_step` starts at 0 and `_spike()` increments it before calling
  `run_spk()` (`magma/core/model/py/model.py`), so it is 1 during the first step of a run. The
  source model `proc/io/source.py:AbstractPyRingBuffer.run_spk` sends
  `data[..., (time_step - 1) % buffer]`
  and the sink `proc/io/sink.py:AbstractPyReceiveModel.run_spk` stores into column
  `(time_step - 1) % buffer`. So OUR STEP k == LAVA time_step k + 1 == data / sink column k:
  a source spike listed at our step k is column k of the source data, and a neuron spike in sink
  column k is our step k. Dense sends at step k the sum it computed at step k - 1, so a spike at
  our step k reaches the LIF at k + 1 (IR delay 1); DelayDense delay d reaches it at k + 1 + d
  (IR delay d + 1). After `run(RunSteps(T))`, u and v are the state after our step T - 1, i.e.
  our final state after `Simulation.run(T)`.

Batching. A Lava run costs 0.2-3 s of start-up (one OS process per Lava process), so by default
(`pack=True`) every network of a batch is packed into ONE Lava network: all spike-array neurons in
one RingBuffer, all loihi2_lif neurons in one LIF process (du, dv, vth given as per-neuron arrays:
every operation of `PyLifModelBitAcc` is elementwise numpy, so this computes exactly what one LIF
per population computes), and the projections grouped into one connection process per
(presynaptic process, kind, weight_exp, num_weight_bits, sign mode) with block matrices. Grouping
needs a common sign mode (determine_sign_mode of the union equals each member's), no two
synapses on the same (pre, post) pair (a matrix would add them before clipping) and, when
weight_exp < 0, no shared post neuron (Lava floor-shifts each process's summed input, and
floor(a/8) + floor(b/8) != floor((a+b)/8)), else a new group is opened. `pack=False` builds the literal network (one LIF per population with scalar du, dv, vth
as Lava documents, one process per projection) and runs each connected component separately;
tests check both give identical results.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import scipy.sparse as sp

from neurocompile.backends.sim.loihi2_mode import MAX_IR_DELAY, sign_mode
from neurocompile.ir.network import Network, Projection

SparseChoice = bool | Callable[[Network, Projection], bool]


@dataclass
class LavaRun:
    """Result for one network: rasters (steps, n) bool for every population, final u and v."""

    steps: int
    spikes: dict[str, np.ndarray]
    u: dict[str, np.ndarray]
    v: dict[str, np.ndarray]
    kinds: dict[str, str] = field(default_factory=dict)  # projection -> dense / sparse / delay_dense
    wall_s: float = 0.0          # wall time of the Lava run(s) this network was part of
    n_processes: int = 0
    # With run_lava(..., timed=True): step 1 is run alone (compile, spawn, first step), then the
    # remaining steps-1 in a second run() whose wall time is run_s (steady-state speed).
    startup_s: float = 0.0
    run_s: float = 0.0


def _lava():
    """Import Lava lazily; an ImportError here must fail the calling test, not skip it."""
    from neurocompile.targets.loihi2.lava_env import prepare_lava_import

    prepare_lava_import()
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.dense.process import DelayDense, Dense
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source
    from lava.proc.lif.process import LIF
    from lava.proc.sparse.process import Sparse

    return dict(RunSteps=RunSteps, Loihi2SimCfg=Loihi2SimCfg, Dense=Dense, DelayDense=DelayDense,
                Sparse=Sparse, Sink=Sink, Source=Source, LIF=LIF)


def projection_kind(net: Network, proj: Projection, sparse: SparseChoice) -> str:
    if proj.n_synapses and proj.delay.max() > 1:
        return "delay_dense"
    want_sparse = sparse(net, proj) if callable(sparse) else bool(sparse)
    return "sparse" if want_sparse else "dense"


def split_multapses(net: Network) -> Network:
    """Projections with several synapses on one (pre, post) pair as several projections.

    A Lava weight matrix holds one weight (and one delay) per pair, so the r-th synapse of each
    pair goes to projection ``name#r``. Lava adds every connection process's output into the LIF's
    input, so this is exact whenever weight_exp >= 0 (a left shift of each step's sum is linear);
    with weight_exp < 0 each part would be floor-shifted separately, so that is refused.
    """
    out = Network(name=net.name, dt_ms=net.dt_ms, seed=net.seed, populations=dict(net.populations),
                  projections={}, number_format=net.number_format, metadata=net.metadata)
    for name, proj in net.projections.items():
        pairs = proj.pre_idx.astype(np.int64) * (1 << 32) + proj.post_idx
        order = np.argsort(pairs, kind="stable")
        sorted_pairs = pairs[order]
        starts = np.r_[True, sorted_pairs[1:] != sorted_pairs[:-1]]
        group_start = np.maximum.accumulate(np.where(starts, np.arange(pairs.size), 0))
        rank = np.empty(pairs.size, dtype=np.int64)
        rank[order] = np.arange(pairs.size) - group_start
        if not proj.n_synapses or rank.max() == 0:
            out.projections[name] = proj
            continue
        if int(proj.attrs.get("weight_exp", 0)) < 0:
            raise ValueError(f"lava oracle: projection {name!r} has several synapses per pair and "
                             f"weight_exp < 0; split parts would be floor-shifted separately")
        for r in range(int(rank.max()) + 1):
            sel = rank == r
            out.projections[f"{name}#{r}"] = Projection(
                name=f"{name}#{r}", pre=proj.pre, post=proj.post, pre_idx=proj.pre_idx[sel],
                post_idx=proj.post_idx[sel], weight=proj.weight[sel], delay=proj.delay[sel],
                receptor=proj.receptor, plasticity=proj.plasticity, attrs=dict(proj.attrs))
    return out


def _check(net: Network) -> None:
    for pop in net.populations.values():
        if pop.model not in ("loihi2_lif", "spike_array"):
            raise ValueError(f"lava oracle: population {pop.name!r} has model {pop.model!r}; "
                             f"only loihi2_lif and spike_array are supported")
    for proj in net.projections.values():
        if net.populations[proj.post].model != "loihi2_lif":
            raise ValueError(f"lava oracle: projection {proj.name!r} must target loihi2_lif")
        if proj.n_synapses:
            if proj.delay.min() < 1 or proj.delay.max() > MAX_IR_DELAY:
                raise ValueError(f"lava oracle: projection {proj.name!r}: delays must be 1..64")
            pairs = proj.pre_idx.astype(np.int64) * (1 << 32) + proj.post_idx
            if np.unique(pairs).size != pairs.size:
                raise ValueError(f"lava oracle: projection {proj.name!r} has duplicate "
                                 f"(pre, post) pairs; a Lava weight matrix cannot hold them")
            if np.any(proj.weight != np.round(proj.weight)):
                raise ValueError(f"lava oracle: projection {proj.name!r}: weights must be integers")


class _Builder:
    """Collects neurons and synapses in 'slots' (one slot = one Lava neuron/source process)."""

    def __init__(self, lv: dict, steps: int) -> None:
        self.lv, self.steps = lv, steps
        # slot -> list of (net index, pop name, offset); sizes
        self.slot_pops: dict[str, list[tuple[int, str, int]]] = {}
        self.slot_size: dict[str, int] = {}
        self.slot_kind: dict[str, str] = {}
        self.loc: dict[tuple[int, str], tuple[str, int]] = {}
        # connection groups: key -> dict(pre_slot, post_slot, kind, exp, nwb, rows, cols, w, d, pairs)
        self.groups: list[dict] = []

    def add_pop(self, i: int, net: Network, name: str, slot: str) -> None:
        pop = net.populations[name]
        self.slot_kind[slot] = "lif" if pop.model == "loihi2_lif" else "source"
        off = self.slot_size.get(slot, 0)
        self.slot_pops.setdefault(slot, []).append((i, name, off))
        self.slot_size[slot] = off + pop.size
        self.loc[(i, name)] = (slot, off)

    def add_proj(self, i: int, net: Network, proj: Projection, kind: str, pack: bool) -> None:
        pre_slot, pre_off = self.loc[(i, proj.pre)]
        post_slot, post_off = self.loc[(i, proj.post)]
        exp = int(proj.attrs.get("weight_exp", 0))
        nwb = int(proj.attrs.get("num_weight_bits", 8))
        mode = sign_mode(proj.weight)
        rows = proj.post_idx.astype(np.int64) + post_off
        cols = proj.pre_idx.astype(np.int64) + pre_off
        pairs = set((rows * (1 << 32) + cols).tolist())
        posts = set(rows.tolist())
        key = (pre_slot, post_slot, kind, exp, nwb, mode)
        if pack:
            for g in self.groups:
                # weight_exp < 0 floor-shifts each process's summed input, so two projections
                # onto the same post neuron must stay in separate processes to be exact.
                if g["key"] == key and not (g["pairs"] & pairs) and (exp >= 0 or not (g["posts"] & posts)):
                    break
            else:
                g = None
        else:
            g = None
        if g is None:
            g = dict(key=key, rows=[], cols=[], w=[], d=[], pairs=set(), posts=set(), members=[])
            self.groups.append(g)
        g["rows"].append(rows)
        g["cols"].append(cols)
        g["w"].append(proj.weight.astype(np.int64))
        g["d"].append(proj.delay.astype(np.int64) - 1)
        g["pairs"] |= pairs
        g["posts"] |= posts
        g["members"].append((i, proj.name))

    def build_and_run(self, nets: Sequence[Network], timed: bool = False):
        lv = self.lv
        steps = self.steps
        procs: dict[str, object] = {}
        sinks: dict[str, object] = {}
        for slot, kind in self.slot_kind.items():
            members = self.slot_pops[slot]
            n = self.slot_size[slot]
            if kind == "source":
                data = np.zeros((n, steps), dtype=np.int32)
                for i, name, off in members:
                    pop = nets[i].populations[name]
                    indptr = np.asarray(pop.params["spike_indptr"], dtype=np.int64)
                    st = np.asarray(pop.params["spike_steps"], dtype=np.int64)
                    nid = np.repeat(np.arange(pop.size), np.diff(indptr)) + off
                    keep = st < steps
                    data[nid[keep], st[keep]] = 1
                procs[slot] = (lv["Source"](data=data), data)
            else:
                cat = {}
                for pname in ("u_init", "v_init", "du", "dv", "vth", "bias_mant", "bias_exp"):
                    cat[pname] = np.concatenate([nets[i].populations[name].param(pname)
                                                 for i, name, _ in members]).astype(np.int64)
                scalar = {k: (int(cat[k][0]) if np.all(cat[k] == cat[k][0]) else cat[k])
                          for k in ("du", "dv", "vth")}
                lif = lv["LIF"](shape=(n,), u=cat["u_init"], v=cat["v_init"], du=scalar["du"],
                                dv=scalar["dv"], vth=scalar["vth"], bias_mant=cat["bias_mant"],
                                bias_exp=cat["bias_exp"])
                sink = lv["Sink"](shape=(n,), buffer=steps)
                lif.s_out.connect(sink.a_in)
                procs[slot] = (lif, None)
                sinks[slot] = sink
        conns = []
        for g in self.groups:
            pre_slot, post_slot, kind, exp, nwb, _mode = g["key"]
            shape = (self.slot_size[post_slot], self.slot_size[pre_slot])
            rows, cols = np.concatenate(g["rows"]), np.concatenate(g["cols"])
            w, d = np.concatenate(g["w"]), np.concatenate(g["d"])
            if kind == "sparse":
                mat = sp.csr_matrix((w, (rows, cols)), shape=shape, dtype=np.int64)
                conn = lv["Sparse"](weights=mat, weight_exp=exp, num_weight_bits=nwb)
            else:
                # int32 like the process Var (py_builder: `var[:] = v.value` into an int32 array)
                mat = np.zeros(shape, dtype=np.int32)
                mat[rows, cols] = w
                if kind == "dense":
                    conn = lv["Dense"](weights=mat, weight_exp=exp, num_weight_bits=nwb)
                else:
                    dmat = np.zeros(shape, dtype=int)
                    dmat[rows, cols] = d
                    conn = lv["DelayDense"](weights=mat, delays=dmat, weight_exp=exp,
                                            num_weight_bits=nwb)
            procs[pre_slot][0].s_out.connect(conn.s_in)
            conn.a_out.connect(procs[post_slot][0].a_in)
            conns.append((g, conn))

        # Connected components of slots (packed: one; literal: possibly several).
        parent = {s: s for s in procs}

        def find(s):
            while parent[s] != s:
                parent[s] = parent[parent[s]]
                s = parent[s]
            return s

        for g, _ in conns:
            parent[find(g["key"][0])] = find(g["key"][1])
        comps: dict[str, list[str]] = {}
        for s in procs:
            comps.setdefault(find(s), []).append(s)

        spikes, us, vs = {}, {}, {}
        n_proc = len(procs) + len(sinks) + len(conns)
        t0 = time.perf_counter()
        self.startup_s = self.run_s = 0.0
        for comp in comps.values():
            lif_slots = [s for s in comp if self.slot_kind[s] == "lif"]
            if not lif_slots:
                continue  # a source feeding nothing
            runner = procs[lif_slots[0]][0]
            try:
                cfg = lv["Loihi2SimCfg"](select_tag="fixed_pt")
                if timed and steps > 1:
                    t1 = time.perf_counter()
                    runner.run(condition=lv["RunSteps"](num_steps=1), run_cfg=cfg)
                    t2 = time.perf_counter()
                    runner.run(condition=lv["RunSteps"](num_steps=steps - 1), run_cfg=cfg)
                    self.startup_s += t2 - t1
                    self.run_s += time.perf_counter() - t2
                else:
                    runner.run(condition=lv["RunSteps"](num_steps=steps), run_cfg=cfg)
                for s in lif_slots:
                    lif = procs[s][0]
                    spikes[s] = np.asarray(sinks[s].data.get()).T[:steps] != 0
                    us[s] = np.asarray(lif.u.get()).astype(np.int64)
                    vs[s] = np.asarray(lif.v.get()).astype(np.int64)
            finally:
                runner.stop()
        for slot, kind in self.slot_kind.items():
            if kind == "source":
                spikes[slot] = procs[slot][1][:, :steps].T != 0
        wall = time.perf_counter() - t0
        return spikes, us, vs, wall, n_proc


def run_lava(nets: Network | Sequence[Network], steps: int, *, pack: bool = True,
             sparse: SparseChoice = False, timed: bool = False) -> LavaRun | list[LavaRun]:
    """Run one network (-> LavaRun) or a batch (-> list of LavaRun) in Lava fixed_pt."""
    if steps < 1:
        raise ValueError(f"lava oracle: steps must be >= 1, got {steps}")
    single = isinstance(nets, Network)
    batch: list[Network] = [split_multapses(n) for n in ([nets] if single else nets)]
    lv = _lava()
    for net in batch:
        _check(net)
        for pop in net.populations.values():
            if not pack and pop.model == "loihi2_lif":
                for pname in ("du", "dv", "vth"):
                    if not pop.is_uniform(pname):
                        raise ValueError(f"lava oracle (pack=False): population {pop.name!r}: "
                                         f"Lava's LIF takes a scalar {pname}")
    b = _Builder(lv, steps)
    kinds: list[dict[str, str]] = []
    for i, net in enumerate(batch):
        for name, pop in net.populations.items():
            slot = ("LIF" if pop.model == "loihi2_lif" else "SRC") if pack else f"{i}:{name}"
            b.add_pop(i, net, name, slot)
        kinds.append({})
        for proj in net.projections.values():
            kind = projection_kind(net, proj, sparse)
            kinds[i][proj.name] = kind
            if proj.n_synapses:
                b.add_proj(i, net, proj, kind, pack)
    spikes, us, vs, wall, n_proc = b.build_and_run(batch, timed)
    out = []
    for i, net in enumerate(batch):
        r = LavaRun(steps, {}, {}, {}, kinds[i], wall, n_proc, b.startup_s, b.run_s)
        for name, pop in net.populations.items():
            slot, off = b.loc[(i, name)]
            if slot in spikes:
                r.spikes[name] = spikes[slot][:, off:off + pop.size]
            else:  # a LIF population nothing connects to a runner (cannot happen: it has a sink)
                r.spikes[name] = np.zeros((steps, pop.size), dtype=bool)
            if pop.model == "loihi2_lif" and slot in us:
                r.u[name] = us[slot][off:off + pop.size]
                r.v[name] = vs[slot][off:off + pop.size]
        out.append(r)
    return out[0] if single else out
