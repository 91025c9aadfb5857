"""Property-based fuzzing of every loader (issue 9): `.ncnet`, board YAML, NIR and report.json.

Each test starts from a valid input, corrupts it (mutated values and types, replaced arrays, byte
flips, truncation) and asserts the loader contract: the input either loads (and validates), or the
loader raises a NeurocompileError subclass whose message is one non-empty line. Any other
exception, a hang or a huge allocation fails the test. The CLI tests at the end check the user's
view of a few of these: one `Error:` line, no traceback, no output left behind, inputs unchanged.

500 examples per loader; the whole file takes about a minute on 2 cores (see the PR notes).
"""
from __future__ import annotations

import io
import json
import math
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, assume, currently_in_test_context, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from rich.console import Console

from cli_helpers import assert_clean_failure, assert_no_output_dir, run_cli
from loader_mutations import HW_CONFIGS, npy_bytes, read_ncnet, small_nir_graph, write_members, write_ncnet, write_nir
from neurocompile.boards import load_board_file
from neurocompile.errors import NeurocompileError
from neurocompile.ir import load_network, validate_network
from neurocompile import nir_import
from neurocompile.nir_import import load_nir
from neurocompile.report.build import read_report
from neurocompile.report.text import render_report

# NEUROCOMPILE_FUZZ_EXAMPLES raises the count for a longer local hunt (CI uses the default 500).
FUZZ = settings(max_examples=int(os.environ.get("NEUROCOMPILE_FUZZ_EXAMPLES", 500)), deadline=None, suppress_health_check=[HealthCheck.too_slow])
CLI_FUZZ = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])

WORK = Path(tempfile.mkdtemp(prefix="nc-fuzz-"))
_DEFAULT_NIR_TIMEOUT = nir_import.NIR_READ_TIMEOUT_S  # one directory for the module; examples overwrite


def setup_module() -> None:
    # A corrupt HDF5 file can make libhdf5 loop; the reader then gives up after this long. The
    # default (60 s) is for real files; the examples here are 40 kB.
    nir_import.NIR_READ_TIMEOUT_S = 5.0


def teardown_module() -> None:
    nir_import.NIR_READ_TIMEOUT_S = _DEFAULT_NIR_TIMEOUT
    shutil.rmtree(WORK, ignore_errors=True)


