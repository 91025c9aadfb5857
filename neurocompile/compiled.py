"""The compiled network: the typed result of `compile`, and what every backend builds from.

In the style of PACMAN's operations (a function over typed inputs returning `Placements`,
`RoutingTables`): the pipeline returns one `CompiledNetwork` holding the quantized network, the
quantization and delay records, the partition (`Slices`), the `Placements`, the `RoutingTables`,
the board, the seed and the options. It is saved in a compile output directory and loads back
identical, so `simulate DIR` and `report DIR` never recompile.

Directory layout (format ``neurocompile-compiled``, version 1; docs/file-format.md):

    compiled.json   manifest: format, version, target, seed, options, records, board file name
    network.ncnet   the compiled (quantized, delay-legalized) network
    plan.npz        partition, placement and routing arrays (below)
    <board>.yaml    a byte copy of the board file compiled for (the plan is only valid for it)
    report.json     the human/machine report (docs/report-schema.md)
"""
from __future__ import annotations

import io
import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from neurocompile.boards.schema import Board
from neurocompile.errors import FileFormatError
from neurocompile.ir.fileformat import load_network, save_network
from neurocompile.ir.network import Network
from neurocompile.records import DelayRecord, QuantizationRecord, jsonable

if TYPE_CHECKING:
    from neurocompile.passes.pipeline import CompileContext, Diagnostic

COMPILED_FORMAT = "neurocompile-compiled"
COMPILED_VERSION = 1
MANIFEST_FILE = "compiled.json"
NETWORK_FILE = "network.ncnet"
PLAN_FILE = "plan.npz"
REPORT_FILE = "report.json"


@dataclass(frozen=True, eq=False)
class Slices:
    """The partition: which core-sized slice each neuron of each population is in.

    Global slice ids run population by population in network order: population p's slice j has
    id ``offset[p] + j``. ``extra_cores[id]`` counts SpiNNaker delay-extension cores beside it.
    """

    labels: dict[str, np.ndarray]          # population -> slice index (within it) of each neuron
    offset: dict[str, int]                 # population -> global id of its slice 0
    method: dict[str, str]                 # population -> how it was split
    extra_cores: np.ndarray                # (n_slices,) int64
    lower_bound_cores: int

    @property
    def n_slices(self) -> int:
        return int(self.extra_cores.shape[0])

    def n_slices_of(self, pop: str) -> int:
        lab = self.labels[pop]
        return int(lab.max()) + 1 if lab.size else 0

    def neurons(self, pop: str, index: int) -> np.ndarray:
        """Sorted neuron indices of population `pop`'s slice `index`."""
        return np.flatnonzero(self.labels[pop] == index).astype(np.int32)

    def population_of(self) -> list[tuple[str, int]]:
        """(population, index within it) for every global slice id."""
        out: list[tuple[str, int]] = [("", 0)] * self.n_slices
        for pop, off in self.offset.items():
            for j in range(self.n_slices_of(pop)):
                out[off + j] = (pop, j)
        return out

    @classmethod
    def from_partition(cls, part: Any) -> "Slices":
        return cls({p: np.asarray(v, dtype=np.int32) for p, v in part.labels.items()}, dict(part.offset),
                   dict(part.method), np.asarray(part.extra_cores, dtype=np.int64), int(part.lower_bound_cores))


@dataclass(frozen=True, eq=False)
class Placements:
    """Where each slice runs: chip (x, y) and application core index, -1 where unplaced."""

    chip: np.ndarray        # (n_slices, 2) int64
    core: np.ndarray        # (n_slices,) int64
    method: str = ""        # which placement start won (and whether annealing improved it)
    cost: float = 0.0       # hop-weighted inter-chip spikes/s
    baseline_cost: float = 0.0  # the same for sPyNNaker-style contiguous placement

    def of(self, slice_id: int) -> tuple[int, int, int] | None:
        x, y = (int(v) for v in self.chip[slice_id])
        return None if x < 0 else (x, y, int(self.core[slice_id]))

    @property
    def chips_used(self) -> int:
        placed = self.chip[self.chip[:, 0] >= 0]
        return int(np.unique(placed, axis=0).shape[0]) if placed.size else 0

    @classmethod
    def from_result(cls, res: Any) -> "Placements":
        chip = np.full((res.chip_of.shape[0], 2), -1, dtype=np.int64)
        ok = res.chip_of >= 0
        chip[ok] = res.grid.coords[res.chip_of[ok]]
        return cls(chip, np.asarray(res.core_of, dtype=np.int64), res.method, float(res.cost),
                   float(res.baseline_cost))


