"""Chip grid geometry shared by placement and routing: chip ids, links, hop counts, paths.

Everything comes from `board.topology` (kind, width, height, wrap, chips). Conventions follow
SpiNNMachine 1!7.4.1 so that routes match what PACMAN builds:

- Links are numbered as in `spinn_machine/machine.py` `LINK_ADD_TABLE`:
  0 E (+1, 0), 1 NE (+1, +1), 2 N (0, +1), 3 W (-1, 0), 4 SW (-1, -1), 5 S (0, -1).
  The opposite of link l is (l + 3) % 6. A `mesh` uses only links 0, 2, 3, 5 (no diagonals).
- Hexagonal shortest vectors are `Machine.get_vector`: `no_wrap_machine.py` (`_minimize_vector`
  of (dx, dy)) and `full_wrap_machine.py` (best of the four torus images, then minimised); the hop
  count is the vector's length (`get_vector_length`).
- A route follows `longest_dimension_first` (`pacman/utilities/algorithm_utilities/
  routing_algorithm_utilities.py`): the (x, y, z) components sorted by magnitude, largest first
  (ties keep x, y, z order: Python's sort is stable with reverse=True), x along E/W, y along N/S,
  z along SW (+) / NE (-). If that path crosses a missing chip (a SpiNN-5 board is not a full
  rectangle), the path is replaced by a breadth-first shortest path over existing links, as
  PACMAN's `_path_without_errors` detours around dead chips (ours detours the whole path).
- Meshes (Loihi) use dimension-order X then Y routing and Manhattan hop counts (torus if wrap).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numba
import numpy as np

from neurocompile.boards.schema import Board

LINK_ADD = np.array([(1, 0), (1, 1), (0, 1), (-1, 0), (-1, -1), (0, -1)], dtype=np.int64)
LINK_ADD_NB = LINK_ADD  # read by the jitted `path` (numba freezes globals at compile time)
LINK_NAMES = ("E", "NE", "N", "W", "SW", "S")
HEX_LINKS = (0, 1, 2, 3, 4, 5)
MESH_LINKS = (0, 2, 3, 5)

KIND_CODE = {"hexagonal": 0, "mesh": 1, "single": 2}


@dataclass(frozen=True)
class Grid:
    """Array view of a board's chips: ids are positions in `board.topology.chips`."""

    kind: str
    width: int
    height: int
    wrap: bool
    coords: np.ndarray        # (n_chips, 2) int64
    id_at: np.ndarray         # (width, height) int64, -1 where no chip
    ethernet: np.ndarray      # (n_chips,) bool
    cores_missing: np.ndarray | None = None  # (n_chips,) int64: dead cores (board topology.dead_cores)

    @property
    def n_chips(self) -> int:
        return int(self.coords.shape[0])

    @property
    def links(self) -> tuple[int, ...]:
        return HEX_LINKS if self.kind == "hexagonal" else MESH_LINKS if self.kind == "mesh" else ()

    @cached_property
    def neighbours(self) -> np.ndarray:
        """(n_chips, 6) chip id over each link, -1 where the link does not exist."""
        out = np.full((self.n_chips, 6), -1, dtype=np.int64)
        for link in self.links:
            dx, dy = LINK_ADD[link]
            x = self.coords[:, 0] + dx
            y = self.coords[:, 1] + dy
            if self.wrap:
                x %= self.width
                y %= self.height
            ok = (x >= 0) & (x < self.width) & (y >= 0) & (y < self.height)
            ids = np.full(self.n_chips, -1, dtype=np.int64)
            ids[ok] = self.id_at[x[ok], y[ok]]
            out[:, link] = ids
        return out

    @cached_property
    def hops(self) -> np.ndarray:
        """(n_chips, n_chips) int32 hop counts along the routes `path` takes (formula, no BFS)."""
        return hop_matrix(self)

    def chip_name(self, chip: int) -> str:
        x, y = self.coords[chip]
        return f"({int(x)}, {int(y)})"


