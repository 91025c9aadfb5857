"""report.schema.json: shipped, versioned with the writer, used by the reader, documented."""
from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import jsonschema
import pytest

from cli_helpers import assert_clean_failure, run_cli
from neurocompile.report.build import REPORT_VERSION
from neurocompile.report.schema import first_error, report_schema

DOC = Path(__file__).resolve().parents[1] / "docs" / "report-schema.md"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("schema") / "c"
    assert run_cli("compile", "synfire", "--board", "spinn-3", "-o", out).exit_code == 0
    return json.loads((out / "report.json").read_text())


def test_schema_is_package_data_valid_and_versioned_with_the_writer():
    schema = report_schema()  # importlib.resources: present in the installed package
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["properties"]["report_version"] == {"const": REPORT_VERSION}
    assert f"report_version {REPORT_VERSION}" in schema["title"]


def test_a_fresh_report_is_valid(report):
    assert first_error(report) is None


@pytest.mark.parametrize("edit, message", [
    (lambda r: r["estimates"]["energy"]["components"][0].pop("source"),
     "field 'estimates.energy.components[0].source' is missing"),
    (lambda r: r["estimates"]["latency"].__setitem__("seconds_per_step", "fast"),
     "field 'estimates.latency.seconds_per_step' must be a number, got 'fast'"),
    (lambda r: r["estimates"]["energy"]["components"][1].__setitem__("measured", "yes"),
     "field 'estimates.energy.components[1].measured' must be true or false"),
    (lambda r: r.__setitem__("spynnaker", 5), "field 'spynnaker' must be an object, got 5"),
    (lambda r: r["placement"][0].__setitem__("chip", [1]), "field 'placement[0].chip' must be an [x, y] pair"),
    (lambda r: r["mapping"]["cores"][0]["neurons"].__setitem__("value", "x"),
     "field 'mapping.cores[0].neurons.value' must be a number, got 'x'"),
    (lambda r: r["diagnostics"][0].__setitem__("level", "fatal"), "field 'diagnostics[0].level' must be one of"),
])
def test_the_first_bad_field_is_named_in_one_line(report, edit, message):
    bad = copy.deepcopy(report)
    edit(bad)
    assert message in first_error(bad)


def test_spynnaker_readback_is_an_optional_object(report):
    r = copy.deepcopy(report)
    r["spynnaker"] = {"placements": [], "differences": []}
    assert first_error(r) is None


def test_reader_refuses_a_bad_report_with_one_error_line(tmp_path, report):
    bad = copy.deepcopy(report)
    bad["estimates"]["energy"]["joules_per_simulated_second"] = -1
    (tmp_path / "report.json").write_text(json.dumps(bad))
    assert_clean_failure(run_cli("report", tmp_path), "not a valid report",
                         "field 'estimates.energy.joules_per_simulated_second' must be >= 0, got -1")


def test_docs_describe_every_field_of_the_schema():
    doc = DOC.read_text()
    schema = report_schema()
    names = set(schema["properties"])
    est = schema["$defs"]["estimates"]["properties"]
    names |= set(est["energy"]["properties"]) | set(est["latency"]["properties"])
    names |= set(est["energy"]["properties"]["components"]["items"]["properties"])
    missing = sorted(n for n in names if not re.search(rf"`(?:[\w.\[\]]*\.)?{re.escape(n)}(?:\[\])?`", doc))
    assert not missing, f"docs/report-schema.md does not mention {missing}"


def test_pyproject_ships_the_schema_as_package_data():
    import sys

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - 3.10
        import tomli as tomllib
    cfg = tomllib.loads((DOC.parents[1] / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "*.json" in cfg["package-data"]["neurocompile.report"]
    assert (DOC.parents[1] / "neurocompile" / "report" / "report.schema.json").is_file()
