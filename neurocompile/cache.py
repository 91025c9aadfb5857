"""The trained-weights cache: models that train before they build (place_recognition, motion) keep
their trained weights here, so only the first `compile` / `simulate` with given options trains.

One home for the rules:

* where: ``$NEUROCOMPILE_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/neurocompile`` (an absolute
  ``XDG_CACHE_HOME`` only, as the XDG Base Directory spec says), else ``~/.cache/neurocompile``;
* whether: on by default. ``build(..., cache=False)`` (an explicit argument wins), else the CLI's
  ``--no-cache`` (:func:`settings`), else ``NEUROCOMPILE_NO_CACHE=1`` turns it off. Off means the
  cache is neither read nor written: the model trains and nothing lands on disk. To drop one entry,
  delete its file (its name is in ``net.metadata["trained_weights"]["file"]``) or the directory;
* key: :func:`cache_key`, a hash of every option that affects training, the model's format/code
  version constant (bump it when training changes: old entries are then never read) and the
  versions of the numeric libraries the training ran on (so a hit is what a fresh train gives);
* writing: atomic (a temporary file beside the entry, renamed over it), so a reader sees a whole
  file or none; concurrent runs that both miss both train, and the last rename wins (same bytes);
* a file that cannot be read (truncated, corrupt, another format) is ignored with a
  :class:`CacheWarning` and replaced by a fresh training; failing to write (read-only home, disk
  full) is a warning too, never an error.

Training progress: models report it through :func:`training_progress`, a rich progress bar on
stderr (transient; off when stderr is not a terminal). :func:`set_progress_factory` replaces it.
"""
from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Callable, ContextManager, Iterator, TypeVar

ENV_DIR = "NEUROCOMPILE_CACHE_DIR"
ENV_DISABLE = "NEUROCOMPILE_NO_CACHE"
METADATA_KEY = "trained_weights"   # net.metadata entry saying where the weights came from

T = TypeVar("T")
Progress = Callable[[int, int], None]          # (done, total)
ProgressFactory = Callable[[str, int], ContextManager[Progress]]

_enabled_override: contextvars.ContextVar[bool | None] = contextvars.ContextVar(
    "neurocompile_cache", default=None)
_progress_factory: ProgressFactory | None = None


class CacheWarning(UserWarning):
    """A cache file could not be read or written; the model trained instead / the run went on."""


# ----- where and whether -------------------------------------------------------------------------
def cache_dir() -> Path:
    """The directory of the trained-weights cache (not created here)."""
    explicit = os.environ.get(ENV_DIR, "")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "neurocompile"


def enabled(cache: bool | None = None) -> bool:
    """Whether to use the cache: the explicit argument, else :func:`settings`, else the environment."""
    if cache is not None:
        return bool(cache)
    override = _enabled_override.get()
    if override is not None:
        return override
    return os.environ.get(ENV_DISABLE, "").strip().lower() in ("", "0", "false", "no")


@contextlib.contextmanager
def settings(enabled: bool | None = None) -> Iterator[None]:
    """Within the block, models use the cache or not (`None`: leave the current rule). The CLI's
    ``--no-cache`` is ``settings(enabled=False)``."""
    token = _enabled_override.set(enabled if enabled is not None else _enabled_override.get())
    try:
        yield
    finally:
        _enabled_override.reset(token)


# ----- keys --------------------------------------------------------------------------------------
def _canonical(value: Any) -> Any:
    """JSON-able, order-independent form of an option value (dataclasses, tuples, numpy scalars)."""
    import dataclasses

    import numpy as np

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _canonical(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, np.ndarray):
        return _canonical(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):   # json writes floats exactly
        return value
    raise TypeError(f"cache key item of type {type(value).__name__} is not supported: {value!r:.60}")


