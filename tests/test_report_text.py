"""`neurocompile report` text: worst first, 80 columns without cutting names, warnings grouped,
timings last, compact slices (--all for every one), plain when piped; `boards` fits 80 columns."""
from __future__ import annotations

import io
import json
import re

import numpy as np
import pytest
from rich.console import Console

from cli_helpers import run_cli
from neurocompile.ir.fileformat import save_network
from neurocompile.ir.network import Network
from neurocompile.report.diagnostics import group_diagnostics, group_lines
from neurocompile.report.text import render_report

SECTIONS = ["Busiest resources", "Populations", "Slices", "Chips", "Quantization", "Warnings",
            "Estimates on the chip", "Pass timings"]


@pytest.fixture(scope="module")
def pr_loihi2(tmp_path_factory):
    """place_recognition (4 modules, CI scale) on loihi2-oheo-gulch: the 28-warning case of issue 13."""
    out = tmp_path_factory.mktemp("pr") / "c"
    res = run_cli("compile", "place_recognition", "--board", "loihi2-oheo-gulch", "--param", "epochs=1", "-o", out)
    assert res.exit_code == 0, res.output
    return out


def _sections(text: str) -> dict[str, list[str]]:
    """Lines under each section heading (a heading is a line starting with a known section name)."""
    out: dict[str, list[str]] = {}
    current = "header"
    for ln in text.splitlines():
        name = next((s for s in SECTIONS if ln.startswith(s)), None)
        if name:
            current = name
        out.setdefault(current, []).append(ln)
    return out


def test_place_recognition_report_reads_at_a_glance(pr_loihi2):
    """Issue 13: on loihi2-oheo-gulch it fits one screen (under 60 lines) and still names every
    population that got a warning; --all lists every slice and whole messages."""
    report = json.loads((pr_loihi2 / "report.json").read_text())
    warnings = [d for d in report["diagnostics"] if d["level"] == "warning"]
    assert len(warnings) >= 20  # the many near-identical warnings this report groups
    res = run_cli("report", pr_loihi2)
    assert res.exit_code == 0, res.output
    text = res.output
    assert "\x1b[" not in text  # not a terminal: no ANSI
    assert len(text.splitlines()) < 60, text
    assert all(len(ln) <= 80 for ln in text.splitlines()), max(text.splitlines(), key=len)
    secs = _sections(text)
    # order: what is tightest first, pass timings last
    heads = [s for s in SECTIONS if s in secs]
    assert heads == sorted(heads, key=text.index) and heads[-1] == "Pass timings"
    assert heads[0] == "Busiest resources"
    busiest = [float(m.group(1)) for ln in secs["Busiest resources"] if (m := re.match(r"\s+([\d.]+)%", ln))]
    assert len(busiest) >= 3 and busiest == sorted(busiest, reverse=True)
    # populations: a line each, named whole at the start of the line
    pop_text = "\n".join(secs["Populations"])
    for p in report["populations"]:
        assert re.search(rf"^  {re.escape(p['name'])} ", pop_text, re.M), p["name"]
    # warnings grouped: a few kinds, counts add up, and every subject is named
    wl = secs["Warnings"]
    assert wl[0].startswith(f"Warnings ({len(warnings)} in ")
    counts = [int(m.group(1)) if m.group(1) else 1 for ln in wl[1:]
              if (m := re.match(r"  warning(?: x(\d+))? \[", ln))]
    assert sum(counts) == len(warnings) and len(counts) < len(warnings) / 2
    named = " ".join(wl)
    for subject in {d["subject"] for d in warnings if d.get("subject")}:
        assert re.search(rf"(?<![\w>-]){re.escape(subject)}(?![\w-])", named), subject
    # --all: every slice, whole messages, each pass's time
    n_slices = len(report["placement"])
    full = run_cli("report", pr_loihi2, "--all").output
    all_lines = [ln for ln in _sections(full)["Slices"][1:] if re.match(r"  \S+\[\d+\] chip", ln)]
    assert len(all_lines) == n_slices
    assert all(len(ln) <= 80 for ln in full.splitlines())
    assert "…" not in full and "validate" in _sections(full)["Pass timings"][1]


