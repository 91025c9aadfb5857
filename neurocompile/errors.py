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
