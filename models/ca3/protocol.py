"""Operations on the CA3 memory: schedule them as input spikes, run, decode the output spikes.

An operation is one of::

    ("learn", cue, bits)          store `bits` (content neuron indices) under one-hot `cue`
    ("recall_cue", cue)           return the content stored under `cue`
    ("recall_content", bits)      return every cue whose content shares at least one active bit

Timing, from the authors' description of the model (sPyMem ``docs/source/ca3_content_addressable.rst``)
and their test benches (``generate_testbench.py``, ``test_CA3_content_addressable.py`` in the paper's
repository): a learn operation holds the cue and the content at the input for 3 steps and the next
operation may start 7 steps after it began; a recall presents its input for 1 step and the next
operation may start 6 steps later. The memory answers 5 to 7 steps after an operation starts:

    learn           (cue + content) at +5 and +7; a re-learnt cue shows the bits it forgets at +6
    recall_cue      the cue at +5, its content at +6
    recall_content  the fragment at +5, the matching cues at +6

`decode` reads only the output population's spikes (and the operations' start steps); `expected`
is an independent reference model of the memory (a dict cue -> content), so comparing the two can
fail.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np

LEARN_HOLD, RECALL_HOLD = 3, 1        # steps the input is held (sPyMem docs)
LEARN_GAP, RECALL_GAP = 7, 6          # minimum steps from an operation's start to the next one
MIN_LATENCY = 5                       # earliest output after an operation starts (published)
PUBLISHED_LATENCY = (5, 7)            # published range of output latencies (steps)
KINDS = ("learn", "recall_cue", "recall_content")


@dataclass(frozen=True)
class Operation:
    kind: str
    cue: int | None
    bits: tuple[int, ...]
    start: int

    def describe(self) -> str:
        if self.kind == "learn":
            return f"learn cue {self.cue} <- {list(self.bits)}"
        if self.kind == "recall_cue":
            return f"recall cue {self.cue}"
        return f"recall content {list(self.bits)}"


@dataclass
class Schedule:
    """Operations with their start steps, the input spikes that perform them, and the run length."""

    n_cues: int
    n_content: int
    operations: list[Operation]
    steps: int

    @property
    def stimulus(self) -> list[list[int]]:
        """Spike steps per input neuron (cues first, then content bits), as build_ca3 takes them."""
        spikes: list[set[int]] = [set() for _ in range(self.n_cues + self.n_content)]
        for op in self.operations:
            hold = LEARN_HOLD if op.kind == "learn" else RECALL_HOLD
            steps = range(op.start, op.start + hold)
            if op.cue is not None:
                spikes[op.cue].update(steps)
            for b in op.bits:
                spikes[self.n_cues + b].update(steps)
        return [sorted(s) for s in spikes]


def _normalise(op: Sequence[Any], n_cues: int, n_content: int) -> tuple[str, int | None, tuple[int, ...]]:
    if not op or op[0] not in KINDS:
        raise ValueError(f"operation {op!r}: kind must be one of {KINDS}")
    kind = op[0]
    cue: int | None = None
    bits: tuple[int, ...] = ()
    if kind == "learn":
        if len(op) != 3:
            raise ValueError(f"operation {op!r}: learn takes (\"learn\", cue, bits)")
        cue, bits = int(op[1]), tuple(sorted({int(b) for b in op[2]}))
    elif kind == "recall_cue":
        if len(op) != 2:
            raise ValueError(f"operation {op!r}: recall_cue takes (\"recall_cue\", cue)")
        cue = int(op[1])
    else:
        if len(op) != 2:
            raise ValueError(f"operation {op!r}: recall_content takes (\"recall_content\", bits)")
        bits = tuple(sorted({int(b) for b in op[1]}))
        if not bits:
            raise ValueError(f"operation {op!r}: recall_content needs at least one bit")
    if cue is not None and not 0 <= cue < n_cues:
        raise ValueError(f"operation {op!r}: cue must be in 0..{n_cues - 1}")
    if any(not 0 <= b < n_content for b in bits):
        raise ValueError(f"operation {op!r}: content bits must be in 0..{n_content - 1}")
    return kind, cue, bits


def schedule(ops: Iterable[Sequence[Any]], n_cues: int, n_content: int, start: int = 1,
             spacing: int | None = None, starts: Sequence[int] | None = None,
             tail: int = 10) -> Schedule:
    """Give each operation its start step and the input spikes that perform it.

    spacing=None packs operations at the published minimum (7 steps after a learn, 6 after a
    recall); an integer spaces them evenly (never below the minimum); `starts` gives every start
    step explicitly (the published test benches). The run lasts until `tail` steps after the
    last operation's latest output.
    """
    norm = [_normalise(op, n_cues, n_content) for op in ops]
    if starts is not None and len(starts) != len(norm):
        raise ValueError(f"starts has {len(starts)} entries for {len(norm)} operations")
    out: list[Operation] = []
    t = int(start)
    for i, (kind, cue, bits) in enumerate(norm):
        gap = LEARN_GAP if kind == "learn" else RECALL_GAP
        if starts is not None:
            t = int(starts[i])
        if out:
            prev = out[-1]
            need = prev.start + (LEARN_GAP if prev.kind == "learn" else RECALL_GAP)
            if t < need:
                raise ValueError(f"operation {i} ({kind}) starts at {t}, before the previous "
                                 f"{prev.kind} allows ({need})")
        out.append(Operation(kind, cue, bits, t))
        if starts is None:
            t += max(gap, int(spacing)) if spacing is not None else gap
    last = out[-1].start if out else 0
    return Schedule(n_cues, n_content, out, last + PUBLISHED_LATENCY[1] + 1 + tail)


# ------------------------------------------------------------------------------------------------
# Reference model (independent of the network) and decoding (from output spikes only)
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OpResult:
    """What the memory answered to one operation (or what it should have answered)."""

    cues: frozenset[int]
    content: frozenset[int]
    forgotten: frozenset[int] = frozenset()   # learn only: old bits shown without a cue

    def as_dict(self) -> dict[str, list[int]]:
        return {"cues": sorted(self.cues), "content": sorted(self.content),
                "forgotten": sorted(self.forgotten)}


def expected(operations: Sequence[Operation],
             memory: dict[int, Iterable[int]] | None = None) -> list[OpResult]:
    """The answers of an ideal content-addressable memory with the paper's semantics.

    `memory` is what is stored before the first operation (default: nothing).
    """
    memory = {int(c): frozenset(int(b) for b in bits) for c, bits in (memory or {}).items()}
    out = []
    for op in operations:
        bits = frozenset(op.bits)
        if op.kind == "learn":
            old = memory.get(op.cue, frozenset())
            memory[op.cue] = bits
            out.append(OpResult(frozenset({op.cue}), bits, old - bits))
        elif op.kind == "recall_cue":
            out.append(OpResult(frozenset({op.cue}), memory.get(op.cue, frozenset())))
        else:
            out.append(OpResult(frozenset(c for c, m in memory.items() if m & bits), bits))
    return out


@dataclass
class Decoded:
    result: OpResult
    latency_first: int | None      # steps from the operation's start to its first output spike
    latency_last: int | None       # ... to its last output spike
    frames: list[tuple[int, list[int], list[int]]]   # (latency, cues, content bits) per output step


def decode(operations: Sequence[Operation], out_steps: np.ndarray, out_ids: np.ndarray,
           n_cues: int, steps: int) -> list[Decoded]:
    """Per operation, the output spikes in [start + 5, next start + 5): cues, content, latencies.

    The output timeline is cut at each operation's start + 5 (the shortest path from the input to
    the output is 5 synaptic delays), so a spike is attributed to the latest operation that can
    have caused it.

    For a learn operation the content is what fires together with a cue (the echo of the stored
    memory); content that fires in a step without any cue is the set of forgotten bits.
    """
    out_steps, out_ids = np.asarray(out_steps), np.asarray(out_ids)
    decoded = []
    for i, op in enumerate(operations):
        end = operations[i + 1].start + MIN_LATENCY if i + 1 < len(operations) else steps
        sel = (out_steps >= op.start + MIN_LATENCY) & (out_steps < end)
        frames: dict[int, tuple[set[int], set[int]]] = {}
        for t, n in zip(out_steps[sel].tolist(), out_ids[sel].tolist()):
            cues, bits = frames.setdefault(t, (set(), set()))
            (cues.add(n) if n < n_cues else bits.add(n - n_cues))
        all_cues = set().union(*(c for c, _ in frames.values())) if frames else set()
        if op.kind == "learn":
            content = set().union(*(b for c, b in frames.values() if c)) if frames else set()
            forgotten = set().union(*(b for c, b in frames.values() if not c)) if frames else set()
        else:
            content = set().union(*(b for _, b in frames.values())) if frames else set()
            forgotten = set()
        ts = sorted(frames)
        decoded.append(Decoded(OpResult(frozenset(all_cues), frozenset(content), frozenset(forgotten)),
                               ts[0] - op.start if ts else None, ts[-1] - op.start if ts else None,
                               [(t - op.start, sorted(frames[t][0]), sorted(frames[t][1])) for t in ts]))
    return decoded


# ------------------------------------------------------------------------------------------------
# Running
# ------------------------------------------------------------------------------------------------
@dataclass
class ProtocolRun:
    schedule: Schedule
    mode: str
    decoded: list[Decoded]
    expected: list[OpResult]
    output_raster: np.ndarray                     # (steps, C+N) bool
    rasters: dict[str, np.ndarray] = field(default_factory=dict)   # every recorded population
    wall_s: float = 0.0
    network: Any = None

    @property
    def correct(self) -> list[bool]:
        return [d.result == e for d, e in zip(self.decoded, self.expected)]

    @property
    def n_correct(self) -> int:
        return int(sum(self.correct))

    @property
    def all_correct(self) -> bool:
        return all(self.correct)

    @property
    def latencies(self) -> list[tuple[int | None, int | None]]:
        return [(d.latency_first, d.latency_last) for d in self.decoded]

    def latency_range(self) -> tuple[int, int] | None:
        vals = [v for pair in self.latencies for v in pair if v is not None]
        return (min(vals), max(vals)) if vals else None

    def failures(self) -> list[str]:
        out = []
        for i, (op, d, e) in enumerate(zip(self.schedule.operations, self.decoded, self.expected)):
            if d.result != e:
                out.append(f"op {i} at step {op.start} ({op.describe()}): got {d.result.as_dict()}, "
                           f"expected {e.as_dict()}")
        return out

    def summary(self) -> dict[str, Any]:
        lr = self.latency_range()
        return {"mode": self.mode, "operations": len(self.decoded), "correct": self.n_correct,
                "latency_min": lr[0] if lr else None, "latency_max": lr[1] if lr else None,
                "steps": self.schedule.steps, "wall_s": round(self.wall_s, 3)}


def build_for(sched: Schedule, mode: str = "float", seed: int = 0, record: str = "all",
              **build_kw: Any):
    """The network that runs `sched` in `mode`.

    float: lif_curr_exp with the published weights converted to our exact integrator; loihi2: that
    network lowered by `loihi.lower_to_loihi2`; spinnaker: lif_curr_exp with the published
    (sPyNNaker) weights unchanged, since the spinnaker mode integrates as sPyNNaker does.
    """
    from neurocompile.models.ca3.network import build_ca3

    if mode == "spinnaker":
        # The spinnaker mode applies sPyNNaker's own input scaling: it takes the published weights.
        build_kw.setdefault("weights", "raw")
    net = build_ca3(sched.n_cues, sched.n_content, seed=seed, stimulus=sched.stimulus,
                    record=record, **build_kw)
    if mode == "loihi2":
        from neurocompile.models.ca3.loihi import lower_to_loihi2

        net = lower_to_loihi2(net)
    return net


def run(sched: Schedule, mode: str = "float", seed: int = 0, record: str = "all",
        net: Any = None, memory: dict[int, Iterable[int]] | None = None,
        numeric_mode: Any = None, **build_kw: Any) -> ProtocolRun:
    """Build (or take `net`), simulate `sched.steps` steps in `mode`, decode the output spikes.

    `memory`: what `net` already stores (for networks built with preset weights), for `expected`.
    `numeric_mode`: a NumericMode instance to use instead of MODES[mode]() (e.g. a variant).
    """
    from neurocompile.backends.sim import MODES, Simulation

    if mode not in MODES:
        raise ValueError(f"the sim backend has no {mode!r} mode (modes: {', '.join(sorted(MODES))})")
    net = net if net is not None else build_for(sched, mode, seed, record, **build_kw)
    sim = Simulation(net, numeric_mode if numeric_mode is not None else MODES[mode](), seed)
    res = sim.run(sched.steps)
    st, ids = res.spikes["output"]
    rasters = {p: res.raster(p, net.populations[p].size) for p in res.spikes
               if net.populations[p].record and not net.populations[p].neuron_model.is_source}
    decoded = decode(sched.operations, st, ids, sched.n_cues, sched.steps)
    return ProtocolRun(sched, mode, decoded, expected(sched.operations, memory),
                       res.raster("output", sched.n_cues + sched.n_content), rasters, res.wall_s, net)


def run_ops(ops: Iterable[Sequence[Any]], n_cues: int, n_content: int, mode: str = "float",
            seed: int = 0, **kw: Any) -> ProtocolRun:
    """schedule(ops) at the published minimum spacing, then run it."""
    sched_kw = {k: kw.pop(k) for k in ("start", "spacing", "starts", "tail") if k in kw}
    return run(schedule(ops, n_cues, n_content, **sched_kw), mode, seed, **kw)


# ------------------------------------------------------------------------------------------------
# The published protocols (paper's repository: test_CA3_content_addressable.py experiments 1-3,
# generate_testbench.py tb_piramidal_sequence_content_addresable), rebuilt from their description
# ------------------------------------------------------------------------------------------------
def functional() -> Schedule:
    """Experiment 1 (5 cues x 10 bits): learn 3 non-orthogonal memories, recall by cue and by
    content, re-learn cue 3 (forgetting), recall again; one operation every 10 steps from step 0."""
    ops = [("learn", 0, [0, 1, 8, 9]), ("learn", 4, [1, 5, 6]), ("learn", 3, [4, 5, 6]),
           ("recall_cue", 0), ("recall_content", [6]), ("recall_content", [0, 4]),
           ("learn", 3, [1, 3, 4, 8]), ("recall_cue", 3), ("recall_content", [6])]
    sched = schedule(ops, 5, 10, starts=[10 * i for i in range(len(ops))])
    sched.steps = 90  # simTime of experiment 1
    return sched


def stress(n_cues: int = 5, n_content: int = 10, rounds: int = 3, gap: int = 14) -> Schedule:
    """The 60-operation stress test (generate_testbench.py, tb_piramidal_sequence_content_addresable):
    cue i learns the binary code of i+1 (content neuron b = bit b, least significant first), every
    cue is recalled, every content bit is recalled alone (bit 0 first), then all of it again with
    every memory re-learnt as its complement, and once more with the complement of that; one
    operation every 14 steps from step 1. 3 rounds x (5 learn + 5 recall_cue + 10 recall_content)
    = 60 operations, 851 steps."""
    codes = [[b for b in range(n_content) if ((i + 1) % 2 ** n_content) >> b & 1] for i in range(n_cues)]
    ops: list[tuple[Any, ...]] = []
    for r in range(rounds):
        if r:
            codes = [[b for b in range(n_content) if b not in c] for c in codes]
        ops += [("learn", i, codes[i]) for i in range(n_cues)]
        ops += [("recall_cue", i) for i in range(n_cues)]
        ops += [("recall_content", [b]) for b in range(n_content)]
    sched = schedule(ops, n_cues, n_content, starts=[1 + gap * i for i in range(len(ops))])
    sched.steps = 1 + gap * len(ops) + 10  # simTime of the bench (851 for the published one)
    return sched


#: Experiment 3's 4x4 map (row-major cells = cues); states = content neurons.
GRID_STATES = ("unknown", "initial", "goal", "free", "path", "obstacle")
GRID_MAP = ((0, 5, 1, 3),
            (0, 3, 4, 5),
            (0, 5, 4, 3),
            (2, 4, 4, 3))


def grid_map() -> Schedule:
    """Experiment 3, applicability: store a 4x4 state map (16 cues x 6 one-hot states) at the
    minimum spacing (7 steps), then ask in one recall each which cells are on the route (initial,
    goal, path), free, obstacles, unknown (6 steps apart)."""
    cells = [s for row in GRID_MAP for s in row]
    ops: list[tuple[Any, ...]] = [("learn", c, [s]) for c, s in enumerate(cells)]
    ops += [("recall_content", [1, 2, 4]), ("recall_content", [3]), ("recall_content", [5]),
            ("recall_content", [0])]
    starts = [7 * c for c in range(16)] + [112, 118, 124, 130]
    sched = schedule(ops, 16, len(GRID_STATES), starts=starts)
    sched.steps = 140
    return sched


PUBLISHED = {"functional": functional, "stress": stress, "grid_map": grid_map}


def demo_ops() -> list[tuple[Any, ...]]:
    """A short demo for 4 cues x 8 bits: two non-orthogonal memories, recalls, a re-learn."""
    return [("learn", 0, [0, 2, 5]), ("learn", 1, [2, 3, 7]), ("recall_cue", 0),
            ("recall_content", [2]), ("recall_content", [7]), ("learn", 0, [1, 6]),
            ("recall_cue", 0), ("recall_content", [2, 6])]


def random_ops(n_cues: int, n_content: int, n_ops: int, rng: np.random.Generator,
               density: float = 0.25, p_learn: float = 0.4) -> list[tuple[Any, ...]]:
    """Random operations; memories have ~density*n_content random bits (>= 1), so they overlap."""
    ops: list[tuple[Any, ...]] = []
    for _ in range(n_ops):
        r = rng.random()
        if r < p_learn or not ops:
            k = max(1, int(rng.binomial(n_content, density)))
            cue = int(rng.integers(n_cues))
            ops.append(("learn", cue, sorted(rng.choice(n_content, k, replace=False).tolist())))
        elif r < p_learn + (1 - p_learn) / 2:
            ops.append(("recall_cue", int(rng.integers(n_cues))))
        else:
            k = max(1, int(rng.integers(1, max(2, n_content // 4) + 1)))
            ops.append(("recall_content", sorted(rng.choice(n_content, k, replace=False).tolist())))
    return ops


__all__ = ["Decoded", "KINDS", "LEARN_GAP", "LEARN_HOLD", "MIN_LATENCY", "Operation", "OpResult",
           "PUBLISHED", "PUBLISHED_LATENCY", "ProtocolRun", "RECALL_GAP", "RECALL_HOLD", "Schedule",
           "build_for", "decode", "demo_ops", "expected", "functional", "grid_map", "random_ops",
           "run", "run_ops", "schedule", "stress"]
