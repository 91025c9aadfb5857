"""NIR (Neuromorphic Intermediate Representation) import and export.

    net = load_nir("model.nir", dt_ms=1.0)      # .nir file -> Network
    net = from_nir(graph, dt_ms=1.0)            # nir.NIRGraph -> Network
    graph = to_nir(net)                         # Network -> nir.NIRGraph
    save_nir(net, "model.nir")                  # Network -> .nir file

NIR describes networks in continuous time; the IR is discrete (`dt_ms`). The mapping, the
formulas, what is exact and what is approximate are documented in docs/nir.md. In short:

- Time: NIR durations are multiplied by `time_unit_ms` (default 1000: NIR times are seconds, as
  snnTorch, Norse and Sinabs export them). Voltages are taken as mV, currents as nA, so NIR `r`
  is in MOhm (mV/nA).
- `CubaLIF` -> `lif_curr_exp`: tau_m = tau_mem*T, tau_syn_E = tau_syn_I = tau_syn*T,
  cm = tau_m / r, v_rest = v_leak, v_thresh = v_threshold, v_reset = v_reset, tau_refrac = 0.
  Input spikes are Dirac pulses: a spike through NIR weight W makes I jump by w_in*W/tau_syn,
  so the IR weight (nA) is w_in*W/tau_syn. Exact as an ODE (the float simulator integrates it
  exactly); only spike times are quantized to the dt grid.
- `LIF` / `IF` (delta synapses) -> `lif_curr_exp` with a short synaptic time constant
  (default dt/10): approximate, a NIRApproximationWarning says so.
- `Affine`/`Linear`/`Scale`/`Flatten`/`Delay` chains between two neuron nodes are composed into
  one sparse weight matrix per delay; mixed signs are split into an excitatory and an inhibitory
  projection. `Affine` bias b -> i_offset += w_in*b on the target (exact after the synaptic
  transient exp(-t/tau_syn)). NIR weight matrices are (out, in).
- A NIR connection without Delay is instantaneous; the IR's minimum delay of 1 step is exactly
  that (a spike detected at the end of step t is delivered at the start of step t+1), so a NIR
  delay tau becomes IR delay 1 + tau/dt steps (tau must be a multiple of dt).
- `Input` -> `spike_array` population of the input's size with no spikes (attach a stimulus by
  replacing its `spike_indptr`/`spike_steps`, or swap it for a `poisson` source). `Output` ->
  the feeding population gets record=('spikes',).

Export writes the IR parameters NIR has no field for (refractory period, initial voltage, the
v_rest/i_offset split, spike-source contents, plasticity, names) into node metadata under
"neurocompile", so a round trip IR -> NIR -> IR is exact to float64 rounding.
"""
from __future__ import annotations

import json
import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import scipy.sparse as sp

import nir

from neurocompile.errors import FileFormatError, ModelError, clip, shorten
from neurocompile.ir.network import MAX_NEURONS, Network, Population, Projection, STDPRule
from neurocompile.ir.validate import validate_network
from neurocompile.outdir import atomic_path

__all__ = ["NIRApproximationWarning", "SUPPORTED_NODE_TYPES", "from_nir", "load_nir", "save_nir",
           "to_nir"]

#: NIR node types from_nir understands (NIRGraph subgraphs are inlined).
SUPPORTED_NODE_TYPES = ("Input", "Output", "CubaLIF", "LIF", "IF", "Affine", "Linear", "Scale",
                        "Delay", "Flatten", "NIRGraph")
SPIKE_CONVENTIONS = ("dirac", "unit_step")
META_KEY = "neurocompile"
#: tau_m given to imported NIR IF neurons (no leak in NIR); the IR's largest allowed value.
IF_TAU_M_MS = 1e6
_DELAY_TOL = 1e-9  # relative tolerance (in steps) for "delay is a whole number of steps"


class NIRApproximationWarning(UserWarning):
    """An imported or exported NIR node is mapped approximately (the message says how)."""


# ================================================================================================
# Import
# ================================================================================================


def load_nir(path: str | os.PathLike[str], dt_ms: float | None = None, name: str | None = None,
             **options: Any) -> Network:
    """Read a .nir file (HDF5, via `nir.read`) and convert it with `from_nir`.

    The file is read with nir's type checking off: nir would otherwise insert extra Input/Output
    nodes around root/leaf nodes; from_nir checks every size itself.
    """
    path = Path(path)
    if not path.is_file():
        raise FileFormatError(f"NIR file {str(path)!r} does not exist")
    return from_nir(read_nir_file(path), dt_ms=dt_ms, name=name, **options)


# Reader limits (docs/nir.md, "Limits"), checked before the data is read into memory.
MAX_NIR_ITEMS = 100_000            # HDF5 groups and datasets in one file
MAX_NIR_DEPTH = 32                 # nesting of HDF5 groups (subgraphs in subgraphs...)
MAX_NIR_DECLARED_BYTES = 2**31     # sum of the sizes the datasets declare (a flipped shape asks for TBs)
_H5_ERRORS = (OSError, KeyError, ValueError, TypeError, RuntimeError, IndexError, AttributeError,
              OverflowError, UnicodeDecodeError, SystemError)
NIR_NODE_TYPES = tuple(getattr(nir.ir, "__all_ir", SUPPORTED_NODE_TYPES))


def read_nir_file(path: str | os.PathLike[str]) -> nir.NIRGraph:
    """What `nir.read(path, type_check=False)` returns, but every problem is a FileFormatError
    naming the node: declared dataset sizes and nesting are checked before reading, node types
    before nir builds them (nir itself fails with a bare AssertionError on an unknown type).

    The HDF5 library is not hardened against corrupt files: one flipped byte in a string heap
    makes it loop forever (and others crash it). So the raw HDF5 data is read in a child process
    that is killed after NIR_READ_TIMEOUT_S seconds; a hang or a crash there is an error here."""
    path = Path(path)
    data = _read_hdf_isolated(path)
    if "type_check" in data:
        raise FileFormatError(f"{path}: NIR graph has a reserved 'type_check' entry")
    _check_nir_nodes(data, path, "")
    data["type_check"] = False
    try:
        return nir.dict2NIRNode(data)
    except (AssertionError, *_H5_ERRORS) as e:
        raise FileFormatError(f"{path}: cannot build the NIR graph ({type(e).__name__}: {clip(e)})") from None


NIR_READ_TIMEOUT_S = 60.0  # reading a NIR file's HDF5 data; far above what 2 GiB take from disk


