"""`spynnaker`: a compiled network on SpiNNaker through PyNN 0.13 and sPyNNaker 1!7.4.1, with our plan.

``build(compiled, options)`` lowers the network (lower.py) and writes, in ``options["out_dir"]``
(default: a new temporary directory) ``spynnaker/``: ``run_pynn.py`` (pynn_script.py, standalone),
``network.json`` + ``network.npz``, and a private sPyNNaker home (``env/``: configuration under
XDG_CONFIG_HOME, reports, working directory; the user's home is never read or written).
``Runner.run(steps)`` runs the script in a subprocess with a timeout (``options["timeout_s"]``,
default 600 s) on a virtual board of the board's version by default, reads back what sPyNNaker
mapped (readback.py) and compares it with our plan (compare.py). ``out_dir`` is a staged output
(neurocompile/outdir.py): the compiled network, ``report.json`` with a ``spynnaker`` object (both
plans, the weight check, every difference; docs/report-schema.md) and ``spynnaker/`` appear
together or not at all. Options: ``out_dir``, ``overwrite`` (replace an output directory we wrote),
``timeout_s``, ``no_plan`` (sPyNNaker partitions and places
on its own; the forced shifts stay), ``own_placer`` (also map with sPyNNaker alone into
``spynnaker_own_placer/`` and compare: ``spynnaker.own_placer``), ``allow_delay_defect`` (lower a
plan that hits the 7.4.1 delay defect instead of refusing it: only to reproduce it), ``machine`` /
``spalloc_server``, ``stock_synapses`` (sPyNNaker's StaticSynapse, FromListConnector and
synapse_io._get_row_data as they are instead of run_pynn.py's same-bytes faster versions:
pynn_script.sorted_rows_static_synapse, sorted_list_connector_class, row_data_static), ``map_only`` (on a virtual board, return a SimResult without spikes instead of
raising: a virtual board maps but runs nothing, and `simulate` must not show zero spikes as a
result).
``export(compiled, out_dir)`` writes only the standalone part to ``out_dir/spynnaker``.

A real machine (``options["machine"]`` = a machine name, or ``options["spalloc_server"]``; or the environment variables NEUROCOMPILE_SPINNAKER_MACHINE /
NEUROCOMPILE_SPALLOC_SERVER) replaces ``virtual_board = True`` by that machine in the private
configuration, and the spikes are read back. This path is not tested here (no hardware).
"""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from neurocompile.backends.sim.engine import SimResult
from neurocompile.errors import PluginError
from neurocompile.plugins import Backend, Runner, Supports

SCRIPT_NAME = "run_pynn.py"
SUBDIR = "spynnaker"
OWN_PLACER_SUBDIR = "spynnaker_own_placer"  # options["own_placer"]: sPyNNaker alone, same network
BOARD_VERSIONS = {"spinn-3": 3, "spinn-5": 5}


def _script_source() -> str:
    return (Path(__file__).with_name("pynn_script.py")).read_text(encoding="utf-8")


def write_bundle(compiled: Any, out_dir: Path, steps: int, use_plan: bool = True,
                 allow_delay_defect: bool = False, sort_connections: bool = True) -> tuple[Path, dict, list[str]]:
    """Write run_pynn.py, network.json, network.npz into out_dir; return (dir, spec, notes)."""
    from neurocompile.backends.spynnaker.lower import lower

    spec, arrays, notes = lower(compiled, steps, use_plan=use_plan, allow_delay_defect=allow_delay_defect,
                                sort_connections=sort_connections)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / SCRIPT_NAME).write_text(_script_source(), encoding="utf-8")
    (out_dir / "network.json").write_text(json.dumps(spec, indent=1) + "\n")
    np.savez(out_dir / "network.npz", **arrays)
    return out_dir, spec, notes


