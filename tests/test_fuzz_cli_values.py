"""Property-based fuzzing of the CLI's value loaders (issue 9): `--param KEY=VALUE` and `--option KEY=JSON`.

A value either is accepted (and then the compile runs to its end or stops with a user error), or
is refused with a NeurocompileError whose message is one line. Nothing else may escape: no
TypeError from a comparison, no numpy error from a negative size, no crash writing report.json.
Options go through the same parser the CLI uses (`cli._compile_options`) and, when accepted, into
a real compile of a small network on every board family.
"""
from __future__ import annotations

import json
import math
import os
import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli_helpers import assert_clean_failure, run_cli
from neurocompile.boards import load_board
from neurocompile.cli import UserFacingError, _compile_options
from neurocompile.compiler import compile_network
from neurocompile.errors import NeurocompileError
from neurocompile.inputs import convert_option, load_target, parse_options
from neurocompile.passes.options import COMPILER_OPTIONS
from neurocompile.plugins import model_entries

FUZZ = settings(max_examples=int(os.environ.get("NEUROCOMPILE_FUZZ_EXAMPLES", 500)), deadline=None,
                suppress_health_check=[HealthCheck.too_slow])
CLI_FUZZ = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
COMPILE_FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BOARDS = {name: load_board(name) for name in ("spinn-3", "loihi2-oheo-gulch")}
MODELS = {name: entry.options() for name, entry in model_entries().items()}


def one_line(e: BaseException) -> None:
    msg = str(e)
    assert msg.strip() and "\n" not in msg, repr(msg)


# Text a user might type: numbers of every kind, booleans in every spelling, junk, JSON.
numbers = st.one_of(st.integers(-10**12, 10**12).map(str), st.floats(allow_nan=True, allow_infinity=True).map(repr),
                    st.sampled_from(["1e400", "-0", "0x10", "1_000", " 3 ", "2.7", "nan", "inf", "-inf"]))
words = st.one_of(st.sampled_from(["true", "false", "True", "FALSE", "yes", "no", "0", "1", "", " ", "None",
                                   "null", "[1]", "{}", "abc"]), st.text(max_size=12))
raw_values = st.one_of(numbers, words)


@FUZZ
@given(data=st.data())
def test_fuzz_param_values_of_every_model(data):
    """Every model option, any text: its converter returns a value of the option's type or refuses."""
    model = data.draw(st.sampled_from(sorted(MODELS)))
    options = MODELS[model]
    key = data.draw(st.sampled_from(sorted(options) + ["no_such_option"]))
    raw = data.draw(raw_values)
    try:
        pairs = parse_options([f"{key}={raw}"])
        value = convert_option(model, key, pairs[key], options.get(key))
    except NeurocompileError as e:
        one_line(e)
        return
    default = options.get(key)
    if isinstance(default, bool):
        assert isinstance(value, bool)
    elif isinstance(default, int):
        assert isinstance(value, int)
    elif isinstance(default, float):
        assert isinstance(value, float) and math.isfinite(value)


# Sizes stay small when valid (a valid 500M-synapse build is legal but not for CI); the text around
# them is anything. Huge sizes are refused by the builder's bounds, tested explicitly below.
small_int = st.one_of(st.integers(-3, 200).map(str), words, st.floats().map(repr),
                      st.sampled_from(["1e6", "10**9", "99999999999999999999", "-0", "0x10"]))


@FUZZ
@given(data=st.data())
def test_fuzz_synfire_params_build_or_refuse(data):
    """The whole --param path of one model, building the network: built and valid, or one error line."""
    raw = {"n_groups": data.draw(small_int), "group_size": data.draw(small_int), "fan_in": data.draw(small_int),
           "delay_min": data.draw(small_int), "delay_max": data.draw(small_int),
           "inhibition": data.draw(words), "weight_nA": data.draw(numbers)}
    keys = data.draw(st.lists(st.sampled_from(sorted(raw)), unique=True, max_size=4))
    try:
        net = load_target("synfire", parse_options([f"{k}={raw[k]}" for k in keys]))
    except NeurocompileError as e:
        one_line(e)
        return
    assert net.n_neurons > 0