def library_versions(*names: str) -> dict[str, str]:
    """Versions of the libraries a training's numbers depend on (part of the key)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "?"
    return out


def cache_key(kind: str, version: int, **items: Any) -> str:
    """Hash of the model `kind`, its cache `version` and every training option in `items`."""
    blob = json.dumps({"kind": kind, "version": int(version), "items": _canonical(items)},
                      sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def cache_path(kind: str, key: str, suffix: str = ".npz",
               directory: str | os.PathLike[str] | None = None) -> Path:
    """The entry's file: `directory` (a model's own cache_dir option) or :func:`cache_dir`."""
    base = Path(os.path.expanduser(os.fspath(directory))) if directory else cache_dir()
    return base / f"{kind}-{key}{suffix}"


# ----- load or train -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Provenance:
    """Where a model's trained weights came from; `as_metadata()` goes into the network."""

    kind: str
    key: str
    version: int
    source: str            # "cache" (read from the file) or "trained" (trained in this run)
    cache_enabled: bool    # False: --no-cache / cache=False / NEUROCOMPILE_NO_CACHE
    stored: bool           # a freshly trained result was written to the cache
    file: str              # the entry's file name (in cache_dir(), or the model's own directory)

    def as_metadata(self) -> dict[str, Any]:
        return {"model": self.kind, "source": self.source, "cache_key": self.key,
                "cache_version": self.version, "cache_enabled": self.cache_enabled,
                "stored": self.stored, "file": self.file}


def load_or_train(kind: str, key: str, version: int, train: Callable[[], T],
                  load: Callable[[Path], T], save: Callable[[T, BinaryIO], None],
                  cache: bool | None = None, directory: str | os.PathLike[str] | None = None,
                  suffix: str = ".npz") -> tuple[T, Provenance]:
    """The cached result for `key` if the cache is on and its file loads, else `train()` (stored
    when the cache is on). `load(path)` must raise on anything it does not trust (it is called on
    files other processes or versions wrote); `save(obj, file)` writes to an open binary file."""
    path = cache_path(kind, key, suffix, directory)
    use = enabled(cache)
    if use:
        try:
            obj = load(path)
        except (FileNotFoundError, NotADirectoryError):   # no entry (or it went away): a miss
            pass
        except Exception as e:  # noqa: BLE001 - any unreadable entry is retrained, never a traceback
            warnings.warn(CacheWarning(f"ignoring unreadable cache file {path} ({type(e).__name__}: "
                                       f"{str(e)[:200]}); retraining {kind}"), stacklevel=2)
        else:
            return obj, Provenance(kind, key, version, "cache", True, False, path.name)
    obj = train()
    stored = False
    if use:
        stored = _store(obj, path, save)
    return obj, Provenance(kind, key, version, "trained", use, stored, path.name)


def _store(obj: Any, path: Path, save: Callable[[Any, BinaryIO], None]) -> bool:
    from neurocompile.errors import NeurocompileError
    from neurocompile.outdir import atomic_path

    try:
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            save(obj, f)
    except Exception as e:  # noqa: BLE001 - not keeping the weights must not lose them
        if not isinstance(e, (OSError, NeurocompileError)):
            e = f"{type(e).__name__}: {e}"
        warnings.warn(CacheWarning(f"could not write cache file {path} ({e}); the trained weights "
                                   f"are used but not kept"), stacklevel=3)
        return False
    return True


# ----- progress ----------------------------------------------------------------------------------
def set_progress_factory(factory: ProgressFactory | None) -> ProgressFactory | None:
    """Replace how training progress is shown (None: the default rich bar); returns the previous."""
    global _progress_factory
    previous, _progress_factory = _progress_factory, factory
    return previous


@contextlib.contextmanager
def _rich_progress(description: str, total: int) -> Iterator[Progress]:
    from rich.console import Console
    from rich.progress import BarColumn, Progress as Bar, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    console = Console(stderr=True)
    bar = Bar(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
              TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=True,
              disable=not console.is_terminal)
    with bar:
        task = bar.add_task(description, total=total)

        def update(done: int, total_: int) -> None:
            bar.update(task, completed=done, total=total_, refresh=True)

        yield update


def training_progress(description: str, total: int) -> ContextManager[Progress]:
    """Context manager yielding `update(done, total)` for a training loop; shows a progress bar."""
    return (_progress_factory or _rich_progress)(description, total)
