"""Backends and models are plugins found through entry points.

A third party adds one by declaring, in its own pyproject.toml:
    [project.entry-points."neurocompile.backends"]   mybackend = "mypkg.backend:MyBackend"
    [project.entry-points."neurocompile.models"]     mymodel = "mypkg.model:build"
A backend entry point names a class implementing `Backend`; a model entry point names a function
`build(**options) -> Network` whose docstring's first line is shown by `neurocompile models`.
"""
from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, Callable

from neurocompile.errors import PluginError

BACKEND_GROUP = "neurocompile.backends"
MODEL_GROUP = "neurocompile.models"


class Backend(ABC):
    """A way to run a compiled network: a simulator or a hardware toolchain."""

    name: str = ""
    description: str = ""
    # Board families this backend targets; empty means any.
    families: tuple[str, ...] = ()

    def available(self) -> tuple[bool, str]:
        """Whether optional dependencies are importable; the reason when not."""
        return True, ""

    @abstractmethod
    def simulate(self, net: Any, board: Any, steps: int, seed: int, options: dict[str, Any],
                 progress: Callable[[int, int], None] | None = None) -> Any:
        """Run `steps` timesteps and return a SimResult."""


@dataclass(frozen=True)
class ModelEntry:
    name: str
    build: Callable[..., Any]

    @property
    def summary(self) -> str:
        doc = inspect.getdoc(self.build) or ""
        return doc.splitlines()[0] if doc else ""

    def options(self) -> dict[str, Any]:
        """Keyword options of the builder with their defaults."""
        sig = inspect.signature(self.build)
        return {k: p.default for k, p in sig.parameters.items() if p.default is not inspect.Parameter.empty}


def _entry_points(group: str) -> dict[str, Any]:
    eps = entry_points()
    selected = eps.select(group=group) if hasattr(eps, "select") else eps.get(group, [])
    return {ep.name: ep for ep in selected}


def backend_names() -> list[str]:
    return sorted(_entry_points(BACKEND_GROUP))


def get_backend(name: str) -> Backend:
    eps = _entry_points(BACKEND_GROUP)
    if name not in eps:
        raise PluginError(f"unknown backend {name!r}; installed backends: {', '.join(sorted(eps)) or 'none'}")
    try:
        cls = eps[name].load()
    except Exception as e:  # a broken third-party plugin must not crash the CLI with a traceback
        raise PluginError(f"backend {name!r} failed to load ({type(e).__name__}: {e})") from None
    return cls()


def model_entries() -> dict[str, ModelEntry]:
    out = {}
    for name, ep in sorted(_entry_points(MODEL_GROUP).items()):
        try:
            out[name] = ModelEntry(name, ep.load())
        except Exception as e:
            raise PluginError(f"model {name!r} failed to load ({type(e).__name__}: {e})") from None
    return out


def get_model(name: str) -> ModelEntry:
    eps = _entry_points(MODEL_GROUP)
    if name not in eps:
        raise PluginError(f"unknown model {name!r}; bundled and installed models: "
                          f"{', '.join(sorted(eps)) or 'none'}")
    try:
        return ModelEntry(name, eps[name].load())
    except Exception as e:
        raise PluginError(f"model {name!r} failed to load ({type(e).__name__}: {e})") from None
