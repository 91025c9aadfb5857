"""Lower an IR network (loihi1 number format) to nengo-loihi 1.1's block model. One job.

- `loihi1_lif` population -> one `LoihiBlock`; its `Compartment` gets the integers the emulator
  runs (dtype int32, scale_u = scale_v = False, as `discretize_compartment` leaves them):
  decay_u = du, decay_v = dv, vth = vth << 6, bias = bias_mant << bias_exp, refract_delay,
  vmin = -(2**23 - 1), vmax = 2**23 - 1 (vmine 23, vmaxe 7: the widest legal range).
- `spike_array` / `poisson` population -> one `SpikeInput` (its spikes precomputed with our
  sources, backends/lava/sources.py, and added one step later: nengo-loihi delivers an input
  spike given for time step k at step k + 1, a chip spike at t at t + 1).
- projection -> `Synapse` (one input axon per pre neuron, sparse weights) + `Axon` on the pre
  block or input. The weights are our 8-bit Wgt values, formatted with the projection's
  weight_exp and WEIGHT_BITS_MAP index (mixed sign, as nengo-loihi always is) and turned into
  the emulator's integers by nengo-loihi's own `discretize_weights`: this side never uses our
  arithmetic. Several synapses on one (pre, post) pair go to separate Synapse objects (a row of
  a Synapse holds one weight per compartment).
- one `LoihiProbe` per recorded key ('spiked' always, 'current' for u, 'voltage' for v).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neurocompile.errors import ModelError
from neurocompile.ir.network import Network

LIF_MODEL, SOURCE_MODELS = "loihi1_lif", ("spike_array", "poisson")
PROBE_KEYS = {"spikes": "spiked", "u": "current", "v": "voltage"}


class NengoLoihiLoweringError(ModelError):
    """A feature of the network that nengo-loihi's block model cannot express (names it)."""


@dataclass
class Lowered:
    model: Any                                        # nengo_loihi.builder.Model
    net: Network
    blocks: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, Any] = field(default_factory=dict)
    probes: dict[tuple[str, str], Any] = field(default_factory=dict)   # (population, var) -> probe


def check_network(net: Network) -> None:
    """Raise NengoLoihiLoweringError for the first thing nengo-loihi cannot express."""
    for pop in net.populations.values():
        if pop.model != LIF_MODEL and pop.model not in SOURCE_MODELS:
            raise NengoLoihiLoweringError(
                f"population {pop.name!r}: neuron model {pop.model!r}; the nengo_loihi backend runs "
                f"{LIF_MODEL} (compile for a loihi1 board) and sources {', '.join(SOURCE_MODELS)}")
        extra = [v for v in pop.record if v not in PROBE_KEYS]
        if extra or (pop.model != LIF_MODEL and [v for v in pop.record if v != "spikes"]):
            raise NengoLoihiLoweringError(f"population {pop.name!r}: records {', '.join(pop.record)}; "
                                          f"nengo-loihi probes spikes, and u, v of {LIF_MODEL}")
    for proj in net.projections.values():
        where = f"projection {proj.name!r}"
        if net.populations[proj.post].model != LIF_MODEL:
            raise NengoLoihiLoweringError(f"{where}: targets {proj.post!r}, not a {LIF_MODEL} population")
        if proj.plasticity is not None:
            raise NengoLoihiLoweringError(f"{where}: plastic; nengo-loihi's emulator learns with PES only")
        if proj.n_synapses and np.any(proj.delay != 1):
            raise NengoLoihiLoweringError(
                f"{where}: delays {int(proj.delay.min())}..{int(proj.delay.max())} steps; nengo-loihi 1.1 "
                f"has no synaptic delays (emulator MAX_DELAY = 1): compile for a loihi1 board")


def _compartment(block: Any, pop: Any) -> None:
    from neurocompile.targets.loihi1.arith import V_LIMIT

    c, p = block.compartment, pop.param
    i32 = lambda a: np.asarray(a, dtype=np.int64).astype(np.int32)  # noqa: E731
    c.decay_u, c.decay_v = i32(p("du")), i32(p("dv"))
    c.vth = i32(p("vth") << 6)
    c.bias = i32(p("bias_mant") << p("bias_exp"))
    c.refract_delay = i32(p("refract_delay"))
    c.scale_u = c.scale_v = False
    c.vmin, c.vmax = -V_LIMIT, V_LIMIT


