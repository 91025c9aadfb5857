"""`report DIR --html` for every bundled model, opened in headless Chromium: the page renders
(non-blank screenshot with chip cells drawn), the chip grid is in the DOM, nothing is logged to
the console (the page logs nothing itself, so any console line is an error), and nothing is
fetched from the network. Chromium is Debian's `chromium` (scripts/test.sh installs it); in CI a
missing browser fails the test instead of skipping it."""
from __future__ import annotations

import json
import os
import re
import shutil
from html import escape
import subprocess
from pathlib import Path

import numpy as np
import pytest

from cli_helpers import assert_clean_failure, run_cli
from neurocompile.plugins import model_entries

# CI-scale options per bundled model (a model added without an entry here fails test_every_model_has_ci_options)
MODELS = {
    "synfire": ("spinn-5", ["n_groups=4", "group_size=30", "fan_in=20"]),
    "ca3": ("spinn-5", []),
    "motion": ("loihi2-kapoho-point", ["n_movies=1", "size=8"]),
    "place_recognition": ("loihi2-kapoho-point", ["n_places=2", "places_per_module=2", "epochs=1"]),
    "microcircuit": ("spinnaker-24board", ["scale=0.02"]),
}
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--enable-logging=stderr", "--v=0", "--window-size=1280,2000"]
UNUSED_CHIP_GREY = np.array([230, 230, 230])  # chipgrid.py's colour of a chip with nothing placed


def _chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe:
        return exe
    message = "chromium not found: install Debian's 'chromium' package (scripts/test.sh does when it can)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def open_in_chromium(html: Path, tmp: Path) -> tuple[str, list[str], np.ndarray]:
    """(DOM after scripts ran, console lines, screenshot RGB array) of a local page."""
    exe = _chromium()
    shot = tmp / f"{html.stem}-shot.png"
    # HOME and XDG dirs inside tmp: Chromium (through GLib) otherwise writes ~/.cache/dconf
    home = {"HOME": str(tmp / "home"), "XDG_CACHE_HOME": str(tmp / "cache"), "XDG_CONFIG_HOME": str(tmp / "config")}
    proc = subprocess.run([exe, *CHROMIUM_FLAGS, f"--user-data-dir={tmp / 'profile'}", f"--screenshot={shot}",
                           "--dump-dom", html.resolve().as_uri()], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **home})
    assert proc.returncode == 0, proc.stderr[-2000:]
    console = [ln for ln in proc.stderr.splitlines() if ":CONSOLE" in ln]
    from PIL import Image

    return proc.stdout, console, np.asarray(Image.open(shot).convert("RGB"))


@pytest.fixture(scope="session")
def compiled_models(tmp_path_factory):
    """Each bundled model compiled once (CI scale); ca3 also simulated, for the raster."""
    root = tmp_path_factory.mktemp("html")
    dirs = {}
    for model, (board, params) in MODELS.items():
        args = [a for p in params for a in ("--param", p)]
        res = run_cli("compile", model, "--board", board, *args, "-o", root / model)
        assert res.exit_code == 0, res.output
        dirs[model] = root / model
    res = run_cli("simulate", root / "ca3", "--steps", "100", "-o", root / "ca3-sim")
    assert res.exit_code == 0, res.output
    dirs["ca3-sim"] = root / "ca3-sim"
    return dirs


def test_every_model_has_ci_options():
    assert set(MODELS) == set(model_entries()), "give the new model CI-scale options in MODELS"


@pytest.mark.parametrize("model", sorted(MODELS))
def test_html_report_renders_in_chromium(model, compiled_models, tmp_path):
    d = compiled_models[model]
    extra = ["--sim", compiled_models["ca3-sim"]] if model == "ca3" else []
    res = run_cli("report", d, "--html", *extra)
    assert res.exit_code == 0, res.output
    page = d / "report.html"
    text = page.read_text()
    assert not re.search(r'(?:src|href)\s*=\s*"(?!data:|#)', text), "the page must not load anything external"
    dom, console, img = open_in_chromium(page, tmp_path)
    assert console == [], console
    assert 'id="chip-grid"' in dom
    views = re.findall(r'<figure class="grid-view" data-resource="([^"]+)"( hidden="")?>', dom)
    report = json.loads((d / "report.json").read_text())
    assert len(views) >= 2 and [v for v, hidden in views if not hidden] == ["busiest"]  # the selector's script ran
    for p in report["populations"]:
        assert f"<td>{escape(p['name'])}</td>" in dom  # placement table, one row per population
    for name in report["quantization"]["projections"]:
        assert f"<td>{escape(name)}</td>" in dom
    assert ('id="raster"' in dom) == (model == "ca3")
    # Rendered, not blank: plenty of non-white pixels, and unused chips drawn in their grey.
    assert (img.min(axis=2) < 200).mean() > 0.02
    grey = (np.abs(img.astype(int) - UNUSED_CHIP_GREY).max(axis=2) <= 2).sum()
    assert grey > 2_000, f"only {grey} pixels of unused-chip grey: no chip grid on screen"


