"""Finding boards: bundled `hw_configs/*.yaml` by name, or any YAML file by path."""
from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from neurocompile.boards.schema import Board, load_board_file
from neurocompile.errors import BoardError

# Extra directories of board files, separated by os.pathsep (for a lab's own machines).
BOARD_PATH_ENV = "NEUROCOMPILE_BOARD_PATH"


def board_dirs() -> list[Path]:
    dirs = [Path(p) for p in os.environ.get(BOARD_PATH_ENV, "").split(os.pathsep) if p]
    dirs.append(Path(str(resources.files("neurocompile.hw_configs"))))
    return dirs


def board_files() -> dict[str, Path]:
    """Board name (file stem) -> file; earlier directories win."""
    found: dict[str, Path] = {}
    for d in board_dirs():
        if d.is_dir():
            for f in sorted(d.glob("*.yaml")):
                found.setdefault(f.stem, f)
    return found


def load_board(name_or_path: str) -> Board:
    """A bundled board by name (e.g. 'spinn-5') or a path to a YAML board file."""
    looks_like_path = os.sep in name_or_path or name_or_path.endswith((".yaml", ".yml"))
    if looks_like_path:
        return load_board_file(name_or_path)
    files = board_files()
    if name_or_path not in files:
        raise BoardError(f"unknown board {name_or_path!r}; bundled boards: {', '.join(sorted(files))} "
                         f"(or give a path to a .yaml board file)")
    return load_board_file(files[name_or_path])


def all_boards() -> list[Board]:
    return [load_board_file(f) for f in board_files().values()]