@dataclass(frozen=True, eq=False)
class RoutingTables:
    """Routing: SpiNNaker multicast keys per slice and table entries per chip; link loads.

    ``keys[id] = (key, mask)`` (-1 where the family has no keys); entries per chip before merging,
    after same-route merging, and after default-route removal; ``link_load[chip, link]`` spikes/s.
    """

    keys: np.ndarray                 # (n_slices, 2) int64
    entries_raw: np.ndarray          # (n_chips,) int64, empty when not computed
    entries_merged: np.ndarray
    entries: np.ndarray
    link_load: np.ndarray            # (n_chips, n_links) float64
    link_traversals_per_s: float = 0.0

    @classmethod
    def from_result(cls, res: Any, n_slices: int) -> "RoutingTables":
        keys = np.full((n_slices, 2), -1, dtype=np.int64)
        for sid, (k, m) in (res.keys or {}).items():
            keys[int(sid)] = (int(k), int(m))
        empty = np.zeros(0, dtype=np.int64)

        def arr(a: Any) -> np.ndarray:
            return empty if a is None else np.asarray(a, dtype=np.int64)

        load = np.zeros((0, 0)) if res.link_load is None else np.asarray(res.link_load, dtype=np.float64)
        return cls(keys, arr(res.entries_raw), arr(res.entries_merged), arr(res.entries), load,
                   float(res.link_traversals_per_s))


@dataclass(eq=False)
class CompiledNetwork:
    """Everything a backend needs to build the network on a target, and nothing it must recompute."""

    network: Network                 # quantized, delay-legalized IR
    board: Board
    seed: int
    options: dict[str, Any]          # effective compiler options (model recommendations + user's)
    quantization: QuantizationRecord
    delays: DelayRecord
    slices: Slices | None
    placements: Placements | None
    routing: RoutingTables | None
    report: dict[str, Any]
    target: str = ""                 # what the user compiled (model name or file)
    diagnostics: list[Diagnostic] = field(default_factory=list)  # in memory; saved inside report.json

    @property
    def number_format(self) -> str | None:
        return self.network.number_format

    def slice_table(self) -> list[dict[str, Any]]:
        """One row per slice: population, index, neurons, chip, core (for reports and backends)."""
        if self.slices is None:
            return []
        rows = []
        for sid, (pop, j) in enumerate(self.slices.population_of()):
            where = self.placements.of(sid) if self.placements is not None else None
            n = self.slices.neurons(pop, j)
            rows.append({"id": sid, "population": pop, "slice": j, "n_neurons": int(n.size),
                         "first": int(n[0]) if n.size else -1, "last": int(n[-1]) if n.size else -1,
                         "chip": None if where is None else (where[0], where[1]),
                         "core": -1 if where is None else where[2],
                         "extra_cores": int(self.slices.extra_cores[sid])})
        return rows


def from_context(net: Network, ctx: CompileContext, report: dict[str, Any], target: str) -> CompiledNetwork:
    """The typed result of a finished pipeline run."""
    part, pl, rt = ctx.partition, ctx.placement, ctx.routing
    slices = Slices.from_partition(part) if part is not None else None
    quant = QuantizationRecord(net.number_format, ctx.quantization.projections, ctx.quantization.populations,
                               ctx.quantization.ring_buffer_shifts)
    return CompiledNetwork(
        network=net, board=ctx.board, seed=ctx.seed, options=dict(ctx.options), quantization=quant,
        delays=ctx.delays, slices=slices,
        placements=Placements.from_result(pl) if pl is not None else None,
        routing=RoutingTables.from_result(rt, slices.n_slices) if rt is not None and slices is not None else None,
        report=report, target=target, diagnostics=list(ctx.diagnostics))


