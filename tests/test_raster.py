"""raster.png: title names board and mode, a neuron-index axis, population labels that never
overlap (CA3's 1-neuron population between larger ones), visible markers at 1,000+ neurons, and
a rate panel."""
from __future__ import annotations

import numpy as np
from matplotlib.text import Text

from neurocompile.report.raster import _spread, raster_figure, raster_title

CA3_SIZES = {"input": 12, "CueCue": 4, "ContCue": 8, "CueCont": 4, "ContCont": 8, "ContCond": 8,
             "ContCondInt": 1, "MergeCue": 4, "MergeCont": 8, "output": 12, "extra": 1}


def _spikes(sizes, steps, rng):
    return {n: (rng.integers(0, steps, 5 * s), rng.integers(0, s, 5 * s)) for n, s in sizes.items()}


def _label_boxes(fig):
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    ax = fig.axes[0]
    # the text alone (an Annotation's own extent includes its leader line)
    return [Text.get_window_extent(t, r) for t in ax.texts]


def test_spread_keeps_the_gap_and_stays_in_range():
    pos = _spread([0.1, 0.1001, 0.1002, 0.5, 0.99, 0.995], 0.05)
    assert all(b - a >= 0.05 - 1e-12 for a, b in zip(pos, pos[1:]))
    assert pos[-1] <= 1.0 and pos[3] == 0.5


def test_ca3_labels_do_not_overlap_and_title_names_board_and_mode():
    rng = np.random.default_rng(0)
    title = raster_title("ca3-demo", "spinn-5", "spinnaker", "sim", 0, 100)
    fig = raster_figure(_spikes(CA3_SIZES, 100, rng), CA3_SIZES, 1.0, 100, title)
    boxes = _label_boxes(fig)
    assert len(boxes) == len(CA3_SIZES)
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not a.overlaps(b), "population labels overlap"
    ax, ax_rate = fig.axes[0], fig.axes[1]
    assert "spinn-5" in ax.get_title() and "spinnaker mode" in ax.get_title()
    assert "neuron index" in ax.get_ylabel()
    assert "rate" in ax_rate.get_ylabel() and len(ax_rate.lines) == len(CA3_SIZES)
    labels = [t.get_text() for t in ax.texts]
    assert any(t.startswith("ContCondInt (1 n") for t in labels)


def test_markers_stay_visible_with_thousands_of_neurons():
    rng = np.random.default_rng(1)
    sizes = {"big": 5000, "tiny": 1, "tiny2": 1, "small": 3, "mid": 300}
    fig = raster_figure(_spikes(sizes, 500, rng), sizes, 1.0, 500, "t")
    ax = fig.axes[0]
    sizes_pt2 = [c.get_sizes()[0] for c in ax.collections if hasattr(c, "get_offsets") and len(c.get_offsets())]
    assert sizes_pt2 and min(sizes_pt2) >= 1.0  # >= 1 pt (2 px at 150 dpi) per spike
    boxes = _label_boxes(fig)
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not a.overlaps(b)
