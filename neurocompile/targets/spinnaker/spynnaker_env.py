"""A private, quiet sPyNNaker configuration that never touches the user's home directory.

How sPyNNaker 1!7.4.1 finds its configuration (read from the installed sources):

* ``spynnaker/pyNN/config_setup.py`` ``setup_configs()``: ``CONFIG_FILE_NAME = "spynnaker.cfg"``,
  package defaults are ``spinn_utilities.cfg``, ``spinn_machine.cfg``, ``spinnman.cfg``,
  ``pacman.cfg``, ``spinn_front_end_common/interface/spinnaker.cfg`` and
  ``spynnaker/pyNN/spynnaker.cfg``; a template is registered
  (``spinn_front_end_common/interface/config_setup.py`` ``add_template``).
* ``spinn_utilities/config_holder.py`` ``_user_cfg()``: the user file is ``.spynnaker.cfg`` looked up
  in ``appdirs.site_config_dir()`` (first entry of ``$XDG_CONFIG_DIRS``, default ``/etc/xdg``),
  ``appdirs.user_config_dir()`` (``$XDG_CONFIG_HOME``, default ``~/.config``) and ``~``.  Two hits
  raise ``TwoUserConfigsException``; none (with a template registered) makes
  ``_install_cfg_and_error()`` write ``~/.spynnaker.cfg`` and raise ``NoConfigFoundException``.
* ``spinn_utilities/conf_loader.py`` ``load_config()``: defaults, then the user file (unknown
  options only warn), then ``./spynnaker.cfg`` in the current directory (unknown options raise).

So we write ``<root>/xdg_config/.spynnaker.cfg`` and point ``XDG_CONFIG_HOME`` at it, point
``XDG_CONFIG_DIRS`` at an empty directory we own (a machine-wide ``/etc/xdg/.spynnaker.cfg`` can
then neither conflict nor change results) and run from ``<root>/run`` (no stray ``./spynnaker.cfg``).
With ``isolate_home=True`` (default) ``HOME`` also points inside ``root``: a user's own
``~/.spynnaker.cfg`` would otherwise be a second user file (``TwoUserConfigsException``) and could
change e.g. ``ring_buffer_sigma`` and therefore the weights.  ``XDG_CACHE_HOME`` and
``MPLCONFIGDIR`` go to ``root`` as well (matplotlib is imported by PyNN/neo).

Reports: ``[Mode] mode = Production`` turns every ``Info``/``Debug`` report off
(``spinn_front_end_common/interface/config_handler.py`` ``_debug_configs``);
``[Reports] write_network_graph`` (graphviz, ``spynnaker/pyNN/spynnaker.cfg``) is also forced off;
``[Reports] default_report_file_path`` (``spinn_utilities/spinn_utilities.cfg``; sPyNNaker adds a
``reports`` sub-directory) is ``root``, so reports land in ``root/reports``; the per-run
timestamped folder, the stack-trace file, ``global_provenance.sqlite3`` and the data-spec
database all live there.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Mapping, Sequence

#: File name sPyNNaker looks for (``"." + CONFIG_FILE_NAME`` in spynnaker/pyNN/config_setup.py).
USER_CFG_NAME = ".spynnaker.cfg"


def _cfg_text(sections: Mapping[str, Mapping[str, object]]) -> str:
    lines = ["# Written by neurocompile.targets.spinnaker.spynnaker_env; private to this directory."]
    for section, options in sections.items():
        lines.append(f"\n[{section}]")
        for key, value in options.items():
            lines.append(f"{key} = {value}")
    return "\n".join(lines) + "\n"


def default_cfg(report_parent: Path | str, *, board_version: int = 5,
                log_level: str = "warning") -> dict[str, dict[str, object]]:
    """The configuration we write: virtual board, quiet, reports in ``report_parent/reports``."""
    return {
        "Machine": {
            "virtual_board": True,        # spinn_machine.cfg: map without any hardware
            "version": board_version,     # spinn_machine.cfg: 5 = SpiNN-5 (48 chips), 3 = SpiNN-3
        },
        "Mode": {"mode": "Production"},   # every Info/Debug report and kept file off
        "Reports": {
            "default_report_file_path": str(report_parent),
            "write_network_graph": False,  # needs graphviz (spynnaker.cfg default: Debug)
            "display_algorithm_timings": False,
            "max_reports_kept": 2,
        },
        "Logging": {"instantiate": True, "default": log_level},
    }


@dataclass
class SpynnakerEnv:
    """A directory we own holding sPyNNaker's configuration, reports and working directory."""

    root: Path
    config_dir: Path      #: value of XDG_CONFIG_HOME; holds .spynnaker.cfg
    config_file: Path
    report_dir: Path      #: where sPyNNaker puts its reports (default_report_file_path + "/reports")
    workdir: Path         #: run sPyNNaker from here (no ./spynnaker.cfg)
    overrides: dict[str, str] = field(default_factory=dict)  #: environment variables we set

    @property
    def env(self) -> dict[str, str]:
        """A full environment for a subprocess: ``os.environ`` plus :attr:`overrides`."""
        env = dict(os.environ)
        env.update(self.overrides)
        return env

    def run(self, argv: Sequence[str], *, timeout: float | None = 600,
            env_extra: Mapping[str, str] | None = None,
            **kwargs) -> subprocess.CompletedProcess:
        """Run ``argv`` (e.g. ``[sys.executable, script]``) in :attr:`workdir` with :attr:`env`."""
        env = self.env
        if env_extra:
            env.update(env_extra)
        kwargs.setdefault("capture_output", True)
        kwargs.setdefault("text", True)
        return subprocess.run(list(argv), cwd=self.workdir, env=env, timeout=timeout, **kwargs)

    def run_python(self, script: str | Path, *args: str, **kwargs) -> subprocess.CompletedProcess:
        """Run a Python script with this interpreter inside the private environment."""
        return self.run([sys.executable, str(script), *args], **kwargs)

    @contextlib.contextmanager
    def activated(self) -> Iterator["SpynnakerEnv"]:
        """Set :attr:`overrides` in ``os.environ`` and chdir to :attr:`workdir`; undone on exit.

        Must be entered *before* ``spynnaker`` reads its configuration (``sim.setup``); prefer
        :meth:`run` (a subprocess) because sPyNNaker keeps global state between setups.
        """
        saved = {k: os.environ.get(k) for k in self.overrides}
        cwd = os.getcwd()
        os.environ.update(self.overrides)
        os.chdir(self.workdir)
        try:
            yield self
        finally:
            os.chdir(cwd)
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def make_spynnaker_env(base_dir: str | Path | None = None, *, board_version: int = 5,
                       isolate_home: bool = True, log_level: str = "warning",
                       extra_cfg: Mapping[str, Mapping[str, object]] | None = None) -> SpynnakerEnv:
    """Make ``base_dir`` (default: a fresh ``tempfile.mkdtemp``) a private sPyNNaker home.

    ``extra_cfg`` adds or overrides options, e.g. ``{"Simulation": {"ring_buffer_sigma": 3}}``.
    Nothing is written outside ``base_dir``.
    """
    root = Path(base_dir) if base_dir is not None else Path(tempfile.mkdtemp(prefix="nc-spynnaker-"))
    root = root.resolve()
    config_dir = root / "xdg_config"
    site_dir = root / "xdg_site"          # empty on purpose
    report_dir = root / "reports"        # sPyNNaker appends "reports" to default_report_file_path
    workdir = root / "run"
    home = root / "home"
    cache = root / "cache"
    for d in (config_dir, site_dir, workdir, cache):
        d.mkdir(parents=True, exist_ok=True)
    sections = default_cfg(root, board_version=board_version, log_level=log_level)
    for section, options in (extra_cfg or {}).items():
        sections.setdefault(section, {}).update(options)
    config_file = config_dir / USER_CFG_NAME
    config_file.write_text(_cfg_text(sections), encoding="utf-8")
    overrides = {
        "XDG_CONFIG_HOME": str(config_dir),
        "XDG_CONFIG_DIRS": str(site_dir),
        "XDG_CACHE_HOME": str(cache),
        "MPLCONFIGDIR": str(cache / "matplotlib"),
    }
    if isolate_home:
        home.mkdir(exist_ok=True)
        overrides["HOME"] = str(home)
    return SpynnakerEnv(root=root, config_dir=config_dir, config_file=config_file,
                        report_dir=report_dir, workdir=workdir, overrides=overrides)


@contextlib.contextmanager
def spynnaker_env(base_dir: str | Path | None = None, *, keep: bool = False,
                  **kwargs) -> Iterator[SpynnakerEnv]:
    """Context manager around :func:`make_spynnaker_env`; removes a temporary root on exit.

    A ``base_dir`` given by the caller is never removed.  Nor is the root when sPyNNaker was
    imported in *this* process: ``sim.setup`` registers an ``atexit`` hook
    (``spinn_utilities/data/utils_data_writer.py`` ``write_errored_file``) that writes into the
    report directory at interpreter exit and would fail if it were gone.
    """
    made_here = base_dir is None
    senv = make_spynnaker_env(base_dir, **kwargs)
    try:
        yield senv
    finally:
        in_process = "spinn_utilities.data.utils_data_writer" in sys.modules
        if made_here and not keep and not in_process:
            shutil.rmtree(senv.root, ignore_errors=True)