# ------------------------------------------------------------------------------------------ files
def save_compiled(c: CompiledNetwork, directory: str | os.PathLike[str]) -> None:
    """Write the compiled network into `directory` (a staging directory: see outdir.staged_output)."""
    from neurocompile.report.build import write_report

    d = Path(directory)
    save_network(c.network, d / NETWORK_FILE)
    arrays: dict[str, np.ndarray] = {}
    plan: dict[str, Any] = {"slices": None, "placements": None, "routing": None}
    if c.slices is not None:
        s = c.slices
        pops = list(s.labels)
        for i, p in enumerate(pops):
            arrays[f"labels_{i}"] = s.labels[p]
        arrays["extra_cores"] = s.extra_cores
        plan["slices"] = {"populations": pops, "offset": s.offset, "method": s.method,
                          "lower_bound_cores": s.lower_bound_cores}
    if c.placements is not None:
        arrays["chip"], arrays["core"] = c.placements.chip, c.placements.core
        plan["placements"] = {"method": c.placements.method, "cost": c.placements.cost,
                              "baseline_cost": c.placements.baseline_cost}
    if c.routing is not None:
        r = c.routing
        for name in ("keys", "entries_raw", "entries_merged", "entries", "link_load"):
            arrays[f"routing_{name}"] = getattr(r, name)
        plan["routing"] = {"link_traversals_per_s": r.link_traversals_per_s}
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    (d / PLAN_FILE).write_bytes(buf.getvalue())
    board_file = f"{c.board.name}.yaml"  # a board file's name is its board's name
    (d / board_file).write_bytes(Path(c.board.source_file).read_bytes())
    manifest = {
        "format": COMPILED_FORMAT, "format_version": COMPILED_VERSION,
        "target": c.target, "seed": int(c.seed), "board": c.board.name,
        "board_file": board_file, "board_source": os.path.basename(c.board.source_file),
        "options": jsonable(c.options),
        "quantization": c.quantization.to_dict(), "delays": c.delays.to_dict(), "plan": plan,
    }
    (d / MANIFEST_FILE).write_text(json.dumps(manifest, indent=1, allow_nan=False) + "\n")
    write_report(c.report, d / REPORT_FILE)


def is_compiled_dir(path: str | os.PathLike[str]) -> bool:
    return (Path(path) / MANIFEST_FILE).is_file()


def load_compiled(directory: str | os.PathLike[str]) -> CompiledNetwork:
    """Load a compile output directory back into the CompiledNetwork that was saved."""
    from neurocompile.boards.schema import load_board_file
    from neurocompile.report.build import read_report

    d = Path(directory)
    where = str(d)
    if not is_compiled_dir(d):
        raise FileFormatError(f"{where!r} is not a compiled network directory (no {MANIFEST_FILE}); "
                              f"run 'neurocompile compile ... -o {where}' first")
    try:
        m = json.loads((d / MANIFEST_FILE).read_text())
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise FileFormatError(f"{where}/{MANIFEST_FILE}: unreadable ({e})") from None
    if not isinstance(m, dict) or m.get("format") != COMPILED_FORMAT:
        raise FileFormatError(f"{where}/{MANIFEST_FILE}: not a neurocompile compiled-network manifest")
    if m.get("format_version") != COMPILED_VERSION:
        raise FileFormatError(f"{where}/{MANIFEST_FILE}: format_version {m.get('format_version')!r} is not "
                              f"supported (this neurocompile reads version {COMPILED_VERSION}); recompile")
    net = load_network(d / NETWORK_FILE)
    board_file = m.get("board_file")
    if not isinstance(board_file, str) or Path(board_file).name != board_file:
        raise FileFormatError(f"{where}/{MANIFEST_FILE}: field 'board_file' must name a file in the directory")
    board = load_board_file(d / board_file)
    try:
        with np.load(d / PLAN_FILE, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise FileFormatError(f"{where}/{PLAN_FILE}: unreadable ({e})") from None
    try:
        plan = m["plan"]
        slices = placements = routing = None
        if plan["slices"] is not None:
            ps = plan["slices"]
            slices = Slices({p: arrays[f"labels_{i}"] for i, p in enumerate(ps["populations"])},
                            {k: int(v) for k, v in ps["offset"].items()}, dict(ps["method"]),
                            arrays["extra_cores"], int(ps["lower_bound_cores"]))
        if plan["placements"] is not None:
            pp = plan["placements"]
            placements = Placements(arrays["chip"], arrays["core"], pp["method"], float(pp["cost"]),
                                    float(pp["baseline_cost"]))
        if plan["routing"] is not None:
            routing = RoutingTables(*(arrays[f"routing_{n}"] for n in
                                      ("keys", "entries_raw", "entries_merged", "entries", "link_load")),
                                    float(plan["routing"]["link_traversals_per_s"]))
        quant = QuantizationRecord.from_dict(m["quantization"])
        delays = DelayRecord.from_dict(m["delays"])
        seed, options, target = int(m["seed"]), dict(m["options"]), str(m["target"])
    except (KeyError, TypeError, ValueError) as e:
        raise FileFormatError(f"{where}: compiled network is missing or has a malformed field ({e})") from None
    n_slices = slices.n_slices if slices is not None else 0
    for name, rec in (("placements", placements), ("routing", routing)):
        rows = rec.chip.shape[0] if name == "placements" and rec is not None else (
            rec.keys.shape[0] if rec is not None else n_slices)
        if rows != n_slices:
            raise FileFormatError(f"{where}/{PLAN_FILE}: {name} has {rows} slices, the partition {n_slices}")
    report = read_report(d)
    return CompiledNetwork(net, board, seed, options, quant, delays, slices, placements, routing, report, target)