def _read_hdf_isolated(path: Path) -> dict[str, Any]:
    import multiprocessing

    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    receiver, sender = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_read_hdf_child, args=(str(path), sender), daemon=True)
    proc.start()
    sender.close()
    try:
        if not receiver.poll(NIR_READ_TIMEOUT_S):
            raise FileFormatError(f"{path}: reading the HDF5 data did not finish within "
                                  f"{NIR_READ_TIMEOUT_S:g} s (a corrupt file can make the HDF5 library loop)")
        try:
            kind, payload = receiver.recv()
        except (EOFError, OSError):
            proc.join(5)
            raise FileFormatError(f"{path}: the HDF5 library crashed reading the file (exit code "
                                  f"{proc.exitcode}); the file is corrupt") from None
    finally:
        receiver.close()
        if proc.is_alive():
            proc.kill()
        proc.join(5)
    if kind == "error":
        raise FileFormatError(payload)
    return payload


def _read_hdf_child(path: str, sender: Any) -> None:
    """In the child: read the file and send ("ok", data) or ("error", message)."""
    try:
        sender.send(("ok", _read_hdf(Path(path))))
    except FileFormatError as e:
        sender.send(("error", str(e)))
    finally:
        sender.close()


def _read_hdf(path: Path) -> dict[str, Any]:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            if not isinstance(f.get("node"), h5py.Group):
                raise FileFormatError(f"{path}: not a NIR file (no 'node' group)")
            return _hdf_group(f["node"], path, [0, 0], 1)
    except FileFormatError:
        raise
    except _H5_ERRORS as e:
        raise FileFormatError(f"{path}: cannot read NIR file ({type(e).__name__}: {clip(e)})") from None


def _hdf_group(group: Any, path: Path, count: list[int], depth: int) -> dict[str, Any]:
    """nir.serialization.hdf2dict with limits; count = [items, declared bytes]."""
    import h5py

    if depth > MAX_NIR_DEPTH:
        raise FileFormatError(f"{path}: NIR groups nest deeper than {MAX_NIR_DEPTH} levels (at {clip(group.name, 80)})")
    out: dict[str, Any] = {}
    for key, item in group.items():
        count[0] += 1
        if count[0] > MAX_NIR_ITEMS:
            raise FileFormatError(f"{path}: more than {MAX_NIR_ITEMS:,} HDF5 groups and datasets")
        key = key.decode("utf8") if isinstance(key, bytes) else key
        if isinstance(item, h5py.Group):
            out[key] = _hdf_group(item, path, count, depth + 1)
        elif isinstance(item, h5py.Dataset):
            count[1] += int(item.size or 0) * int(item.dtype.itemsize)
            if count[1] > MAX_NIR_DECLARED_BYTES:
                raise FileFormatError(f"{path}: dataset {clip(item.name, 80)} declares shape {shorten(item.shape)}; "
                                      f"the datasets of a NIR file may hold at most {MAX_NIR_DECLARED_BYTES:,} bytes")
            value = item[()]
            out[key] = value.decode("utf8") if isinstance(value, bytes) else value
    return out


def _check_nir_nodes(graph: dict[str, Any], path: Path, prefix: str) -> None:
    """Every node of a (sub)graph dict has a known NIR type and nir can build it; errors name it."""
    what = f"NIR graph {prefix[:-1]!r}" if prefix else "NIR graph"
    if graph.get("type") != "NIRGraph":
        raise FileFormatError(f"{path}: {what} has type {shorten(graph.get('type'))}, expected 'NIRGraph'")
    nodes = graph.get("nodes")
    if not isinstance(nodes, dict) or "edges" not in graph:
        raise FileFormatError(f"{path}: {what} needs 'nodes' and 'edges'")
    for nm, node in nodes.items():
        full = prefix + str(nm)
        if not isinstance(node, dict) or not isinstance(node.get("type"), str):
            raise FileFormatError(f"{path}: NIR node {clip(full, 80)!r} has no type")
        kind = node["type"]
        if kind not in NIR_NODE_TYPES:
            raise FileFormatError(f"{path}: NIR node {clip(full, 80)!r} has unknown type {shorten(kind)}; "
                                  f"NIR types: {', '.join(NIR_NODE_TYPES)}")
        if kind == "NIRGraph":
            _check_nir_nodes(node, path, full + ".")
            continue
        try:
            nir.dict2NIRNode(dict(node))
        except (AssertionError, *_H5_ERRORS) as e:
            raise FileFormatError(f"{path}: NIR {kind} node {clip(full, 80)!r} is malformed "
                                  f"({type(e).__name__}: {clip(e)})") from None


def from_nir(graph: nir.NIRGraph, dt_ms: float | None = None, name: str | None = None, *,
             time_unit_ms: float | None = None, spike_convention: str = "dirac",
             delta_tau_syn_ms: float | None = None) -> Network:
    """Convert a NIR graph to a Network.

    dt_ms: the IR step. None: the dt the graph was exported with by neurocompile (graph metadata
        "dt_ms"), else 1.0. NIR Delay values must be multiples of it.
    name: network name (default: the exported network's name, else "nir").
    time_unit_ms: milliseconds per NIR time unit. None: graph metadata "time_unit_ms" if present,
        else 1000.0 (NIR times in seconds, the convention of snnTorch/Norse/Sinabs exports).
    spike_convention: how a NIR spike enters the ODEs. "dirac" (default; NIR's equations read
        literally): a spike is a unit-area Dirac pulse, so current jumps by w_in*W/tau_syn
        independently of dt. "unit_step": a spike is the value 1 held for one step (area
        dt/time_unit), as in forward-Euler exports such as snnTorch's (w_in = tau_syn/dt);
        dt_ms must then equal the exporter's dt.
    delta_tau_syn_ms: synaptic time constant standing in for the delta synapses of NIR LIF/IF
        nodes (default dt_ms/10).
    """
    if not isinstance(graph, nir.NIRGraph):
        raise ModelError(f"from_nir takes a nir.NIRGraph, got {type(graph).__name__}")
    gmeta = _plain(getattr(graph, "metadata", None) or {})
    if dt_ms is None:
        dt_ms = float(gmeta.get("dt_ms", 1.0)) if gmeta.get("generator") == META_KEY else 1.0
    if time_unit_ms is None:
        time_unit_ms = float(gmeta.get("time_unit_ms", 1000.0))
    for what, v in (("dt_ms", dt_ms), ("time_unit_ms", time_unit_ms)):
        if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
            raise ModelError(f"from_nir: {what} must be a positive finite number, got {v!r}")
    if spike_convention not in SPIKE_CONVENTIONS:
        raise ModelError(f"from_nir: spike_convention must be one of {list(SPIKE_CONVENTIONS)}, "
                         f"got {spike_convention!r}")
    if delta_tau_syn_ms is None:
        delta_tau_syn_ms = max(dt_ms / 10.0, 1e-3)
    if not (math.isfinite(delta_tau_syn_ms) and delta_tau_syn_ms > 0):
        raise ModelError(f"from_nir: delta_tau_syn_ms must be > 0, got {delta_tau_syn_ms!r}")
    imp = _Importer(float(dt_ms), float(time_unit_ms), spike_convention, float(delta_tau_syn_ms))
    return imp.run(graph, gmeta, name)


