"""The board's chip grid as a heat map (one value per chip) with inter-chip traffic drawn on it.

Only chips that exist are drawn, where they sit: SpiNNaker's hexagonal mesh with its links E, NE,
N (a SpiNN-5 board is an 8x8 grid with 16 positions empty, a multi-board machine a skewed torus),
Loihi meshes as squares. Matplotlib renders to SVG text so the HTML report embeds it without any
file or network access.
"""
from __future__ import annotations

import io
import math
from typing import Any, Mapping, Sequence

import numpy as np

from neurocompile.boards.schema import Board
from neurocompile.passes.topology import LINK_ADD, Grid, grid_of

_SQ3 = math.sqrt(3.0)


def chip_centres(grid: Grid) -> np.ndarray:
    """Drawing positions: hexagonal chips on a triangular lattice (every link has length 1), so
    E, NE and N neighbours are all adjacent; meshes on the square lattice."""
    return _to_drawing(grid.kind, grid.coords.astype(float))


def _to_drawing(kind: str, xy: np.ndarray) -> np.ndarray:
    x, y = xy[..., 0], xy[..., 1]
    if kind == "hexagonal":
        return np.stack([x - 0.5 * y, y * _SQ3 / 2], axis=-1)
    return np.stack([x, y], axis=-1)


def chip_utilization(report: Mapping[str, Any], grid: Grid) -> dict[str, np.ndarray]:
    """Per resource, value/limit on each chip (NaN on chips with nothing of that resource).

    Chip-level resources (cores, SDRAM, routing entries) come from `mapping.chips`; per-core ones
    (neurons, DTCM, synapse memory...) are the busiest core on the chip (`mapping.cores`).
    """
    out: dict[str, np.ndarray] = {}

    def put(name: str, chip: Any, value: Any, limit: Any) -> None:
        if not isinstance(chip, list) or len(chip) != 2 or not limit:
            return
        x, y = int(chip[0]), int(chip[1])
        if not (0 <= x < grid.id_at.shape[0] and 0 <= y < grid.id_at.shape[1]) or grid.id_at[x, y] < 0:
            return
        arr = out.setdefault(name, np.full(grid.n_chips, np.nan))
        c = grid.id_at[x, y]
        arr[c] = np.nanmax([arr[c], float(value) / float(limit)])

    mapping = report.get("mapping") or {}
    for entry in mapping.get("chips", []):
        for key, v in entry.items():
            if isinstance(v, dict) and "value" in v and "limit" in v:
                put(f"chip {key}", entry.get("chip"), v["value"], v["limit"])
    for entry in mapping.get("cores", []):
        for key, v in entry.items():
            if isinstance(v, dict) and "value" in v and "limit" in v:
                put(f"core {key}", entry.get("chip"), v["value"], v["limit"])
    return dict(sorted(out.items()))


def busiest(util: Mapping[str, np.ndarray], n_chips: int) -> tuple[np.ndarray, list[str]]:
    """Per chip, the highest utilization over all resources and the resource it belongs to."""
    best = np.full(n_chips, np.nan)
    which = [""] * n_chips
    for name, arr in util.items():
        for c in np.flatnonzero(~np.isnan(arr)):
            if np.isnan(best[c]) or arr[c] > best[c]:
                best[c], which[c] = arr[c], name
    return best, which