def json_values(max_leaves: int = 6):
    scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                        st.floats(allow_nan=False, allow_infinity=False, width=32), st.text(max_size=6),
                        st.sampled_from(["chain", "stimulus", "inhibitory", "feedforward", "excitatory"]))
    return st.recursive(scalars, lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(["chain", "stimulus", "inhibitory", "x",
                                                                      "excitatory", "inhibitory"]), inner,
                                                     max_size=3)), max_leaves=max_leaves)


def option_text(data) -> tuple[str, str]:
    key = data.draw(st.sampled_from(sorted(COMPILER_OPTIONS) + ["bogus"]))
    text = data.draw(st.one_of(json_values().map(json.dumps), raw_values,
                               st.sampled_from(["NaN", "Infinity", "-Infinity", '{"chain": NaN}'])))
    return key, text


@FUZZ
@given(data=st.data())
def test_fuzz_compiler_options_parse_and_check(data):
    """--option KEY=JSON for every known option with any JSON (or non-JSON text): accepted, or
    refused in one line; what is accepted can be written into report.json."""
    key, text = option_text(data)
    try:
        options = _compile_options((f"{key}={text}",))
    except (NeurocompileError, UserFacingError) as e:
        one_line(e)
        return
    json.dumps(options, allow_nan=False)


@COMPILE_FUZZ
@given(data=st.data())
def test_fuzz_accepted_options_compile_cleanly(data):
    """Options the checker accepts reach the passes: the compile of a small synfire on SpiNNaker or
    Loihi 2 ends, or stops with one error line, and its report can be written."""
    key, text = option_text(data)
    try:
        options = _compile_options((f"{key}={text}",))
    except (NeurocompileError, UserFacingError):
        return
    board = BOARDS[data.draw(st.sampled_from(sorted(BOARDS)))]
    net = load_target("synfire", {"n_groups": "2", "group_size": "20", "fan_in": "5"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            c = compile_network(net, board, seed=1, options=options)
        except NeurocompileError as e:
            one_line(e)
            return
    json.dumps(c.report, allow_nan=False)  # what write_report does: must not crash


@CLI_FUZZ
@given(key=st.sampled_from(["n_groups", "group_size", "inhibition", "weight_nA", "seed"]), raw=raw_values)
def test_fuzz_cli_param(tmp_path_factory, key, raw):
    out = tmp_path_factory.mktemp("p") / "o"
    res = run_cli("compile", "synfire", "--param", "group_size=20", "--param", "fan_in=5",
                  "--param", f"{key}={raw}", "--board", "spinn-3", "-o", out)
    if res.exit_code != 0:
        assert_clean_failure(res)
        assert not out.exists()
    else:
        assert "Traceback" not in res.output and (out / "report.json").is_file()


@pytest.mark.parametrize("param", ["group_size=201476", "n_groups=100000000", "fan_in=-1", "group_size=2.7"])
def test_synfire_sizes_beyond_its_bounds_are_refused_before_allocating(tmp_path, param):
    res = run_cli("compile", "synfire", "--param", param, "-o", tmp_path / "o")
    assert_clean_failure(res, "synfire")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("text", ['rates={"chain": NaN}', "rates={\"chain\": -1}", "placement_effort=Infinity",
                                  "quantize=\"no\"", 'max_neurons_per_core={"chain": 0}'])
def test_cli_option_values_that_used_to_crash(tmp_path, text):
    res = run_cli("compile", "synfire", "--param", "group_size=20", "--param", "fan_in=5", "--option", text,
                  "--board", "spinn-3", "-o", tmp_path / "o")
    assert_clean_failure(res, "compiler option")
    assert not (tmp_path / "o").exists()
