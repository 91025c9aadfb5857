"""raster.png: every population's spikes on one neuron-index axis, plus a rate-per-population panel.

Kept apart from simulation.py so the same picture can be drawn from a live result or from a
saved spikes.npz (the HTML report, `neurocompile diff`). Small populations (CA3 has 1-neuron
control populations next to hundreds of cells) keep a linear index axis; their labels are spread
out beside the plot with leader lines instead of overlapping.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, BinaryIO, Mapping, Sequence

import numpy as np

Spikes = Mapping[str, tuple[np.ndarray, np.ndarray]]  # population -> (steps, neuron ids)

_LABEL_PT = 7.5  # label font size; also the minimum vertical gap between two labels


def _spread(centres: Sequence[float], gap: float) -> list[float]:
    """Positions (axes fraction, ascending input) at least `gap` apart, as close to `centres` as
    a forward push and a backward push allow; used so labels of tiny populations never overlap."""
    pos = list(centres)
    for i in range(1, len(pos)):
        pos[i] = max(pos[i], pos[i - 1] + gap)
    if pos and pos[-1] > 1.0:
        pos[-1] = 1.0
        for i in range(len(pos) - 2, -1, -1):
            pos[i] = min(pos[i], pos[i + 1] - gap)
    return pos


def _marker_side_pt(n_neurons: int, axes_height_pt: float) -> float:
    """Marker height in points: one neuron's share of the axis, but never below ~2 pixels at
    150 dpi, so a spike stays visible with thousands of neurons."""
    return float(np.clip(axes_height_pt / max(n_neurons, 1), 1.0, 2.5))


def _rates(steps: np.ndarray, size: int, n_steps: int, dt_ms: float, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Population rate (Hz per neuron) in `n_bins` equal time bins; returns (bin centres in ms, rates)."""
    edges = np.linspace(0, n_steps, n_bins + 1)
    counts, _ = np.histogram(steps, bins=edges)
    width_s = (edges[1] - edges[0]) * dt_ms / 1000.0
    rate = counts / (max(size, 1) * width_s) if width_s > 0 else np.zeros(n_bins)
    return (edges[:-1] + edges[1:]) / 2 * dt_ms, rate


def plot_raster(path: Path | str | BinaryIO, spikes: Spikes, sizes: Mapping[str, int], dt_ms: float,
                n_steps: int, title: str) -> None:
    """Write the raster + rate figure to `path` (PNG). `sizes` gives the population order."""
    fig = raster_figure(spikes, sizes, dt_ms, n_steps, title)  # selects the Agg backend first
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=150, format="png")
    plt.close(fig)


def raster_figure(spikes: Spikes, sizes: Mapping[str, int], dt_ms: float, n_steps: int, title: str) -> Any:
    """The matplotlib Figure: raster axes (population labels as annotations) over a rate axes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(sizes)
    total = sum(int(sizes[n]) for n in names)
    fig = plt.figure(figsize=(10, 6.5), dpi=150)
    grid = fig.add_gridspec(2, 1, height_ratios=(3, 1), hspace=0.08, left=0.08, right=0.76, top=0.93, bottom=0.08)
    ax = fig.add_subplot(grid[0])
    ax_rate = fig.add_subplot(grid[1], sharex=ax)
    t_max = n_steps * dt_ms
    axes_h_pt = ax.get_position().height * fig.get_figheight() * 72
    side = _marker_side_pt(total, axes_h_pt)
    offset, centres, means = 0, [], []
    for i, name in enumerate(names):
        size = int(sizes[name])
        colour = f"C{i % 10}"
        if i % 2:
            ax.axhspan(offset - 0.5, offset + size - 0.5, color="0.94", zorder=0, linewidth=0)
        if i:
            ax.axhline(offset - 0.5, color="0.55", linewidth=0.5, zorder=1)
        steps, ids = spikes.get(name, (np.zeros(0), np.zeros(0)))
        if len(steps):
            ax.scatter(np.asarray(steps) * dt_ms, np.asarray(ids) + offset, s=side ** 2, marker="s",
                       color=colour, linewidths=0, rasterized=True, zorder=2)
        t, rate = _rates(np.asarray(steps), size, n_steps, dt_ms, n_bins=min(100, max(n_steps, 1)))
        mean = len(steps) / (size * t_max / 1000.0) if size and t_max else 0.0
        ax_rate.plot(t, rate, color=colour, linewidth=1.0)
        centres.append(offset + (size - 1) / 2)
        means.append(mean)
        offset += size
    ax.set_xlim(0, t_max)
    ax.set_ylim(-0.5, max(total, 1) - 0.5)
    ax.set_ylabel("neuron index (populations stacked)")
    ax.tick_params(labelbottom=False)
    ax.set_title(title, fontsize=10)
    # Population labels at the right edge, spread so they never overlap, each tied to its band.
    gap = 1.15 * _LABEL_PT / axes_h_pt
    ylo, yhi = ax.get_ylim()
    fracs = [(c - ylo) / (yhi - ylo) for c in centres]
    for i, (name, frac, placed) in enumerate(zip(names, fracs, _spread(fracs, gap))):
        ax.annotate(f"{name} ({int(sizes[name]):,} n, {means[i]:.1f} Hz)", xy=(1.0, frac), xycoords="axes fraction",
                    xytext=(1.03, placed), textcoords="axes fraction", fontsize=_LABEL_PT, va="center",
                    color=f"C{i % 10}", annotation_clip=False,
                    arrowprops={"arrowstyle": "-", "color": "0.6", "linewidth": 0.5, "shrinkA": 0, "shrinkB": 0})
    ax_rate.set_xlabel("time (ms)")
    ax_rate.set_ylabel("rate per neuron (Hz)")
    ax_rate.text(1.02, 0.5, "colours as above;\nmean rate in the labels", transform=ax_rate.transAxes,
                 fontsize=_LABEL_PT, va="center", color="0.4")
    return fig


def raster_title(network: str, board: str, mode: str, backend: str, seed: object, steps: int) -> str:
    return f"{network} on {board}: {mode} mode ({backend} backend), seed {seed}, {steps:,} steps"