def _plain(meta: Any) -> Any:
    """Metadata as read back from HDF5 holds numpy scalars and bytes: make them plain Python."""
    if isinstance(meta, dict):
        return {str(k): _plain(v) for k, v in meta.items()}
    if isinstance(meta, bytes):
        return meta.decode("utf8")
    if isinstance(meta, np.ndarray):
        return meta
    if isinstance(meta, np.generic):
        return meta.item()
    return meta


def _nc_meta(node: Any) -> dict[str, Any]:
    meta = getattr(node, "metadata", None)
    if isinstance(meta, dict) and isinstance(meta.get(META_KEY), dict):
        return _plain(meta[META_KEY])
    return {}


def _size_of_shape(shape: Any, what: str) -> int:
    if shape is None:
        raise ModelError(f"{what} has no shape")
    try:
        arr = np.asarray(shape).ravel()
    except ValueError:
        arr = np.asarray(["?"])
    if arr.size and (arr.dtype.kind not in "iuf" or not np.all(np.isfinite(arr)) or np.any(arr < 0)
                     or np.any(arr != np.round(arr))):
        raise ModelError(f"{what}: invalid shape {shorten(shape)}")
    size = 1
    for d in arr:
        size *= int(d)
        if size > MAX_NEURONS:
            raise ModelError(f"{what}: shape {shorten(arr.tolist())} has more than {MAX_NEURONS:,} "
                             f"elements (the limit for a population)")
    return size


def _shape_list(shape: Any) -> list[int]:
    return [int(x) for x in np.asarray(shape).ravel()] if shape is not None else []


def _compact(arr: np.ndarray) -> Any:
    """A per-neuron array as the IR stores it: a float when all entries are equal."""
    arr = np.asarray(arr, dtype=np.float64)
    if arr.size and np.all(arr == arr.flat[0]):
        return float(arr.flat[0])
    return arr.copy()


@dataclass
class _Flat:
    """A NIR graph with subgraphs inlined: nodes by full name, kinds, edges on full names."""

    nodes: dict[str, Any] = field(default_factory=dict)
    passthrough: set[str] = field(default_factory=set)  # a subgraph's own Input/Output nodes
    edges: list[tuple[str, str]] = field(default_factory=list)


def _flatten_graph(graph: nir.NIRGraph, prefix: str, flat: _Flat) -> tuple[list[str], list[str]]:
    """Inline `graph` into `flat` with names prefix+name; return its Input and Output names."""
    names = dict(graph.nodes)
    sub_io: dict[str, tuple[list[str], list[str]]] = {}
    for nm, node in names.items():
        full = prefix + nm
        if isinstance(node, nir.NIRGraph):
            sub_io[nm] = _flatten_graph(node, full + ".", flat)
        else:
            if full in flat.nodes:
                raise ModelError(f"NIR graph: node name {full!r} occurs twice after inlining subgraphs")
            flat.nodes[full] = node
            if prefix and isinstance(node, (nir.Input, nir.Output)):
                flat.passthrough.add(full)

    def resolve(end: str, role: str) -> str:
        if end in sub_io:
            ins, outs = sub_io[end]
            ports = ins if role == "dst" else outs
            if len(ports) != 1:
                raise ModelError(f"NIR edge {'into' if role == 'dst' else 'out of'} subgraph "
                                 f"{prefix + end!r}: the subgraph has {len(ports)} "
                                 f"{'Input' if role == 'dst' else 'Output'} nodes; name one as "
                                 f"'{end}.<node>'")
            return ports[0]
        if end in names:
            return prefix + end
        if prefix + end in flat.nodes:  # "sub.node" port notation into an inlined subgraph
            return prefix + end
        raise ModelError(f"NIR graph{' ' + prefix[:-1] if prefix else ''}: edge endpoint {end!r} "
                         f"is not a node (nodes: {sorted(names)})")

    for edge in graph.edges:
        a, b = (e.decode() if isinstance(e, bytes) else str(e) for e in edge)
        flat.edges.append((resolve(a, "src"), resolve(b, "dst")))
    ins = [prefix + n for n, v in names.items() if isinstance(v, nir.Input)]
    outs = [prefix + n for n, v in names.items() if isinstance(v, nir.Output)]
    return ins, outs


class _Map:
    """A delayed linear map from a population's spikes to a node's output: {delay steps: matrix}."""

    def __init__(self, terms: dict[int, sp.csr_matrix], n_out: int, n_in: int) -> None:
        self.terms, self.n_out, self.n_in = terms, n_out, n_in

    @classmethod
    def identity(cls, n: int) -> "_Map":
        return cls({0: sp.identity(n, dtype=np.float64, format="csr")}, n, n)

    def left(self, mat: sp.csr_matrix) -> "_Map":
        return _Map({d: (mat @ m).tocsr() for d, m in self.terms.items()}, mat.shape[0], self.n_in)

    def delayed(self, steps: np.ndarray) -> "_Map":
        out: dict[int, sp.csr_matrix] = {}
        for u in np.unique(steps):
            sel = sp.diags((steps == u).astype(np.float64), format="csr")
            for d, m in self.terms.items():
                part = (sel @ m).tocsr()
                k = d + int(u)
                out[k] = (out[k] + part).tocsr() if k in out else part
        return _Map(out, self.n_out, self.n_in)


@dataclass
class _NeuronSpec:
    """An imported neuron node: IR params plus how its inputs scale into IR currents."""

    size: int
    params: dict[str, np.ndarray]
    spike_scale: np.ndarray  # IR weight (nA) per unit of NIR weight, per neuron
    bias_scale: np.ndarray   # i_offset (nA) per unit of NIR Affine bias, per neuron