def loads_or_fails_cleanly(load) -> str:
    """The loader contract. Returns 'ok' or 'error' (hypothesis reports anything else raised)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # documented conversions warn; not the point here
            load()
    except NeurocompileError as e:
        msg = str(e)
        assert msg.strip() and "\n" not in msg and "\r" not in msg, repr(msg)
        assert len(msg) < 1000, f"message of {len(msg)} characters"
        if currently_in_test_context():  # statistics: pytest --hypothesis-show-statistics
            event(f"error: {type(e).__name__}")
        return "error"
    if currently_in_test_context():
        event("loaded")
    return "ok"


# ----- value mutation on JSON-like documents ------------------------------------------------------

HOSTILE = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-2**70, max_value=2**70),
    st.sampled_from([0, -1, 1, 2**31, 2**32, 2**63, 10**12, 10**13]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1.5, 2.7, 3.0, -0.0, 1e300]),
    st.text(max_size=12), st.sampled_from(["", "abc", "yes", "[/]", "x" * 500]),
    st.lists(st.one_of(st.integers(-5, 5), st.floats(allow_nan=True), st.text(max_size=3)), max_size=6),
    st.dictionaries(st.text(max_size=6), st.one_of(st.integers(), st.text(max_size=4)), max_size=3),
    st.lists(st.lists(st.integers(0, 3), min_size=2, max_size=2), max_size=4),
)


def paths(doc: Any, prefix: tuple = ()) -> list[tuple]:
    """Every location in a JSON-like document (the root excluded)."""
    out = []
    if isinstance(doc, dict):
        items = doc.items()
    elif isinstance(doc, list):
        items = enumerate(doc)
    else:
        return out
    for k, v in items:
        out.append(prefix + (k,))
        out += paths(v, prefix + (k,))
    return out


@st.composite
def mutated_document(draw, doc: Any, hostile=HOSTILE) -> Any:
    """A deep copy of `doc` with 1-3 locations replaced by hostile values, deleted, or given an
    extra key."""
    doc = json.loads(json.dumps(doc))
    for _ in range(draw(st.integers(1, 3))):
        locations = paths(doc)
        if not locations:
            break
        where = draw(st.sampled_from(locations))
        parent = doc
        for k in where[:-1]:
            parent = parent[k]
        action = draw(st.sampled_from(["replace", "replace", "replace", "delete", "add"]))
        if action == "replace":
            parent[where[-1]] = draw(hostile)
        elif action == "delete":
            del parent[where[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=8))] = draw(hostile)
        else:
            parent.append(draw(hostile))
    return doc


@st.composite
def flipped_bytes(draw, data: bytes) -> bytes:
    raw = bytearray(data)
    for _ in range(draw(st.integers(1, 8))):
        i = draw(st.integers(0, len(raw) - 1))
        raw[i] ^= draw(st.integers(1, 255))
    return bytes(raw)


@st.composite
def truncated_bytes(draw, data: bytes) -> bytes:
    return data[:draw(st.integers(0, len(data) - 1))]


def damaged(data: bytes) -> st.SearchStrategy[bytes]:
    return st.one_of(flipped_bytes(data), truncated_bytes(data))


# ----- .ncnet ---------------------------------------------------------------------------------------

NCNET = write_ncnet(WORK / "base.ncnet")
NCNET_BYTES = NCNET.read_bytes()
MANIFEST, MEMBERS = read_ncnet(NCNET)

ARRAY_DTYPES = st.sampled_from([np.int8, np.int16, np.int32, np.int64, np.uint32, np.uint64, np.float32,
                                np.float64, np.complex128, np.bool_, np.dtype("U3"), np.dtype("S2"),
                                np.dtype("M8[s]")])


@st.composite
def hostile_array(draw) -> bytes:
    """A replacement .npy member: another dtype/shape/values, or a damaged copy of a real one."""
    kind = draw(st.sampled_from(["array", "array", "damaged", "header"]))
    if kind == "array":
        arr = draw(hnp.arrays(ARRAY_DTYPES, hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=4)))
        return npy_bytes(arr)
    original = MEMBERS[draw(st.sampled_from(sorted(MEMBERS)))]
    if kind == "damaged":
        return draw(damaged(original))
    buf = io.BytesIO()  # a well-formed header whose shape disagrees with the data
    shape = draw(st.tuples(st.sampled_from([0, 1, 3, 2**31, 10**13, 2**62])))
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False, "shape": shape})
    return buf.getvalue() + original[-16:]


@st.composite
def mutated_ncnet(draw) -> bytes:
    kind = draw(st.sampled_from(["manifest", "arrays", "both", "zip_bytes", "truncate"]))
    if kind == "zip_bytes":
        return draw(flipped_bytes(NCNET_BYTES))
    if kind == "truncate":
        return draw(truncated_bytes(NCNET_BYTES))
    manifest, members = MANIFEST, dict(MEMBERS)
    if kind in ("manifest", "both"):
        manifest = draw(mutated_document(MANIFEST))
    if kind in ("arrays", "both"):
        for name in draw(st.lists(st.sampled_from(sorted(MEMBERS)), min_size=1, max_size=3, unique=True)):
            members[name] = draw(hostile_array())
    buf = io.BytesIO()
    write_members(buf, json.dumps(manifest, allow_nan=True), members)  # type: ignore[arg-type]
    return buf.getvalue()


def _load_ncnet(path: Path) -> None:
    validate_network(load_network(path))


@FUZZ
@given(data=mutated_ncnet())
def test_fuzz_ncnet(data):
    p = WORK / "fuzz.ncnet"
    p.write_bytes(data)
    loads_or_fails_cleanly(lambda: _load_ncnet(p))


def test_fuzz_ncnet_base_loads():
    """The fuzzers start from inputs that load: a failure above is the mutation's doing."""
    assert loads_or_fails_cleanly(lambda: _load_ncnet(NCNET)) == "ok"


# ----- board YAML -----------------------------------------------------------------------------------

