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
import math
import os
import struct
import tokenize
import warnings
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from neurocompile.errors import FileFormatError, ModelError, clip, shorten
from neurocompile.ir.network import (DELAY_DTYPE, INDEX_DTYPE, MAX_NEURONS, MAX_SEED, Network, Population, Projection,
                                     STDPRule)
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


# Reader limits (docs/file-format.md, "Limits"): checked before anything is allocated.
MAX_MANIFEST_BYTES = 64 * 2**20      # arrays live in .npy members; the manifest is small
MAX_MANIFEST_DEPTH = 64              # nesting of JSON objects/arrays in the manifest
MAX_COMPRESSION_RATIO = 1000         # neurocompile stores members uncompressed; this stops zip bombs
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError, ValueError,
               NotImplementedError, RuntimeError, UnicodeDecodeError, OverflowError, struct.error)


def _read_member(zf: zipfile.ZipFile, name: str, where: str, limit: int | None = None) -> bytes:
    """The bytes of one zip member; FileFormatError (naming the member) for a CRC error, an
    unsupported or corrupt compression, or a declared size beyond the limits."""
    info = zf.getinfo(name)  # KeyError: the caller names what is missing
    if limit is not None and info.file_size > limit:
        raise FileFormatError(f"{where}: member {shorten(name)} declares {info.file_size:,} bytes; "
                              f"the limit is {limit:,}")
    if info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1024):
        raise FileFormatError(f"{where}: member {shorten(name)} declares {info.file_size:,} bytes from "
                              f"{info.compress_size:,} compressed (more than {MAX_COMPRESSION_RATIO}x: "
                              f"corrupt or a zip bomb)")
    try:
        return zf.read(info)
    except _ZIP_ERRORS as e:
        raise FileFormatError(f"{where}: member {shorten(name)} is corrupt ({clip(e)})") from None


def _load_npy(data: bytes, member: str, where: str) -> np.ndarray:
    """An .npy member, checking that its header's shape matches the bytes present before
    numpy allocates the array (a flipped header must not ask for terabytes)."""
    fh = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
        else:
            raise ValueError(f"unsupported .npy version {version}")
    except (ValueError, OSError, EOFError, SyntaxError, TypeError, OverflowError, KeyError,
            tokenize.TokenError) as e:  # numpy parses the header with tokenize/ast
        raise FileFormatError(f"{where}: array {shorten(member)} is corrupt ({clip(e)})") from None
    if dtype.hasobject:
        raise FileFormatError(f"{where}: array {shorten(member)} holds Python objects (dtype {dtype}); "
                              f"only numeric arrays are read")
    count = 1
    for d in shape:
        count *= int(d)
    need, have = count * dtype.itemsize, len(data) - fh.tell()
    if need != have:
        raise FileFormatError(f"{where}: array {shorten(member)} is corrupt: its header declares shape "
                              f"{shorten(shape)} of {dtype} ({need:,} bytes) but the file holds {have:,}")
    try:
        return np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise FileFormatError(f"{where}: array {shorten(member)} is corrupt ({clip(e)})") from None


def _decode(value: Any, zf: zipfile.ZipFile, where: str) -> Any:
    """A manifest value: an {"$array": member} reference becomes the array, a list an array,
    a number stays a number; anything else is an error naming `where`."""
    if isinstance(value, dict):
        member = value.get("$array")
        if not isinstance(member, str):
            raise FileFormatError(f"{where}: expected a number, a list or an {{\"$array\": member}} "
                                  f"reference, got {shorten(value)}")
        try:
            data = _read_member(zf, member, where)
        except KeyError:
            raise FileFormatError(f"{where}: array {shorten(member)} is missing from the file") from None
        return _load_npy(data, member, where)
    if isinstance(value, list):
        try:
            arr = np.asarray(value)
        except ValueError:
            arr = None
        if arr is None or arr.dtype.kind not in "biuf" or arr.ndim != 1:
            raise FileFormatError(f"{where}: expected a flat list of numbers, got {shorten(value)}")
        return arr
    if isinstance(value, (int, float)):  # bool is an int; validation judges the value
        return value
    raise FileFormatError(f"{where}: expected a number, a list or an {{\"$array\": member}} reference, "
                          f"got {shorten(value)}")