def board_version(board: Any) -> int | None:
    """sPyNNaker's board version for a single-board shape: 3 (2 x 2, 4 chips), 5 (8 x 8, 48 chips)."""
    t = board.topology
    shape = (t.width, t.height, board.n_chips)
    return {(2, 2, 4): 3, (8, 8, 48): 5}.get(shape, BOARD_VERSIONS.get(board.name))


def machine_cfg(compiled: Any, options: dict[str, Any]) -> dict[str, dict[str, object]]:
    """[Machine] section: a virtual board of the board's version, or the machine named."""
    machine = options.get("machine") or os.environ.get("NEUROCOMPILE_SPINNAKER_MACHINE")
    spalloc = options.get("spalloc_server") or os.environ.get("NEUROCOMPILE_SPALLOC_SERVER")
    b = compiled.board
    if machine:
        return {"Machine": {"virtual_board": False, "machine_name": machine,
                            "version": board_version(b) or 5}}
    if spalloc:
        # sPyNNaker sizes the spalloc job itself from the mapping (spinn_machine.cfg spalloc_server)
        return {"Machine": {"virtual_board": False, "spalloc_server": spalloc, "version": 5}}
    version = board_version(b)
    if version is not None:
        return {"Machine": {"virtual_board": True, "version": version}}
    # a multi-board machine: a virtual machine of the board's width x height (version 5 chips)
    t = b.topology
    return {"Machine": {"virtual_board": True, "version": 5, "width": t.width, "height": t.height}}


