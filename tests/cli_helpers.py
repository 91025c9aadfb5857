"""Running the CLI in-process (fast) and checking the user-facing error contract."""
from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from neurocompile.cli import cli


def run_cli(*args: str) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=True)


def assert_clean_failure(res: Result, *fragments: str, code: int | None = None) -> str:
    """Non-zero exit, no traceback, one 'Error:' line that contains every fragment."""
    assert res.exit_code != 0, res.output
    if code is not None:
        assert res.exit_code == code, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    text = res.stderr if res.stderr else res.output
    assert "Traceback" not in res.output
    lines = [ln for ln in text.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("Error:")]
    assert len(errors) == 1, text
    for f in fragments:
        assert f in errors[0], f"{f!r} not in {errors[0]!r}"
    return errors[0]


def assert_no_output_dir(out: Path) -> None:
    assert not out.exists(), f"{out} was left behind"
    leftovers = [p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")]
    assert not leftovers, f"staging directories left behind: {leftovers}"
