"""Output files and directories appear whole or not at all, and never at the cost of a user's files.

Everything is written into a hidden sibling directory; only when all files are complete is it
renamed into place. An error, Ctrl-C or SIGTERM half-way leaves the previous output (if any)
untouched and no staging folder behind.

An existing directory is replaced only when neurocompile wrote it: every output directory holds
`OUTPUT_MARKER`, a small JSON manifest naming the tool, version, command and the files written.
An empty directory may be filled. Anything else (a user's folder, an output someone added files
to, the current directory or one of its parents, a folder holding an input) is refused with an
error naming the path and the way out (another `-o`, or `--overwrite` where that is safe).
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from typing import Iterable, Iterator

from neurocompile.errors import NeurocompileError

OUTPUT_MARKER = ".neurocompile-output.json"
_STAGE_SUFFIX = ".partial"
_STAGE_RE = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[^.]+\.(partial|old)$")


class OutputError(NeurocompileError):
    """An output path we must not write: it would replace or delete something of the user's."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _apply_umask(path: Path, is_dir: bool) -> None:
    """tempfile creates 0700/0600; finished outputs get the permissions a plain write would."""
    os.chmod(path, (0o777 if is_dir else 0o666) & ~_umask())


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], inputs: Iterable[str | os.PathLike[str]] = ()) -> Iterator[Path]:
    """Yield a temporary path beside `path`; it replaces `path` only if the block succeeds.

    A file that is one of `inputs` is never replaced.
    """
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"output file {str(path)!r} is a directory; choose a file name")
    _refuse_inputs(path, inputs, "file")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp: str | None = None
    # The handler is installed before the temporary file exists, so no signal can orphan it.
    with _terminate_as_interrupt():
        try:
            with _signals_deferred():  # a signal right after the file appears must still find `tmp` set
                fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
                os.close(fd)
            yield Path(tmp)
            _apply_umask(Path(tmp), is_dir=False)
            with _signals_deferred():
                os.replace(tmp, path)
        finally:
            if tmp is not None and os.path.exists(tmp):
                os.unlink(tmp)


