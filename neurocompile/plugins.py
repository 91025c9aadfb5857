"""Backends and models are plugins found through entry points.

A third party adds one by declaring, in its own pyproject.toml:
    [project.entry-points."neurocompile.backends"]   mybackend = "mypkg.backend:MyBackend"
    [project.entry-points."neurocompile.models"]     mymodel = "mypkg.model:build"
A backend entry point names a class implementing `Backend`; a model entry point names a function
`build(**options) -> Network` whose docstring's first line is shown by `neurocompile models`.

A backend takes a `CompiledNetwork` (neurocompile.compiled): `build(compiled, options)` returns a
`Runner` whose `run(steps)` gives a SimResult (a simulator may ignore the placement; hardware
toolchains use it), and `export(compiled, out_dir)` writes what a user needs to run the network on
that toolchain without neurocompile. What a backend can run is declared in `supports`; the CLI
checks it before building, so an unsupported network fails in a second with a clear message.
"""
from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Callable

from neurocompile.errors import PluginError

BACKEND_GROUP = "neurocompile.backends"
MODEL_GROUP = "neurocompile.models"


@dataclass(frozen=True)
class Supports:
    """What a backend can run, checked before it builds anything."""

    families: tuple[str, ...] = ()           # board families (board.family); empty: any
    number_formats: tuple[str | None, ...] | None = None  # network number formats; None: any
    plasticity: bool = False                 # plastic projections (pair STDP)
    recording: tuple[str, ...] | None = ("spikes",)  # state variables it records; None: any
    export: bool = False                     # writes a stand-alone project for its toolchain


class Runner(ABC):
    """A network built on a backend, ready to run."""

    @abstractmethod
    def run(self, steps: int, progress: Callable[[int, int], None] | None = None) -> Any:
        """Run `steps` timesteps and return a SimResult (spikes, recorded state, timing)."""


class Backend(ABC):
    """A way to run a compiled network: a simulator or a hardware toolchain."""

    name: str = ""
    description: str = ""
    supports: Supports = Supports()

    def available(self) -> tuple[bool, str]:
        """Whether optional dependencies are importable; the reason when not."""
        return True, ""

    def unsupported(self, compiled: Any, options: dict[str, Any] | None = None) -> list[str]:
        """What in `compiled` this backend cannot run (empty when it can), from `supports`."""
        s, net, problems = self.supports, compiled.network, []
        if s.families and compiled.board.family not in s.families:
            problems.append(f"board {compiled.board.name!r} is {compiled.board.family}; backend {self.name!r} "
                            f"targets {', '.join(s.families)}")
        if s.number_formats is not None and net.number_format not in s.number_formats:
            problems.append(f"network number format {net.number_format!r}; backend {self.name!r} runs "
                            f"{', '.join(str(f) for f in s.number_formats)}")
        if not s.plasticity:
            plastic = [p.name for p in net.projections.values() if p.plasticity is not None]
            if plastic:
                problems.append(f"plastic projection(s) {', '.join(map(repr, plastic[:3]))}: backend "
                                f"{self.name!r} has no plasticity")
        if s.recording is not None:
            for pop in net.populations.values():
                extra = [v for v in pop.record if v not in s.recording]
                if extra:
                    problems.append(f"population {pop.name!r} records {', '.join(extra)}; backend "
                                    f"{self.name!r} records {', '.join(s.recording)}")
        return problems

    @abstractmethod
    def build(self, compiled: Any, options: dict[str, Any]) -> Runner:
        """Lower `compiled` to this backend; raise a NeurocompileError naming what cannot be lowered."""

    def export(self, compiled: Any, out_dir: Path) -> list[Path]:
        """Write a project that runs `compiled` on this backend's toolchain without neurocompile."""
        raise PluginError(f"backend {self.name!r} does not export networks")


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


def check_backend(backend: Backend, compiled: Any, options: dict[str, Any] | None = None) -> None:
    """Raise one PluginError listing what `backend` cannot run (or why it is not installed)."""
    ok, why = backend.available()
    if not ok:
        raise PluginError(f"backend {backend.name!r} is not usable here: {why}")
    problems = backend.unsupported(compiled, options)
    if problems:
        raise PluginError(f"backend {backend.name!r} cannot run network {compiled.network.name!r}: "
                          + "; ".join(problems))


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