class SpynnakerRunner(Runner):
    def __init__(self, compiled: Any, options: dict[str, Any]) -> None:
        self.compiled, self.options = compiled, dict(options)
        base = options.get("out_dir")
        self.out = (Path(base) if base is not None else Path(tempfile.mkdtemp(prefix="nc-spynnaker-"))).resolve()
        self.dir = self.out / SUBDIR
        self.mapping: dict[str, Any] | None = None
        self.notes: list[str] = []

    def run(self, steps: int, progress: Callable[[int, int], None] | None = None) -> SimResult:
        """Map (and on a machine run) in a staged copy of ``out_dir``: the compiled network, its
        report.json with a ``spynnaker`` object (report_section) and ``spynnaker/`` appear together,
        also when sPyNNaker fails (then ``spynnaker.status`` is "failed" and the error is raised
        after the directory is in place)."""
        from neurocompile.compiled import REPORT_FILE, save_compiled
        from neurocompile.outdir import staged_output
        from neurocompile.report.build import write_report

        c, opts = self.compiled, self.options
        use_plan = not opts.get("no_plan", False)
        failure: PluginError | None = None
        own: dict[str, Any] | None = None
        with staged_output(self.out, kind="spynnaker", overwrite=bool(opts.get("overwrite"))) as stage:
            save_compiled(c, stage)
            try:
                self.mapping, spec, virtual, spikes = self._map(stage / SUBDIR, steps, use_plan)
                if opts.get("own_placer") and use_plan:
                    alone = self._map(stage / OWN_PLACER_SUBDIR, steps, False)[0]
                    own = own_placer_comparison(c, self.mapping, alone)
                    self.mapping["own_placer"] = own
            except PluginError as e:
                failure = e
            report = dict(c.report or {})
            report["spynnaker"] = report_section(self.mapping, failure, own, self.notes)
            write_report(report, stage / REPORT_FILE)
            if failure is None:
                result = self._result(steps, spec, virtual, spikes)
        if failure is not None:
            raise failure
        m = self.mapping
        if virtual and not opts.get("map_only"):
            raise PluginError(
                f"sPyNNaker mapped {c.network.name!r} on a virtual {c.board.name} (weights bit-equal to "
                f"ours: {'yes' if m['weights_equal'] else 'NO'}; {len(m['differences'])} difference(s) "
                f"from our plan in {self.out / REPORT_FILE} (key 'spynnaker')), but a virtual board runs "
                f"nothing: no spikes. Name a machine (NEUROCOMPILE_SPINNAKER_MACHINE or "
                f"NEUROCOMPILE_SPALLOC_SERVER) to run it, or use the sim backend's spinnaker mode")
        if progress is not None:
            progress(steps, steps)
        return result

    def _map(self, work: Path, steps: int, use_plan: bool) -> tuple[dict[str, Any], dict, bool, Path]:
        """Lower into `work` (inside the stage), run sPyNNaker there, read back and compare.
        Paths in messages name where `work` will be once the output is in place."""
        from neurocompile.backends.spynnaker.compare import compare
        from neurocompile.targets.spinnaker.spynnaker_env import make_spynnaker_env

        c, opts = self.compiled, self.options
        shown = self.out / work.name
        t0 = time.perf_counter()
        _, spec, notes = write_bundle(c, work, steps, use_plan=use_plan,
                                      allow_delay_defect=bool(opts.get("allow_delay_defect")),
                                      sort_connections=bool(opts.get("sort_connections", True)))
        if use_plan:
            self.notes = notes
        t_lower = time.perf_counter() - t0
        cfg = machine_cfg(c, opts)
        virtual = bool(cfg["Machine"]["virtual_board"])
        senv = make_spynnaker_env(work / "env", extra_cfg=cfg, board_version=int(cfg["Machine"]["version"]))
        raw_map, spikes = work / "spynnaker_readback.json", work / "spikes.npz"
        argv = [str(work / SCRIPT_NAME), "--data", str(work), "--steps", str(steps),
                "--spikes", str(spikes), "--mapping", str(raw_map)]
        if not use_plan:
            argv.append("--no-plan")
        if opts.get("stock_synapses"):
            argv.append("--stock-synapses")
        t0 = time.perf_counter()
        try:
            proc = senv.run_python(*argv, timeout=float(opts.get("timeout_s", 600)))
        except Exception as e:  # subprocess.TimeoutExpired
            raise PluginError(f"sPyNNaker did not finish: {e}") from None
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            (work / "spynnaker_stderr.txt").write_text(proc.stderr)
            raise PluginError(_one_line_error(proc.stderr, senv.report_dir, work, shown))
        got = json.loads(raw_map.read_text())
        with np.load(raw_map.with_suffix(".npz")) as z:
            got["matrices"] = {n: {k: z[f"m{i}_{k}"] for k in ("pre", "post", "delay", "w16", "core")}
                               for i, n in enumerate(got.pop("matrix_projections"))}
        mapping = compare(c, spec, got, notes)
        mapping["timing"] = {"lower_s": t_lower, "subprocess_s": wall, **got.get("timing", {})}
        mapping["machine"] = cfg["Machine"]
        mapping["use_plan"] = use_plan
        mapping["files"] = {"readback": f"{work.name}/spynnaker_readback.json",
                            "matrices": f"{work.name}/spynnaker_readback.npz",
                            "script": f"{work.name}/{SCRIPT_NAME}", "reports": f"{work.name}/env/reports"}
        (work / "mapping.json").write_text(json.dumps(mapping, indent=1) + "\n")
        return mapping, spec, virtual, spikes

    def _result(self, steps: int, spec: dict, virtual: bool, spikes: Path) -> SimResult:
        c = self.compiled
        wall = float(self.mapping["timing"]["subprocess_s"]) if self.mapping else 0.0
        result = SimResult(steps=steps, seed=c.seed, mode="spynnaker", dt_ms=c.network.dt_ms, spikes={},
                           wall_s=wall)
        with np.load(spikes) as z:
            if not virtual:
                for p in spec["populations"]:
                    if f"steps_{p['name']}" in z.files:
                        result.spikes[p["name"]] = (z[f"steps_{p['name']}"], z[f"ids_{p['name']}"])
                    if f"v_{p['name']}" in z.files:  # hardware only; untested here
                        result.traces.setdefault(p["name"], {})["v"] = z[f"v_{p['name']}"]
        return result