class _Importer:
    def __init__(self, dt_ms: float, time_unit_ms: float, convention: str, delta_tau_ms: float) -> None:
        self.dt, self.T, self.convention, self.delta_tau = dt_ms, time_unit_ms, convention, delta_tau_ms
        # Area of one spike in NIR time units: 1 for a Dirac pulse, one step for a unit step.
        self.spike_area = 1.0 if convention == "dirac" else dt_ms / time_unit_ms
        self.notes: list[str] = []
        self._dense: dict[str, sp.csr_matrix] = {}
        self._delay_cache: dict[str, np.ndarray] = {}

    def warn(self, msg: str) -> None:
        self.notes.append(msg)
        warnings.warn(msg, NIRApproximationWarning, stacklevel=4)

    # ----- driver -------------------------------------------------------------------------------
    def run(self, graph: nir.NIRGraph, gmeta: dict[str, Any], name: str | None) -> Network:
        flat = _Flat()
        _flatten_graph(graph, "", flat)
        self.flat = flat
        kinds: dict[str, str] = {}
        for nm, node in flat.nodes.items():
            kinds[nm] = self._kind(nm, node)
        self.kinds = kinds
        succ: dict[str, list[str]] = {n: [] for n in flat.nodes}
        for a, b in flat.edges:
            if kinds[b] == "input":
                raise ModelError(f"NIR edge {a!r} -> {b!r}: {b!r} is a graph Input and cannot "
                                 f"receive connections")
            if kinds[a] == "output":
                raise ModelError(f"NIR edge {a!r} -> {b!r}: {a!r} is a graph Output and cannot "
                                 f"send connections")
            succ[a].append(b)
        self.succ = succ

        net = Network(name=name or str(gmeta.get("network_name") or "nir"), dt_ms=self.dt)
        if gmeta.get("generator") == META_KEY:
            if "seed" in gmeta:
                net.seed = int(gmeta["seed"])
            if gmeta.get("network_metadata"):
                try:
                    net.metadata.update(json.loads(gmeta["network_metadata"]))
                except (TypeError, ValueError):
                    pass

        # Populations, in node order.
        self.pop_of: dict[str, str] = {}
        self.specs: dict[str, _NeuronSpec] = {}
        pop_nodes = [n for n in flat.nodes if kinds[n] in ("input", "neuron")]
        # HDF5 returns nodes sorted by name; neurocompile's export records the original order.
        pop_nodes.sort(key=lambda n: _json(_nc_meta(flat.nodes[n]).get("info")).get("index", math.inf))
        used_names: set[str] = set()
        for nm in pop_nodes:
            meta = _nc_meta(flat.nodes[nm])
            pname = str(meta.get("name") or nm)
            if pname in used_names:
                pname = nm
            used_names.add(pname)
            self.pop_of[nm] = pname
        bias = self._collect_biases()
        for nm in pop_nodes:
            node = flat.nodes[nm]
            if kinds[nm] == "input":
                self._add_input(net, nm, node)
            else:
                self._add_neuron(net, nm, node, bias.get(nm))

        # Outputs: record the population feeding each one (through identity nodes only).
        pred: dict[str, list[str]] = {n: [] for n in flat.nodes}
        for a, b in flat.edges:
            pred[b].append(a)
        for out in (n for n in flat.nodes if kinds[n] == "output"):
            todo, seen = list(pred[out]), set()
            while todo:
                a = todo.pop()
                if a in seen:
                    continue
                seen.add(a)
                if kinds[a] == "identity":
                    todo += pred[a]
                    continue
                if kinds[a] not in ("input", "neuron"):
                    raise ModelError(f"NIR Output {out!r} is fed by {type(flat.nodes[a]).__name__} "
                                     f"node {a!r}; neurocompile outputs spikes, so an Output must "
                                     f"be fed by a neuron or Input node")
                pop = net.populations[self.pop_of[a]]
                if "spikes" not in pop.record:
                    pop.record = (*pop.record, "spikes")

        self._add_projections(net)
        net.metadata["nir"] = {"time_unit_ms": self.T, "spike_convention": self.convention,
                               "approximations": list(self.notes)}
        validate_network(net)
        return net

    def _kind(self, nm: str, node: Any) -> str:
        if nm in self.flat.passthrough or isinstance(node, (nir.Flatten,)):
            return "identity"
        if isinstance(node, nir.Input):
            return "input"
        if isinstance(node, nir.Output):
            return "output"
        if isinstance(node, (nir.CubaLIF, nir.LIF, nir.IF)):
            return "neuron"
        if isinstance(node, (nir.Affine, nir.Linear, nir.Scale, nir.Delay)):
            return "linear"
        raise ModelError(f"NIR node {nm!r} has type {type(node).__name__}, which neurocompile "
                         f"cannot import; supported node types: {', '.join(SUPPORTED_NODE_TYPES)}")

    # ----- populations --------------------------------------------------------------------------
    def _add_input(self, net: Network, nm: str, node: nir.Input) -> None:
        pname = self.pop_of[nm]
        shape = next(iter(node.input_type.values()), None) if node.input_type else None
        size = _size_of_shape(shape, f"NIR Input {nm!r}")
        meta = _nc_meta(node)
        info = _json(meta.get("info"))
        model = info.get("model", "spike_array")
        annotations = {"nir_node": nm, "nir_type": "Input",
                       "nir_shape": _shape_list(shape),
                       **info.get("annotations", {})}
        record = tuple(info.get("record", ()))
        if model == "poisson":
            params = {**info.get("params", {}),
                      **{k[2:]: np.array(v) for k, v in meta.items() if k.startswith("p.")}}
            pop = net.add_population(pname, size, "poisson", params, record)
            pop.annotations.update(annotations)
            return
        # Spike times neurocompile exported (CSR: neuron i spikes at steps[indptr[i]:indptr[i+1]]);
        # validation checks them. Otherwise a silent source: no per-neuron Python objects.
        indptr, steps = np.zeros(size + 1, dtype=np.int64), np.zeros(0, dtype=np.int64)
        if "p.spike_indptr" in meta and "p.spike_steps" in meta:
            got_ptr, got_steps = np.asarray(meta["p.spike_indptr"]), np.asarray(meta["p.spike_steps"])
            if got_ptr.shape == (size + 1,) and got_ptr.dtype.kind in "iu" and got_steps.dtype.kind in "iu" \
                    and got_steps.ndim == 1:
                indptr, steps = got_ptr.astype(np.int64), got_steps.astype(np.int64)
        pop = net.add_population(pname, size, "spike_array",
                                 {"spike_indptr": indptr, "spike_steps": steps}, record)
        pop.annotations.update(annotations)

    def _arr(self, nm: str, node: Any, attr: str, size: int | None = None) -> np.ndarray:
        v = getattr(node, attr, None)
        if v is None:
            raise ModelError(f"NIR {type(node).__name__} {nm!r}: parameter {attr!r} is missing")
        arr = np.asarray(v, dtype=np.float64).ravel()
        if size is not None:
            if arr.size == 1 and size != 1:
                arr = np.full(size, arr[0])
            elif arr.size != size:
                raise ModelError(f"NIR {type(node).__name__} {nm!r}: parameter {attr!r} has "
                                 f"{arr.size} values, expected {size}")
        if not np.all(np.isfinite(arr)):
            raise ModelError(f"NIR {type(node).__name__} {nm!r}: parameter {attr!r} contains NaN "
                             f"or infinite values")
        return arr

    def _positive(self, nm: str, node: Any, attr: str, arr: np.ndarray) -> np.ndarray:
        if np.any(arr <= 0):
            i = int(np.argmax(arr <= 0))
            raise ModelError(f"NIR {type(node).__name__} {nm!r}: parameter {attr!r} must be > 0, "
                             f"got {arr[i]:g} (neuron {i})")
        return arr

    def _neuron_spec(self, nm: str, node: Any) -> _NeuronSpec:
        T, A = self.T, self.spike_area
        n = self._arr(nm, node, "v_threshold").size
        v_th = self._arr(nm, node, "v_threshold", n)
        v_reset = (self._arr(nm, node, "v_reset", n) if getattr(node, "v_reset", None) is not None
                   else np.zeros(n))  # NIR's default reset potential
        r = self._positive(nm, node, "r", self._arr(nm, node, "r", n))
        if isinstance(node, nir.CubaLIF):
            tau_mem = self._positive(nm, node, "tau_mem", self._arr(nm, node, "tau_mem", n))
            tau_syn = self._positive(nm, node, "tau_syn", self._arr(nm, node, "tau_syn", n))
            w_in = self._arr(nm, node, "w_in", n)
            v_leak = self._arr(nm, node, "v_leak", n)
            tau_m_ms, tau_s_ms = tau_mem * T, tau_syn * T
            spike_scale = (w_in / tau_syn) * A
            bias_scale = w_in
        else:
            tau_s_ms = np.full(n, self.delta_tau)
            spike_scale = np.full(n, A * T / self.delta_tau)  # = A / tau_s in NIR time units
            bias_scale = np.ones(n)
            if isinstance(node, nir.LIF):
                tau = self._positive(nm, node, "tau", self._arr(nm, node, "tau", n))
                v_leak = self._arr(nm, node, "v_leak", n)
                tau_m_ms = tau * T
                self.warn(f"NIR LIF {nm!r} has delta synapses; imported as lif_curr_exp with "
                          f"tau_syn = {self.delta_tau:g} ms (a spike's voltage jump r*W/tau is "
                          f"spread over ~tau_syn; relative error ~tau_syn/tau_m)")
            else:  # IF: dv/dt = r*I, no leak
                tau_m_ms = np.full(n, IF_TAU_M_MS)
                v_leak = v_reset.copy()
                self.warn(f"NIR IF {nm!r} has no leak and delta synapses; imported as lif_curr_exp "
                          f"with tau_m = {IF_TAU_M_MS:g} ms (leak toward v_reset) and tau_syn = "
                          f"{self.delta_tau:g} ms")
        if not isinstance(node, nir.IF) and T == 1000.0 and np.max(tau_m_ms) > 1e4:
            self.warn(f"NIR {type(node).__name__} {nm!r}: time constants up to "
                      f"{np.max(tau_m_ms) / 1000:g} s with NIR times read as seconds; if the graph "
                      f"uses milliseconds pass time_unit_ms=1")
        # IF: dv/dt = r I (per NIR time unit) -> cm = T / r; leaky: tau_m dv/dt = ... + r I -> cm = tau_m / r.
        cm = (T / r) if isinstance(node, nir.IF) else tau_m_ms / r
        params = {"tau_m": tau_m_ms, "cm": cm, "v_rest": v_leak, "v_reset": v_reset,
                  "v_thresh": v_th, "tau_refrac": np.zeros(n), "tau_syn_E": tau_s_ms,
                  "tau_syn_I": tau_s_ms.copy(), "i_offset": np.zeros(n), "v_init": v_leak.copy()}
        return _NeuronSpec(n, params, spike_scale, bias_scale)

    def _add_neuron(self, net: Network, nm: str, node: Any, bias: np.ndarray | None) -> None:
        spec = self._neuron_spec(nm, node)
        self.specs[nm] = spec
        p = spec.params
        meta = _nc_meta(node)
        info = _json(meta.get("info"))
        extras = {k[2:]: np.asarray(v, dtype=np.float64) for k, v in meta.items() if k.startswith("p.")}
        n = spec.size

        def extra(k: str) -> np.ndarray | None:
            if k not in extras:
                return None
            v = extras[k].ravel()
            return np.full(n, v[0]) if v.size == 1 else (v if v.size == n else None)

        for k in ("tau_refrac", "v_init"):
            if extra(k) is not None:
                p[k] = extra(k)
        # v_leak = v_rest + R*i_offset on export; restore the split when it is still consistent.
        v_rest, i_off = extra("v_rest"), extra("i_offset")
        if v_rest is not None and i_off is not None:
            r_ir = p["tau_m"] / p["cm"]
            if np.allclose(v_rest + r_ir * i_off, p["v_rest"], rtol=1e-9, atol=1e-9):
                p["v_rest"], p["i_offset"] = v_rest, i_off
        te, ti = extra("tau_syn_E"), extra("tau_syn_I")
        if te is not None and ti is not None and (np.allclose(te, p["tau_syn_E"], rtol=1e-9)
                                                  or np.allclose(ti, p["tau_syn_E"], rtol=1e-9)):
            p["tau_syn_E"], p["tau_syn_I"] = te, ti
        if bias is not None:
            p["i_offset"] = p["i_offset"] + spec.bias_scale * bias
        record = tuple(info.get("record", ()))
        pop = net.add_population(self.pop_of[nm], n, "lif_curr_exp",
                                 {k: _compact(v) for k, v in p.items()}, record)
        shape = np.asarray(getattr(node, "v_threshold")).shape
        pop.annotations.update({"nir_node": nm, "nir_type": type(node).__name__,
                                "nir_shape": list(shape), **info.get("annotations", {})})

    # ----- synaptic paths -----------------------------------------------------------------------
    def _in_size(self, nm: str, node: Any) -> int | None:
        if isinstance(node, (nir.Affine, nir.Linear)):
            return int(np.asarray(node.weight).shape[-1])
        if isinstance(node, nir.Scale):
            s = np.asarray(node.scale).size
            return None if s == 1 else s
        if isinstance(node, nir.Delay):
            s = np.asarray(node.delay).size
            return None if s == 1 else s
        if isinstance(node, (nir.CubaLIF, nir.LIF, nir.IF)):
            return self.specs[nm].size if nm in self.specs else np.asarray(node.v_threshold).size
        return None  # identity nodes take any size

    def _check_size(self, src: str, dst: str, n: int) -> None:
        want = self._in_size(dst, self.flat.nodes[dst])
        if want is not None and want != n:
            raise ModelError(f"NIR edge {src!r} -> {dst!r}: {dst!r} "
                             f"({type(self.flat.nodes[dst]).__name__}) takes {want} inputs but "
                             f"receives {n} (NIR weight matrices are (out, in); shapes are "
                             f"flattened in C order)")

    def _matrix(self, nm: str, node: Any) -> sp.csr_matrix:
        if nm not in self._dense:
            if isinstance(node, nir.Scale):
                s = np.asarray(node.scale, dtype=np.float64).ravel()
                self._dense[nm] = sp.diags(s, format="csr")
            else:
                w = np.asarray(node.weight, dtype=np.float64)
                if w.ndim != 2:
                    raise ModelError(f"NIR {type(node).__name__} {nm!r}: weight has shape "
                                     f"{list(w.shape)}; only 2-D (out, in) matrices are supported")
                if not np.all(np.isfinite(w)):
                    raise ModelError(f"NIR {type(node).__name__} {nm!r}: weight contains NaN or "
                                     f"infinite values")
                self._dense[nm] = sp.csr_matrix(w)
        return self._dense[nm]

    def _delay_steps(self, nm: str, node: nir.Delay) -> np.ndarray:
        if nm not in self._delay_cache:
            d = np.asarray(node.delay, dtype=np.float64).ravel()
            steps = d * self.T / self.dt
            k = np.round(steps)
            bad = ~np.isfinite(steps) | (steps < -_DELAY_TOL) | \
                (np.abs(steps - k) > _DELAY_TOL * np.maximum(1.0, np.abs(steps)))
            if np.any(bad):
                i = int(np.argmax(bad))
                raise ModelError(f"NIR Delay {nm!r}: delay {d[i]:g} (= {d[i] * self.T:g} ms) of "
                                 f"channel {i} is not a non-negative multiple of dt = {self.dt:g} ms")
            self._delay_cache[nm] = np.maximum(k, 0).astype(np.int64)
        return self._delay_cache[nm]

    def _apply(self, nm: str, m: _Map) -> _Map:
        node = self.flat.nodes[nm]
        if isinstance(node, (nir.Affine, nir.Linear, nir.Scale)):
            mat = self._matrix(nm, node)
            if isinstance(node, nir.Scale) and mat.shape[0] == 1 and m.n_out != 1:
                mat = sp.identity(m.n_out, format="csr") * mat[0, 0]
            return m.left(mat)
        if isinstance(node, nir.Delay):
            steps = self._delay_steps(nm, node)
            if steps.size == 1 and m.n_out != 1:
                steps = np.full(m.n_out, steps[0])
            return m.delayed(steps)
        return m  # Flatten / inlined Input, Output: identity on the flattened vector

    def _apply_vec(self, nm: str, v: np.ndarray) -> np.ndarray:
        node = self.flat.nodes[nm]
        if isinstance(node, (nir.Affine, nir.Linear, nir.Scale)):
            mat = self._matrix(nm, node)
            if isinstance(node, nir.Scale) and mat.shape[0] == 1:
                return v * mat[0, 0]
            return mat @ v
        return v  # delays do not change a constant

    def _walk(self, start: str, n0: int, seed: Any, apply: Any, size_of: Any,
              on_neuron: Any) -> None:
        """Depth-first over chains of linear/identity nodes from `start` to neuron nodes."""
        stack = [(start, seed, (start,))]
        while stack:
            node_name, value, chain = stack.pop()
            for nxt in reversed(self.succ[node_name]):
                kind = self.kinds[nxt]
                if kind == "output":
                    continue
                self._check_size(node_name, nxt, size_of(value))
                if kind == "neuron":
                    on_neuron(nxt, value, chain[1:])
                elif kind in ("linear", "identity"):
                    if nxt in chain:
                        raise ModelError(f"NIR graph: cycle through {' -> '.join((*chain, nxt))} "
                                         f"contains no neuron node")
                    stack.append((nxt, apply(nxt, value), (*chain, nxt)))

    def _collect_biases(self) -> dict[str, np.ndarray]:
        """Affine biases propagated (through later linear nodes) to the neuron nodes they reach."""
        out: dict[str, np.ndarray] = {}
        for nm, node in self.flat.nodes.items():
            if not isinstance(node, nir.Affine) or node.bias is None:
                continue
            b = np.asarray(node.bias, dtype=np.float64).ravel()
            n_out = int(np.asarray(node.weight).shape[0])
            if b.size == 1 and n_out != 1:
                b = np.full(n_out, b[0])
            if b.size != n_out:
                raise ModelError(f"NIR Affine {nm!r}: bias has {b.size} values, weight has "
                                 f"{n_out} rows")
            if not np.all(np.isfinite(b)):
                raise ModelError(f"NIR Affine {nm!r}: bias contains NaN or infinite values")
            if not np.any(b):
                continue

            def add(target: str, v: np.ndarray, chain: tuple[str, ...]) -> None:
                out[target] = out.get(target, 0.0) + v

            self._walk(nm, n_out, b, self._apply_vec, lambda v: v.shape[0], add)
        return out

    def _add_projections(self, net: Network) -> None:
        groups: dict[tuple, dict[str, Any]] = {}
        for src in (n for n in self.flat.nodes if self.kinds[n] in ("input", "neuron")):
            pre = self.pop_of[src]
            n_pre = net.populations[pre].size

            def reach(target: str, m: _Map, chain: tuple[str, ...], src: str = src,
                      pre: str = pre) -> None:
                post = self.pop_of[target]
                names = {str(_nc_meta(self.flat.nodes[c]).get("projection", "")) for c in chain}
                names.discard("")
                if len(names) == 1:
                    pname = names.pop()
                    key: tuple = ("named", pname)
                    meta = next(_nc_meta(self.flat.nodes[c]) for c in chain
                                if _nc_meta(self.flat.nodes[c]).get("projection") == pname)
                else:
                    key, meta = ("path", pre, post), {}
                g = groups.setdefault(key, {"pre": pre, "post": post, "meta": meta, "parts": []})
                if (g["pre"], g["post"]) != (pre, post):  # same metadata name, other endpoints
                    g = groups.setdefault(("path", pre, post),
                                          {"pre": pre, "post": post, "meta": {}, "parts": []})
                scale = self.specs[target].spike_scale
                for d, mat in m.terms.items():
                    coo = mat.tocoo()
                    w = coo.data * scale[coo.row]
                    keep = w != 0
                    g["parts"].append((coo.col[keep], coo.row[keep], w[keep],
                                       np.full(int(keep.sum()), d + 1, dtype=np.int64)))

            self._walk(src, n_pre, _Map.identity(n_pre), self._apply, lambda m: m.n_out, reach)

        order = sorted(groups, key=lambda k: _json(groups[k]["meta"].get("info")).get("index", math.inf))
        for key in order:
            g = groups[key]
            parts = g["parts"]
            pre_idx = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int64)
            post_idx = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, np.int64)
            w = np.concatenate([p[2] for p in parts]) if parts else np.zeros(0)
            delay = np.concatenate([p[3] for p in parts]) if parts else np.zeros(0, np.int64)
            meta = g["meta"]
            base = key[1] if key[0] == "named" else f"{g['pre']}->{g['post']}"
            plast = None
            info = _json(meta.get("info"))
            if info.get("plasticity"):
                plast = STDPRule.from_dict(info["plasticity"])
            exc, inh = w > 0, w < 0
            pieces = []
            if exc.any() and inh.any():
                pieces = [(f"{base}:exc", "excitatory", exc), (f"{base}:inh", "inhibitory", inh)]
            elif exc.any():
                pieces = [(base, "excitatory", exc)]
            elif inh.any():
                pieces = [(base, "inhibitory", inh)]
            elif key[0] == "named":  # an exported empty projection
                pieces = [(base, str(meta.get("receptor", "excitatory")), exc)]
            for pname, receptor, sel in pieces:
                pname = _unique(pname, net.projections)
                net.add_projection(g["pre"], g["post"], pre_idx[sel], post_idx[sel], w[sel],
                                   delay[sel], receptor=receptor, name=pname, plasticity=plast)


