"""Hostile or broken input files (issue 9, "Tracebacks still reachable" and "Accepted silently").

Every case runs the CLI as a user would and checks the bad-input contract: non-zero exit, one
`Error:` line naming the object, the field, the value and the limit, no traceback, no output
directory or staging leftovers, and the input file byte-identical afterwards.
"""
from __future__ import annotations

import io
import json
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from cli_helpers import assert_clean_failure, assert_no_output_dir, run_cli
from loader_mutations import (array_member, board_text, member_data_offset, npy_bytes, population, read_ncnet,
                              rewrite_ncnet, small_nir_graph, write_ncnet, write_nir)
from neurocompile.boards import load_board_file
from neurocompile.errors import BoardError, FileFormatError, ModelError
from neurocompile.ir import load_network, validate_network
from neurocompile.ir.network import MAX_NEURONS


def _ncnet(t: Path, manifest=None, arrays=None) -> Path:
    """The small network file with the manifest edited / array members replaced."""
    good = write_ncnet(t / "good.ncnet")
    return rewrite_ncnet(good, t / "bad.ncnet", manifest, arrays)


def _set_pop(name, key, value):
    return lambda m: population(m, name).__setitem__(key, value)


def _replace_array(t: Path, projection: str, field: str, arr: np.ndarray) -> Path:
    good = write_ncnet(t / "good.ncnet")
    m, _ = read_ncnet(good)
    return rewrite_ncnet(good, t / "bad.ncnet", arrays={array_member(m, projection, field): npy_bytes(arr)})


def _crc_error(t: Path) -> Path:
    p = write_ncnet(t / "crc.ncnet")
    m, _ = read_ncnet(p)
    offset, length = member_data_offset(p, array_member(m, "s->x", "weight"))
    raw = bytearray(p.read_bytes())
    raw[offset + length - 1] ^= 0xFF  # last byte of the data: the header still parses
    p.write_bytes(bytes(raw))
    return p


def _npy_shape(t: Path) -> Path:
    good = write_ncnet(t / "good.ncnet")
    m, members = read_ncnet(good)
    member = array_member(m, "s->x", "weight")
    buf = io.BytesIO()  # a well-formed header declaring 10**13 float64 values, then the 2 real ones
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False, "shape": (10**13,)})
    return rewrite_ncnet(good, t / "bad.ncnet", arrays={member: buf.getvalue() + np.array([0.5, 0.7]).tobytes()})


def _deep_manifest(t: Path) -> Path:
    return _ncnet(t, manifest=lambda m: json.dumps(m)[:-1] + ', "deep": ' + "[" * 100_000 + "]" * 100_000 + "}")


def _board(t: Path, text: str, name: str = "spinn-3") -> Path:
    p = t / f"{name}.yaml"  # a board's name must match its file name
    p.write_text(text)
    return p


