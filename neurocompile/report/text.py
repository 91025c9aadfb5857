"""Readable terminal summary of a report.json (what `neurocompile report DIR` prints)."""
from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table


def _fmt_pct(a: float, b: float) -> str:
    return f"{a}/{b} ({100.0 * a / b:.1f}%)" if b else str(a)


def render_report(report: dict[str, Any], console: Console) -> None:
    """Print a report that `read_report` checked (names are escaped: '[' in a name is not markup)."""
    net, board, util = report["network"], report["board"], report["utilization"]
    console.print(f"[bold]{escape(report['target'])}[/] on [bold]{escape(board['name'])}[/] "
                  f"({escape(board['family'])}), seed {report['seed']}, "
                  f"neurocompile {escape(report['tool']['version'])}")
    console.print(f"network: {net['neurons']:,} neurons in {net['populations']} populations, "
                  f"{net['synapses']:,} synapses in {net['projections']} projections, dt {net['dt_ms']} ms")
    console.print(f"cores: {_fmt_pct(util['cores_used'], util['cores_available'])} "
                  f"(lower bound {util['cores_lower_bound']}); chips: "
                  f"{_fmt_pct(util['chips_used'], util['chips_available'])} (lower bound {util['chips_lower_bound']}); "
                  f"mean neuron fill per core {100 * util['mean_core_neuron_fill']:.1f}%")

    m = report.get("mapping", {}).get("summary", {})
    if m:
        util_max = ", ".join(f"{escape(k)} {100 * v:.0f}%" for k, v in sorted(m.get("max_utilization", {}).items()))
        console.print(f"busiest core/chip: {util_max}")
        routes = (f"; routing entries max {m.get('max_routing_entries_per_chip', '?')}/{m['router_entries_limit']} per chip"
                  if m.get("router_entries_limit") else "")
        console.print(f"inter-chip traffic {m.get('inter_chip_spikes_per_s', 0):,.0f} spikes/s, average hops "
                      f"{m.get('average_hops', 0):.2f}{routes}")
    pops = Table(title="populations", show_edge=False)
    for col in ("name", "model", "size", "slices"):
        pops.add_column(col, justify="right" if col in ("size", "slices") else "left")
    for p in report["populations"]:
        pops.add_row(escape(p["name"]), escape(p["model"]), f"{p['size']:,}", str(p["slices"]))
    console.print(pops)

    if report["projections"]:
        projs = Table(title="projections", show_edge=False)
        for col in ("name", "receptor", "synapses", "plastic"):
            projs.add_column(col, justify="right" if col == "synapses" else "left")
        for p in report["projections"]:
            projs.add_row(escape(p["name"]), escape(p["receptor"]), f"{p['synapses']:,}", "yes" if p["plastic"] else "")
        console.print(projs)

    passes = Table(title="passes", show_edge=False)
    passes.add_column("pass")
    passes.add_column("seconds", justify="right")
    for p in report["passes"]:
        passes.add_row(escape(p["pass"]), f"{p['seconds']:.4f}")
    console.print(passes)

    for d in report["diagnostics"]:
        if d["level"] != "info":
            subject = f" {escape(d['subject'])}:" if d["subject"] else ""
            console.print(f"[yellow]{escape(d['level'])}[/] {escape('[' + d['pass'] + ']')}{subject} "
                          f"{escape(d['message'])}")


MAX_SLICE_ROWS = 60


def render_slices(compiled: Any, console: Console, max_rows: int = MAX_SLICE_ROWS) -> None:
    """Where each slice runs, from the saved CompiledNetwork (not from report.json)."""
    rows = compiled.slice_table()
    if not rows:
        return
    table = Table(title=f"placement ({len(rows):,} slices, {compiled.placements.chips_used if compiled.placements else 0}"
                        f" chips; {compiled.placements.method if compiled.placements else 'unplaced'})",
                  show_edge=False)
    for col in ("slice", "neurons", "chip", "core"):
        table.add_column(col, justify="left" if col in ("slice", "chip") else "right")
    for r in rows[:max_rows]:
        chip = f"({r['chip'][0]}, {r['chip'][1]})" if r["chip"] is not None else "unplaced"
        span = f"{r['first']}..{r['last']}" if r["last"] - r["first"] + 1 == r["n_neurons"] else \
            f"{r['n_neurons']:,} in {r['first']}..{r['last']}"
        extra = f" +{r['extra_cores']} delay" if r["extra_cores"] else ""
        table.add_row(escape(f"{r['population']}[{r['slice']}]"), span, chip, f"{r['core']}{extra}")
    console.print(table)
    if len(rows) > max_rows:
        console.print(f"... {len(rows) - max_rows:,} more slices (neurocompile report DIR --json | jq .placement)")
