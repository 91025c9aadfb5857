"""Procedural, seeded routes for visual place recognition: no data is downloaded, all is generated.

A *world* is a long side view along a road (think of a train or car window, as in Nordland),
built from layers at different depths, each a strip of material ids in world coordinates:

    sky + clouds (per traverse) | mountains (parallax 0.2) | far tree line (0.45) | ground, road
    and markings (1.0) | buildings with windows, roofs, doors (0.75) | near trees, conifers,
    poles, signs, fences, crop fields (1.0)

The route is cut into *regions* (town, village, forest, fields, industrial, lakeside) of 4..15
places, so the scenery changes along the route like a real one. Place p views the window that
starts at p * stride * parallax in each layer: consecutive places overlap (by 50 % for the near
layer at the default stride, more for far layers), so neighbouring places look alike, as on a
real route, while places further apart are distinctive.

A *traverse* renders every place under one appearance `Condition`:
- season: material colours change (green summer foliage, orange autumn, bare/snowy winter,
  light-green spring; snow on the ground, roofs and fields in winter; crop fields green/yellow/
  brown/white), so the greyscale structure changes, not only its global intensity;
- lighting: sky type (day/overcast/dusk/night), colour tint, brightness and gamma; lit windows
  at dusk/night;
- viewpoint jitter: per image yaw (shift of all layers), camera translation (shift scaled by
  each layer's parallax), pitch (vertical shift) and zoom;
- dynamics: clouds drawn per traverse, passing vehicles in the foreground;
- sensor: Gaussian blur and Gaussian noise at the output resolution.

Images are rendered in RGB at 112 x 112, converted to greyscale (ITU-R 601 luma), averaged down to
28 x 28 and patch-normalised exactly as in the paper's code (Hussaini et al. 2023): each pixel is
z-scored with the mean and standard deviation of its 7 x 7 neighbourhood (patch size 7, pixels
outside the image ignored), clipped to [-1, 1] and mapped to 0..255 (uint8).

Everything is a deterministic function of (n_places, seed) for the world and of
(condition, traverse seed) for a traverse.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

ROUTES_VERSION = 1   # bump when rendering changes (invalidates cached trained ensembles)
HI = 112            # render resolution (square), 4 x the output
OUT = 28            # output resolution, as in the paper
PATCH_SIZE = 7      # patch-normalisation neighbourhood (the paper's code uses 7)
STRIDE = 56         # near-layer pixels the camera moves per place (50 % overlap at HI = 112)
HORIZON = 64        # row of the horizon in the HI render
MARGIN = 64         # extra strip at both ends for viewpoint jitter

# ----- materials ---------------------------------------------------------------------------------
(NONE, MOUNTAIN, SNOWCAP, FAR_TREES, GRASS, ROAD, MARKING, WALL0, WALL1, WALL2, WALL3, ROOF, WINDOW,
 DOOR, TRUNK, FOLIAGE, POLE, SIGN, FENCE, CONIFER, FIELD, WATER, SIGN2) = range(23)
N_MATERIALS = 23

_BASE = {
    MOUNTAIN: (0.42, 0.46, 0.40), SNOWCAP: (0.90, 0.91, 0.95), FAR_TREES: (0.22, 0.38, 0.22),
    GRASS: (0.33, 0.55, 0.20), ROAD: (0.30, 0.30, 0.32), MARKING: (0.92, 0.92, 0.85),
    WALL0: (0.75, 0.70, 0.62), WALL1: (0.55, 0.30, 0.25), WALL2: (0.85, 0.85, 0.82),
    WALL3: (0.40, 0.42, 0.48), ROOF: (0.35, 0.20, 0.18), WINDOW: (0.12, 0.15, 0.20),
    DOOR: (0.25, 0.17, 0.10), TRUNK: (0.30, 0.22, 0.15), FOLIAGE: (0.18, 0.45, 0.14),
    POLE: (0.35, 0.35, 0.35), SIGN: (0.85, 0.75, 0.10), FENCE: (0.55, 0.45, 0.35),
    CONIFER: (0.10, 0.28, 0.14), FIELD: (0.45, 0.65, 0.20), WATER: (0.25, 0.40, 0.55),
    SIGN2: (0.15, 0.35, 0.75),
}
_SEASON = {
    "summer": {},
    "autumn": {FAR_TREES: (0.55, 0.38, 0.18), GRASS: (0.50, 0.48, 0.22), FOLIAGE: (0.80, 0.42, 0.10),
               FIELD: (0.78, 0.68, 0.30), MOUNTAIN: (0.48, 0.43, 0.34)},
    "winter": {FAR_TREES: (0.45, 0.45, 0.47), GRASS: (0.90, 0.91, 0.94), FOLIAGE: (0.38, 0.33, 0.30),
               FIELD: (0.93, 0.93, 0.96), MOUNTAIN: (0.82, 0.83, 0.88), ROOF: (0.90, 0.90, 0.93),
               CONIFER: (0.22, 0.30, 0.26), WATER: (0.70, 0.75, 0.80), ROAD: (0.42, 0.42, 0.45)},
    "spring": {FAR_TREES: (0.35, 0.55, 0.28), GRASS: (0.45, 0.70, 0.28), FOLIAGE: (0.55, 0.78, 0.35),
               FIELD: (0.50, 0.40, 0.28), MOUNTAIN: (0.45, 0.50, 0.40)},
}
_LIT_WINDOW = (1.0, 0.88, 0.55)
_SKY = {  # (top colour, horizon colour, cloud colour)
    "day": ((0.45, 0.62, 0.92), (0.80, 0.87, 0.97), (0.97, 0.97, 0.98)),
    "overcast": ((0.62, 0.64, 0.68), (0.78, 0.79, 0.81), (0.88, 0.88, 0.90)),
    "dusk": ((0.20, 0.18, 0.40), (0.98, 0.58, 0.30), (0.55, 0.40, 0.45)),
    "night": ((0.02, 0.03, 0.08), (0.10, 0.10, 0.18), (0.14, 0.14, 0.20)),
}
_LUMA = np.array([0.299, 0.587, 0.114])


def palette(season: str, strength: float = 1.0) -> np.ndarray:
    """(N_MATERIALS, 3) RGB colour of every material in a season; strength < 1 blends from summer."""
    if season not in _SEASON:
        raise ValueError(f"unknown season {season!r}; known: {sorted(_SEASON)}")
    pal = np.zeros((N_MATERIALS, 3))
    for m, c in {**_BASE, **_SEASON[season]}.items():
        pal[m] = (1 - strength) * np.asarray(_BASE.get(m, c)) + strength * np.asarray(c)
    return pal


# ----- appearance conditions ---------------------------------------------------------------------
@dataclass(frozen=True)
class Condition:
    """How one traverse looks. Jitter values are standard deviations, in output (28 px) pixels."""

    name: str
    season: str = "summer"
    season_strength: float = 1.0  # blend of the season's colours over summer's (0..1)
    sky: str = "day"
    brightness: float = 1.0
    gamma: float = 1.0
    tint: tuple[float, float, float] = (1.0, 1.0, 1.0)
    lit_windows: float = 0.0      # fraction of windows lit
    cloud_cover: float = 0.3
    yaw_px: float = 0.5           # shift of every layer
    translate_px: float = 0.5     # camera translation: shift scaled by the layer's parallax
    pitch_px: float = 0.3         # vertical shift
    zoom: float = 0.01            # relative scale change
    vehicles: float = 0.05        # probability of a passing vehicle per image
    blur_px: float = 0.0          # Gaussian blur sigma at output resolution
    noise: float = 0.01           # Gaussian sensor noise (intensity 0..1) at output resolution


CONDITIONS: dict[str, Condition] = {c.name: c for c in (
    Condition("summer_day"),
    Condition("autumn_overcast", season="autumn", sky="overcast", brightness=0.85, gamma=1.15,
              tint=(1.0, 0.97, 0.92), cloud_cover=0.7),
    Condition("winter_morning", season="winter", sky="overcast", brightness=1.1, gamma=0.8,
              tint=(0.95, 0.98, 1.08), cloud_cover=0.6, yaw_px=1.0, translate_px=1.0, pitch_px=0.6,
              zoom=0.03, vehicles=0.3, blur_px=0.4, noise=0.03),
    Condition("spring_evening", season="spring", brightness=0.95, gamma=1.15,
              tint=(1.06, 0.97, 0.88), cloud_cover=0.4, yaw_px=1.0, translate_px=1.0, pitch_px=0.5,
              zoom=0.03, vehicles=0.3, blur_px=0.4, noise=0.025),
    Condition("spring_dusk", season="spring", sky="dusk", brightness=0.85, gamma=1.2,
              tint=(1.10, 0.92, 0.78), lit_windows=0.6, cloud_cover=0.4, yaw_px=1.0,
              translate_px=1.0, pitch_px=0.6, zoom=0.03, vehicles=0.3, blur_px=0.5, noise=0.02),
    Condition("summer_night", season="summer", sky="night", brightness=0.8, gamma=1.3,
              tint=(0.9, 0.9, 1.1), lit_windows=0.8, cloud_cover=0.2, yaw_px=1.0,
              translate_px=1.0, pitch_px=0.6, zoom=0.03, vehicles=0.3, blur_px=0.6, noise=0.03),
)}
DEFAULT_REFERENCE = ("summer_day", "autumn_overcast")   # two reference traverses, as in the paper
DEFAULT_QUERY = "spring_evening"


def get_condition(c: str | Condition) -> Condition:
    if isinstance(c, Condition):
        return c
    if c not in CONDITIONS:
        raise ValueError(f"unknown condition {c!r}; known: {sorted(CONDITIONS)}")
    return CONDITIONS[c]


# ----- the world ---------------------------------------------------------------------------------
@dataclass
class Layer:
    name: str
    parallax: float
    mat: np.ndarray      # (HI, length) uint8 material ids, 0 = transparent
    shade: np.ndarray    # (HI, length) float32 texture multiplier (windows: lit lottery value)


@dataclass
class World:
    n_places: int
    seed: int
    layers: list[Layer]
    regions: list[tuple[int, int, str]] = field(default_factory=list)  # (first place, end, kind)

    def layer(self, name: str) -> Layer:
        return next(l for l in self.layers if l.name == name)


REGION_KINDS = ("town", "village", "forest", "fields", "industrial", "lakeside")


def _value_noise_1d(rng: np.random.Generator, n: int, scale: float, octaves: int = 4) -> np.ndarray:
    """Smooth 1D noise in about [-1, 1] with features of ~scale samples."""
    out = np.zeros(n)
    amp, total = 1.0, 0.0
    x = np.arange(n)
    for _ in range(octaves):
        k = max(2, int(n / scale) + 2)
        knots = rng.uniform(-1, 1, k)
        xs = x / scale
        i = np.minimum(xs.astype(int), k - 2)
        f = xs - i
        f = f * f * (3 - 2 * f)
        out += amp * (knots[i] * (1 - f) + knots[i + 1] * f)
        total += amp
        amp *= 0.5
        scale = max(scale / 2.0, 1.0)
    return out / total


def _value_noise_2d(rng: np.random.Generator, h: int, w: int, cell: int) -> np.ndarray:
    """Smooth 2D noise in [0, 1] with cells of `cell` pixels (bilinear, smoothstep)."""
    gh, gw = h // cell + 2, w // cell + 2
    grid = rng.random((gh, gw))
    ys, xs = np.arange(h) / cell, np.arange(w) / cell
    iy, ix = ys.astype(int), xs.astype(int)
    fy, fx = ys - iy, xs - ix
    fy, fx = fy * fy * (3 - 2 * fy), fx * fx * (3 - 2 * fx)
    a = grid[iy][:, ix] * (1 - fx) + grid[iy][:, ix + 1] * fx
    b = grid[iy + 1][:, ix] * (1 - fx) + grid[iy + 1][:, ix + 1] * fx
    return a * (1 - fy)[:, None] + b * fy[:, None]


def _texture(rng: np.random.Generator, h: int, w: int, strength: float = 0.15) -> np.ndarray:
    t = 0.6 * _value_noise_2d(rng, h, w, 16) + 0.4 * _value_noise_2d(rng, h, w, 4)
    return (1.0 + strength * (2 * t - 1)).astype(np.float32)


def _blob(mat: np.ndarray, shade: np.ndarray, cx: float, cy: float, rx: float, ry: float,
          m: int, s: float, rng: np.random.Generator, ragged: float = 0.25) -> None:
    """An irregular ellipse (tree crown, bush) of material m."""
    h, w = mat.shape
    x0, x1 = max(0, int(cx - rx - 2)), min(w, int(cx + rx + 3))
    y0, y1 = max(0, int(cy - ry - 2)), min(h, int(cy + ry + 3))
    if x0 >= x1 or y0 >= y1:
        return
    yy, xx = np.mgrid[y0:y1, x0:x1]
    ang = np.arctan2(yy - cy, xx - cx)
    k = rng.integers(3, 7)
    rmod = 1 + ragged * np.sin(k * ang + rng.uniform(0, 2 * np.pi)) * rng.uniform(0.3, 1)
    inside = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= rmod ** 2
    mat[y0:y1, x0:x1][inside] = m
    shade[y0:y1, x0:x1][inside] *= s


def _rect(mat, shade, x0, x1, y0, y1, m, s=1.0):
    h, w = mat.shape
    x0, x1 = max(0, int(x0)), min(w, int(x1))
    y0, y1 = max(0, int(y0)), min(h, int(y1))
    if x0 < x1 and y0 < y1:
        mat[y0:y1, x0:x1] = m
        shade[y0:y1, x0:x1] *= s


def make_world(n_places: int, seed: int = 0) -> World:
    """The procedural world of a route with n_places places (deterministic in n_places and seed)."""
    if n_places < 1:
        raise ValueError(f"n_places must be >= 1, got {n_places}")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x5EED]))
    near_len = n_places * STRIDE + HI + 2 * MARGIN

    # Regions along the route, in places.
    regions, p = [], 0
    prev = None
    while p < n_places:
        kind = rng.choice([k for k in REGION_KINDS if k != prev])
        length = int(rng.integers(4, 16))
        regions.append((p, min(n_places, p + length), str(kind)))
        prev, p = kind, p + length
    kind_at = np.empty(near_len, dtype=object)
    kind_at[:] = regions[-1][2]
    for a, b, kind in regions:
        kind_at[MARGIN + a * STRIDE: MARGIN + b * STRIDE + HI] = kind
    kind_at[:MARGIN] = regions[0][2]

    def kind_of(x_near: float) -> str:
        return kind_at[int(np.clip(x_near, 0, near_len - 1))]

    def strip(parallax: float) -> tuple[np.ndarray, np.ndarray, int]:
        length = int(np.ceil(n_places * STRIDE * parallax)) + HI + 2 * MARGIN
        return (np.zeros((HI, length), np.uint8), _texture(rng, HI, length), length)

    layers = []

    # Mountains: a ridge profile; snow caps on the high peaks.
    par = 0.2
    mat, shade, n = strip(par)
    ridge = HORIZON - 14 - 22 * (0.5 + 0.5 * _value_noise_1d(rng, n, 90.0, 5))
    ridge += 6 * _value_noise_1d(rng, n, 12.0, 2)
    rows = np.arange(HI)[:, None]
    inside = (rows >= ridge[None, :]) & (rows < HORIZON + 2)
    mat[inside] = MOUNTAIN
    cap = (rows < ridge[None, :] + 5) & inside & (ridge[None, :] < HORIZON - 30)
    mat[cap] = SNOWCAP
    shade *= (0.85 + 0.3 * (rows - HORIZON + 40) / 40).clip(0.7, 1.2).astype(np.float32)
    layers.append(Layer("mountains", par, mat, shade))

    # Far tree line: dense crowns in forest/fields, sparse elsewhere.
    par = 0.45
    mat, shade, n = strip(par)
    x = 0.0
    while x < n:
        kind = kind_of(x / par)
        dense = {"forest": 0.9, "fields": 0.5, "lakeside": 0.6, "village": 0.4}.get(kind, 0.15)
        if rng.random() < dense:
            r = rng.uniform(3, 8)
            _blob(mat, shade, x, HORIZON - rng.uniform(0, 6), r, r * rng.uniform(0.8, 1.6),
                  FAR_TREES, rng.uniform(0.8, 1.15), rng)
            _rect(mat, shade, x - r, x + r, HORIZON - 2, HORIZON + 2, FAR_TREES)
            x += rng.uniform(2, 7)
        else:
            x += rng.uniform(6, 20)
    layers.append(Layer("treeline", par, mat, shade))

    # Ground: grass (or water at the lakeside) with a road and dashed markings.
    par = 1.0
    mat, shade, n = strip(par)
    mat[HORIZON:, :] = GRASS
    for a, b, kind in regions:
        lo, hi = MARGIN + a * STRIDE, MARGIN + b * STRIDE + (HI if b == n_places else 0)
        if kind == "lakeside":
            mat[HORIZON:HORIZON + 14, lo:hi] = WATER
        elif kind == "fields":
            mat[HORIZON + 2:HORIZON + 20, lo:hi] = FIELD
            for r in range(HORIZON + 3, HORIZON + 20, 4):   # furrows
                shade[r, lo:hi] *= 0.8
    road_top = HORIZON + 30
    mat[road_top:, :] = ROAD
    dash, gap = int(rng.integers(10, 18)), int(rng.integers(10, 22))
    xs = np.arange(n)
    on = (xs % (dash + gap)) < dash
    mat[road_top + 20:road_top + 23, on] = MARKING
    mat[road_top:road_top + 2, :] = MARKING
    layers.append(Layer("ground", par, mat, shade))

    # Buildings: houses, blocks and sheds with windows, doors and roofs.
    par = 0.75
    mat, shade, n = strip(par)
    x = 0.0
    while x < n:
        kind = kind_of(x / par)
        p_build = {"town": 0.9, "industrial": 0.8, "village": 0.45}.get(kind, 0.03)
        if rng.random() >= p_build:
            x += rng.uniform(8, 30)
            continue
        if kind == "industrial":
            w, h = rng.uniform(30, 70), rng.uniform(18, 38)
        elif kind == "town":
            w, h = rng.uniform(16, 40), rng.uniform(20, 58)
        else:
            w, h = rng.uniform(14, 28), rng.uniform(14, 26)
        base = HORIZON + 8
        top = base - h
        wall = int(rng.choice([WALL0, WALL1, WALL2, WALL3]))
        _rect(mat, shade, x, x + w, top, base, wall, rng.uniform(0.85, 1.15))
        roof = rng.choice(["flat", "gable", "shed"]) if kind != "town" or h < 35 else "flat"
        if roof == "gable":
            rh = rng.uniform(6, 14)
            for i in range(int(rh)):
                inset = (i + 1) * (w / 2) / rh
                _rect(mat, shade, x + inset - 1, x + w - inset + 1, top - i - 1, top - i, ROOF)
        elif roof == "shed":
            rh = rng.uniform(4, 9)
            for i in range(int(rh)):
                _rect(mat, shade, x + i * w / rh, x + w, top - i - 1, top - i, ROOF)
        else:
            _rect(mat, shade, x - 1, x + w + 1, top - 2, top, ROOF, 0.8)
        # Windows on a grid; each window has a lottery value deciding whether it is lit.
        ww, wh = rng.uniform(3, 6), rng.uniform(3, 7)
        sx, sy = ww + rng.uniform(2, 6), wh + rng.uniform(3, 6)
        cols = max(1, int((w - 4) // sx))
        rows_n = max(1, int((h - 8) // sy))
        off = (w - cols * sx) / 2 + (sx - ww) / 2
        for r in range(rows_n):
            for c in range(cols):
                if kind == "industrial" and rng.random() < 0.5:
                    continue
                wx, wy = x + off + c * sx, top + 4 + r * sy
                y0, y1, x0, x1 = int(wy), int(wy + wh), int(wx), int(wx + ww)
                if 0 <= x0 < x1 <= n:
                    mat[y0:y1, x0:x1] = WINDOW
                    shade[y0:y1, x0:x1] = rng.random()
        if rng.random() < 0.7:
            dx = x + rng.uniform(0.2, 0.7) * w
            _rect(mat, shade, dx, dx + rng.uniform(4, 8), base - rng.uniform(8, 12), base, DOOR)
        x += w + rng.uniform(1, 14 if kind == "town" else 30)
    layers.append(Layer("buildings", par, mat, shade))

    # Near objects: trees, conifers, poles with wires, signs, fences, bushes.
    par = 1.0
    mat, shade, n = strip(par)
    x = 0.0
    while x < n:
        kind = kind_of(x)
        r = rng.random()
        base = HORIZON + rng.uniform(14, 26)
        if kind in ("forest", "lakeside", "fields", "village") and r < {"forest": 0.8}.get(kind, 0.35):
            if rng.random() < (0.6 if kind == "forest" else 0.3):   # conifer: stacked triangles
                h = rng.uniform(30, 70)
                wdt = rng.uniform(10, 22)
                _rect(mat, shade, x - 1, x + 2, base - 8, base, TRUNK)
                for i in range(int(h)):
                    half = wdt / 2 * (i / h) * (0.75 + 0.25 * ((i % 9) / 9))
                    _rect(mat, shade, x - half, x + half + 1, base - 6 - h + i, base - 5 - h + i, CONIFER)
            else:                                                   # deciduous tree
                h = rng.uniform(25, 55)
                _rect(mat, shade, x - 1.5, x + 1.5, base - h * 0.6, base, TRUNK)
                cr = rng.uniform(8, 18)
                _blob(mat, shade, x, base - h * 0.6 - cr * 0.5, cr, cr * rng.uniform(0.7, 1.1),
                      FOLIAGE, rng.uniform(0.85, 1.15), rng)
            x += rng.uniform(6, 30) if kind == "forest" else rng.uniform(15, 60)
        elif r < 0.55:
            what = rng.choice(["pole", "sign", "fence", "bush", "none"], p=[0.3, 0.2, 0.2, 0.2, 0.1])
            if what == "pole":
                top = rng.uniform(4, 25)
                _rect(mat, shade, x, x + 2, top, base, POLE)
                _rect(mat, shade, x - 5, x + 7, top + 2, top + 4, POLE)   # cross arm
            elif what == "sign":
                top = base - rng.uniform(22, 34)
                _rect(mat, shade, x, x + 2, top, base, POLE)
                sw, sh = rng.uniform(6, 14), rng.uniform(5, 10)
                m = SIGN if rng.random() < 0.5 else SIGN2
                if rng.random() < 0.5:
                    _rect(mat, shade, x - sw / 2, x + sw / 2 + 2, top - sh, top, m)
                else:
                    _blob(mat, shade, x + 1, top - sh / 2, sw / 2, sw / 2, m, 1.0, rng, ragged=0.0)
            elif what == "fence":
                length = rng.uniform(20, 80)
                for fx in np.arange(x, x + length, rng.uniform(5, 9)):
                    _rect(mat, shade, fx, fx + 1.5, base - 10, base, FENCE)
                _rect(mat, shade, x, x + length, base - 9, base - 8, FENCE)
                _rect(mat, shade, x, x + length, base - 5, base - 4, FENCE)
                x += length
            elif what == "bush":
                _blob(mat, shade, x, base - 4, rng.uniform(5, 10), rng.uniform(3, 6), FOLIAGE,
                      rng.uniform(0.7, 1.0), rng)
            x += rng.uniform(8, 40)
        else:
            x += rng.uniform(10, 40)
    layers.append(Layer("near", par, mat, shade))
    return World(n_places, int(seed), layers, regions)


# ----- rendering ---------------------------------------------------------------------------------
LAYER_ORDER = ("mountains", "treeline", "ground", "buildings", "near")   # far to near


@dataclass
class Traverse:
    condition: Condition
    seed: int
    images: np.ndarray      # (n, 28, 28) uint8, patch-normalised (the network input)
    grey: np.ndarray        # (n, 28, 28) float, greyscale before patch normalisation


def patch_normalise(images: np.ndarray, patch_size: int = PATCH_SIZE) -> np.ndarray:
    """The paper's patch normalisation of a batch (n, h, w) -> uint8 (n, h, w).

    Each pixel is z-scored with its patch_size x patch_size neighbourhood (outside pixels
    ignored), flat neighbourhoods (std ~ 0) -> 0, clipped to [-1, 1], mapped to 0..255.
    """
    if patch_size % 2 == 0:
        raise ValueError("patch_size must be odd")
    x = np.asarray(images, dtype=np.float64)
    single = x.ndim == 2
    if single:
        x = x[None]
    half = patch_size // 2
    pad = np.pad(x, ((0, 0), (half, half), (half, half)), constant_values=np.nan)
    win = np.lib.stride_tricks.sliding_window_view(pad, (patch_size, patch_size), axis=(1, 2))
    valid = ~np.isnan(win)
    cnt = valid.sum(axis=(-1, -2))
    filled = np.where(valid, win, 0.0)
    mu = filled.sum(axis=(-1, -2)) / cnt
    var = (np.where(valid, (win - mu[..., None, None]) ** 2, 0.0)).sum(axis=(-1, -2)) / cnt
    sd = np.sqrt(var)
    flat = sd <= 1e-9 * np.maximum(1.0, np.abs(mu))   # flat neighbourhood: rounding noise only
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (x - mu) / sd
    z[~np.isfinite(z) | flat] = 0.0
    z = np.clip(z, -1.0, 1.0)
    out = (255.0 * (1.0 + z) / 2.0).astype(np.uint8)
    return out[0] if single else out


def _gauss_blur(img: np.ndarray, sigma: float) -> np.ndarray:
    if sigma <= 0:
        return img
    r = max(1, int(np.ceil(3 * sigma)))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k /= k.sum()
    pad = np.pad(img, ((0, 0), (r, r), (r, r)), mode="edge")
    tmp = sum(k[i] * pad[:, :, i:i + img.shape[2]] for i in range(2 * r + 1))
    return sum(k[i] * tmp[:, i:i + img.shape[1], :] for i in range(2 * r + 1))


def _sky_rgb(cond: Condition, clouds: np.ndarray) -> np.ndarray:
    top, hor, cloud = (np.array(c) for c in _SKY[cond.sky])
    t = (np.arange(HI) / HORIZON).clip(0, 1)[:, None, None]
    base = top * (1 - t) + hor * t
    base = np.broadcast_to(base, (HI, HI, 3))
    a = clouds[..., None]
    return base * (1 - a) + cloud * a


def render_traverse(world: World, condition: str | Condition, seed: int = 0,
                    places: np.ndarray | None = None) -> Traverse:
    """Render the places (default: all) of `world` under `condition`; per-image randomness from seed."""
    cond = get_condition(condition)
    places = np.arange(world.n_places) if places is None else np.asarray(places, dtype=int)
    if places.size and (places.min() < 0 or places.max() >= world.n_places):
        raise ValueError(f"places must be in 0..{world.n_places - 1}")
    # Traverse-wide randomness (clouds) from the traverse seed; per-image randomness (viewpoint,
    # vehicles, noise) from (traverse seed, place), so any subset renders like the full traverse.
    rng = np.random.default_rng(np.random.SeedSequence([world.seed, 0x7EA5, int(seed)]))
    pal = palette(cond.season, cond.season_strength)
    scale = HI / OUT
    n = len(places)
    img_rng = [np.random.default_rng(np.random.SeedSequence([world.seed, 0x7EA5, int(seed), int(p)]))
               for p in places]
    view = np.array([r.normal(0, 1, 4) for r in img_rng]).reshape(n, 4)
    yaw = view[:, 0] * cond.yaw_px * scale
    trans = view[:, 1] * cond.translate_px * scale
    pitch = view[:, 2] * cond.pitch_px * scale
    zoom = np.exp(view[:, 3] * cond.zoom)
    # Clouds: one field per traverse, drifting slowly along the route.
    cloud_len = int(world.n_places * STRIDE * 0.1) + 2 * HI
    cloud_field = _value_noise_2d(rng, HI, cloud_len, 24) * 0.7 + _value_noise_2d(rng, HI, cloud_len, 8) * 0.3
    thr = 1.0 - cond.cloud_cover
    cloud_field = np.clip((cloud_field - thr) / max(1e-6, 1 - thr) * 1.5, 0, 1)
    grey_hi = np.empty((n, HI, HI))
    r_out = np.arange(HI) - HI / 2 + 0.5
    for k, p in enumerate(places):
        rows = np.clip(np.round(r_out / zoom[k] + HI / 2 - 0.5 + pitch[k]).astype(int), 0, HI - 1)
        col_rel = r_out / zoom[k] + HI / 2 - 0.5
        mat_final = np.zeros((HI, HI), np.uint8)
        shade_final = np.ones((HI, HI), np.float32)
        for name in LAYER_ORDER:
            layer = world.layer(name)
            off = MARGIN + p * STRIDE * layer.parallax + yaw[k] + trans[k] * layer.parallax
            cols = np.clip(np.round(off + col_rel).astype(int), 0, layer.mat.shape[1] - 1)
            m = layer.mat[rows[:, None], cols[None, :]]
            s = layer.shade[rows[:, None], cols[None, :]]
            hit = m != NONE
            mat_final[hit] = m[hit]
            shade_final[hit] = s[hit]
        # Vehicles: a box with wheels in the foreground.
        r = img_rng[k]
        if r.random() < cond.vehicles:
            vx, vw, vh = r.uniform(-20, HI - 20), r.uniform(30, 60), r.uniform(14, 24)
            vb = HORIZON + r.uniform(36, 46)
            colour = int(r.choice([WALL1, WALL3, SIGN2, WALL2]))
            x0, x1 = int(max(0, vx)), int(min(HI, vx + vw))
            mat_final[int(vb - vh):int(vb - 4), x0:x1] = colour
            mat_final[int(vb - vh - 6):int(vb - vh), max(0, x0 + 8):max(0, x1 - 8)] = WINDOW
            shade_final[int(vb - vh - 6):int(vb - vh), max(0, x0 + 8):max(0, x1 - 8)] = 1.0
            shade_final[int(vb - vh):int(vb - 4), x0:x1] = 1.0
            for wx in (vx + 8, vx + vw - 8):
                _rect(mat_final, shade_final, wx - 4, wx + 4, vb - 5, vb + 2, TRUNK, 0.5)
        rgb = pal[mat_final] * shade_final[..., None]
        win = mat_final == WINDOW
        lit = win & (shade_final < cond.lit_windows)
        rgb[win] = pal[WINDOW]
        rgb[lit] = _LIT_WINDOW
        sky = mat_final == NONE
        if sky.any():
            c0 = int(p * STRIDE * 0.1 + HI / 2)   # clouds drift at parallax 0.1
            cl = cloud_field[rows[:, None], np.clip(c0 + np.round(col_rel).astype(int), 0, cloud_len - 1)[None, :]]
            rgb[sky] = _sky_rgb(cond, cl)[sky]
        rgb = rgb * np.asarray(cond.tint)
        grey_hi[k] = np.clip(rgb @ _LUMA * cond.brightness, 0, 1) ** cond.gamma
    grey = grey_hi.reshape(n, OUT, HI // OUT, OUT, HI // OUT).mean(axis=(2, 4))
    grey = _gauss_blur(grey, cond.blur_px)
    noise = np.array([r.normal(0, cond.noise, (OUT, OUT)) for r in img_rng]).reshape(grey.shape)
    grey = np.clip(grey + noise, 0, 1)
    return Traverse(cond, int(seed), patch_normalise(grey), grey)


@dataclass
class Dataset:
    """Reference traverses (training), a calibration traverse and a query traverse of one world."""

    world: World
    reference: list[Traverse]
    calibration: Traverse
    query: Traverse

    @property
    def n_places(self) -> int:
        return self.world.n_places


REFERENCE_SEEDS = (1, 2, 3, 4)   # traverse seeds of reference traverses 0, 1, ...
CALIBRATION_SEED = 101
QUERY_SEED = 102


def make_dataset(n_places: int = 300, seed: int = 0,
                 reference: tuple[str, ...] = DEFAULT_REFERENCE, query: str = DEFAULT_QUERY,
                 calibration: str | None = None) -> Dataset:
    """World + traverses. The calibration traverse has the query's condition (default) but its own
    randomness (viewpoint, clouds, vehicles, noise): it stands for the paper's calibration split."""
    world = make_world(n_places, seed)
    if len(reference) > len(REFERENCE_SEEDS):
        raise ValueError(f"at most {len(REFERENCE_SEEDS)} reference traverses")
    refs = [render_traverse(world, c, seed=REFERENCE_SEEDS[i]) for i, c in enumerate(reference)]
    cal = render_traverse(world, calibration or query, seed=CALIBRATION_SEED)
    qry = render_traverse(world, query, seed=QUERY_SEED)
    return Dataset(world, refs, cal, qry)


def with_condition(cond: str | Condition, **changes) -> Condition:
    return replace(get_condition(cond), **changes)
