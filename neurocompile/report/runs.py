"""Reading a `simulate -o DIR` output back (summary.json + spikes.npz) for the HTML report and diff.

Every problem with the files is one NeurocompileError naming the file and what is wrong, so the
CLI prints one line instead of a numpy or json traceback.
"""
from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from neurocompile.errors import NeurocompileError, clip, shorten


@dataclass(frozen=True)
class SimRun:
    path: Path
    summary: dict[str, Any]
    sizes: dict[str, int]                              # population -> neurons, in the run's order
    spikes: dict[str, tuple[np.ndarray, np.ndarray]]   # population -> (steps, neuron ids)

    @property
    def steps(self) -> int:
        return int(self.summary["steps"])

    @property
    def dt_ms(self) -> float:
        return float(self.summary["dt_ms"])


def is_sim_dir(path: str | os.PathLike[str]) -> bool:
    p = Path(path)
    return (p / "summary.json").is_file() and (p / "spikes.npz").is_file()


def find_run(directory: str | os.PathLike[str]) -> Path | None:
    """The simulation output in `directory`: itself, else the newest of its subdirectories that
    is one (e.g. `simulate DIR -o DIR/sim`); None if there is none."""
    d = Path(directory)
    if is_sim_dir(d):
        return d
    try:
        runs = [p for p in d.iterdir() if p.is_dir() and is_sim_dir(p)]
    except OSError:
        return None
    return max(runs, key=lambda p: ((p / "summary.json").stat().st_mtime, p.name)) if runs else None


def load_run(path: str | os.PathLike[str]) -> SimRun:
    p = Path(path)
    if not p.is_dir():
        raise NeurocompileError(f"{str(p)!r} is not a directory; give a 'neurocompile simulate -o DIR' output")
    if not is_sim_dir(p):
        raise NeurocompileError(f"{str(p)!r} holds no simulation output (summary.json and spikes.npz); "
                                f"write one with 'neurocompile simulate ... -o DIR'")
    try:
        summary = json.loads((p / "summary.json").read_bytes())
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise NeurocompileError(f"{p / 'summary.json'}: not valid JSON ({clip(e)})") from None
    where = p / "summary.json"
    if not isinstance(summary, dict):
        raise NeurocompileError(f"{where}: not a simulation summary (expected an object)")
    for key, kind in (("steps", int), ("dt_ms", (int, float)), ("populations", list)):
        if not isinstance(summary.get(key), kind) or isinstance(summary.get(key), bool):
            raise NeurocompileError(f"{where}: field {key!r} is missing or not a {kind.__name__ if isinstance(kind, type) else 'number'}"
                                    f" (got {shorten(summary.get(key))})")
    sizes: dict[str, int] = {}
    for i, pop in enumerate(summary["populations"]):
        if not (isinstance(pop, dict) and isinstance(pop.get("name"), str) and isinstance(pop.get("size"), int)
                and not isinstance(pop.get("size"), bool) and pop["size"] >= 0):
            raise NeurocompileError(f"{where}: populations[{i}] needs a string 'name' and a size >= 0 "
                                    f"(got {shorten(pop)})")
        sizes[pop["name"]] = pop["size"]
    try:
        with np.load(p / "spikes.npz", allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise NeurocompileError(f"{p / 'spikes.npz'}: not a readable spike file ({clip(e)})") from None
    spikes = {}
    for name, size in sizes.items():
        steps, ids = arrays.get(f"{name}/steps"), arrays.get(f"{name}/neurons")
        if steps is None or ids is None:
            raise NeurocompileError(f"{p / 'spikes.npz'}: no spikes recorded for population {name!r} "
                                    f"(arrays '{name}/steps' and '{name}/neurons')")
        steps, ids = np.asarray(steps).ravel(), np.asarray(ids).ravel()
        if steps.shape != ids.shape or (steps.size and (steps.dtype.kind not in "iu" or ids.dtype.kind not in "iu")):
            raise NeurocompileError(f"{p / 'spikes.npz'}: population {name!r}: steps and neuron ids must be "
                                    f"integer arrays of one length")
        if steps.size and (ids.min() < 0 or ids.max() >= size or steps.min() < 0 or steps.max() >= summary["steps"]):
            raise NeurocompileError(f"{p / 'spikes.npz'}: population {name!r}: a spike lies outside "
                                    f"{size} neurons x {summary['steps']} steps")
        spikes[name] = (steps.astype(np.int64), ids.astype(np.int64))
    return SimRun(p, summary, sizes, spikes)
