"""Packaging: every source package ships, and plugins are found through entry points."""
from __future__ import annotations

import sys
from pathlib import Path

from neurocompile.plugins import backend_names, model_entries

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
MAPPING = {"neurocompile": "neurocompile", "backends": "neurocompile.backends",
           "models": "neurocompile.models", "hw_configs": "neurocompile.hw_configs"}


def test_every_package_directory_is_listed_in_pyproject():
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(cfg["packages"])
    found = set()
    for top, dotted in MAPPING.items():
        for init in (ROOT / top).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / top).parts
            found.add(".".join((dotted, *rel)))
    assert found - listed == set(), "add these to [tool.setuptools] packages"


def test_plugins_are_registered_by_entry_points():
    assert {"sim", "lava", "nengo_loihi"} <= set(backend_names())
    models = model_entries()
    assert {"synfire", "ca3"} <= set(models)
    assert all(m.summary for m in models.values())  # `neurocompile models` shows a description
