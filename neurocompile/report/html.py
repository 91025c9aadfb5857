"""`neurocompile report DIR --html`: one self-contained HTML page of a compile output.

Everything is inline (figures as data: URIs, a few lines of CSS and JS), so the file opens
offline, from a mail attachment or a CI artefact store. Sections: summary, chip grid heat map
with a resource selector and traffic, placement per population, quantization error per
projection, estimates (when report.json has them), the raster of a simulation run (when the
directory holds one or --sim names one), warnings.
"""
from __future__ import annotations

import base64
import io
import os
from html import escape
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from neurocompile.errors import NeurocompileError

HTML_NAME = "report.html"
GENERATOR = "neurocompile-html-report"  # in a <meta>: marks a file this module may replace

_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:1.5em auto;max-width:1200px;color:#222;padding:0 1em}
h1{font-size:1.4em} h2{font-size:1.15em;border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0} th,td{padding:.2em .6em;border-bottom:1px solid #eee;text-align:left}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums} .muted{color:#777} .warn{color:#a15c00}
figure{margin:.5em 0} img{max-width:100%;height:auto} .kv td:first-child{color:#555}
"""

_JS = """
(function(){var s=document.getElementById('grid-resource');if(!s)return;
function show(){var v=s.value;document.querySelectorAll('#chip-grid figure.grid-view').forEach(function(f){f.hidden=(f.getAttribute('data-resource')!==v);});}
s.addEventListener('change',show);show();})();
window.addEventListener('load',function(){document.querySelectorAll('img').forEach(function(i){
if(!i.complete||i.naturalWidth===0){console.error('figure failed to render: '+i.alt);}});});
"""


def _uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]], numeric: Sequence[int] = (),
           attrs: str = "") -> str:
    head = "".join(f'<th class="n">{escape(h)}</th>' if i in numeric else f"<th>{escape(h)}</th>"
                   for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(f'<td class="n">{escape(str(c))}</td>' if i in numeric else
                                    f"<td>{escape(str(c))}</td>" for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<table{attrs}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _num(x: Any, fmt: str = ",") -> str:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return "-" if x is None else str(x)
    return format(x, fmt)


# ----------------------------------------------------------------------------------- sections
def _summary(report: dict[str, Any]) -> str:
    net, board, util = report["network"], report["board"], report["utilization"]
    m = (report.get("mapping") or {}).get("summary") or {}
    rows = [
        ("network", f"{net['neurons']:,} neurons in {net['populations']} populations, "
                    f"{net['synapses']:,} synapses in {net['projections']} projections, dt {net['dt_ms']} ms"),
        ("board", f"{board['name']} ({board['family']}): {board.get('description', '')}"),
        ("cores", f"{util['cores_used']:,} of {util['cores_available']:,} (lower bound {util['cores_lower_bound']})"),
        ("chips", f"{util['chips_used']:,} of {util['chips_available']:,} (lower bound {util['chips_lower_bound']})"),
    ]
    if m:
        rows.append(("inter-chip traffic", f"{_num(m.get('inter_chip_spikes_per_s', 0), ',.0f')} spikes/s, "
                                           f"average hops {_num(m.get('average_hops', 0), '.2f')}; "
                                           f"sPyNNaker-style placement: "
                                           f"{_num((m.get('baseline_spynnaker_style') or {}).get('inter_chip_spikes_per_s'), ',.0f')} spikes/s"))
        if m.get("max_utilization"):
            rows.append(("busiest core/chip", ", ".join(f"{k} {100 * v:.0f}%" for k, v in m["max_utilization"].items())))
    return _table(("", ""), rows, attrs=' class="kv"')


def _chip_grid(report: dict[str, Any], board: Any, link_load: np.ndarray | None) -> str:
    from neurocompile.passes.topology import grid_of
    from neurocompile.report.chipgrid import busiest, chip_utilization, render_grid_svgs

    grid = grid_of(board)
    util = chip_utilization(report, grid)
    best, which = busiest(util, grid.n_chips)
    views = [("busiest", "busiest resource per chip", best, which)]
    views += [(name, name, arr, None) for name, arr in util.items()]
    svgs = render_grid_svgs(board, [(values, f"{board.name}: {label}", labels) for _, label, values, labels in views],
                            link_load)
    options, figures = [], []
    for i, ((key, label, _, _), svg) in enumerate(zip(views, svgs)):
        options.append(f'<option value="{escape(key)}">{escape(label)}</option>')
        figures.append(f'<figure class="grid-view" data-resource="{escape(key)}"{" hidden" if i else ""}>'
                       f'<img alt="{escape(board.name)} chip grid, {escape(label)}" '
                       f'src="{_uri(svg.encode("utf-8"), "image/svg+xml")}"></figure>')
    used = [c for c in range(grid.n_chips) if which[c]]
    tally = ", ".join(f"{name}: {sum(1 for c in used if which[c] == name)} chips"
                      for name in sorted({which[c] for c in used}))
    return (f'<p>{grid.n_chips} chip{"s" if grid.n_chips != 1 else ""} ({board.topology.kind}, {board.topology.width} x {board.topology.height}'
            f'{", wrap-around" if board.topology.wrap else ""}). Colour: value / limit; a per-core resource shows '
            f'the busiest core of the chip. Busiest resource: {escape(tally or "no chip used")}.</p>'
            f'<label>resource <select id="grid-resource">{"".join(options)}</select></label>'
            + "".join(figures))


def _placement(report: dict[str, Any]) -> str:
    by_pop: dict[str, list[dict[str, Any]]] = {}
    for s in report.get("placement", []):
        by_pop.setdefault(s.get("population"), []).append(s)
    rows = []
    for p in report["populations"]:
        sl = by_pop.get(p["name"], [])
        chips = sorted({tuple(s["chip"]) for s in sl if s.get("chip")})
        shown = ", ".join(f"({x},{y})" for x, y in chips[:6]) + (f" +{len(chips) - 6} more" if len(chips) > 6 else "")
        sizes = [s.get("n_neurons", 0) for s in sl]
        rows.append((p["name"], p["model"], f"{p['size']:,}", len(sl),
                     len(sl) + sum(int(s.get("extra_cores", 0)) for s in sl), len(chips),
                     f"{min(sizes):,}-{max(sizes):,}" if sizes else "-", shown or "unplaced"))
    return _table(("population", "model", "neurons", "slices", "cores (incl. delay ext.)", "chips",
                   "neurons per slice", "chips (x,y)"), rows, numeric=(2, 3, 4, 5, 6), attrs=' id="placement"')


def _quantization(report: dict[str, Any]) -> str:
    q = (report.get("quantization") or {}).get("projections") or {}
    if not q:
        return '<p class="muted">No quantization record (float network, or the compile skipped quantize).</p>'
    ends = {p["name"]: f"{p.get('pre', '?')} -> {p.get('post', '?')}" for p in report["projections"]}
    rows = []
    for name, e in q.items():
        detail = (f"shift {e['ring_buffer_shift']}" if "ring_buffer_shift" in e else
                  f"weight_exp {e['weight_exp']}" if "weight_exp" in e else "")
        rows.append((name, ends.get(name, ""), _num(e.get("n_synapses")), _num(e.get("max_abs_error"), ".3g"),
                     _num(e.get("mean_abs_error"), ".3g"), _num(e.get("relative_error"), ".2%")
                     if isinstance(e.get("relative_error"), (int, float)) else "-",
                     _num(e.get("n_zeroed")), _num(e.get("n_saturated")), detail))
    return ("<p>Weight error of the board's number format against the float weights (nA), per projection; "
            "relative = max |error| / max |weight| of the projection.</p>"
            + _table(("projection", "pre -> post", "synapses", "max |error|", "mean |error|", "relative",
                      "zeroed", "saturated", "format"), rows, numeric=(2, 3, 4, 5, 6, 7), attrs=' id="quantization"'))


def _estimates(report: dict[str, Any]) -> str:
    est = report.get("estimates")
    if not isinstance(est, dict):
        return ""
    parts = []
    energy = est.get("energy")
    if isinstance(energy, dict):
        comps = [c for c in energy.get("components", []) if isinstance(c, dict)]
        parts.append(f"<p>Energy: {_num(energy.get('joules_per_simulated_second'), '.3g')} J per simulated second "
                     f"(activity from {escape(str(energy.get('activity_source', '?')))}).</p>")
        parts.append(_table(("component", "count / simulated s", "J / event", "J / simulated s", "source", "measured"),
                            [(c.get("name"), _num(c.get("count_per_simulated_second"), ",.4g"),
                              _num(c.get("joules_per_event"), ".3g"), _num(c.get("joules_per_simulated_second"), ".3g"),
                              c.get("source", ""), "yes" if c.get("measured") else "no") for c in comps],
                            numeric=(1, 2, 3)))
    lat = est.get("latency")
    if isinstance(lat, dict):
        parts.append(f"<p>Latency: {_num(lat.get('seconds_per_step'), '.3g')} s per step, real-time factor "
                     f"{_num(lat.get('realtime_factor'), '.3g')} ({escape(str(lat.get('basis', '')))}; "
                     f"source: {escape(str(lat.get('source', '')))}).</p>")
    return f'<h2 id="estimates">Estimates</h2>{"".join(parts)}' if parts else ""


def _spynnaker(report: dict[str, Any]) -> str:
    sp = report.get("spynnaker")
    if not isinstance(sp, dict):
        return ""
    import json

    return ('<h2 id="spynnaker">sPyNNaker\'s own placement</h2><details><summary>as recorded in report.json</summary>'
            f"<pre>{escape(json.dumps(sp, indent=1)[:200_000])}</pre></details>")


def _raster(sim_dir: Path | None, report: dict[str, Any]) -> str:
    from neurocompile.report.raster import plot_raster, raster_title
    from neurocompile.report.runs import load_run

    if sim_dir is None:
        return ('<p class="muted">No simulation run in this directory (<code>neurocompile simulate DIR -o DIR/sim</code> '
                'puts one there; or give <code>--sim SIM</code>).</p>')
    run = load_run(sim_dir)
    s = run.summary
    buf = io.BytesIO()
    plot_raster(buf, run.spikes, run.sizes, run.dt_ms, run.steps,
                raster_title(str(s.get("network", "?")), str(s.get("board", "?")), str(s.get("mode", "?")),
                             str(s.get("backend", "?")), s.get("seed", "?"), run.steps))
    rows = [(p["name"], f"{p['size']:,}", f"{int(run.spikes[p['name']][0].size):,}",
             _num(p.get("mean_rate_hz"), ".2f")) for p in s["populations"]]
    energy = (s.get("estimates") or {}).get("energy") if isinstance(s.get("estimates"), dict) else None
    measured = (f" Energy at this run's own activity: {_num(energy.get('joules_per_simulated_second'), '.3g')} J "
                f"per simulated second." if isinstance(energy, dict) else "")
    compiled_pops = {p["name"]: p["size"] for p in report["populations"]}
    mismatch = ('<p class="warn">This run\'s populations differ from the compiled network\'s: it may be a run '
                'of another network.</p>' if compiled_pops != run.sizes else "")
    return (f"<p>From <code>{escape(str(sim_dir))}</code>.{escape(measured)}</p>{mismatch}"
            f'<figure id="raster"><img alt="spike raster" src="{_uri(buf.getvalue(), "image/png")}"></figure>'
            + _table(("population", "neurons", "spikes", "mean rate (Hz)"), rows, numeric=(1, 2, 3)))


def _warnings(report: dict[str, Any]) -> str:
    items = [d for d in report.get("diagnostics", []) if d.get("level") != "info"]
    if not items:
        return '<p class="muted">No warnings.</p>'
    return "<ul>" + "".join(f'<li class="warn">[{escape(d["pass"])}] {escape(d.get("subject") or "")} '
                            f'{escape(d["message"])}</li>' for d in items) + "</ul>"


# ----------------------------------------------------------------------------------- page
def render_html(report: dict[str, Any], board: Any, link_load: np.ndarray | None, sim_dir: Path | None) -> str:
    title = f"{report['target']} on {report['board']['name']}"
    body = [
        f"<h1>{escape(title)}</h1>",
        f'<p class="muted">seed {report["seed"]}, neurocompile {escape(report["tool"]["version"])}</p>',
        _summary(report),
        '<h2>Chip grid</h2><section id="chip-grid">', _chip_grid(report, board, link_load), "</section>",
        "<h2>Placement per population</h2>", _placement(report),
        "<h2>Quantization error per projection</h2>", _quantization(report),
        _estimates(report),
        "<h2>Simulation run</h2>", _raster(sim_dir, report),
        _spynnaker(report),
        "<h2>Warnings</h2>", _warnings(report),
    ]
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="generator" content="{GENERATOR}">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>"
            + "".join(body) + f"<script>{_JS}</script></body></html>\n")


def _board_of(directory: Path, report: dict[str, Any]) -> Any:
    """The board the report was compiled for: the copy in the directory, else the bundled one."""
    from neurocompile.boards import load_board
    from neurocompile.boards.schema import load_board_file

    copy = directory / str(report["board"].get("file") or "")
    if report["board"].get("file") and copy.is_file():
        return load_board_file(copy)
    return load_board(report["board"]["name"])


def _is_ours(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return False
    return f'<meta name="generator" content="{GENERATOR}">'.encode() in head


def write_html_report(directory: str | os.PathLike[str], sim: str | os.PathLike[str] | None = None) -> Path:
    """Write DIR/report.html and record it in DIR's output marker; returns its path.

    An existing report.html is replaced only if neurocompile wrote it (listed in the marker or
    carrying our generator tag): a file of the user's is never overwritten.
    """
    from neurocompile.compiled import is_compiled_dir, load_compiled
    from neurocompile.outdir import add_to_marker, atomic_path, listed_in_marker
    from neurocompile.report.build import read_report
    from neurocompile.report.runs import find_run

    d = Path(directory)
    compiled = load_compiled(d) if is_compiled_dir(d) else None
    report = compiled.report if compiled is not None else read_report(d)
    board = compiled.board if compiled is not None else _board_of(d, report)
    link_load = None
    if compiled is not None and compiled.routing is not None and compiled.routing.link_load.size:
        link_load = compiled.routing.link_load
    sim_dir = Path(sim) if sim is not None else find_run(d)
    page = render_html(report, board, link_load, sim_dir)
    dest = d / HTML_NAME
    if dest.exists() and not (listed_in_marker(d, HTML_NAME) or _is_ours(dest)):
        raise NeurocompileError(f"{str(dest)!r} exists and was not written by neurocompile; move it away "
                                f"to write the HTML report there")
    with atomic_path(dest) as tmp:
        tmp.write_text(page, encoding="utf-8")
    add_to_marker(d, HTML_NAME)
    return dest