BOARD_NAMES = sorted(p.stem for p in HW_CONFIGS.glob("*.yaml"))
BOARD_TEXT = {n: (HW_CONFIGS / f"{n}.yaml").read_text() for n in BOARD_NAMES}
BOARD_DATA = {n: yaml.safe_load(t) for n, t in BOARD_TEXT.items()}
YAML_HOSTILE = st.one_of(HOSTILE, st.sampled_from([math.inf, -math.inf, math.nan, 10**100, 100000, 256, 257]))
YAML_SNIPPETS = st.sampled_from([
    "&a [1, 2]", "*a", "!!python/object:os.system ls", "!!binary aGVsbG8=", "2001-13-45", "{a: 1, a: 2}",
    "[" * 200 + "]" * 200, ".inf", ".nan", "~", "0x1F", "0o17", "1_000", "? [1]\n: 2", "'unclosed",
    "&x [*x]", "<<: {a: 1}",
])


@st.composite
def mutated_board(draw) -> tuple[str, str]:
    name = draw(st.sampled_from(BOARD_NAMES))
    kind = draw(st.sampled_from(["values", "values", "values", "text", "snippet"]))
    if kind == "values":
        text = yaml.safe_dump(draw(mutated_document(BOARD_DATA[name], YAML_HOSTILE)), allow_unicode=True)
    elif kind == "text":
        raw = draw(damaged(BOARD_TEXT[name].encode()))
        text = raw.decode("utf-8", errors="replace")
    else:  # a raw YAML construct in place of one value line
        lines = BOARD_TEXT[name].splitlines()
        candidates = [i for i, ln in enumerate(lines) if ": " in ln and not ln.lstrip().startswith("#")]
        i = draw(st.sampled_from(candidates))
        key = lines[i].split(": ", 1)[0]
        lines[i] = f"{key}: {draw(YAML_SNIPPETS)}"
        text = "\n".join(lines) + "\n"
    return name, text


@FUZZ
@given(case=mutated_board())
def test_fuzz_board_yaml(case):
    name, text = case
    p = WORK / f"{name}.yaml"
    p.write_text(text, encoding="utf-8")
    loads_or_fails_cleanly(lambda: load_board_file(p))


def test_fuzz_board_bases_load():
    for name in BOARD_NAMES:
        p = WORK / f"{name}.yaml"
        p.write_text(BOARD_TEXT[name])
        assert loads_or_fails_cleanly(lambda: load_board_file(p)) == "ok"


# ----- NIR ------------------------------------------------------------------------------------------

NIR_FILE = write_nir(WORK / "base.nir")
NIR_BYTES = NIR_FILE.read_bytes()
NIR_ARRAY = hnp.arrays(st.sampled_from([np.float64, np.float32, np.int64, np.complex128, np.bool_]),
                       hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4))


@st.composite
def mutated_nir_graph(draw):
    """A small graph with node parameters, shapes, node types and edges changed."""
    import nir

    g = small_nir_graph()
    nodes, edges = dict(g.nodes), list(g.edges)
    for _ in range(draw(st.integers(1, 3))):
        what = draw(st.sampled_from(["param", "param", "shape", "node", "edge", "drop"]))
        name = draw(st.sampled_from(sorted(nodes)))
        node = nodes[name]
        if what == "param":
            fields = [k for k, v in vars(node).items() if isinstance(v, np.ndarray)]
            if fields:
                setattr(node, draw(st.sampled_from(fields)), draw(NIR_ARRAY))
        elif what == "shape":
            shape = np.array(draw(st.lists(st.sampled_from([0, 1, 2, 3, -1, 10**9, 2**40]), min_size=0, max_size=3)))
            nodes[name] = nir.Input(input_type=shape) if draw(st.booleans()) else nir.Output(output_type=shape)
        elif what == "node":
            nodes[name] = draw(st.sampled_from([
                nir.Flatten(input_type={"input": np.array([3])}, start_dim=0, end_dim=0),
                nir.Scale(scale=np.ones(2)), nir.Linear(weight=np.ones((3, 2))),
                nir.Delay(delay=np.array([0.0015, 0.5])), nir.Threshold(threshold=np.ones(2)),
                nir.IF(r=np.ones(2), v_threshold=np.ones(2)),
                nir.CubaLIF(tau_mem=np.full(2, 0.01), tau_syn=np.full(2, 0.005), r=np.ones(2),
                            v_leak=np.zeros(2), v_threshold=np.ones(2)),
                nir.NIRGraph(nodes={"i": nir.Input(input_type=np.array([2])), "o": nir.Output(output_type=np.array([2]))},
                             edges=[("i", "o")], type_check=False),
            ]))
        elif what == "edge":
            edges.append((draw(st.sampled_from(sorted(nodes) + ["ghost"])), draw(st.sampled_from(sorted(nodes)))))
        elif edges:
            edges.pop(draw(st.integers(0, len(edges) - 1)))
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


