"""What `neurocompile report DIR` prints: a report.json a person can read at a glance.

Order is what a person asks first: does it fit and what is tightest (busiest resources, worst
first), where each population went and its busiest slice (nengo-loihi style "82.2% synapse
memory, 9.6% neurons" lines), the busiest slices and chips (all with `--all`), what quantization
changed, the warnings grouped by kind, energy and latency estimates, and pass timings last.
Lines are plain text wrapped at the console width (80 when piped) at spaces, so a name is never
cut; rich adds bold headings only on a terminal.
"""
from __future__ import annotations

import math
import textwrap
from typing import Any

from rich.console import Console
from rich.text import Text

from neurocompile.report.diagnostics import group_diagnostics, group_lines
from neurocompile.report.estimates_text import estimate_lines, si

TOP_N = 10          # slices, chips and projections shown in the --all listing's "busiest" parts
GLANCE_N = 3        # resources, chips and projections shown at a glance (the default)
MAX_WIDTH = 100     # even on a wide terminal, keep lines readable
SHORT = {"neurons": "neurons", "fan_in_synapses": "fan-in synapses", "input_axons": "input axons",
         "output_axons": "output axons", "synapse_memory_bits": "synapse memory", "dtcm_bytes": "DTCM",
         "sdram_bytes": "SDRAM", "row_words": "row words", "delay_steps": "delay steps", "index_bits": "index bits",
         "cores": "cores", "router_entries": "routing entries"}


def _frac(u: Any) -> float | None:
    """value/limit of a {value, limit} usage, None without a (positive, finite) limit."""
    if not isinstance(u, dict):
        return None
    v, lim = u.get("value"), u.get("limit")
    if not isinstance(v, (int, float)) or not isinstance(lim, (int, float)) or not lim > 0:
        return None
    f = v / lim
    return f if math.isfinite(f) else None


def _pct(f: float) -> str:
    return f"{100.0 * f:.1f}%"


def _chip(c: Any) -> str:
    return f"({c[0]},{c[1]})" if isinstance(c, list) and len(c) == 2 else "unplaced"


def _uses(entry: dict[str, Any]) -> list[tuple[float, str]]:
    """(fraction, resource) of one mapping.cores / mapping.chips entry, worst first."""
    out = [(f, k) for k, u in entry.items() if (f := _frac(u)) is not None]
    return sorted(out, key=lambda t: (-t[0], t[1]))


def _use_text(uses: list[tuple[float, str]]) -> str:
    """"97.7% neurons, 39.1% row words" (uses that round to 0.0% left out)."""
    return ", ".join(f"{_pct(f)} {SHORT.get(k, k)}" for f, k in uses if f >= 0.0005) or "no limited resource in use"