def _one_line_error(stderr: str, report_dir: Path, keep_dir: Path, shown_dir: Path | None = None) -> str:
    """sPyNNaker's exception as one line; its placements_error.txt copied into `keep_dir` (named
    as `shown_dir`, where it will be once the staged output is in place)."""
    shown_dir = shown_dir or keep_dir
    raw = stderr.rstrip().splitlines()
    lines = [ln for ln in raw if ln.strip()]
    last = lines[-1].strip() if lines else "no output"
    # the exception line of the last traceback: the first unindented line after "Traceback"
    in_tb, frames = False, []
    for ln in raw:
        if ln.startswith("Traceback (most recent call last)"):
            in_tb, frames = True, []
        elif in_tb and ln.strip().startswith('File "'):
            frames.append(ln.strip())
        elif in_tb and ln.strip() and not ln.startswith((" ", "\t")):
            last, in_tb = ln.strip(), False
    frames = frames or [ln.strip() for ln in lines if ln.strip().startswith('File "')]
    if frames:  # where it was raised: sPyNNaker's messages are often bare (e.g. "KeyError: (0, 4)")
        f = frames[-1]
        func, fname = f.rsplit(", in ", 1)[-1], Path(f.split('"')[1]).name
        last += f" (raised in {func}, {fname})"
    if "No more cores available on" in last:
        where = last.split("No more cores available on", 1)[1].split(":", 1)[0].strip()
        last = (f"PacmanConfigurationException: our placement puts more cores on chip ({where}) than "
                f"sPyNNaker's machine has free there (dead cores, or system cores our board file does "
                f"not know of); list that chip's missing cores in the board file's topology.dead_cores")
    for f in Path(report_dir).rglob("placements_error.txt") if Path(report_dir).exists() else []:
        shutil.copy(f, keep_dir / "placements_error.txt")
        last += f" (sPyNNaker's placement report: {shown_dir / 'placements_error.txt'})"
        break
    return f"sPyNNaker failed: {last} (full output: {shown_dir / 'spynnaker_stderr.txt'})"


class SpynnakerBackend(Backend):
    name = "spynnaker"
    description = "PyNN + sPyNNaker 1!7.4.1 on SpiNNaker (virtual board by default), with our plan"
    supports = Supports(families=("spinnaker",), number_formats=("spinnaker",), plasticity=True,
                        recording=("spikes", "v"), export=True)

    def available(self) -> tuple[bool, str]:
        missing = [m for m in ("spynnaker", "pyNN") if importlib.util.find_spec(m) is None]
        if missing:
            return False, (f"{' and '.join(missing)} not installed; pip install 'neurocompile[spinnaker]' "
                           f"(sPyNNaker 1!7.4.1, PyNN 0.13)")
        return True, ""

    def build(self, compiled: Any, options: dict[str, Any]) -> SpynnakerRunner:
        from neurocompile.backends.spynnaker.lower import lower

        problems = self.unsupported(compiled, options)  # board family, number format, recording
        if problems:
            raise PluginError(f"backend {self.name!r} cannot run network {compiled.network.name!r}: "
                              + "; ".join(problems))
        # fail early (e.g. the delay defect), before any subprocess
        lower(compiled, 0, use_plan=not options.get("no_plan", False),
              allow_delay_defect=bool(options.get("allow_delay_defect")))
        return SpynnakerRunner(compiled, options)

    def export(self, compiled: Any, out_dir: Path) -> list[Path]:
        steps = int(compiled.options.get("steps", 1000)) if isinstance(compiled.options, dict) else 1000
        d, _, notes = write_bundle(compiled, Path(out_dir) / SUBDIR, steps)
        (d / "README.txt").write_text(_export_readme(compiled, notes), encoding="utf-8")
        return [d / SCRIPT_NAME, d / "network.json", d / "network.npz", d / "README.txt"]