def load_network(path: str | os.PathLike[str]) -> Network:
    path = Path(path)
    if not path.is_file():
        raise FileFormatError(f"network file {str(path)!r} does not exist")
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise FileFormatError(f"{path}: not a neurocompile network file (not a zip archive)") from None
    except _ZIP_ERRORS as e:
        raise FileFormatError(f"{path}: not a readable zip archive ({clip(e)})") from None
    with zf:
        try:
            text = _read_member(zf, "manifest.json", str(path), limit=MAX_MANIFEST_BYTES)
        except KeyError:
            raise FileFormatError(f"{path}: manifest.json is missing") from None
        try:
            manifest = json.loads(text)
        except RecursionError:
            raise FileFormatError(f"{path}: manifest.json nests deeper than {MAX_MANIFEST_DEPTH} "
                                  f"levels") from None
        except (ValueError, UnicodeDecodeError) as e:
            raise FileFormatError(f"{path}: manifest.json is not valid JSON ({clip(e)})") from None
        _check_depth(manifest, str(path))
        return _manifest_to_network(manifest, zf, str(path))


def _check_depth(value: Any, where: str) -> None:
    """Iteratively: later code may recurse into metadata, so cap the nesting here."""
    todo = [(value, 1)]
    while todo:
        v, depth = todo.pop()
        if isinstance(v, (dict, list)):
            if depth > MAX_MANIFEST_DEPTH:
                raise FileFormatError(f"{where}: manifest.json nests deeper than {MAX_MANIFEST_DEPTH} levels")
            todo.extend((x, depth + 1) for x in (v.values() if isinstance(v, dict) else v))


class _Fields:
    """Typed access to one manifest object; errors name the file, the object and the field."""

    def __init__(self, d: Any, where: str, what: str) -> None:
        if not isinstance(d, dict):
            raise FileFormatError(f"{where}: {what} must be a JSON object, got {shorten(d)}")
        self.d, self.where, self.what = d, where, what

    def fail(self, key: str, expected: str, got: Any) -> FileFormatError:
        return FileFormatError(f"{self.where}: {self.what}: field {key!r} must be {expected}, got "
                               f"{'<missing>' if got is ... else shorten(got)}")

    def get(self, key: str, types: type | tuple[type, ...], expected: str, default: Any = ...) -> Any:
        v = self.d.get(key, default)
        if v is None and default is None:
            return None
        wants_bool = bool in (types if isinstance(types, tuple) else (types,))
        if v is ... or not isinstance(v, types) or (isinstance(v, bool) and not wants_bool):
            raise self.fail(key, expected, v)  # true is an int to Python, not a size or a seed
        return v

    def name(self, key: str = "name") -> str:
        v = self.get(key, str, "a non-empty string")
        if not v:
            raise self.fail(key, "a non-empty string", v)
        return v


def _size(f: _Fields) -> int:
    """Population size: a positive integer within MAX_NEURONS. An integral float (3.0, as some
    JSON writers emit) is read as that integer with a warning; 2.7 is an error."""
    v = f.d.get("size", ...)
    if isinstance(v, float) and math.isfinite(v) and v == int(v):
        warnings.warn(f"{f.where}: {f.what}: size {v!r} read as the integer {int(v)}", stacklevel=3)
        v = int(v)
    if isinstance(v, bool) or not isinstance(v, int) or not 0 < v <= MAX_NEURONS:
        raise f.fail("size", f"a positive integer of at most {MAX_NEURONS:,} neurons", v)
    return v


def _index_array(arr: Any, owner: str, field_name: str, dtype: type) -> np.ndarray:
    """A projection's integer array in its IR dtype, without wrapping values that do not fit."""
    if not isinstance(arr, np.ndarray) or arr.ndim != 1:
        raise FileFormatError(f"{owner}: {field_name} must be a 1-D array, got "
                              f"{f'shape {arr.shape}' if isinstance(arr, np.ndarray) else shorten(arr)}")
    if arr.dtype.kind == "f" and field_name == "delay" and arr.size:
        bad = ~np.isfinite(arr) | (arr != np.round(arr))
        if np.any(bad):
            raise FileFormatError(f"{owner}: delay must hold whole timesteps, got {arr[bad][0]:g} "
                                  f"(synapse {int(np.argmax(bad))}); the IR does not round delays")
    elif arr.dtype.kind not in "iu" and arr.size:
        raise FileFormatError(f"{owner}: {field_name} must be an integer array, got dtype {arr.dtype}")
    info = np.iinfo(dtype)
    if arr.size and (arr.min() < info.min or arr.max() > info.max):
        bad = arr.max() if arr.max() > info.max else arr.min()
        raise FileFormatError(f"{owner}: {field_name} value {bad:g} is outside the {np.dtype(dtype).name} "
                              f"range [{info.min}, {info.max}]")
    return arr.astype(dtype)


