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
        self.channels: dict[str, dict[Hashable, _Channel]] = {name: {} for name in self.groups}
        self.plastic: dict[str, PairSTDP] = {}
        for proj in net.projections.values():
            key = mode.channel(proj)
            n_post = net.populations[proj.post].size
            chans = self.channels[proj.post]
            depth = int(proj.delay.max(initial=1)) + 1
            if key not in chans:
                chans[key] = _Channel(RingBuffer(depth, n_post, mode.accum_dtype), [])
            elif chans[key].buffer.data.shape[0] < depth:
                chans[key].buffer = RingBuffer(depth, n_post, mode.accum_dtype)
            n_pre = net.populations[proj.pre].size
            syn = mode.build_synapses(proj, n_pre, n_post)
            if proj.plasticity is not None:  # updates syn.weight in place (stdp.py)
                self.plastic[proj.name] = make_plasticity(proj, syn, mode, net)
            chans[key].feeds.append((proj.pre, syn))
        # Out-edges per presynaptic population, for the scatter phase.
        self._out: dict[str, list[tuple[PreSortedSynapses, RingBuffer]]] = {}
        for post, chans in self.channels.items():
            for ch in chans.values():
                for pre, syn in ch.feeds:
                    self._out.setdefault(pre, []).append((syn, ch.buffer))
        self.synaptic_events = 0

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
                if idx.size:
                    spk_steps[name].append((t, idx.size))  # expanded once after the loop
                    spk_ids[name].append(idx.astype(np.int32))
                    for syn, buf in self._out.get(name, ()):
                        self.synaptic_events += syn.scatter(idx, buf.data, t)
            self.t += 1
            if progress is not None:
                progress(k + 1, steps)
        wall = time.perf_counter() - t0
        spikes = {p: (np.repeat(np.array([s for s, _ in spk_steps[p]], dtype=np.int32),
                                [c for _, c in spk_steps[p]]) if spk_steps[p] else np.zeros(0, np.int32),
                      np.concatenate(spk_ids[p]) if spk_ids[p] else np.zeros(0, np.int32))
                  for p in self.net.populations}
        final = {p: {v: g.state(v) for v in g.state_vars} for p, g in self.groups.items()}
        return SimResult(steps, self.seed, self.mode.name, self.net.dt_ms, spikes, traces, final,
                         self.synaptic_events, wall,
                         weights={n: pl.weights() for n, pl in self.plastic.items()})