def test_console_check_catches_a_script_error(compiled_models, tmp_path):
    """The console check above can fail: the same page with a broken script and a broken image."""
    page = tmp_path / "broken.html"
    good = compiled_models["synfire"] / "report.html"
    if not good.exists():
        assert run_cli("report", compiled_models["synfire"], "--html").exit_code == 0
    broken = good.read_text().replace('src="data:image/svg+xml;base64,', 'src="data:image/svg+xml;base64,AAAA', 1)
    page.write_text(broken.replace("</body>", "<script>no_such_function();</script></body>"))
    _, console, _ = open_in_chromium(page, tmp_path)
    assert any("no_such_function" in ln for ln in console), console
    assert any("figure failed to render" in ln for ln in console), console


def _forget_html(d: Path) -> None:
    """Make `d` a compile output without report.html (neither the file nor its marker entry)."""
    (d / "report.html").unlink(missing_ok=True)
    marker = json.loads((d / ".neurocompile-output.json").read_text())
    marker["files"] = [f for f in marker["files"] if f != "report.html"]
    (d / ".neurocompile-output.json").write_text(json.dumps(marker))


def test_html_is_recorded_in_the_output_marker_and_never_replaces_a_users_file(compiled_models, tmp_path):
    d = tmp_path / "c"
    shutil.copytree(compiled_models["ca3"], d)
    _forget_html(d)
    assert run_cli("report", d, "--html").exit_code == 0
    marker = json.loads((d / ".neurocompile-output.json").read_text())
    assert "report.html" in marker["files"]
    assert run_cli("report", d, "--html").exit_code == 0  # ours: replaced
    # a recompile into the directory still sees only its own files
    assert run_cli("compile", "ca3", "-o", d).exit_code == 0
    # a user's report.html is never overwritten
    e = tmp_path / "e"
    shutil.copytree(compiled_models["ca3"], e)
    _forget_html(e)
    (e / "report.html").write_text("my notes")
    res = run_cli("report", e, "--html")
    assert_clean_failure(res, "report.html", "not written by neurocompile")
    assert (e / "report.html").read_text() == "my notes"


def test_html_needs_a_report_and_sim_needs_html(tmp_path, compiled_models):
    assert_clean_failure(run_cli("report", tmp_path, "--html"), "no report")
    assert_clean_failure(run_cli("report", compiled_models["ca3"], "--sim", compiled_models["ca3-sim"]), "--html")
    assert_clean_failure(run_cli("report", compiled_models["ca3"], "--html", "--sim", tmp_path), "no simulation output")


def test_html_from_a_report_json_alone(compiled_models, tmp_path):
    """No compiled plan (only report.json): the grid is still drawn from the bundled board."""
    shutil.copy(compiled_models["synfire"] / "report.json", tmp_path / "report.json")
    res = run_cli("report", tmp_path, "--html")
    assert res.exit_code == 0, res.output
    text = (tmp_path / "report.html").read_text()
    assert 'id="chip-grid"' in text and "image/svg+xml" in text


def test_estimates_and_spynnaker_sections_appear_only_when_present(compiled_models):
    from neurocompile.compiled import load_compiled
    from neurocompile.report.html import render_html

    c = load_compiled(compiled_models["ca3"])
    report = {k: v for k, v in c.report.items() if k not in ("estimates", "spynnaker")}
    plain = render_html(report, c.board, None, None)
    assert 'id="estimates"' not in plain and 'id="spynnaker"' not in plain
    assert 'id="estimates"' in render_html(c.report, c.board, None, None)  # compile writes estimates
    report["estimates"] = {
        "energy": {"joules_per_simulated_second": 1.5e-3, "activity_source": "simulation",
                   "components": [{"name": "synaptic_event", "count_per_simulated_second": 2.0e4,
                                   "joules_per_event": 43e-9, "joules_per_simulated_second": 8.6e-4,
                                   "source": "Sharp et al. 2012", "measured": True}]},
        "latency": {"seconds_per_step": 1e-3, "realtime_factor": 1.0, "basis": "timestep", "source": "board"}}
    report["spynnaker"] = {"placements": [[0, 0, 1]]}
    page = render_html(report, c.board, None, None)
    assert 'id="estimates"' in page and "<td>synaptic_event</td>" in page and "Sharp et al. 2012" in page
    assert "real-time factor 1" in page and 'id="spynnaker"' in page


def test_a_run_inside_the_directory_is_found_without_sim(compiled_models, tmp_path):
    d = tmp_path / "c"
    shutil.copytree(compiled_models["ca3"], d)
    assert run_cli("simulate", d, "--steps", "40", "-o", d / "sim").exit_code == 0
    assert run_cli("report", d, "--html").exit_code == 0
    text = (d / "report.html").read_text()
    assert 'id="raster"' in text and str(d / "sim") in text


def test_a_run_of_another_network_is_flagged(compiled_models, tmp_path):
    d = tmp_path / "s"
    shutil.copytree(compiled_models["synfire"], d)
    _forget_html(d)
    assert run_cli("report", d, "--html", "--sim", compiled_models["ca3-sim"]).exit_code == 0
    assert "populations differ from the compiled network" in (d / "report.html").read_text()
    assert run_cli("report", compiled_models["ca3"], "--html", "--sim", compiled_models["ca3-sim"]).exit_code == 0
    text = (compiled_models["ca3"] / "report.html").read_text()
    assert 'id="raster"' in text and "populations differ" not in text