def _json(s: Any) -> dict[str, Any]:
    if not s:
        return {}
    try:
        v = json.loads(s)
    except (TypeError, ValueError):
        return {}
    return v if isinstance(v, dict) else {}


def _unique(name: str, taken: Iterable[str]) -> str:
    taken = set(taken)
    out, i = name, 1
    while out in taken:
        i += 1
        out = f"{name}#{i}"
    return out


# ================================================================================================
# Export
# ================================================================================================


def to_nir(net: Network, *, time_unit_ms: float = 1000.0) -> nir.NIRGraph:
    """Convert a float Network (lif_curr_exp neurons, spike_array/poisson sources) to NIR.

    Each lif_curr_exp population becomes a CubaLIF node, each source an Input node, each
    projection one Linear node (more when it has duplicate synapses or mixed per-synapse
    delays) with its weights in nA: w_in is set to tau_syn so that w_in*W/tau_syn = W. An IR
    delay of D steps becomes a Delay node of (D-1)*dt (no Delay node when D == 1). Populations
    recording spikes get an Output node. time_unit_ms: ms per NIR time unit (1000: seconds).
    """
    validate_network(net)
    if not (isinstance(time_unit_ms, (int, float)) and math.isfinite(time_unit_ms) and time_unit_ms > 0):
        raise ModelError(f"to_nir: time_unit_ms must be a positive finite number, got {time_unit_ms!r}")
    T, dt = float(time_unit_ms), float(net.dt_ms)
    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []
    node_of: dict[str, str] = {}

    def node_name(wanted: str) -> str:
        return _unique(wanted.replace("/", "_") or "_", nodes.keys() | set(node_of.values()))

    for pop in net.populations.values():
        if pop.model not in ("lif_curr_exp", "spike_array", "poisson"):
            raise ModelError(f"population {pop.name!r}: model {pop.model!r} cannot be exported to "
                             f"NIR; to_nir exports lif_curr_exp neurons and spike_array/poisson "
                             f"sources (export the network before quantization)")
        node_of[pop.name] = node_name(pop.name)

    for index, pop in enumerate(net.populations.values()):
        nm = node_of[pop.name]
        info = {"model": pop.model, "record": list(pop.record), "annotations": pop.annotations,
                "index": index}
        meta: dict[str, Any] = {"name": pop.name}
        if pop.neuron_model.is_source:
            params = {}
            for k, v in pop.params.items():
                if np.ndim(v) == 0:
                    params[k] = v.item() if isinstance(v, np.generic) else v
                else:
                    meta[f"p.{k}"] = np.asarray(v).copy()
            info["params"] = params
            meta["info"] = _dumps(info, pop.name)
            nodes[nm] = nir.Input(input_type=np.array([pop.size]), metadata={META_KEY: meta})
        else:
            meta["info"] = _dumps(info, pop.name)
            nodes[nm] = _cubalif(net, pop, T, meta)
        if "spikes" in pop.record:
            out = node_name(f"{nm}__output")
            nodes[out] = nir.Output(output_type=np.array([pop.size]))
            edges.append((nm, out))

    for index, proj in enumerate(net.projections.values()):
        _export_projection(net, proj, index, T, dt, nodes, edges, node_of, node_name)

    gmeta = {"generator": META_KEY, "network_name": net.name, "dt_ms": dt, "time_unit_ms": T,
             "spike_convention": "dirac", "seed": int(net.seed)}
    try:
        gmeta["network_metadata"] = json.dumps({k: v for k, v in net.metadata.items() if k != "nir"},
                                               allow_nan=False)
    except (TypeError, ValueError):
        warnings.warn(f"network {net.name!r}: metadata is not JSON-serializable and is not "
                      f"exported to NIR", NIRApproximationWarning, stacklevel=2)
    try:
        from neurocompile import __version__
        gmeta["neurocompile_version"] = __version__
    except ImportError:  # pragma: no cover
        pass
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=gmeta, type_check=False)