def _synapses(proj: Any, n_pre: int, n_post: int) -> list[Any]:
    """Synapse objects (one per multapse rank) with the emulator's integer weights."""
    import scipy.sparse
    from nengo_loihi.block import Synapse
    from nengo_loihi.builder.discretize import discretize_weights

    from neurocompile.targets.loihi1.arith import weight_bits_index

    pre, post = np.asarray(proj.pre_idx, np.int64), np.asarray(proj.post_idx, np.int64)
    pairs = pre * (1 << 32) + post
    order = np.argsort(pairs, kind="stable")
    sp = pairs[order]
    starts = np.r_[True, sp[1:] != sp[:-1]] if sp.size else np.zeros(0, bool)
    first = np.maximum.accumulate(np.where(starts, np.arange(sp.size), 0)) if sp.size else sp
    rank = np.empty(sp.size, dtype=np.int64)
    rank[order] = np.arange(sp.size) - first
    out = []
    for r in range(int(rank.max(initial=0)) + 1):
        sel = rank == r
        mat = scipy.sparse.csr_matrix((np.asarray(proj.weight, np.float32)[sel], (pre[sel], post[sel])),
                                      shape=(n_pre, n_post))
        syn = Synapse(n_pre, label=f"{proj.name}#{r}" if r else proj.name)
        syn.set_weights(mat)
        syn.format(weight_exp=int(proj.attrs.get("weight_exp", 0)),
                   weight_bits=weight_bits_index(int(proj.attrs.get("num_weight_bits", 8))))
        # discretize_weights is elementwise: one call on all rows (as discretize_synapse makes one
        # per row), then back into the per-axon int32 rows the emulator reads
        flat = np.concatenate([w.ravel() for w in syn.weights]) if syn.weights else np.zeros(0, np.float32)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # "Lost %d extra bits in weight rounding" (weight_exp < -s)
            ints = discretize_weights(syn.synapse_cfg, flat)
        bounds = np.cumsum([w.size for w in syn.weights])[:-1]
        syn.weights = [r.reshape(w.shape) for r, w in zip(np.split(ints.astype(np.int32), bounds), syn.weights)]
        out.append(syn)
    return out


def lower(net: Network, dt_s: float | None = None) -> Lowered:
    """nengo-loihi Model (blocks, inputs, probes) for `net`; sources are added by `add_sources`."""
    from nengo_loihi.block import Axon, LoihiBlock
    from nengo_loihi.builder import Model
    from nengo_loihi.inputs import SpikeInput
    from nengo_loihi.probe import LoihiProbe

    check_network(net)
    model = Model(dt=dt_s if dt_s is not None else net.dt_ms / 1000.0, label=net.name)
    low = Lowered(model, net)
    for name, pop in net.populations.items():
        if pop.model == LIF_MODEL:
            block = LoihiBlock(pop.size, label=name)
            _compartment(block, pop)
            model.add_block(block)
            low.blocks[name] = block
        else:
            inp = SpikeInput(pop.size, label=name)
            model.add_input(inp)
            low.inputs[name] = inp
    for proj in net.projections.values():
        if not proj.n_synapses:
            continue
        n_pre, n_post = net.populations[proj.pre].size, net.populations[proj.post].size
        for syn in _synapses(proj, n_pre, n_post):
            low.blocks[proj.post].add_synapse(syn)
            axon = Axon(n_pre, label=syn.label)
            axon.target = syn
            (low.blocks.get(proj.pre) or low.inputs[proj.pre]).add_axon(axon)
    for name, block in low.blocks.items():
        for var in ("spikes", *[v for v in net.populations[name].record if v in ("u", "v")]):
            probe = LoihiProbe(target=block, key=PROBE_KEYS[var])
            model.add_probe(probe)
            low.probes[(name, var)] = probe
    return low


def add_sources(low: Lowered, seed: int, steps: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Give every SpikeInput its spikes for `steps` steps; return them as (step, neuron) pairs."""
    from neurocompile.backends.lava.sources import source_spikes

    out = {}
    for name, inp in low.inputs.items():
        inp.spikes.clear()
        t, n = source_spikes(low.net.populations[name], low.net.dt_ms, seed, steps)
        out[name] = (t.astype(np.int32), n.astype(np.int32))
        for step in np.unique(t):
            inp.add_spikes(int(step) + 1, n[t == step].astype(np.int64).tolist())
    return out