def check_output_dir(target: str | os.PathLike[str], overwrite: bool = False,
                     inputs: Iterable[str | os.PathLike[str]] = ()) -> Path:
    """The directory `staged_output` will write, after every safety rule; raises OutputError.

    Call it before long work so a refused `-o` fails in a second, not after the compile.
    Returns the real path to replace (a symlink to a directory is followed, the link kept).
    """
    raw = os.fspath(target)
    if raw.strip() == "" or Path(raw).name in ("", ".", ".."):
        raise OutputError(f"output directory {raw!r} is not allowed: name a new folder, e.g. -o out/run1")
    path = Path(raw)
    real = path.resolve() if path.is_symlink() else Path(os.path.abspath(path))
    if path.is_symlink() and not real.exists():
        raise OutputError(f"output path {raw!r} is a symlink to {str(real)!r}, which does not exist")
    cwd = Path.cwd().resolve()
    if real.resolve() == cwd or real.resolve() in cwd.parents:
        raise OutputError(f"output directory {raw!r} is the current directory or one of its parents; "
                          f"name a new folder, e.g. -o out/run1")
    if real.resolve() == Path.home().resolve():
        raise OutputError(f"output directory {raw!r} is your home directory; name a new folder")
    _refuse_inputs(real, inputs, "directory", shown_as=raw)
    if not real.exists():
        return real
    if not real.is_dir():
        raise OutputError(f"output path {raw!r} exists and is not a directory; choose another -o")
    if overwrite:
        return real
    foreign = _foreign_entries(real)
    if foreign:
        shown = ", ".join(repr(n) for n in foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        raise OutputError(f"output directory {raw!r} exists and holds files neurocompile did not write "
                          f"({shown}); choose another -o, or pass --overwrite to replace the whole directory")
    return real


def _refuse_inputs(out: Path, inputs: Iterable[str | os.PathLike[str]], what: str,
                   shown_as: str | None = None) -> None:
    out_real = out.resolve()
    for item in inputs:
        if not item:
            continue
        inp = Path(item)
        if not inp.exists():
            continue
        inp_real = inp.resolve()
        if inp_real == out_real or out_real in inp_real.parents:
            raise OutputError(f"output {what} {os.fspath(shown_as or out)!r} would replace the input {str(item)!r}; "
                              f"choose another -o")


def _foreign_entries(directory: Path) -> list[str]:
    """Names in `directory` that neurocompile's marker does not account for (all of them without one)."""
    names = sorted(p.name for p in directory.iterdir())
    if not names:
        return []
    marker = directory / OUTPUT_MARKER
    try:
        manifest = json.loads(marker.read_text(encoding="utf-8"))
        ours = set(manifest["files"]) | {OUTPUT_MARKER}
        if manifest.get("tool") != "neurocompile":
            return names
    except (OSError, ValueError, KeyError, TypeError):
        return names
    return [n for n in names if n not in ours]


def _write_marker(stage: Path, kind: str) -> None:
    from neurocompile import __version__

    files = sorted(p.name for p in stage.iterdir())
    manifest = {"tool": "neurocompile", "version": __version__, "kind": kind,
                "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv else "",
                "files": files}
    (stage / OUTPUT_MARKER).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")


def clean_stale_stages(parent: Path, name: str) -> bool:
    """Remove staging/old folders of ours beside `name` whose writing process is gone (killed -9).

    Returns True when a previous output was restored from such a folder.
    """
    restored = False
    try:
        entries = list(parent.iterdir())
    except OSError:
        return False
    for p in entries:
        m = _STAGE_RE.match(p.name)
        if not m or m["name"] != name or not p.is_dir() or p.is_symlink():
            continue
        pid = int(m["pid"])
        if pid != os.getpid() and _pid_alive(pid):
            continue
        kept = p / "x"
        target = parent / name
        if p.name.endswith(".old") and kept.is_dir() and not os.path.lexists(target):
            # Killed between the two renames of a replacement: this is the only copy of the
            # previous output, so put it back instead of deleting it.
            try:
                os.replace(kept, target)
                restored = True
            except OSError:
                continue
        shutil.rmtree(p, ignore_errors=True)
    return restored


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so every staging block cleans up on the way out."""


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold SIGINT/SIGTERM until the block is done (a rename pair must not be split by Ctrl-C).

    Done with Python-level handlers that only record the signal, then re-raised once the block
    is over: a signal mask would not do, because with other threads alive (numba's, BLAS') the
    kernel delivers a process signal to any unblocked thread and Python still runs its handler
    in the main thread at once.
    """
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []

    def record(signum: int, frame: object) -> None:
        pending.append(signum)

    sigs = (signal.SIGINT, signal.SIGTERM)
    previous = {s: signal.signal(s, record) for s in sigs}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
        if pending:
            signal.raise_signal(pending[0])  # now handled as it would have been (unwinds, cleans up)


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """While writing, SIGTERM unwinds like SIGINT (cleanup runs) instead of killing us mid-write."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise Terminated(f"terminated by signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def staged_output(target: str | os.PathLike[str], kind: str = "output", overwrite: bool = False,
                  inputs: Iterable[str | os.PathLike[str]] = ()) -> Iterator[Path]:
    """Yield a staging directory that becomes `target` when the block succeeds.

    `target` is checked first (see `check_output_dir`); with `overwrite` a foreign directory may
    be replaced, but never the current directory, a parent of it, or one holding an input.
    """
    inputs = list(inputs)
    real = check_output_dir(target, overwrite=overwrite, inputs=inputs)
    parent = real.parent
    created = _missing_parents(parent)  # removed again (if still empty) when no output appears
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        _remove_empty(created)
        raise OutputError(f"cannot create output directory {os.fspath(target)!r} ({e.strerror})") from None
    if clean_stale_stages(parent, real.name):
        real = check_output_dir(target, overwrite=overwrite, inputs=inputs)  # a previous output came back
    stage: Path | None = None
    old: Path | None = None
    # SIGTERM/SIGINT handling covers the whole life of the staging folder, from its creation.
    with _terminate_as_interrupt():
        try:
            try:
                # Signals wait until `stage` is set: one arriving just after mkdtemp's mkdir would
                # otherwise leave a staging folder nobody knows about.
                with _signals_deferred():
                    stage = Path(tempfile.mkdtemp(prefix=f".{real.name}.{os.getpid()}.", suffix=_STAGE_SUFFIX,
                                                  dir=parent))
            except OSError as e:
                raise OutputError(f"cannot create output directory {os.fspath(target)!r} ({e.strerror})") from None
            yield stage
            _write_marker(stage, kind)
            _apply_umask(stage, is_dir=True)
            # Checked again: the directory may have changed while we computed.
            check_output_dir(target, overwrite=overwrite, inputs=inputs)
            # The swap is not interruptible: a signal now is handled once the new output is in place
            # (or the old one is back), never between the two renames.
            with _signals_deferred():
                if real.exists():
                    old = Path(tempfile.mkdtemp(prefix=f".{real.name}.{os.getpid()}.", suffix=".old", dir=parent))
                    os.replace(real, old / "x")
                try:
                    os.replace(stage, real)
                except BaseException:
                    if old is not None and (old / "x").exists() and not real.exists():
                        os.replace(old / "x", real)  # put the previous output back
                    raise
                if old is not None:
                    shutil.rmtree(old, ignore_errors=True)
        finally:
            for leftover in (stage, old):
                if leftover is not None and leftover.exists():
                    if leftover == old and (leftover / "x").exists() and not real.exists():
                        continue  # never delete the only copy of the previous output
                    shutil.rmtree(leftover, ignore_errors=True)
            if not real.exists():
                _remove_empty(created)


def _missing_parents(parent: Path) -> list[Path]:
    """The folders `parent.mkdir(parents=True)` would create, deepest first."""
    out = []
    p = Path(os.path.abspath(parent))
    while not p.exists() and p != p.parent:
        out.append(p)
        p = p.parent
    return out


def _remove_empty(folders: list[Path]) -> None:
    for p in folders:  # deepest first
        try:
            p.rmdir()
        except OSError:
            return


def listed_in_marker(directory: str | os.PathLike[str], name: str) -> bool | None:
    """Whether the output marker of `directory` lists `name`; None when the directory has no
    readable marker of ours (then it is not a neurocompile output)."""
    try:
        manifest = json.loads((Path(directory) / OUTPUT_MARKER).read_text(encoding="utf-8"))
        if manifest.get("tool") != "neurocompile" or not isinstance(manifest.get("files"), list):
            return None
    except (OSError, ValueError, AttributeError):
        return None
    return name in manifest["files"]


def add_to_marker(directory: str | os.PathLike[str], name: str) -> None:
    """Record a file written later into an existing output (e.g. `report --html`), so replacing the
    output with a new compile still counts it as ours. No-op without a marker."""
    marker = Path(directory) / OUTPUT_MARKER
    if listed_in_marker(directory, name) is not False:
        return
    manifest = json.loads(marker.read_text(encoding="utf-8"))
    manifest["files"] = sorted(set(manifest["files"]) | {name})
    with atomic_path(marker) as tmp:
        tmp.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
