"""The chip grid drawing: geometry of the bundled boards, per-chip utilization from report.json,
and inter-chip traffic as link segments (both directions added, wrap-around links as stubs)."""
from __future__ import annotations

import numpy as np

from neurocompile.boards import load_board
from neurocompile.passes.topology import grid_of
from neurocompile.report.chipgrid import busiest, chip_centres, chip_utilization, link_segments, render_grid_svgs


def test_every_link_of_a_spinn5_board_has_length_one_in_the_drawing():
    grid = grid_of(load_board("spinn-5"))
    assert grid.n_chips == 48  # only the chips that exist
    centres = chip_centres(grid)
    nbrs = grid.neighbours
    lengths = [np.linalg.norm(centres[c] - centres[n]) for c in range(48) for n in nbrs[c] if n >= 0]
    assert len(lengths) > 100 and np.allclose(lengths, 1.0)
    # chips are drawn apart: no two centres closer than a link
    d = np.linalg.norm(centres[:, None] - centres[None], axis=2) + np.eye(48) * 9
    assert d.min() > 0.99


def test_utilization_takes_chip_resources_and_the_busiest_core():
    grid = grid_of(load_board("spinn-5"))
    report = {"mapping": {
        "chips": [{"chip": [0, 0], "cores": {"value": 3, "limit": 15}, "sdram_bytes": {"value": 10, "limit": 100}},
                  {"chip": [1, 1], "cores": {"value": 8, "limit": 16}}],
        "cores": [{"chip": [0, 0], "core": 0, "neurons": {"value": 64, "limit": 256}},
                  {"chip": [0, 0], "core": 1, "neurons": {"value": 250, "limit": 256}},
                  {"chip": [1, 1], "core": 0, "neurons": {"value": 1, "limit": 256}}]}}
    util = chip_utilization(report, grid)
    a, b = grid.id_at[0, 0], grid.id_at[1, 1]
    assert util["chip cores"][a] == 0.2 and util["chip cores"][b] == 0.5
    assert util["core neurons"][a] == 250 / 256
    assert np.isnan(util["chip sdram_bytes"][b])
    best, which = busiest(util, grid.n_chips)
    assert (which[a], which[b]) == ("core neurons", "chip cores")
    assert np.isnan(best[grid.id_at[4, 4]]) and which[grid.id_at[4, 4]] == ""


def test_traffic_segments_add_both_directions_and_stub_wraparound_links():
    board = load_board("spinnaker-24board")
    grid = grid_of(board)
    load = np.zeros((grid.n_chips, 6))
    a, b = grid.id_at[0, 0], grid.id_at[1, 0]
    load[a, 0] = 30.0   # east to (1, 0)
    load[b, 3] = 12.0   # and back west
    load[a, 3] = 5.0    # west from (0, 0): wraps to (47, 0)
    segs, vals = link_segments(grid, load)
    assert sorted(vals.tolist()) == [5.0, 42.0]
    for seg, v in zip(segs, vals):
        assert np.linalg.norm(seg[1] - seg[0]) <= 1.0 + 1e-9  # drawn locally, never across the machine
    svgs = render_grid_svgs(board, [(np.full(grid.n_chips, np.nan), "t", None)], load)
    assert len(svgs) == 1 and svgs[0].lstrip().startswith("<?xml") and "max 42 spikes/s" in svgs[0]