def _billion_laughs() -> str:
    head = board_text().split("\nnotes:")[0]
    assert head != board_text()
    lines = ["x0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"x{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    # the keys x0..x7 are unknown fields, but the loader must stop before anyone looks at them
    return head + "\n" + "\n".join(lines) + "\nnotes: [*a8, *a8, *a8, *a8, *a8, *a8, *a8, *a8, *a8, *a8]\n"


def _nir_wrong_type(t: Path) -> Path:
    import h5py
    p = write_nir(t / "g.nir")
    with h5py.File(p, "r+") as f:
        del f["node/nodes/lif/type"]
        f["node/nodes/lif/type"] = "LeakyNeuron"
    return p


def _nir_big_input(t: Path) -> Path:
    return write_nir(t / "big.nir", small_nir_graph(input_size=10**9))


def _report(t: Path, edit) -> Path:
    d = t / "rep"
    res = run_cli("compile", "synfire", "--board", "spinn-3", "-o", d)
    assert res.exit_code == 0, res.output
    rep = json.loads((d / "report.json").read_text())
    edit(rep)
    (d / "report.json").write_text(json.dumps(rep))
    return d


SIZE_LIMIT = f"at most {MAX_NEURONS:,} neurons"

# name: (builder of the input path, extra argv, fragments of the Error: line)
FILE_CASES = {
    # --- .ncnet: corrupt zip / arrays, sizes that cannot be allocated
    "ncnet CRC error": (_crc_error, [], ["crc.ncnet", "projection 's->x'", "weight", "is corrupt", "Bad CRC-32"]),
    "ncnet size 10**12": (lambda t: _ncnet(t, _set_pop("x", "size", 10**12)), [],
                          ["population 'x'", "field 'size'", SIZE_LIMIT, "got 1000000000000"]),
    "ncnet npy shape 10**13": (_npy_shape, [], ["projection 's->x'", "weight", "declares shape (10000000000000,)",
                                                "80,000,000,000,000 bytes", "the file holds 16"]),
    # --- .ncnet: wrong types
    "ncnet size 'abc'": (lambda t: _ncnet(t, _set_pop("x", "size", "abc")), [],
                         ["population 'x'", "field 'size'", "positive integer", "got 'abc'"]),
    "ncnet size -5": (lambda t: _ncnet(t, _set_pop("x", "size", -5)), [], ["population 'x'", "field 'size'", "got -5"]),
    "ncnet size 2.7": (lambda t: _ncnet(t, _set_pop("x", "size", 2.7)), [], ["population 'x'", "field 'size'", "got 2.7"]),
    "ncnet string weights": (lambda t: _replace_array(t, "s->x", "weight", np.array(["a", "b"])), [],
                             ["projection 's->x'", "weight must be a real", "<U1"]),
    "ncnet complex weights": (lambda t: _replace_array(t, "s->x", "weight", np.array([0.5 + 1j, 0.7 + 0j])), [],
                              ["projection 's->x'", "weight must be a real", "complex128", "imaginary part"]),
    "ncnet float pre_idx": (lambda t: _replace_array(t, "s->x", "pre_idx", np.array([0.0, 1.0])), [],
                            ["projection 's->x'", "pre_idx must be an integer array", "float64"]),
    "ncnet fractional delay": (lambda t: _replace_array(t, "s->x", "delay", np.array([1.5, 2.0])), [],
                               ["projection 's->x'", "delay must hold whole timesteps", "got 1.5", "synapse 0"]),
    "ncnet plasticity 'yes'": (lambda t: _ncnet(t, lambda m: m["projections"][0].__setitem__("plasticity", "yes")), [],
                               ["projection 's->x'", "field 'plasticity'", "null or an object", "got 'yes'"]),
    "ncnet plasticity parameter not a number": (
        lambda t: _ncnet(t, lambda m: m["projections"][1]["plasticity"].__setitem__("tau_plus", "fast")), [],
        ["projection 'p->x'", "parameter 'tau_plus' must be a number", "'fast'"]),
    "ncnet manifest nested 100k deep": (_deep_manifest, [], ["manifest.json nests deeper than 64 levels"]),
    "ncnet duplicate population names": (lambda t: _ncnet(t, _set_pop("p", "name", "x")), [],
                                         ["population name 'x' occurs twice"]),
    "ncnet population name is a list": (lambda t: _ncnet(t, _set_pop("x", "name", ["x"])), [],
                                        ["populations[2]", "field 'name'", "non-empty string", "got ['x']"]),
    "ncnet seed out of range": (lambda t: _ncnet(t, lambda m: m.__setitem__("seed", -1)), [],
                                ["field 'seed'", "[0, 4294967295]", "got -1"]),
    # --- board files
    "board topology 100000x100000": (
        lambda t: _board(t, board_text().replace("width: 2 ", "width: 100000 ").replace("height: 2 ", "height: 100000 ")),
        ["--board"], ["spinn-3.yaml", "'topology.width'", "<= 256", "got 100000"]),
    "board limit .inf": (lambda t: _board(t, board_text().replace("neurons: 256", "neurons: .inf")), ["--board"],
                         ["spinn-3.yaml", "'core_limits.neurons'", "positive integer", "got inf"]),
    "board billion laughs in notes": (lambda t: _board(t, _billion_laughs()), ["--board"],
                                      ["spinn-3.yaml", "more than 100,000 YAML nodes once aliases are expanded"]),
    "board notes not strings": (lambda t: _board(t, board_text().split("\nnotes:")[0] + "\nnotes: [[" + "1, " * 500 + "1]]\n"),
                                ["--board"], ["spinn-3.yaml", "'notes'", "a list of strings", "<list of 1 items>"]),
    # --- NIR
    "nir wrong node type": (_nir_wrong_type, [], ["g.nir", "NIR node 'lif'", "unknown type 'LeakyNeuron'", "LIF"]),
    "nir Input of size 10**9": (_nir_big_input, [], ["NIR Input 'in'", "[1000000000]", f"{MAX_NEURONS:,}"]),
}


@pytest.mark.parametrize("case", sorted(FILE_CASES))
def test_bad_file_fails_cleanly(tmp_path, case):
    build, flag, fragments = FILE_CASES[case]
    path = build(tmp_path)
    before = path.read_bytes()
    out = tmp_path / "out"
    argv = ["compile", "synfire", "--board", path] if flag == ["--board"] else ["compile", path]
    t0 = time.perf_counter()
    line = assert_clean_failure(run_cli(*argv, "-o", out), *fragments)
    assert time.perf_counter() - t0 < 10, "the check must come before any large allocation or expansion"
    assert len(line) < 400, line
    assert_no_output_dir(out)
    assert path.read_bytes() == before


def test_board_dev_zero_is_refused_without_reading_it(tmp_path):
    out = tmp_path / "out"
    assert_clean_failure(run_cli("compile", "synfire", "--board", "/dev/zero", "-o", out),
                         "board file '/dev/zero'", "not a regular file")
    assert_no_output_dir(out)


def test_board_file_larger_than_limit(tmp_path):
    p = _board(tmp_path, board_text() + "# " + "x" * 2**20 + "\n")
    with pytest.raises(BoardError, match=r"larger than the 1,048,576 byte limit"):
        load_board_file(p)


@pytest.mark.parametrize("edit, fragments", [
    (lambda r: r.__setitem__("network", "x"), ["field 'network' must be an object", "got 'x'"]),
    (lambda r: r["utilization"].pop("cores_used"), ["field 'utilization.cores_used' is missing"]),
    (lambda r: r["populations"][1].__setitem__("size", "big"), ["field 'populations[1].size' must be an integer", "'big'"]),
    (lambda r: r["diagnostics"][0].__setitem__("subject", 7), ["field 'diagnostics[0].subject' must be a string or null"]),
    (lambda r: r["mapping"]["summary"].__setitem__("max_utilization", {"neurons": "full"}),
     ["field 'mapping.summary.max_utilization.neurons' must be a number"]),
], ids=["network-not-object", "missing-field", "size-not-int", "subject-not-str", "utilization-not-number"])
def test_malformed_report_names_the_field(tmp_path, edit, fragments):
    d = _report(tmp_path, edit)
    before = (d / "report.json").read_bytes()
    line = assert_clean_failure(run_cli("report", d), "report.json", "not a valid report", *fragments)
    assert "string indices" not in line and "KeyError" not in line
    assert (d / "report.json").read_bytes() == before


def test_report_names_with_markup_are_printed_literally(tmp_path):
    d = _report(tmp_path, lambda r: r["populations"][0].__setitem__("name", "[/bold]odd[red]"))
    res = run_cli("report", d)
    assert res.exit_code == 0, res.output
    assert "[/bold]odd[red]" in res.output


# ----- documented conversions and API-level checks ------------------------------------------------

def test_integral_float_size_is_read_with_a_warning(tmp_path):
    p = _ncnet(tmp_path, _set_pop("x", "size", 3.0))
    with pytest.warns(UserWarning, match=r"population 'x': size 3.0 read as the integer 3"):
        net = load_network(p)
    assert net.populations["x"].size == 3 and isinstance(net.populations["x"].size, int)
    validate_network(net)


def test_integral_float_delays_are_read_as_integers(tmp_path):
    p = _replace_array(tmp_path, "s->x", "delay", np.array([1.0, 2.0]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        net = load_network(p)
    assert net.projections["s->x"].delay.dtype == np.int32
    assert net.projections["s->x"].delay.tolist() == [1, 2]


def test_index_values_beyond_int32_are_not_wrapped(tmp_path):
    p = _replace_array(tmp_path, "s->x", "post_idx", np.array([0, 2**32], dtype=np.int64))
    with pytest.raises(FileFormatError, match=r"post_idx value 4.29497e\+09 is outside the int32 range"):
        load_network(p)


@pytest.mark.parametrize("attr, value, fragment", [
    ("pre_idx", np.array([0.0, 1.0]), "pre_idx must be a 1-D array of integers, got float64"),
    ("weight", np.array([1 + 1j, 1.0]), "weight must be a 1-D array of real numbers, got complex128"),
    ("delay", np.array([1.5, 2.0]), "delay must be a 1-D array of integer steps, got float64"),
])
def test_validation_checks_dtypes_of_api_built_projections(tiny_net, attr, value, fragment):
    """A Projection built directly (not through add_projection) cannot carry wrong dtypes into
    the numba kernels either."""
    proj = next(iter(tiny_net.projections.values()))
    value = np.resize(value, proj.n_synapses)
    setattr(proj, attr, value)
    with pytest.raises(ModelError, match=fragment.replace("(", r"\(")):
        validate_network(tiny_net)


def test_api_population_size_limit():
    from neurocompile.ir import Network
    net = Network()
    with pytest.raises(ModelError, match=rf"population 'big': size must be a positive integer of at most "
                                         rf"{MAX_NEURONS:,} neurons, got 1000000000000"):
        net.add_population("big", 10**12)
    with pytest.raises(ModelError, match="got 2.7"):
        net.add_population("frac", 2.7)


def test_long_values_are_truncated_in_messages(tmp_path):
    p = _ncnet(tmp_path, _set_pop("x", "model", "m" * 10_000))
    net = load_network(p)
    with pytest.raises(ModelError) as e:
        validate_network(net)
    assert len(str(e.value)) < 300 and "..." in str(e.value)


def _hang(path):
    time.sleep(600)


def _crash(path):
    import os
    os._exit(139)  # dies without a word, as a segfault in libhdf5 would (quietly: no core dump)


@pytest.mark.parametrize("reader, fragment", [(_hang, "did not finish within 2 s"),
                                              (_crash, "the HDF5 library crashed reading the file")],
                         ids=["hang", "crash"])
def test_nir_hdf5_library_hang_or_crash_is_an_error(tmp_path, monkeypatch, reader, fragment):
    """Fuzzing found a one-byte change in a string heap that makes libhdf5 loop forever; the raw
    read runs in a child process, so a hang or a crash there is one clean error here."""
    import neurocompile.nir_import as nir_import
    p = write_nir(tmp_path / "g.nir")
    monkeypatch.setattr(nir_import, "NIR_READ_TIMEOUT_S", 2.0)
    monkeypatch.setattr(nir_import, "_read_hdf", reader)
    t0 = time.perf_counter()
    with pytest.raises(FileFormatError, match=fragment):
        nir_import.load_nir(p)
    assert time.perf_counter() - t0 < 10
