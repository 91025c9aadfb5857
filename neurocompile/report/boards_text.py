"""`neurocompile boards` as plain columns: names are never cut, the description gets its own line.

A rich table squeezed into 80 columns cut board names and families ("spinna…"); here the columns
are as wide as their longest value and the one free-text field wraps under its row.
"""
from __future__ import annotations

import textwrap
from typing import Any

COLUMNS = (("board", "<"), ("family", "<"), ("chips", ">"), ("cores/chip", ">"), ("neurons/core", ">"),
           ("max delay", ">"))


def board_lines(summaries: list[dict[str, Any]], width: int = 80) -> list[str]:
    rows = [(s["name"], s["family"], f"{s['chips']:,}", str(s["cores_per_chip"]),
             f"{s['neurons_per_core']:,}" if s["neurons_per_core"] else "-", f"{s['max_delay_steps']} steps")
            for s in summaries]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, (h, _) in enumerate(COLUMNS)]

    def fmt(cells: tuple[str, ...]) -> str:
        return "  ".join(f"{c:{a}{w}}" for c, (_, a), w in zip(cells, COLUMNS, widths)).rstrip()

    lines = [fmt(tuple(h for h, _ in COLUMNS))]
    for s, r in zip(summaries, rows):
        lines.append(fmt(r))
        lines += textwrap.wrap(s["description"], width, initial_indent="  ", subsequent_indent="  ",
                               break_long_words=False, break_on_hyphens=False)
    return lines
