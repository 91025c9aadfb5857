"""Resolve a CLI TARGET: a bundled/installed model name or a network file (.ncnet, .nir, a PyNN .py script).

Which one a TARGET means is decided by its spelling first, never by what happens to exist in the
current directory: a name ending in .ncnet/.nir is a file; a registered model name is that model
(a file or compiled directory of the same name is ignored with a warning saying how to pick it
instead, `./name`); a directory holding a compiled network (`compile -o DIR`) is that compiled
network; anything else that exists is a file; otherwise it is an unknown model.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from neurocompile.errors import ModelError, NeurocompileError
from neurocompile.ir.fileformat import load_network
from neurocompile.ir.network import Network
from neurocompile.plugins import get_model

FILE_SUFFIXES = (".ncnet", ".nir", ".py")  # .py: a PyNN script (neurocompile/pynn/script.py)
#: Largest seed accepted (numpy's generators take any non-negative int; 64 bits keeps files portable).
MAX_SEED = 2**63 - 1


class TargetWarning(UserWarning):
    """TARGET names both a model and an existing path; the model was used."""


@dataclass(frozen=True)
class Input:
    """What the CLI's TARGET names (not a chip: those are neurocompile.targets)."""

    kind: str        # "model" | "file" | "compiled"
    name: str        # model name or path as given

    @property
    def is_file(self) -> bool:
        return self.kind == "file"


def resolve_target(target: str, compiled_ok: bool = False) -> Input:
    """Model, file or compiled directory: by suffix, the model registry, then what exists.

    compiled_ok: the command can run a compiled directory (simulate, report), so one named like
    a model makes TARGET ambiguous and is warned about.
    """
    from neurocompile.compiled import is_compiled_dir
    from neurocompile.plugins import _entry_points, MODEL_GROUP

    path = Path(target)
    if path.suffix in FILE_SUFFIXES:
        return Input("file", target)
    if target in _entry_points(MODEL_GROUP):
        if path.is_file() or (compiled_ok and is_compiled_dir(path)):  # a plain folder is never a network
            what = "file" if path.is_file() else "compiled directory"
            warnings.warn(f"TARGET {target!r} is the model {target!r}, not the {what} of that name in the "
                          f"current directory; to use the {what}, pass it as ./{target}", TargetWarning,
                          stacklevel=2)
        return Input("model", target)
    if is_compiled_dir(path):
        return Input("compiled", target)
    if path.exists() or path.is_symlink() or "/" in target or path.suffix:
        return Input("file", target)
    return Input("model", target)


def parse_options(pairs: tuple[str, ...] | list[str]) -> dict[str, str]:
    """`key=value` strings -> {key: raw value}; `load_target` converts each to its option's type."""
    out: dict[str, str] = {}
    for pair in pairs:
        if "=" not in pair:
            raise NeurocompileError(f"model option {pair!r} must look like key=value")
        key, raw = pair.split("=", 1)
        key = key.strip()
        if not key:
            raise NeurocompileError(f"model option {pair!r} has no name before '='")
        out[key] = raw
    return out


def _describe(default: Any) -> str:
    return "true or false" if isinstance(default, bool) else (
        "an integer" if isinstance(default, int) else "a finite number" if isinstance(default, float) else "a value")


def convert_option(model: str, key: str, raw: Any, default: Any) -> Any:
    """A --param value as the type of the builder's default: bool (true/false only), int, float, str.

    Raises ModelError naming the model, the option, the value and what is allowed.
    """
    if not isinstance(raw, str):  # the Python API may pass typed values already
        if isinstance(default, bool) and not isinstance(raw, bool):
            raise ModelError(f"model {model!r}: option {key} must be true or false, got {raw!r}")
        return raw
    text = raw.strip()
    where = f"model {model!r}: option {key}"
    shown = f"{raw!r:.60}"
    if isinstance(default, bool):
        if text.lower() not in ("true", "false"):
            raise ModelError(f"{where} must be true or false, got {shown}")
        return text.lower() == "true"
    if isinstance(default, int):
        try:
            value = int(text)
        except ValueError:
            raise ModelError(f"{where} must be an integer (default {default}), got {shown}") from None
        if key == "seed" and not 0 <= value <= MAX_SEED:
            raise ModelError(f"{where} must be an integer in 0..{MAX_SEED}, got {shown}")
        return value
    if isinstance(default, float):
        try:
            value = float(text)
        except ValueError:
            raise ModelError(f"{where} must be a number (default {default:g}), got {shown}") from None
        if not math.isfinite(value):
            raise ModelError(f"{where} must be a finite number (default {default:g}), got {shown}")
        return value
    if isinstance(default, str):
        return raw
    # No typed default (None or an object): best guess, as before.
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for conv in (int, float):
        try:
            value = conv(text)
        except ValueError:
            continue
        if isinstance(value, float) and not math.isfinite(value):
            raise ModelError(f"{where} must be a finite number, got {shown}")
        return value
    return raw


#: --param keys for a .nir TARGET: load_nir's import options (docs/nir.md), with their types.
NIR_OPTIONS: dict[str, tuple[type, str]] = {
    "dt_ms": (float, "the IR time step in ms (default: the dt neurocompile exported with, else 1.0)"),
    "time_unit_ms": (float, "ms per NIR time unit (default 1000: NIR times in seconds)"),
    "spike_convention": (str, "dirac (default) or unit_step (snnTorch-style forward-Euler exports)"),
    "delta_tau_syn_ms": (float, "synaptic time constant standing in for delta synapses of LIF/IF (default dt/10)"),
    "name": (str, "network name (default: the exported name, else 'nir')"),
}
#: Steps per membrane/synaptic time constant below which an import warns (dt must be well below tau).
MIN_STEPS_PER_TAU = 5.0