def _export_readme(compiled: Any, notes: list[str]) -> str:
    lines = [f"Network {compiled.network.name!r} compiled by neurocompile for {compiled.board.name}.",
             "", "Run with stock sPyNNaker 1!7.4.1 / PyNN 0.13 (no neurocompile needed):",
             "    python run_pynn.py --steps N --spikes spikes.npz",
             "sPyNNaker takes the machine from its configuration (~/.spynnaker.cfg): [Machine]",
             "machine_name and version = 5 for a board, spalloc_server for a multi-board machine,",
             "or virtual_board = True to map without hardware.",
             "run_pynn.py gives sPyNNaker faster host-side versions of five of its 7.4.1 routines",
             "that write the same bytes (in its own process; no installed file is changed);",
             "--stock-synapses runs sPyNNaker's own.", ""]
    if notes:
        lines += ["Parts of neurocompile's plan sPyNNaker cannot express:"] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"





def own_placer_comparison(compiled: Any, planned: dict[str, Any], alone: dict[str, Any]) -> dict[str, Any]:
    """Our plan and sPyNNaker alone (its partitioner and ApplicationPlacer, no constraints; forced
    shifts kept) side by side: per run chips and cores used, max / total routing entries per chip
    (PACMAN's uncompressed tables), and inter-chip traffic and hops of *our* traffic model on the
    placement that run made; plus our model of our own plan (the placement pass's cost)."""
    from neurocompile.backends.spynnaker.compare import ours_as_cores, theirs_as_cores, traffic_of

    runs: dict[str, Any] = {}
    for label, m in (("our_plan", planned), ("spynnaker_alone", alone)):
        sp = m["spynnaker"]
        tables = sp["routing_entries_uncompressed"] or {}
        runs[label] = {"chips_used": sp["chips_used"], "cores_by_kind": sp["cores_by_kind"],
                       "max_routing_entries": max(tables.values(), default=0),
                       "total_routing_entries": sum(tables.values()),
                       "traffic": traffic_of(compiled, theirs_as_cores(sp, planned=m["use_plan"])),
                       "weights_equal": m["weights_equal"], "timing": m["timing"]}
    runs["our_model_of_our_plan"] = {"chips_used": compiled.placements.chips_used,
                                     "traffic": traffic_of(compiled, ours_as_cores(compiled)),
                                     "placement_cost": compiled.placements.cost,
                                     "baseline_cost": compiled.placements.baseline_cost}
    return runs


def report_section(mapping: dict[str, Any] | None, failure: Exception | None,
                   own: dict[str, Any] | None, notes: list[str]) -> dict[str, Any]:
    """The ``spynnaker`` object of report.json (docs/report-schema.md): the mapping document of
    compare.py with a status, and the own-placer comparison (or null when not run)."""
    if mapping is None:
        return {"format": "neurocompile-spynnaker-mapping", "version": 1, "status": "failed",
                "error": str(failure), "notes": list(notes), "own_placer": None}
    return {"format": mapping["format"], "version": mapping["version"],
            "status": "failed" if failure is not None else "mapped",
            "error": None if failure is None else str(failure),
            **{k: v for k, v in mapping.items() if k not in ("format", "version", "own_placer")},
            "own_placer": own}


def compare_with_own_placer(compiled: Any, out_dir: Any, steps: int = 10, timeout_s: float = 600) -> dict[str, Any]:
    """Map `compiled` twice on the virtual board into one output directory: with our plan
    (``spynnaker/``) and with sPyNNaker alone (``spynnaker_own_placer/``); report.json's
    ``spynnaker.own_placer`` holds the comparison (own_placer_comparison), which is returned."""
    r = SpynnakerRunner(compiled, {"out_dir": out_dir, "timeout_s": timeout_s, "map_only": True,
                                   "own_placer": True})
    r.run(steps)
    return r.mapping["own_placer"]


__all__ = ["SpynnakerBackend", "SpynnakerRunner", "compare_with_own_placer", "own_placer_comparison",
           "report_section", "write_bundle"]
