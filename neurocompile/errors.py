"""Errors a user can act on.

Every error raised for bad input derives from `NeurocompileError`; the CLI prints it as one line
(no traceback) and exits non-zero. Messages name the object, the field or resource, and the limit.
"""
from __future__ import annotations


class NeurocompileError(Exception):
    """Base class for errors caused by the user's input rather than by a bug."""

    exit_code = 2


class ModelError(NeurocompileError):
    """A network or network file is malformed (bad parameter, NaN weight, size mismatch...)."""


class BoardError(NeurocompileError):
    """A board description file is missing, malformed or inconsistent."""


class ResourceError(NeurocompileError):
    """The network does not fit the board: names the object, the resource, the need and the limit."""

    exit_code = 3


class PluginError(NeurocompileError):
    """A backend or model plugin is unknown or failed to load."""


class FileFormatError(ModelError):
    """A saved network file is unreadable, truncated or of an unsupported version."""


def shorten(value: object, limit: int = 80) -> str:
    """repr(value) cut to `limit` characters: messages name an offending value but never format a
    whole (possibly huge or deeply nested) one. Cheap even for a billion-element structure: the
    repr of containers is built only for small ones."""
    if isinstance(value, (dict, list, tuple, set)) and _too_big(value, limit):
        return f"<{type(value).__name__} of {len(value)} items>"
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a broken __repr__ must not hide the real error
        text = f"<{type(value).__name__}>"
    text = text.replace("\n", "\\n").replace("\r", "\\r")
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _too_big(value: object, limit: int) -> bool:
    """True when a container holds more than `limit` scalars in total (iterative, stops early)."""
    todo, seen, ids = [value], 0, set()
    while todo:
        v = todo.pop()
        if isinstance(v, (dict, list, tuple, set)):
            if id(v) in ids:  # a recursive structure (YAML aliases can build one)
                continue
            ids.add(id(v))
        seen += 1
        if seen > limit:
            return True
        if isinstance(v, dict):
            todo.extend(v.keys())
            todo.extend(v.values())
        elif isinstance(v, (list, tuple, set)):
            todo.extend(v)
    return False


def clip(text: str, limit: int = 120) -> str:
    """Free text (e.g. a library's exception message) as one line of at most `limit` characters."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."