class LineWriter:
    """Wraps each logical line at spaces (names stay whole) and prints it without markup."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.width = max(40, min(console.width or 80, MAX_WIDTH))

    def line(self, text: str = "", indent: int = 0, hang: int = 2) -> None:
        if not text:
            self.console.print()
            return
        pad = " " * indent
        for ln in textwrap.wrap(text, self.width, initial_indent=pad, subsequent_indent=pad + " " * hang,
                                break_long_words=False, break_on_hyphens=False) or [pad]:
            self.console.print(Text(ln), soft_wrap=True, highlight=False)

    def lines(self, lines: list[str]) -> None:
        """Lines as estimate_lines / group_lines give them: '#' marks a heading, leading spaces indent."""
        for ln in lines:
            if ln.startswith("#"):
                self.heading(ln[1:])
            else:
                stripped = ln.lstrip(" ")
                self.line(stripped, indent=len(ln) - len(stripped), hang=4)

    def heading(self, text: str, blank: bool = True) -> None:
        if blank:
            self.console.print()
        for ln in textwrap.wrap(text, self.width, subsequent_indent="  ", break_long_words=False,
                                break_on_hyphens=False):
            self.console.print(Text(ln, style="bold"), soft_wrap=True, highlight=False)


def _slice_name(s: dict[str, Any]) -> str:
    return f"{s.get('population', '?')}[{s.get('slice', '?')}]"


def _header(o: LineWriter, r: dict[str, Any]) -> None:
    net, board, util = r["network"], r["board"], r["utilization"]
    o.heading(f"{r['target']} on {board['name']} ({board['family']}), seed {r['seed']}, "
              f"neurocompile {r['tool']['version']}", blank=False)
    o.line(f"network: {net['neurons']:,} neurons in {net['populations']} populations, {net['synapses']:,} synapses "
           f"in {net['projections']} projections, dt {net['dt_ms']} ms")
    lb_c = f" (lower bound {util['cores_lower_bound']:,})" if util["cores_lower_bound"] is not None else ""
    lb_h = f" (lower bound {util['chips_lower_bound']:,})" if util["chips_lower_bound"] is not None else ""
    o.line(f"uses {util['cores_used']:,} of {util['cores_available']:,} cores{lb_c} and {util['chips_used']:,} of "
           f"{util['chips_available']:,} chips{lb_h}; mean neuron fill per core "
           f"{_pct(util['mean_core_neuron_fill'])}")
    m = (r.get("mapping") or {}).get("summary") or {}
    if isinstance(m.get("inter_chip_spikes_per_s"), (int, float)) and util["chips_used"] > 1:
        base = m.get("baseline_spynnaker_style") or {}
        vs = (f" (sPyNNaker-style placement: {base['inter_chip_spikes_per_s']:,.0f})"
              if isinstance(base, dict) and isinstance(base.get("inter_chip_spikes_per_s"), (int, float)) else "")
        o.line(f"inter-chip traffic {m['inter_chip_spikes_per_s']:,.0f} spikes/s at the assumed rates{vs}, "
               f"average {m.get('average_hops', 0):.2f} hops")


def _busiest(o: LineWriter, cores: list[dict[str, Any]], chips: list[dict[str, Any]], slices: dict[int, dict],
             limit: int | None = None) -> None:
    worst: dict[str, tuple[float, str]] = {}
    for e in cores:
        for f, k in _uses(e):
            if k not in worst or f > worst[k][0]:
                s = slices.get(e.get("slice"), {})
                worst[k] = (f, f"core {_slice_name(s)} on chip {_chip(e.get('chip'))} core {e.get('core', '?')}")
    for e in chips:
        for f, k in _uses(e):
            if k not in worst or f > worst[k][0]:
                worst[k] = (f, f"chip {_chip(e.get('chip'))}")
    if not worst:
        return
    order = sorted(worst.items(), key=lambda t: (-t[1][0], t[0]))
    more = f"; {limit} of {len(order)}, --all for every one" if limit is not None and len(order) > limit else ""
    o.heading(f"Busiest resources (highest use of each limit, worst first{more})")
    for k, (f, where) in order[:limit]:
        o.line(f"{_pct(f):>7}  {SHORT.get(k, k)}: {where}", indent=2, hang=11)


def _populations(o: LineWriter, r: dict[str, Any], by_pop: dict[str, list], use_of: dict[int, list],
                 compact: bool = False) -> None:
    rows = []
    for p in r["populations"]:
        mine = by_pop.get(p["name"], [])
        best = max(mine, key=lambda s: (use_of.get(s["_id"], [(0.0, "")])[0][0] if use_of.get(s["_id"]) else 0.0),
                   default=None)
        top = use_of.get(best["_id"], []) if best is not None else []
        chips = sorted({_chip(s.get("chip")) for s in mine})
        rows.append((top[0][0] if top else 0.0, p, best, top, chips))
    rows.sort(key=lambda t: -t[0])
    if compact and _population_table(o, rows):
        return
    o.heading("Populations (each one's busiest slice, worst first)")
    for _, p, best, top, chips in rows:
        where = (f" on chip {chips[0]}" if len(chips) == 1 else f" on {len(chips)} chips") if chips else ""
        head = f"{p['name']} ({p['model']}, {p['size']:,} neurons, {p['slices']} slice{'s' * (p['slices'] != 1)}{where})"
        if best is None:
            o.line(f"{head}: not placed", indent=2, hang=4)
        elif compact:  # one line: the two tightest limits of its busiest slice
            o.line(f"{head}: {_use_text(top[:2])}", indent=2, hang=4)
        else:
            o.line(f"{head}: {_slice_name(best)} core {best.get('core', '?')}: {_use_text(top)}", indent=2, hang=4)


def _population_table(o: LineWriter, rows: list[tuple]) -> bool:
    """A line per population: model, neurons, slices, chip(s), the tightest limit of its busiest
    slice. False when the names are too long for the table (the caller then wraps instead)."""
    name_w = max([len("population")] + [len(p["name"]) for _, p, *_ in rows])
    model_w = max([len("model")] + [len(p["model"]) for _, p, *_ in rows])
    cells = []
    for _, p, best, top, chips in rows:
        where = chips[0] if len(chips) == 1 else f"{len(chips)} chips" if chips else "-"
        tight = f"{_pct(top[0][0])} {SHORT.get(top[0][1], top[0][1])}" if top else ("not placed" if best is None else "-")
        cells.append((p["name"], p["model"], f"{p['size']:,}", str(p["slices"]), where, tight))
    where_w = max([len("chip")] + [len(c[4]) for c in cells])
    line_w = 2 + name_w + 1 + model_w + 9 + 7 + 1 + where_w + 2 + max(len(c[5]) for c in cells)
    if line_w > o.width:
        return False
    o.heading("Populations (worst first: the tightest limit of each one's busiest slice)")
    o.line(f"{'population':<{name_w}} {'model':<{model_w}} {'neurons':>8} {'slices':>6} {'chip':<{where_w}}  "
           "tightest", indent=2)
    for name, model, size, n, where, tight in cells:
        o.line(f"{name:<{name_w}} {model:<{model_w}} {size:>8} {n:>6} {where:<{where_w}}  {tight}", indent=2)
    return True


def _slices(o: LineWriter, placed: list[dict[str, Any]], use_of: dict[int, list], show_all: bool) -> None:
    if not placed:
        return
    order = placed if show_all else sorted(placed, key=lambda s: -(use_of[s["_id"]][0][0] if use_of.get(s["_id"]) else 0.0))
    shown = order if show_all else order[:TOP_N]
    more = "" if len(shown) == len(placed) else f"; the busiest {len(shown)} shown, --all for every one"
    o.heading(f"Slices ({len(placed):,}{more})")
    for s in shown:
        o.line(f"{_slice_name(s)} chip {_chip(s.get('chip'))} core {s.get('core', '?')}, {s.get('n_neurons', 0):,} "
               f"neurons: {_use_text(use_of.get(s['_id'], []))}", indent=2, hang=4)


def _chips(o: LineWriter, chips: list[dict[str, Any]], show_all: bool, top: int = TOP_N) -> None:
    if not chips:
        return
    order = chips if show_all else sorted(chips, key=lambda c: -(_uses(c)[0][0] if _uses(c) else 0.0))
    shown = order if show_all else order[:top]
    more = "" if len(shown) == len(chips) else f"; the busiest {len(shown)} shown, --all for every one"
    o.heading(f"Chips ({len(chips):,} used or routing{more})")
    cols = [k for k in ("cores", "sdram_bytes", "router_entries") if any(k in c for c in chips)]
    o.line("chip      " + "".join(f"{SHORT[k]:>18}" for k in cols), indent=2)
    for c in shown:
        cells = []
        for k in cols:
            u = c.get(k)
            f = _frac(u)
            if not isinstance(u, dict):
                cells.append("-")
            elif k == "sdram_bytes":
                cells.append(_pct(f) if f is not None else "-")
            else:
                lim = u.get("limit")
                cells.append(f"{u.get('value')}/{lim}" if lim is not None else f"{u.get('value')}")
        o.line(f"{_chip(c.get('chip')):<10}" + "".join(f"{x:>18}" for x in cells), indent=2)


def _quantization(o: LineWriter, r: dict[str, Any], show_all: bool, top: int = TOP_N) -> None:
    q = r.get("quantization")
    projs = q.get("projections") if isinstance(q, dict) else None
    if not isinstance(projs, dict) or not projs:
        return
    rows = []
    for name, rec in projs.items():
        if not isinstance(rec, dict):
            continue
        n = rec.get("n_synapses") or 0
        rel = rec.get("relative_error")
        rows.append((name, n, rel if isinstance(rel, (int, float)) else None, rec.get("n_zeroed") or 0,
                     rec.get("n_saturated") or 0))
    zeroed = sum(r_[3] for r_ in rows)
    sat = sum(r_[4] for r_ in rows)
    worst = max((r_ for r_ in rows if r_[2] is not None), key=lambda r_: r_[2], default=None)
    order = sorted(rows, key=lambda r_: (-(r_[3] + r_[4]) / max(r_[1], 1), -(r_[2] or 0.0), r_[0]))
    shown = order if show_all else order[:top]
    fmt = q.get("number_format") or "float"
    o.heading(f"Quantization ({fmt}; " + (f"{len(rows)} projections" if len(shown) == len(rows)
                                          else f"the {len(shown)} most changed of {len(rows)} projections") + ")")
    o.line(f"{zeroed:,} weights zeroed, {sat:,} saturated"
           + (f"; worst relative error {_pct(worst[2])} ({worst[0]})" if worst else ""), indent=2)
    name_w = min(max((len(r_[0]) for r_ in shown), default=4), o.width - 44)
    o.line(f"{'projection':<{name_w}} {'synapses':>11} {'rel. error':>10} {'zeroed':>9} {'saturated':>9}", indent=2)
    for name, n, rel, z, s in shown:
        nums = f"{n:>11,} {(_pct(rel) if rel is not None else '-'):>10} {z:>9,} {s:>9,}"
        if len(name) > name_w:  # a long name gets its own line: never cut
            o.line(name, indent=2)
            o.line(f"{'':<{name_w}} {nums}", indent=2)
        else:
            o.line(f"{name:<{name_w}} {nums}", indent=2)


def _warnings(o: LineWriter, r: dict[str, Any], compact: bool = False) -> None:
    groups = group_diagnostics(r["diagnostics"])
    if not groups:
        return
    total = sum(g.count for g in groups)
    whole = ", each message whole with --all" if compact else ""
    o.heading(f"Warnings ({total} in {len(groups)} kind{'s' * (len(groups) != 1)}{whole})")
    for ln in group_lines(groups, head_width=o.width - 3 if compact else None):
        o.line(ln, indent=4 if ln.startswith("  ") else 2, hang=2)


def _estimates_glance(o: LineWriter, est: Any) -> None:
    """Energy and time per step in two lines; the components and their sources with --all."""
    if not isinstance(est, dict) or "energy" not in est:
        o.lines(estimate_lines(est, sources=False))
        return
    e, lat = est.get("energy") or {}, est.get("latency") or {}
    comps = e.get("components") or []
    measured = sum(1 for c in comps if c.get("measured"))
    o.heading("Estimates on the chip (rough: docs/energy.md; components with --all)")
    o.line(f"energy {si(e.get('joules_per_simulated_second'), 'J')} per simulated second; time per step "
           f"{si(lat.get('seconds_per_step'), 's')}; {measured} of {len(comps)} costs measured on the chip",
           indent=2, hang=4)


def _passes(o: LineWriter, r: dict[str, Any], each: bool = True) -> None:
    if not r["passes"]:
        return
    total = sum(p["seconds"] for p in r["passes"])
    if not each:
        o.heading(f"Pass timings: {total:.2f} s in all (each pass with --timings)")
        return
    o.heading(f"Pass timings ({total:.2f} s)")
    o.line(", ".join(f"{p['pass']} {p['seconds']:.2f} s" for p in r["passes"]), indent=2)


def render_report(report: dict[str, Any], console: Console, show_all: bool = False,
                  timings: bool | None = None) -> None:
    """Print a report that `read_report` checked against report.schema.json.

    By default it fits a screen: the worst resources, a line per population, the chips and
    projections that matter most, every warning kind naming all its subjects, energy and time in
    one line, the total pass time. `show_all` prints every slice, chip, projection, message and
    source; `timings` each pass's time (default: with show_all)."""
    o = LineWriter(console)
    _header(o, report)
    mapping = report.get("mapping") or {}
    cores = [e for e in mapping.get("cores", []) if isinstance(e, dict)]
    chips = [e for e in mapping.get("chips", []) if isinstance(e, dict)]
    placed = [dict(s, _id=i) for i, s in enumerate(report["placement"])]
    slices = {i: s for i, s in enumerate(report["placement"])}
    use_of: dict[int, list] = {}
    for e in cores:
        if isinstance(e.get("slice"), int) and e["slice"] in slices:
            use_of[e["slice"]] = _uses({k: v for k, v in e.items() if k not in ("slice", "chip", "core")})
    by_pop: dict[str, list] = {}
    for s in placed:
        by_pop.setdefault(s["population"], []).append(s)
    glance = not show_all
    _busiest(o, [{k: v for k, v in e.items()} for e in cores], chips, slices, GLANCE_N if glance else None)
    _populations(o, report, by_pop, use_of, compact=glance)
    if show_all:
        _slices(o, placed, use_of, show_all)
    if show_all or len(chips) > 1:
        _chips(o, chips, show_all, top=GLANCE_N)
    _quantization(o, report, show_all, top=GLANCE_N)
    _warnings(o, report, compact=glance)
    if glance:
        _estimates_glance(o, report.get("estimates"))
    else:
        o.lines(estimate_lines(report.get("estimates"), sources=True))
    _passes(o, report, each=show_all if timings is None else timings)
    if glance:
        o.line()
        o.line("more: --all (everything), --json (raw), --html (a page with the chip grid)")