def grid_of(board: Board) -> Grid:
    t = board.topology
    coords = np.array(t.chips, dtype=np.int64).reshape(-1, 2)
    id_at = np.full((t.width, t.height), -1, dtype=np.int64)
    id_at[coords[:, 0], coords[:, 1]] = np.arange(coords.shape[0])
    eth = np.zeros(coords.shape[0], dtype=bool)
    for x, y in t.ethernet_chips:
        eth[id_at[x, y]] = True
    missing = np.zeros(coords.shape[0], dtype=np.int64)
    for (x, y), n in t.cores_missing().items():
        missing[id_at[x, y]] = n
    return Grid(t.kind, t.width, t.height, bool(t.wrap), coords, id_at, eth, missing)


# ------------------------------------------------------------------------------------- vectors
@numba.njit(cache=True)
def _minimize(x: int, y: int) -> tuple[int, int, int]:
    """spinn_machine Machine._minimize_vector: (x, y, 0) -> shortest equivalent (x, y, z)."""
    if x > 0:
        if y > 0:
            if x > y:
                return x - y, 0, -y
            return 0, y - x, -x
        return x, y, 0
    if y > 0:
        return x, y, 0
    if x > y:
        return 0, y - x, -x
    return x - y, 0, -y


@numba.njit(cache=True)
def hex_vector(sx: int, sy: int, dx_: int, dy_: int, w: int, h: int, wrap: bool) -> tuple[int, int, int]:
    """Machine.get_vector for NoWrapMachine / FullWrapMachine."""
    if not wrap:
        return _minimize(dx_ - sx, dy_ - sy)
    x_up = (dx_ - sx) % w
    x_down = x_up - w
    y_right = (dy_ - sy) % h
    y_left = y_right - h
    length = x_up if x_up > y_right else y_right
    dx = x_up
    dy = y_right
    negative_x = y_right - x_down
    if negative_x < length:
        length = negative_x
        dx = x_down
    negative_y = x_up - y_left
    if negative_y < length:
        length = negative_y
        dx = x_up
        dy = y_left
    if x_down > y_left:
        negative_xy = -y_left
    else:
        negative_xy = -x_down
    if negative_xy < length:
        return _minimize(x_down, y_left)
    return _minimize(dx, dy)


@numba.njit(cache=True)
def _mesh_delta(s: int, d: int, size: int, wrap: bool) -> int:
    delta = d - s
    if wrap:
        delta %= size
        if delta > size // 2:
            delta -= size
    return delta


def hop_matrix(grid: Grid) -> np.ndarray:
    n = grid.n_chips
    x = grid.coords[:, 0][:, None]
    y = grid.coords[:, 1][:, None]
    dx = grid.coords[:, 0][None, :] - x
    dy = grid.coords[:, 1][None, :] - y
    if grid.kind == "single" or n == 1:
        return np.zeros((n, n), dtype=np.int32)
    if grid.kind == "mesh":
        if grid.wrap:
            dx = np.minimum(dx % grid.width, (-dx) % grid.width)
            dy = np.minimum(dy % grid.height, (-dy) % grid.height)
        return (np.abs(dx) + np.abs(dy)).astype(np.int32)
    if not grid.wrap:
        # NoWrapMachine.get_vector_length: same sign -> max(|dx|, |dy|), else |dx| + |dy|.
        same = (dx * dy) > 0
        return np.where(same, np.maximum(np.abs(dx), np.abs(dy)), np.abs(dx) + np.abs(dy)).astype(np.int32)
    # FullWrapMachine.get_vector_length.
    w, h = grid.width, grid.height
    x_up = dx % w
    x_down = x_up - w
    y_right = dy % h
    y_left = y_right - h
    length = np.maximum(x_up, y_right)
    length = np.minimum(length, y_right - x_down)
    length = np.minimum(length, x_up - y_left)
    negative_xy = np.where(x_down > y_left, -y_left, -x_down)
    return np.minimum(length, negative_xy).astype(np.int32)


