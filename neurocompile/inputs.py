"""Resolve a CLI TARGET: a bundled/installed model name or a network file (.ncnet, .nir)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from neurocompile.errors import ModelError, NeurocompileError
from neurocompile.ir.fileformat import load_network
from neurocompile.ir.network import Network
from neurocompile.plugins import get_model


def parse_options(pairs: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """`key=value` strings -> dict; values parsed as int, float, bool or left as strings."""
    out: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise NeurocompileError(f"model option {pair!r} must look like key=value")
        key, raw = pair.split("=", 1)
        value: Any = raw
        for conv in (int, float):
            try:
                value = conv(raw)
                break
            except ValueError:
                pass
        if raw.lower() in ("true", "false"):
            value = raw.lower() == "true"
        out[key.strip()] = value
    return out


def load_target(target: str, options: dict[str, Any] | None = None, seed: int | None = None) -> Network:
    options = dict(options or {})
    path = Path(target)
    if path.suffix in (".ncnet", ".nir") or path.exists():
        if options:
            raise NeurocompileError(f"model options {sorted(options)} only apply to models, not to file {target!r}")
        if path.suffix == ".nir":
            from neurocompile.nir_import import load_nir  # optional path: only users of NIR pay for it
            net = load_nir(path)
        else:
            net = load_network(path)
        if seed is not None:
            net.seed = seed
        return net
    entry = get_model(target)
    known = entry.options()
    unknown = set(options) - set(known)
    if unknown:
        raise NeurocompileError(f"model {target!r}: unknown option(s) {sorted(unknown)}; "
                                f"options: {', '.join(f'{k}={v}' for k, v in known.items()) or 'none'}")
    if seed is not None and "seed" in known:
        options.setdefault("seed", seed)
    try:
        net = entry.build(**options)
    except (TypeError, ValueError) as e:
        raise ModelError(f"model {target!r}: invalid options ({e})") from None
    if seed is not None:
        net.seed = seed
    return net
