"""The simulation loop shared by every numeric mode.

Per step t: sources emit; each neuron group takes the input due at t from its ring buffers and
updates; spikes (of sources and neurons) are scattered into the targets' buffers at t + delay.
Deterministic: no global RNG, populations and projections visited in insertion order.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Hashable

import numpy as np

from neurocompile.backends.sim import fused
from neurocompile.backends.sim.modes import NeuronGroup, NumericMode
from neurocompile.backends.sim.propagation import PreSortedSynapses, RingBuffer
from neurocompile.ir.sources import make_source
from neurocompile.backends.sim.stdp import PairSTDP, make_plasticity
from neurocompile.errors import ModelError
from neurocompile.ir.network import Network

ProgressFn = Callable[[int, int], None]


@dataclass
class SimResult:
    """Spikes as (step, neuron) pairs per population; traces as (steps, n) arrays."""

    steps: int
    seed: int
    mode: str
    dt_ms: float
    spikes: dict[str, tuple[np.ndarray, np.ndarray]]
    traces: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    final_state: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    synaptic_events: int = 0
    wall_s: float = 0.0
    # Plastic projections only: signed weights at the end of the run, in the projection's order.
    weights: dict[str, np.ndarray] = field(default_factory=dict)

    def raster(self, pop: str, n: int) -> np.ndarray:
        """Boolean (steps, n) spike raster of one population."""
        r = np.zeros((self.steps, n), dtype=bool)
        st, ids = self.spikes[pop]
        r[st, ids] = True
        return r

    def spike_counts(self) -> dict[str, int]:
        return {p: int(s[0].size) for p, s in self.spikes.items()}


@dataclass
class _Channel:
    buffer: RingBuffer
    feeds: list[tuple[str, PreSortedSynapses]]  # (pre population, synapses)


class Simulation:
    """A network prepared for one numeric mode; `run` may be called repeatedly to continue."""

    def __init__(self, net: Network, mode: NumericMode, seed: int | None = None) -> None:
        mode.check(net)
        self.net, self.mode = net, mode
        self.seed = net.seed if seed is None else int(seed)
        self.t = 0
        self.sources = {}
        self.groups: dict[str, NeuronGroup] = {}
        for pop in net.populations.values():
            if pop.neuron_model.is_source:
                self.sources[pop.name] = make_source(pop, net.dt_ms, self.seed)
            else:
                incoming = list(net.projections_into(pop.name))
                self.groups[pop.name] = mode.make_group(pop, incoming, net)
        # One input buffer per (post population, channel), deep enough for its longest delay.
        depths: dict[str, dict[Hashable, int]] = {name: {} for name in self.groups}
        for proj in net.projections.values():
            key, cur = mode.channel(proj), depths[proj.post]
            cur[key] = max(cur.get(key, 0), int(proj.delay.max(initial=1)) + 1)
        self.layout = fused.FlatLayout(net, mode, depths) if fused.static_ok(net, mode) else None
        self.channels: dict[str, dict[Hashable, _Channel]] = {
            post: {key: _Channel(RingBuffer(d, net.populations[post].size, mode.accum_dtype,
                                            self.layout.ring(post, key) if self.layout else None), [])
                   for key, d in keys.items()}
            for post, keys in depths.items()}
        self.plastic: dict[str, PairSTDP] = {}
        for proj in net.projections.values():
            n_pre = net.populations[proj.pre].size
            if self.layout is not None:
                syn = self.layout.synapses(proj, n_pre, mode.synapse_values(proj))
            else:
                syn = mode.build_synapses(proj, n_pre, net.populations[proj.post].size)
            if proj.plasticity is not None:  # updates syn.weight in place (stdp.py)
                self.plastic[proj.name] = make_plasticity(proj, syn, mode, net)
            self.channels[proj.post][mode.channel(proj)].feeds.append((proj.pre, syn))
        # Out-edges per presynaptic population, for the scatter phase.
        self._out: dict[str, list[tuple[PreSortedSynapses, RingBuffer]]] = {}
        for post, chans in self.channels.items():
            for ch in chans.values():
                for pre, syn in ch.feeds:
                    self._out.setdefault(pre, []).append((syn, ch.buffer))
        self.synaptic_events = 0
        #: run static LIF networks in the compiled whole loop (fused.py); False forces the
        #: step-by-step Python loop (the two are compared bit for bit in the tests)
        self.fuse = True

    def run(self, steps: int, record: dict[str, tuple[str, ...]] | None = None,
            progress: ProgressFn | None = None) -> SimResult:
        if steps < 0:
            raise ModelError(f"steps must be >= 0, got {steps}")
        record = record if record is not None else {
            p.name: p.record for p in self.net.populations.values() if p.record}
        for pop, variables in record.items():
            group = self.groups.get(pop)
            for var in variables:
                if var != "spikes" and (group is None or var not in group.state_vars):
                    have = ["spikes", *(group.state_vars if group else ())]
                    raise ModelError(f"population {pop!r}: cannot record {var!r} in {self.mode.name} "
                                     f"mode; recordable: {have}")
        # A Poisson-count source's spikes are kept only when asked for: at the microcircuit's
        # full scale they would be over a billion per simulated second.
        # A dict, not a set: spikes come back in the network's population order, so the files
        # written from them are byte-identical whatever the interpreter's string hashing.
        kept = {p: None for p in self.net.populations
                if self.net.populations[p].model != "poisson_fast" or "spikes" in record.get(p, ())}
        if self.fuse and fused.fusable(self, record):
            t0 = time.perf_counter()
            got, events = fused.run_fused(self, steps, kept, progress)
            self.synaptic_events += events
            empty = (np.zeros(0, np.int32), np.zeros(0, np.int32))
            spikes = {p: got.get(p, empty) for p in kept}
            final = {p: {v: g.state(v) for v in g.state_vars} for p, g in self.groups.items()}
            return SimResult(steps, self.seed, self.mode.name, self.net.dt_ms, spikes, {}, final,
                             self.synaptic_events, time.perf_counter() - t0)
        traces = {p: {v: np.zeros((steps, self.groups[p].n), dtype=self.groups[p].state(v).dtype)
                      for v in vs if v != "spikes"} for p, vs in record.items()}
        spk_steps: dict[str, list[tuple[int, int]]] = {p: [] for p in self.net.populations}
        spk_ids: dict[str, list[np.ndarray]] = {p: [] for p in self.net.populations}
        t0 = time.perf_counter()
        for k in range(steps):
            t = self.t
            fired: dict[str, np.ndarray] = {}
            for name, src in self.sources.items():
                fired[name] = src.spikes_at(t)
            for name, group in self.groups.items():
                inputs = {key: ch.buffer.take(t) for key, ch in self.channels[name].items()}
                fired[name] = group.step(t, inputs)
                for var, arr in traces.get(name, {}).items():
                    arr[k] = group.state(var)
            for pl in self.plastic.values():  # before the scatter: spikes carry updated weights
                pl.step(t, fired[pl.pre], fired[pl.post])
            for name, idx in fired.items():
                if idx.size and name in kept:
                    spk_steps[name].append((t, idx.size))  # expanded once after the loop
                    spk_ids[name].append(idx.astype(np.int32))
                if idx.size:
                    for syn, buf in self._out.get(name, ()):
                        self.synaptic_events += syn.scatter(idx, buf.data, t)
            self.t += 1
            if progress is not None:
                progress(k + 1, steps)
        wall = time.perf_counter() - t0
        spikes = {p: (np.repeat(np.array([s for s, _ in spk_steps[p]], dtype=np.int32),
                                [c for _, c in spk_steps[p]]) if spk_steps[p] else np.zeros(0, np.int32),
                      np.concatenate(spk_ids[p]) if spk_ids[p] else np.zeros(0, np.int32))
                  for p in kept}
        final = {p: {v: g.state(v) for v in g.state_vars} for p, g in self.groups.items()}
        return SimResult(steps, self.seed, self.mode.name, self.net.dt_ms, spikes, traces, final,
                         self.synaptic_events, wall,
                         weights={n: pl.weights() for n, pl in self.plastic.items()})