# ------------------------------------------------------------------------------------- paths
@numba.njit(cache=True)
def _bfs_path(src: int, dst: int, nbrs: np.ndarray, links: np.ndarray,
              out_links: np.ndarray, out_chips: np.ndarray) -> int:
    """Shortest path over existing links (link order 0..5); returns its length or -1."""
    n = nbrs.shape[0]
    parent = np.full(n, -1, dtype=np.int64)
    plink = np.full(n, -1, dtype=np.int64)
    seen = np.zeros(n, dtype=np.bool_)
    queue = np.empty(n, dtype=np.int64)
    head = 0
    tail = 0
    queue[tail] = src
    tail += 1
    seen[src] = True
    while head < tail:
        c = queue[head]
        head += 1
        if c == dst:
            break
        for li in range(links.shape[0]):
            link = links[li]
            nb = nbrs[c, link]
            if nb >= 0 and not seen[nb]:
                seen[nb] = True
                parent[nb] = c
                plink[nb] = link
                queue[tail] = nb
                tail += 1
    if not seen[dst]:
        return -1
    length = 0
    c = dst
    while c != src:
        length += 1
        c = parent[c]
    c = dst
    i = length - 1
    while c != src:
        out_links[i] = plink[c]
        out_chips[i] = c
        c = parent[c]
        i -= 1
    return length


@numba.njit(cache=True)
def path(src: int, dst: int, kind: int, w: int, h: int, wrap: bool, coords: np.ndarray,
         id_at: np.ndarray, nbrs: np.ndarray, links: np.ndarray,
         out_links: np.ndarray, out_chips: np.ndarray) -> int:
    """Fill out_links/out_chips with the route src -> dst (excluding src); return its length.

    Hexagonal: longest-dimension-first as PACMAN; mesh: X then Y. -1 if dst is unreachable.
    """
    if src == dst:
        return 0
    sx = coords[src, 0]
    sy = coords[src, 1]
    tx = coords[dst, 0]
    ty = coords[dst, 1]
    dims = np.zeros(3, dtype=np.int64)
    if kind == 0:
        vx, vy, vz = hex_vector(sx, sy, tx, ty, w, h, wrap)
        dims[0] = vx
        dims[1] = vy
        dims[2] = vz
        # stable sort by |magnitude|, largest first (PACMAN longest_dimension_first)
        order = np.zeros(3, dtype=np.int64)
        used = np.zeros(3, dtype=np.bool_)
        for k in range(3):
            best = -1
            for d in range(3):
                if not used[d] and (best < 0 or abs(dims[d]) > abs(dims[best])):
                    best = d
            used[best] = True
            order[k] = best
    else:
        dims[0] = _mesh_delta(sx, tx, w, wrap)
        dims[1] = _mesh_delta(sy, ty, h, wrap)
        order = np.array([0, 1, 2], dtype=np.int64)
    x = sx
    y = sy
    n = 0
    ok = True
    for k in range(3):
        d = order[k]
        mag = dims[d]
        if mag == 0:
            continue
        if d == 0:
            link = 0 if mag > 0 else 3
        elif d == 1:
            link = 2 if mag > 0 else 5
        else:
            link = 4 if mag > 0 else 1
        for _ in range(abs(mag)):
            x += LINK_ADD_NB[link, 0]
            y += LINK_ADD_NB[link, 1]
            if wrap:
                x %= w
                y %= h
            if x < 0 or x >= w or y < 0 or y >= h or id_at[x, y] < 0:
                ok = False
                break
            out_links[n] = link
            out_chips[n] = id_at[x, y]
            n += 1
        if not ok:
            break
    if ok:
        return n
    return _bfs_path(src, dst, nbrs, links, out_links, out_chips)

