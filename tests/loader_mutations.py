"""Valid inputs for every loader, and the ways tests corrupt them.

Shared by the bad-input regression tests (tests/test_bad_inputs_loaders.py) and the fuzzing
(tests/test_fuzz_loaders.py): a small network file, a bundled board's text, a small NIR graph and a
report.json, plus helpers that rewrite a `.ncnet` zip member by member.
"""
from __future__ import annotations

import io
import json
import struct
import zipfile
from pathlib import Path
from typing import Any, Callable

import nir
import numpy as np

from neurocompile.ir import Network, STDPRule, save_network

HW_CONFIGS = Path(__file__).resolve().parent.parent / "hw_configs"


def small_network() -> Network:
    """Every manifest feature once: spike source, Poisson source, per-neuron and scalar params,
    plasticity, metadata, annotations, record lists; three projections."""
    net = Network(name="n", seed=3, metadata={"author": "test", "compile_options": {}})
    net.add_spike_source("s", [[1], [2, 4]], record=("spikes",))
    net.add_population("p", 2, "poisson", {"rate": np.array([5.0, 10.0])})
    net.add_population("x", 3, "lif_curr_exp", {"tau_m": np.array([10.0, 20.0, 30.0]), "v_thresh": -52.0},
                       record=("spikes", "v"), layer="hidden")
    net.add_projection("s", "x", [0, 1], [0, 2], [0.5, 0.7], [1, 2], receptor="excitatory", name="s->x")
    net.add_projection("p", "x", [0, 1, 1], [1, 1, 2], 0.25, 3, receptor="excitatory", name="p->x",
                       plasticity=STDPRule(a_plus=0.02, w_max=2.0))
    net.add_projection("x", "x", [0, 2], [1, 0], -0.3, 1, receptor="inhibitory", name="x->x")
    return net


def write_ncnet(path: Path, net: Network | None = None) -> Path:
    return save_network(net or small_network(), path)


def npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


def read_ncnet(path: Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    return json.loads(members.pop("manifest.json")), members


def write_members(path: Path, manifest: Any, members: dict[str, bytes]) -> Path:
    """A zip like save_network writes; `manifest` may be a dict or the raw JSON text."""
    text = manifest if isinstance(manifest, (str, bytes)) else json.dumps(manifest)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("manifest.json", text)
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def rewrite_ncnet(src: Path, dst: Path, manifest: Callable[[dict[str, Any]], Any] | None = None,
                  arrays: dict[str, bytes] | None = None) -> Path:
    """Copy `src` to `dst`, editing the manifest (in place, or return a replacement) and replacing
    array members by name."""
    m, members = read_ncnet(src)
    if manifest is not None:
        replaced = manifest(m)
        m = m if replaced is None else replaced
    members.update(arrays or {})
    return write_members(dst, m, members)


def array_member(m: dict[str, Any], projection: str, field: str) -> str:
    """The zip member holding a projection's array (e.g. ('s->x', 'weight'))."""
    for pr in m["projections"]:
        if pr["name"] == projection:
            return pr[field]["$array"]
    raise KeyError(projection)


def population(m: dict[str, Any], name: str) -> dict[str, Any]:
    return next(p for p in m["populations"] if p["name"] == name)


def member_data_offset(path: Path, member: str) -> tuple[int, int]:
    """(offset of the member's data in the zip file, its length): a byte flipped there keeps
    the zip structure and only breaks the CRC."""
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(member)
    raw = path.read_bytes()
    name_len, extra_len = struct.unpack("<HH", raw[info.header_offset + 26:info.header_offset + 30])
    return info.header_offset + 30 + name_len + extra_len, info.compress_size


def board_text(name: str = "spinn-3") -> str:
    return (HW_CONFIGS / f"{name}.yaml").read_text()


def small_nir_graph(input_size: int = 3) -> nir.NIRGraph:
    """Input -> Affine -> LIF -> Output, the shape of a typical exported SNN layer. `input_size`
    changes only the Input's declared shape (the weight stays 2 x 3)."""
    return nir.NIRGraph(
        nodes={"in": nir.Input(input_type=np.array([input_size])),
               "fc": nir.Affine(weight=np.full((2, 3), 0.5), bias=np.zeros(2)),
               "lif": nir.LIF(tau=np.full(2, 0.01), r=np.ones(2), v_leak=np.zeros(2), v_threshold=np.ones(2)),
               "out": nir.Output(output_type=np.array([2]))},
        edges=[("in", "fc"), ("fc", "lif"), ("lif", "out")], type_check=False)


def write_nir(path: Path, graph: nir.NIRGraph | None = None) -> Path:
    nir.write(path, graph or small_nir_graph())
    return path