def save_nir(net: Network, path: str | os.PathLike[str], *, time_unit_ms: float = 1000.0) -> Path:
    """Export with `to_nir` and write a .nir (HDF5) file via `nir.write`, atomically."""
    graph = to_nir(net, time_unit_ms=time_unit_ms)
    path = Path(path)
    with atomic_path(path) as tmp:
        nir.write(tmp, graph)
    return path


def _dumps(info: dict[str, Any], owner: str) -> str:
    try:
        return json.dumps(info, allow_nan=False)
    except (TypeError, ValueError):
        warnings.warn(f"{owner!r}: annotations are not JSON-serializable and are not exported to "
                      f"NIR", NIRApproximationWarning, stacklevel=3)
        info = {k: v for k, v in info.items() if k != "annotations"}
        return json.dumps(info, allow_nan=False, default=str)


def _cubalif(net: Network, pop: Population, T: float, meta: dict[str, Any]) -> nir.CubaLIF:
    p = pop.param
    te, ti = p("tau_syn_E"), p("tau_syn_I")
    used = {pr.receptor for pr in net.projections_into(pop.name) if pr.n_synapses}
    if np.array_equal(te, ti) or used <= {"excitatory"}:
        tau_s = te
    elif used == {"inhibitory"}:
        tau_s = ti
    else:
        i = int(np.argmax(te != ti))
        raise ModelError(f"population {pop.name!r}: tau_syn_E ({te[i]:g} ms) and tau_syn_I "
                         f"({ti[i]:g} ms) differ (neuron {i}) and both receptors receive synapses; "
                         f"NIR's CubaLIF has one synaptic time constant. Split the population or "
                         f"make them equal before exporting")
    tau_m, cm = p("tau_m"), p("cm")
    r = tau_m / cm  # MOhm: tau_m dv/dt = (v_rest - v) + (tau_m/cm)(I + i_offset)
    v_rest, i_offset = p("v_rest"), p("i_offset")
    # i_offset enters the membrane directly, so it folds exactly into the leak potential.
    v_leak = v_rest + r * i_offset
    ref_steps = np.round(p("tau_refrac") / net.dt_ms)
    if np.any(ref_steps >= 1):
        warnings.warn(f"population {pop.name!r}: NIR has no refractory period; tau_refrac is kept "
                      f"only in neurocompile's metadata (other NIR tools ignore it)",
                      NIRApproximationWarning, stacklevel=3)
    for k in ("v_rest", "i_offset", "tau_refrac", "v_init"):
        meta[f"p.{k}"] = _meta_value(pop, k)
    if not np.array_equal(te, ti):
        meta["p.tau_syn_E"] = _meta_value(pop, "tau_syn_E")
        meta["p.tau_syn_I"] = _meta_value(pop, "tau_syn_I")
    tau_syn = tau_s / T
    return nir.CubaLIF(tau_syn=tau_syn, tau_mem=tau_m / T, r=r, v_leak=v_leak,
                       v_threshold=p("v_thresh").copy(), v_reset=p("v_reset").copy(),
                       w_in=tau_syn.copy(), metadata={META_KEY: meta})