@st.composite
def mutated_nir_file(draw) -> bytes | None:
    import nir

    if draw(st.booleans()):
        return draw(damaged(NIR_BYTES))
    graph = draw(mutated_nir_graph())
    p = WORK / "write.nir"
    try:
        nir.write(p, graph)
    except Exception:  # noqa: BLE001 - nir cannot serialise this graph; nothing for us to load
        return None
    return p.read_bytes()


@FUZZ
@given(data=mutated_nir_file())
def test_fuzz_nir(data):
    assume(data is not None)
    p = WORK / "fuzz.nir"
    p.write_bytes(data)
    loads_or_fails_cleanly(lambda: load_nir(p))


def test_fuzz_nir_base_loads():
    assert loads_or_fails_cleanly(lambda: load_nir(NIR_FILE)) == "ok"


# ----- report.json ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def report_dir() -> Path:
    out = WORK / "report"
    res = run_cli("compile", "synfire", "--board", "spinn-3", "-o", out)
    assert res.exit_code == 0, res.output
    return out


def _load_and_render(path: Path) -> None:
    render_report(read_report(path), Console(file=io.StringIO(), width=120))


@st.composite
def mutated_report(draw, base: dict[str, Any], text: str) -> bytes:
    if draw(st.integers(0, 3)) == 0:
        return draw(damaged(text.encode()))
    return json.dumps(draw(mutated_document(base)), allow_nan=True).encode()


@FUZZ
@given(data=st.data())
def test_fuzz_report(report_dir, data):
    text = (report_dir / "report.json").read_text()
    raw = data.draw(mutated_report(json.loads(text), text))
    p = WORK / "fuzz-report.json"
    p.write_bytes(raw)
    loads_or_fails_cleanly(lambda: _load_and_render(p))


def test_fuzz_report_base_loads(report_dir):
    assert loads_or_fails_cleanly(lambda: _load_and_render(report_dir / "report.json")) == "ok"


# ----- the same through the CLI: one Error: line, nothing written, inputs unchanged ----------------

def _cli_contract(argv: list[str], inputs: list[Path], out: Path) -> None:
    before = {p: p.read_bytes() for p in inputs}
    shutil.rmtree(out, ignore_errors=True)
    res = run_cli(*argv, "-o", out)
    if res.exit_code != 0:
        assert_clean_failure(res)
        assert_no_output_dir(out)
    else:
        assert res.exception is None and "Traceback" not in res.output
    for p, data in before.items():
        assert p.read_bytes() == data, f"{p} was changed"
    shutil.rmtree(out, ignore_errors=True)


@CLI_FUZZ
@given(data=mutated_ncnet())
def test_fuzz_cli_compile_ncnet(data):
    p = WORK / "cli.ncnet"
    p.write_bytes(data)
    _cli_contract(["compile", str(p), "--board", "spinn-3"], [p], WORK / "cli-out")


@CLI_FUZZ
@given(case=mutated_board())
def test_fuzz_cli_compile_board(case):
    name, text = case
    d = WORK / "cli-boards"
    d.mkdir(exist_ok=True)
    p = d / f"{name}.yaml"
    p.write_text(text, encoding="utf-8")
    _cli_contract(["compile", "synfire", "--param", "group_size=20", "--board", str(p)], [p], WORK / "cli-out")


@CLI_FUZZ
@given(data=st.data())
def test_fuzz_cli_report(report_dir, data):
    text = (report_dir / "report.json").read_text()
    d = WORK / "cli-report"
    d.mkdir(exist_ok=True)
    p = d / "report.json"
    p.write_bytes(data.draw(mutated_report(json.loads(text), text)))
    before = p.read_bytes()
    res = run_cli("report", d)
    if res.exit_code != 0:
        assert_clean_failure(res)
    else:
        assert res.exception is None and "Traceback" not in res.output
    assert p.read_bytes() == before