def _weight_array(arr: Any, owner: str) -> np.ndarray:
    if not isinstance(arr, np.ndarray) or arr.ndim != 1:
        raise FileFormatError(f"{owner}: weight must be a 1-D array, got "
                              f"{f'shape {arr.shape}' if isinstance(arr, np.ndarray) else shorten(arr)}")
    if arr.dtype.kind not in "iuf":
        raise FileFormatError(f"{owner}: weight must be a real (integer or float) array, got dtype "
                              f"{arr.dtype}{' (the imaginary part would be lost)' if arr.dtype.kind == 'c' else ''}")
    # float32 is kept: compiled SpiNNaker weights are stored exactly in it (half the memory)
    return arr if arr.dtype in (np.float32, np.float64) else arr.astype(np.float64)


def _manifest_to_network(m: dict[str, Any], zf: zipfile.ZipFile, where: str) -> Network:
    if not isinstance(m, dict) or m.get("format") != FORMAT_NAME:
        raise FileFormatError(f"{where}: not a neurocompile network file (format field is "
                              f"{shorten(m.get('format') if isinstance(m, dict) else None)})")
    version = m.get("format_version")
    if version != FORMAT_VERSION or isinstance(version, bool):
        raise FileFormatError(f"{where}: format_version {shorten(version)} is not supported "
                              f"(this neurocompile reads version {FORMAT_VERSION})")
    top = _Fields(m, where, "manifest")
    net = Network(name=top.get("name", str, "a string"),
                  dt_ms=top.get("dt_ms", (int, float), "a positive number of milliseconds"),
                  seed=top.get("seed", int, f"an integer in [0, {MAX_SEED}]"),
                  number_format=top.get("number_format", str, "a string or null", default=None),
                  metadata=top.get("metadata", dict, "an object", default={}) or {})
    if not 0 <= net.seed <= MAX_SEED:
        raise top.fail("seed", f"an integer in [0, {MAX_SEED}]", net.seed)
    pops = top.get("populations", list, "a list of population objects")
    projs = top.get("projections", list, "a list of projection objects")
    total = 0
    for i, raw in enumerate(pops):
        f = _Fields(raw, where, f"populations[{i}]")
        name = f.name()
        f.what = f"population {shorten(name)}"
        if name in net.populations:
            raise FileFormatError(f"{where}: population name {shorten(name)} occurs twice")
        size = _size(f)
        total += size
        if total > MAX_NEURONS:
            raise FileFormatError(f"{where}: the populations up to {shorten(name)} hold {total:,} neurons; "
                                  f"the limit is {MAX_NEURONS:,}")
        model = f.get("model", str, "a neuron model name")
        record = f.get("record", list, "a list of names", default=[])
        if not all(isinstance(r, str) for r in record):
            raise f.fail("record", "a list of names", record)
        params = {k: _decode(v, zf, f"{where}: population {shorten(name)}: parameter {shorten(k)}")
                  for k, v in f.get("params", dict, "an object", default={}).items()}
        net.populations[name] = Population(name, size, model, params, tuple(record),
                                           f.get("annotations", dict, "an object", default={}) or {})
    for i, raw in enumerate(projs):
        f = _Fields(raw, where, f"projections[{i}]")
        name = f.name()
        f.what = f"projection {shorten(name)}"
        owner = f"{where}: projection {shorten(name)}"
        if name in net.projections:
            raise FileFormatError(f"{where}: projection name {shorten(name)} occurs twice")
        pre, post, receptor = f.name("pre"), f.name("post"), f.name("receptor")
        plast_raw = f.d.get("plasticity")
        plast = None
        if plast_raw is not None:
            if not isinstance(plast_raw, dict):
                raise f.fail("plasticity", "null or an object like {\"kind\": \"stdp_pair_additive\", "
                             "\"tau_plus\": 20.0, ...}", plast_raw)
            try:
                plast = STDPRule.from_dict(plast_raw)
            except ModelError as e:
                raise FileFormatError(f"{owner}: {e}") from None
        arrays = {}
        for a in _PROJECTION_ARRAYS:
            if a not in f.d:
                raise f.fail(a, "an array", ...)
            arrays[a] = _decode(f.d[a], zf, f"{owner}: {a}")
            if not isinstance(arrays[a], np.ndarray):
                raise f.fail(a, "an array", f.d[a])
        attrs = {k: _decode(v, zf, f"{owner}: attribute {shorten(k)}")
                 for k, v in f.get("attrs", dict, "an object", default={}).items()}
        net.projections[name] = Projection(
            name, pre, post,
            pre_idx=_index_array(arrays["pre_idx"], owner, "pre_idx", INDEX_DTYPE),
            post_idx=_index_array(arrays["post_idx"], owner, "post_idx", INDEX_DTYPE),
            weight=_weight_array(arrays["weight"], owner),
            delay=_index_array(arrays["delay"], owner, "delay", DELAY_DTYPE),
            receptor=receptor, plasticity=plast, attrs=attrs)
    return net
