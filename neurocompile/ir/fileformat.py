"""The `.ncnet` network file: a zip holding `manifest.json` and one `.npy` per array.

Why this shape: numpy's .npy keeps dtype and every bit of every value (exact round trip), a zip
lets a reader load only what it needs, and JSON floats are written with Python's shortest
round-tripping repr. Entries are stored uncompressed so a 10M-synapse file saves and loads at
disk speed. The layout is documented in docs/file-format.md; `format_version` is bumped on any
incompatible change and readers refuse versions they do not know.
"""
from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from neurocompile.errors import FileFormatError
from neurocompile.ir.network import Network, Population, Projection, STDPRule
from neurocompile.outdir import atomic_path

FORMAT_NAME = "neurocompile-network"
FORMAT_VERSION = 1
_PROJECTION_ARRAYS = ("pre_idx", "post_idx", "weight", "delay")


class _ArrayWriter:
    """Collects arrays to store; returns the reference that replaces them in the manifest."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def ref(self, key: str, value: Any) -> Any:
        if isinstance(value, np.ndarray) and value.ndim > 0:
            path = f"arrays/{len(self.arrays):06d}.npy"
            self.arrays[path] = value
            return {"$array": path, "what": key}
        if isinstance(value, np.generic):
            return value.item()
        return value


def _encode_params(params: dict[str, Any], writer: _ArrayWriter, owner: str) -> dict[str, Any]:
    out = {}
    for k, v in params.items():
        if isinstance(v, (list, tuple)):
            v = np.asarray(v)
        out[k] = writer.ref(f"{owner}.{k}", v)
    return out


def network_to_manifest(net: Network) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    w = _ArrayWriter()
    manifest = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "name": net.name,
        "dt_ms": net.dt_ms,
        "seed": net.seed,
        "number_format": net.number_format,
        "metadata": net.metadata,
        "populations": [
            {
                "name": p.name,
                "size": p.size,
                "model": p.model,
                "params": _encode_params(p.params, w, p.name),
                "record": list(p.record),
                "annotations": p.annotations,
            }
            for p in net.populations.values()
        ],
        "projections": [
            {
                "name": pr.name,
                "pre": pr.pre,
                "post": pr.post,
                "receptor": pr.receptor,
                "plasticity": pr.plasticity.to_dict() if pr.plasticity else None,
                "attrs": _encode_params(pr.attrs, w, pr.name),
                **{a: w.ref(f"{pr.name}.{a}", getattr(pr, a)) for a in _PROJECTION_ARRAYS},
            }
            for pr in net.projections.values()
        ],
    }
    return manifest, w.arrays


def _entry(name: str) -> zipfile.ZipInfo:
    """A zip entry with a fixed timestamp, so the same network always gives the same bytes."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16
    return info


def save_network(net: Network, path: str | os.PathLike[str]) -> Path:
    """Write atomically: a crash leaves either the old file or the new one, never half of one."""
    path = Path(path)
    manifest, arrays = network_to_manifest(net)
    try:
        text = json.dumps(manifest, allow_nan=False, indent=1)
    except (TypeError, ValueError) as e:
        raise FileFormatError(f"network {net.name!r} cannot be saved: metadata/annotations must be "
                              f"JSON values without NaN ({e})") from None
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(_entry("manifest.json"), text)
        for name, arr in arrays.items():
            buf = io.BytesIO()
            np.save(buf, np.ascontiguousarray(arr), allow_pickle=False)
            zf.writestr(_entry(name), buf.getvalue())
    return path


def _decode(value: Any, zf: zipfile.ZipFile, where: str) -> Any:
    if isinstance(value, dict) and "$array" in value:
        try:
            with zf.open(value["$array"]) as fh:
                return np.load(io.BytesIO(fh.read()), allow_pickle=False)
        except KeyError:
            raise FileFormatError(f"{where}: array {value['$array']} is missing from the file") from None
        except ValueError as e:
            raise FileFormatError(f"{where}: array {value['$array']} is corrupt ({e})") from None
    return value


def load_network(path: str | os.PathLike[str]) -> Network:
    path = Path(path)
    if not path.is_file():
        raise FileFormatError(f"network file {str(path)!r} does not exist")
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise FileFormatError(f"{path}: not a neurocompile network file (not a zip archive)") from None
    with zf:
        try:
            manifest = json.loads(zf.read("manifest.json"))
        except KeyError:
            raise FileFormatError(f"{path}: manifest.json is missing") from None
        except (ValueError, UnicodeDecodeError) as e:
            raise FileFormatError(f"{path}: manifest.json is not valid JSON ({e})") from None
        return _manifest_to_network(manifest, zf, str(path))


def _manifest_to_network(m: dict[str, Any], zf: zipfile.ZipFile, where: str) -> Network:
    if not isinstance(m, dict) or m.get("format") != FORMAT_NAME:
        raise FileFormatError(f"{where}: not a neurocompile network file (format field is "
                              f"{m.get('format') if isinstance(m, dict) else None!r})")
    version = m.get("format_version")
    if version != FORMAT_VERSION:
        raise FileFormatError(f"{where}: format_version {version!r} is not supported "
                              f"(this neurocompile reads version {FORMAT_VERSION})")
    try:
        net = Network(name=m["name"], dt_ms=m["dt_ms"], seed=m["seed"],
                      number_format=m.get("number_format"), metadata=m.get("metadata", {}))
        for p in m["populations"]:
            params = {k: _decode(v, zf, f"{where}: population {p['name']!r}") for k, v in p["params"].items()}
            net.populations[p["name"]] = Population(p["name"], int(p["size"]), p["model"], params,
                                                    tuple(p.get("record", ())), p.get("annotations", {}))
        for pr in m["projections"]:
            owner = f"{where}: projection {pr['name']!r}"
            arrays = {a: _decode(pr[a], zf, owner) for a in _PROJECTION_ARRAYS}
            attrs = {k: _decode(v, zf, owner) for k, v in pr.get("attrs", {}).items()}
            plast = STDPRule.from_dict(pr["plasticity"]) if pr.get("plasticity") else None
            net.projections[pr["name"]] = Projection(pr["name"], pr["pre"], pr["post"],
                                                     receptor=pr["receptor"], plasticity=plast,
                                                     attrs=attrs, **arrays)
    except (KeyError, TypeError) as e:
        raise FileFormatError(f"{where}: manifest is missing or has a malformed field ({e})") from None
    return net
