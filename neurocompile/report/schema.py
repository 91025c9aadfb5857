"""report.json checked against the versioned JSON Schema shipped beside this module.

The schema (report.schema.json) is the contract for people and scripts reading reports; the
reader and the tests use it, so a report the writer produces and the one the reader accepts cannot
drift apart. A failure names the first bad field in one line, the way the old hand-written check did.
"""
from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError, best_match

from neurocompile.errors import NeurocompileError, clip, shorten

SCHEMA_FILE = "report.schema.json"
_TYPE_WORDS = {"integer": "an integer", "number": "a number", "string": "a string", "boolean": "true or false",
               "object": "an object", "array": "a list", "null": "null"}


@lru_cache(maxsize=1)
def report_schema() -> dict[str, Any]:
    return json.loads(resources.files("neurocompile.report").joinpath(SCHEMA_FILE).read_text())


def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(report_schema())


def field_path(path: Any) -> str:
    """['populations', 1, 'size'] -> 'populations[1].size'."""
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{clip(str(p), 40)}" if out else clip(str(p), 40))
    return out


def _describe(e: ValidationError) -> str:
    where = field_path(e.absolute_path)
    if e.validator == "required":
        missing = next((k for k in e.validator_value if isinstance(e.instance, dict) and k not in e.instance), "?")
        return f"field {field_path([*e.absolute_path, missing])!r} is missing"
    if e.validator == "type":
        kinds = e.validator_value if isinstance(e.validator_value, list) else [e.validator_value]
        expected = " or ".join(_TYPE_WORDS.get(k, k) for k in kinds)
    elif e.validator in ("minimum", "exclusiveMinimum"):
        expected = f"{'>' if e.validator == 'exclusiveMinimum' else '>='} {e.validator_value}"
    elif e.validator == "enum":
        expected = f"one of {e.validator_value}"
    elif e.validator == "const":
        expected = repr(e.validator_value)
    elif e.validator in ("minItems", "maxItems"):
        expected = "an [x, y] pair"
    else:
        expected = f"valid ({clip(e.message, 80)})"
    return f"field {where or '(top level)'!r} must be {expected}, got {shorten(e.instance)}"


def first_error(report: Any) -> str | None:
    """The most relevant schema violation of `report`, as one line, or None when it is valid."""
    err = best_match(_validator().iter_errors(report))
    return None if err is None else _describe(err)


def check_report(report: Any, source: str) -> None:
    problem = first_error(report)
    if problem is not None:
        raise NeurocompileError(f"{source}: not a valid report: {problem}")