def nir_options(target: str, raw: dict[str, Any]) -> dict[str, Any]:
    """--param KEY=VALUE of a .nir TARGET -> load_nir keyword options (typed, checked)."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in NIR_OPTIONS:
            raise NeurocompileError(f"NIR file {target!r}: unknown import option {key!r}; options: "
                                    + "; ".join(f"{k} ({d})" for k, (_, d) in NIR_OPTIONS.items()))
        typ, _ = NIR_OPTIONS[key]
        if typ is float:
            value = convert_option(target, key, value, 1.0)
            if value <= 0:
                raise ModelError(f"NIR file {target!r}: option {key} must be a positive number of ms, got {value:g}")
        elif key == "spike_convention":
            from neurocompile.nir_import import SPIKE_CONVENTIONS

            if value not in SPIKE_CONVENTIONS:
                raise ModelError(f"NIR file {target!r}: option spike_convention must be one of "
                                 f"{', '.join(SPIKE_CONVENTIONS)}, got {value!r:.60}")
        out[key] = value
    return out


def _check_nir_dt(net: Network, target: str) -> None:
    """Warn when dt is not well below a membrane or synaptic time constant of an imported neuron."""
    import numpy as np

    worst: tuple[float, str, str, float] | None = None
    for pop in net.populations.values():
        if pop.model != "lif_curr_exp":
            continue
        nir_type = pop.annotations.get("nir_type", "CubaLIF")
        names = ("tau_m",) if nir_type in ("LIF", "IF") else ("tau_m", "tau_syn_E", "tau_syn_I")
        for pname in names:
            if nir_type == "IF" and pname == "tau_m":
                continue
            tau = float(np.min(pop.param(pname)))
            ratio = net.dt_ms / tau
            if worst is None or ratio > worst[0]:
                worst = (ratio, pop.name, pname, tau)
    if worst is not None and worst[0] * MIN_STEPS_PER_TAU > 1.0:
        ratio, pop, pname, tau = worst
        warnings.warn(f"NIR file {target!r}: dt {net.dt_ms:g} ms is not well below {pname} = {tau:g} ms of "
                      f"population {pop!r} ({1 / ratio:.2g} steps per time constant; at least "
                      f"{MIN_STEPS_PER_TAU:g} keep the dynamics): pass --param dt_ms=<the exporter's dt> "
                      f"(snnTorch: dt_ms=0.1 with spike_convention=unit_step)", TargetWarning, stacklevel=3)


def load_target(target: str, options: dict[str, Any] | None = None, seed: int | None = None,
                nir_options_: dict[str, Any] | None = None, script_args: tuple[str, ...] | list[str] = ()) -> Network:
    """The network TARGET names, built or read.

    seed: None keeps the seed stored in a network file (a model gets 0); a number overrides it.
    options: --param values: a model's builder options, or a .nir file's import options (NIR_OPTIONS).
    nir_options_: more .nir import options (Python API; merged with `options`).
    script_args: a PyNN script's own command-line arguments, before the KEY=VALUE of `options`.
    """
    options = dict(options or {})
    resolved = resolve_target(target)
    if script_args and not (resolved.is_file and Path(target).suffix == ".py"):
        raise NeurocompileError(f"--script-arg only applies to a PyNN script (.py), not to {target!r}")
    if resolved.kind == "compiled":
        raise NeurocompileError(f"{target!r} is a compiled network directory: run it with "
                                f"'neurocompile simulate {target}' or read it with 'neurocompile report {target}'")
    if resolved.is_file:
        path = Path(target)
        if path.suffix == ".nir":
            from neurocompile.nir_import import load_nir  # optional path: only users of NIR pay for it

            given = nir_options(target, {**options, **dict(nir_options_ or {})})
            net = load_nir(path, **given)
            record = net.metadata.setdefault("nir", {})
            if isinstance(record, dict):
                record["import_options"] = {"dt_ms": net.dt_ms, **{k: v for k, v in given.items() if k != "dt_ms"}}
                record["import_options_given"] = sorted(given)
            _check_nir_dt(net, target)
        elif path.suffix == ".py":
            from neurocompile.pynn.script import capture_script  # PyNN is only needed for scripts

            if nir_options_:
                raise NeurocompileError(f"NIR import options only apply to .nir files, not to {target!r}")
            # --param KEY=VALUE reach the script as its own command-line arguments, KEY=VALUE
            net, _ = capture_script(path, [*script_args, *(f"{k}={v}" for k, v in options.items())])
            net.name = path.stem
        else:
            if options or nir_options_:
                raise NeurocompileError(f"--param {sorted({**options, **dict(nir_options_ or {})})} only applies to "
                                        f"models and .nir files, not to the network file {target!r}")
            net = load_network(path)
        if seed is not None:
            net.seed = seed
        return net
    if nir_options_:
        raise NeurocompileError(f"NIR import options {sorted(nir_options_)} only apply to .nir files, "
                                f"not to the model {target!r}")
    entry = get_model(target)
    known = entry.options()
    unknown = set(options) - set(known)
    if unknown:
        raise NeurocompileError(f"model {target!r}: unknown option(s) {sorted(unknown)}; "
                                f"options: {', '.join(f'{k}={v}' for k, v in known.items()) or 'none'}")
    options = {k: convert_option(target, k, v, known[k]) for k, v in options.items()}
    if seed is None:  # a model's seed: --param seed=N if given, else 0
        seed = int(options["seed"]) if "seed" in options else 0
    if "seed" in known:
        options.setdefault("seed", seed)
    try:
        net = entry.build(**options)
    except (TypeError, ValueError) as e:
        raise ModelError(f"model {target!r}: invalid options ({e})") from None
    net.seed = seed
    return net