def _meta_value(pop: Population, k: str) -> Any:
    """A parameter for node metadata: a Python float if shared, else a 1-D float64 array.

    (HDF5 cannot compress 0-d arrays, which nir.write would try.)"""
    v = pop.params.get(k, pop.neuron_model.params[k].default)
    if np.ndim(v) == 0:
        return float(v)
    return np.asarray(v, dtype=np.float64).copy()


def _dup_rank(pre: np.ndarray, post: np.ndarray) -> np.ndarray:
    """For each synapse, how many earlier synapses share its (pre, post) pair."""
    key = pre.astype(np.int64) * (int(post.max(initial=0)) + 1) + post.astype(np.int64)
    order = np.argsort(key, kind="stable")
    ks = key[order]
    start = np.r_[0, np.flatnonzero(np.diff(ks)) + 1]
    first = np.repeat(start, np.diff(np.r_[start, ks.size]))
    rank = np.empty(key.size, dtype=np.int64)
    rank[order] = np.arange(ks.size) - first
    return rank


def _export_projection(net: Network, proj: Projection, index: int, T: float, dt: float,
                       nodes: dict[str, Any],
                       edges: list[tuple[str, str]], node_of: dict[str, str], node_name: Any) -> None:
    pre_pop, post_pop = net.populations[proj.pre], net.populations[proj.post]
    info: dict[str, Any] = {}
    if proj.plasticity is not None:
        info["plasticity"] = proj.plasticity.to_dict()
        warnings.warn(f"projection {proj.name!r}: NIR has no plasticity; the STDP rule is kept only "
                      f"in neurocompile's metadata and the exported weights are static",
                      NIRApproximationWarning, stacklevel=3)
    info["index"] = index
    meta = {"projection": proj.name, "receptor": proj.receptor, "info": json.dumps(info)}
    nz = proj.weight != 0
    if not np.all(nz):
        warnings.warn(f"projection {proj.name!r}: {int((~nz).sum())} zero-weight synapse(s) are "
                      f"dropped (in a NIR weight matrix zero means no connection)",
                      NIRApproximationWarning, stacklevel=3)
    pre, post = proj.pre_idx[nz].astype(np.int64), proj.post_idx[nz].astype(np.int64)
    w, delay = proj.weight[nz], proj.delay[nz].astype(np.int64)
    src, dst = node_of[proj.pre], node_of[proj.post]

    # chunks: (synapse selector, delay placement, delays) with placement in
    # {"none", "pre" (per-pre Delay before Linear), "post" (uniform or per-post Delay after)}.
    chunks: list[tuple[np.ndarray, str, np.ndarray | None]] = []
    rank = _dup_rank(pre, post) if pre.size else np.zeros(0, np.int64)
    for layer in range(int(rank.max(initial=-1)) + 1 if pre.size else 1):
        sel = rank == layer if pre.size else np.zeros(0, bool)
        lp, lq, ld = pre[sel], post[sel], delay[sel]
        if ld.size == 0 or np.all(ld == 1):
            chunks.append((sel, "none", None))
        elif np.all(ld == ld[0]):
            chunks.append((sel, "post", np.full(post_pop.size, ld[0])))
        elif _function_of(lp, ld, pre_pop.size) is not None:
            chunks.append((sel, "pre", _function_of(lp, ld, pre_pop.size)))
        elif _function_of(lq, ld, post_pop.size) is not None:
            chunks.append((sel, "post", _function_of(lq, ld, post_pop.size)))
        else:
            idx = np.flatnonzero(sel)
            for u in np.unique(ld):
                s = np.zeros_like(sel)
                s[idx[ld == u]] = True
                chunks.append((s, "none" if u == 1 else "post", None if u == 1
                               else np.full(post_pop.size, u)))

    base = proj.name
    for k, (sel, where, dsteps) in enumerate(chunks):
        lin = node_name(base if len(chunks) == 1 else f"{base}__{k}")
        mat = np.zeros((post_pop.size, pre_pop.size), dtype=np.float64)  # NIR: (out, in)
        mat[post[sel], pre[sel]] = w[sel]
        nodes[lin] = nir.Linear(weight=mat, metadata={META_KEY: dict(meta)})
        delay_node = None
        if dsteps is not None:
            delay_node = node_name(f"{lin}__delay")
            # IR delay D steps = physical delay (D - 1)*dt: delay 1 is NIR's instantaneous edge.
            nodes[delay_node] = nir.Delay(delay=(np.maximum(dsteps, 1) - 1) * dt / T,
                                          metadata={META_KEY: dict(meta)})
        if where == "pre":
            edges += [(src, delay_node), (delay_node, lin), (lin, dst)]
        elif where == "post":
            edges += [(src, lin), (lin, delay_node), (delay_node, dst)]
        else:
            edges += [(src, lin), (lin, dst)]


def _function_of(idx: np.ndarray, values: np.ndarray, n: int) -> np.ndarray | None:
    """values as a per-index array of length n if values is a function of idx, else None."""
    out = np.ones(n, dtype=np.int64)
    out[idx] = values
    return out if np.array_equal(out[idx], values) else None
