"""The layering rules of docs/architecture.md, checked on the source tree."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "neurocompile"


def _sources(base: Path) -> list[Path]:
    return sorted(p for p in base.rglob("*.py") if "__pycache__" not in p.parts)


def test_the_compiler_core_never_imports_a_backend():
    offenders = []
    for path in _sources(CORE):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"^\s*(from|import)\s+neurocompile\.backends\b", line):
                offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert offenders == []


def test_only_target_packages_ask_which_family_a_board_is():
    """Generic code calls the TargetFamily; `family_of` (targets/__init__.py) is the one place that
    maps a board's family to its package (the board schema maps it to its fields by a table)."""
    allowed = {CORE / "targets"}
    offenders = []
    for path in _sources(ROOT / "neurocompile") + _sources(ROOT / "backends") + _sources(ROOT / "models"):
        if any(path == a or a in path.parents for a in allowed):
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"family\s*[!=]=\s*[\"']|[\"'](spinnaker|loihi\d?)[\"']\s*[!=]=\s*\w*\.?family", line):
                offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert offenders == []