def link_segments(grid: Grid, link_load: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Segments (k, 2, 2) in drawing coordinates and their load (spikes/s, both directions added).

    A link to a neighbour that is not adjacent in the drawing (a torus wrap-around) is drawn as a
    short stub leaving the chip in the link's direction.
    """
    if link_load is None or link_load.size == 0 or grid.n_chips < 2:
        return np.zeros((0, 2, 2)), np.zeros(0)
    centres = chip_centres(grid)
    nbrs = grid.neighbours
    loads: dict[tuple[int, int, int], float] = {}
    for c, link in zip(*np.nonzero(link_load > 0)):
        n = int(nbrs[c, link])
        if n < 0:
            continue
        # one entry per undirected link: key on the lower chip id (and the link as seen from it)
        key = (int(c), int(link), n) if c < n else (n, (int(link) + 3) % 6, int(c))
        loads[key] = loads.get(key, 0.0) + float(link_load[c, link])
    segs, vals = [], []
    for (a, link, b), load in loads.items():
        pa, pb = centres[a], centres[b]
        if np.linalg.norm(pb - pa) > 1.5:  # wrap-around: a stub in the link's direction
            pb = pa + 0.45 * _to_drawing(grid.kind, LINK_ADD[link].astype(float))
        segs.append([pa, pb])
        vals.append(load)
    return np.asarray(segs, dtype=float).reshape(-1, 2, 2), np.asarray(vals)


def render_grid_svgs(board: Board, views: Sequence[tuple[np.ndarray, str, list[str] | None]],
                     link_load: np.ndarray | None = None) -> list[str]:
    """SVG text of the chip grid once per view (values 0..1 per chip, title, optional per-chip
    label); NaN = nothing on the chip (grey), > 1 = over the limit (red). One figure is drawn and
    recoloured per view: the geometry and traffic are the same in every view."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection, PatchCollection
    from matplotlib.patches import Rectangle, RegularPolygon

    grid = grid_of(board)
    centres = chip_centres(grid)
    n = grid.n_chips
    span = np.ptp(centres, axis=0) + 1 if n else np.ones(2)
    width = float(np.clip(span[0] * 0.55 + 2.5, 5.0, 12.0))
    height = float(np.clip(width * (span[1] + 1) / (span[0] + 1) + 0.8, 2.8, 12.0))
    # text stays text (no font outlines): smaller and quicker; the viewer's sans-serif draws it
    with matplotlib.rc_context({"svg.hashsalt": "neurocompile", "svg.fonttype": "none"}):
        fig = plt.figure(figsize=(width + 1.4, height))
        bar_w = 1.4 / (width + 1.4)  # colour bar and its labels in a fixed 1.4-inch strip
        ax = fig.add_axes((0.01, 0.08, 0.98 - bar_w, 0.84))
        cax = fig.add_axes((1.0 - bar_w + 0.02 * bar_w, 0.15, 0.12 * bar_w, 0.7))
        if grid.kind == "hexagonal":
            cells = [RegularPolygon(tuple(p), 6, radius=1 / _SQ3 * 0.97) for p in centres]
        else:
            cells = [Rectangle((p[0] - 0.47, p[1] - 0.47), 0.94, 0.94) for p in centres]
        cmap = matplotlib.colormaps["viridis"].with_extremes(over="#d62728", bad="#e6e6e6")
        coll = PatchCollection(cells, cmap=cmap, edgecolor="white", linewidth=0.6)
        coll.set_array(np.ma.masked_invalid(np.full(n, np.nan)))
        coll.set_clim(0.0, 1.0)
        ax.add_collection(coll)
        bar = fig.colorbar(coll, cax=cax, extend="max")
        bar.set_label("value / limit (grey: unused, red: over the limit)", fontsize=8)
        if grid.ethernet.any():
            eth = centres[grid.ethernet]
            ax.scatter(eth[:, 0], eth[:, 1], s=8, marker="o", facecolors="none", edgecolors="white",
                       linewidths=0.8, zorder=3)
        segs, loads = link_segments(grid, link_load)
        note = "no inter-chip traffic"
        if loads.size:
            widths = 0.6 + 3.4 * loads / loads.max()
            ax.add_collection(LineCollection(segs, linewidths=widths, colors="#ff7f0e", alpha=0.85, zorder=4,
                                             capstyle="round"))
            note = f"orange: inter-chip traffic, width ~ load (max {loads.max():,.0f} spikes/s on one link)"
        elif link_load is None:
            note = "link traffic not available (no compiled plan in this directory)"
        pad = 0.8
        ax.set_xlim(centres[:, 0].min() - pad, centres[:, 0].max() + pad)
        ax.set_ylim(centres[:, 1].min() - pad, centres[:, 1].max() + pad)
        ax.set_aspect("equal")
        ax.set_axis_off()
        ax.text(0.0, -0.01, note + ("; white rings: Ethernet chips" if grid.ethernet.any() else ""),
                transform=ax.transAxes, va="top", fontsize=7, color="0.3")
        out = []
        for values, title, labels in views:
            coll.set_array(np.ma.masked_invalid(values))
            ax.set_title(title, fontsize=10)
            texts = _chip_texts(ax, grid, centres, values, labels) if n <= 64 else []
            buf = io.StringIO()
            fig.savefig(buf, format="svg", metadata={"Date": None})
            out.append(buf.getvalue())
            for t in texts:
                t.remove()
        plt.close(fig)
    return out


def _chip_texts(ax: Any, grid: Grid, centres: np.ndarray, values: np.ndarray, labels: list[str] | None) -> list[Any]:
    """Coordinates and percentage on each chip (and the resource name on boards of <= 16 chips)."""
    n = grid.n_chips
    texts = []
    for c, p in enumerate(centres):
        v = values[c]
        txt = f"{grid.coords[c, 0]},{grid.coords[c, 1]}"
        if not np.isnan(v):
            txt += f"\n{100 * v:.0f}%" + (f"\n{labels[c]}" if labels and labels[c] and n <= 16 else "")
        texts.append(ax.text(p[0], p[1], txt, ha="center", va="center", fontsize=5.5 if n > 16 else 7,
                             color="white" if not np.isnan(v) and v < 0.6 else "black", zorder=5))
    return texts