def test_population_lines_give_the_tightest_limit_of_their_busiest_slice(pr_loihi2):
    report = json.loads((pr_loihi2 / "report.json").read_text())
    worst: dict[str, float] = {}
    for c in report["mapping"]["cores"]:
        pop = report["placement"][c["slice"]]["population"]
        use = max(u["value"] / u["limit"] for k, u in c.items() if isinstance(u, dict) and u.get("limit"))
        worst[pop] = max(worst.get(pop, 0.0), use)
    secs = _sections(run_cli("report", pr_loihi2).output)
    shown = {m.group(1): float(m.group(2)) for ln in secs["Populations"]
             if (m := re.match(r"  (\S+) .* ([\d.]+)% ", ln))}
    assert shown == pytest.approx({p: round(100 * w, 1) for p, w in worst.items()}, abs=0.051)
    order = [shown[p] for p in shown]
    assert order == sorted(order, reverse=True)


def test_long_names_are_never_cut_and_lines_fit_80_columns(tmp_path):
    long_a = "a_population_with_a_very_long_descriptive_name_for_the_hippocampus_ca3"
    long_p = "projection_from_the_cue_layer_into_the_content_layer_with_a_long_name"
    net = Network(name="long", dt_ms=1.0, seed=1)
    net.add_population("src", 20, "poisson", {"rate": 20.0})
    net.add_population(long_a, 30, "lif_curr_exp", {"tau_m": 20.0})
    net.add_projection("src", long_a, np.arange(20), np.arange(20) % 30, 0.5, 1, receptor="excitatory",
                       name=long_p)
    save_network(net, tmp_path / "long.ncnet")
    res = run_cli("compile", tmp_path / "long.ncnet", "-o", tmp_path / "c")
    assert res.exit_code == 0, res.output
    text = run_cli("report", tmp_path / "c").output
    assert long_a in text and long_p in text
    for ln in text.splitlines():
        assert len(ln) <= 80 or ln.strip() in (long_a, long_p) or " " not in ln.strip(), ln


def test_report_renders_at_the_console_width_and_plain_when_piped(pr_loihi2):
    report = json.loads((pr_loihi2 / "report.json").read_text())
    buf = io.StringIO()
    render_report(report, Console(file=buf, width=80, force_terminal=False))
    assert "\x1b[" not in buf.getvalue() and max(len(ln) for ln in buf.getvalue().splitlines()) <= 80
    tty = io.StringIO()
    render_report(report, Console(file=tty, width=80, force_terminal=True))
    assert "\x1b[1m" in tty.getvalue()  # bold headings on a terminal


def test_grouping_is_by_kind_not_by_subject():
    diags = [{"level": "warning", "pass": "quantize", "subject": f"p{i}",
              "message": f"population 'p{i}': refractory period of {i + 2} step(s) emulated"} for i in range(5)]
    diags += [{"level": "warning", "pass": "quantize", "subject": "q", "message": "population 'q': other thing"},
              {"level": "info", "pass": "validate", "subject": "", "message": "fine"},
              {"level": "error", "pass": "resource_check", "subject": "r", "message": "too big"}]
    groups = group_diagnostics(diags)
    assert [(g.level, g.count) for g in groups] == [("error", 1), ("warning", 5), ("warning", 1)]
    assert groups[1].subjects == [f"p{i}" for i in range(5)]
    assert groups[1].example == "refractory period of 2 step(s) emulated"
    lines = group_lines(groups)
    assert "warning x5 [quantize] refractory period of 2 step(s) emulated" in lines
    assert "  as for p0; also p1, p2, p3 and 1 more" in lines
    glance = group_lines(groups, head_width=30)
    assert "warning x5 [quantize] …" in glance or all(len(ln) <= 30 for ln in glance if ln.startswith("warn"))
    assert "  p0, p1, p2, p3, p4" in glance  # at a glance every subject is named


def test_boards_table_fits_80_columns_without_cutting_names():
    res = run_cli("boards")
    assert res.exit_code == 0
    lines = res.output.splitlines()
    assert max(len(ln) for ln in lines) <= 80
    assert "…" not in res.output
    for name, family in (("spinnaker-24board", "spinnaker"), ("loihi2-kapoho-point", "loihi2")):
        assert any(ln.split()[:2] == [name, family] for ln in lines), name
    assert "Kapoho Point: 8 Loihi 2 chips" in res.output


def test_simulate_shows_the_compile_warnings_grouped(pr_loihi2):
    res = run_cli("simulate", pr_loihi2, "--steps", "5")
    assert res.exit_code == 0, res.output
    text = res.stderr if res.stderr else res.output
    heads = [ln for ln in text.splitlines() if re.match(r"  warning x\d+ \[quantize\]", ln)]
    assert "Compile warnings (" in text and 3 <= len(heads) <= 10
