"""Synthetic event streams for motion detection: moving textures, gratings and bars seen by a DVS.

Everything is generated here, from images that ship inside scikit-image (``skimage.data``; no
download) and from closed-form stimuli; a seed fixes every random choice, so the same call returns
bit-identical events.

Motion classes (``N_CLASSES = 36``): ``label = direction * N_SPEEDS + speed_index`` with
``N_DIRECTIONS = 12`` directions ``theta_k = 2 pi k / 12`` (k = 0 is rightwards, angles
counter-clockwise with the y axis pointing *up* the image, i.e. towards row 0) and
``N_SPEEDS = 3`` speeds ``SPEEDS = (0.25, 0.5, 1.0)`` pixels per step.

Pipeline for one movie (``T`` event frames from ``T + 1`` intensity frames):

1. stimulus: a texture (a random crop of a held-in/held-out image at a random zoom level,
   translated by ``speed * t`` along the direction with bilinear sub-pixel sampling), a
   drifting sinusoidal grating, or a train of light/dark bars; intensities in [0, 1];
2. DVS model (:func:`dvs_events`): per pixel, log intensity ``L = log(I + eps)`` is compared
   with a per-pixel reference level; ``L - ref >= C`` emits ON, ``<= -C`` OFF (at most one event
   per pixel per step; the reference moves by the whole number of thresholds crossed); contrast
   thresholds vary per pixel (mismatch ``sigma_C``); a refractory period silences a pixel for
   ``refractory`` steps after an event (its reference is still updated when it ends); background
   noise adds events of random polarity with probability ``noise`` per pixel per step.

Events are a boolean tensor ``(T, 2, H, W)``: channel 0 = ON, 1 = OFF. :func:`to_spike_times`
turns one into per-neuron spike lists (neuron ``p * H * W + row * W + col``) for a
``spike_array`` source.
"""
from __future__ import annotations

import functools
import zlib
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

N_DIRECTIONS = 12
SPEEDS = (0.25, 0.5, 1.0)  # pixels per step
N_SPEEDS = len(SPEEDS)
N_CLASSES = N_DIRECTIONS * N_SPEEDS

# Images shipped in the scikit-image wheel (skimage/data/*.png|jpg): no network access needed.
# Held-out images are never used for training; they give the "held-out natural-image" accuracy.
TRAIN_IMAGES = ("camera", "astronaut", "grass", "gravel", "coins", "moon", "page", "text",
                "clock", "hubble_deep_field", "immunohistochemistry", "retina", "cell")
TEST_IMAGES = ("coffee", "chelsea", "rocket", "brick", "horse")

STIMULUS_KINDS = ("texture", "grating", "bar")


def label_of(direction: int, speed_index: int) -> int:
    return int(direction) * N_SPEEDS + int(speed_index)


def direction_of(label: np.ndarray | int) -> np.ndarray | int:
    return np.asarray(label) // N_SPEEDS if np.ndim(label) else int(label) // N_SPEEDS


def speed_index_of(label: np.ndarray | int) -> np.ndarray | int:
    return np.asarray(label) % N_SPEEDS if np.ndim(label) else int(label) % N_SPEEDS


def velocity(direction: int, speed: float) -> tuple[float, float]:
    """(d_row, d_col) displacement per step of the content for a direction index and speed."""
    theta = 2.0 * np.pi * direction / N_DIRECTIONS
    return -speed * np.sin(theta), speed * np.cos(theta)  # y up = towards row 0


@dataclass(frozen=True)
class DVSParams:
    """Simple DVS pixel model (see module docstring); thresholds in natural-log units."""

    threshold: float = 0.15
    threshold_sigma: float = 0.02
    refractory: int = 1
    noise: float = 0.001
    eps: float = 0.05


# ----------------------------------------------------------------------------------------------
# Images
# ----------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def _gray_image(name: str) -> np.ndarray:
    import skimage.data
    from skimage.color import rgb2gray, rgba2rgb

    if name not in TRAIN_IMAGES + TEST_IMAGES:
        raise ValueError(f"unknown image {name!r}; known: {TRAIN_IMAGES + TEST_IMAGES}")
    im = np.asarray(getattr(skimage.data, name)())
    if im.dtype == bool:
        im = im.astype(np.float64)
    if im.ndim == 3 and im.shape[2] == 4:
        im = rgba2rgb(im)
    if im.ndim == 3:
        im = rgb2gray(im)
    im = im.astype(np.float64)
    if im.max() > 1.0:
        im = im / 255.0
    return np.ascontiguousarray(im)


ZOOMS = (2, 3, 4, 6)  # downscaling factors: a 32x32 crop then spans 64..192 source pixels


@functools.lru_cache(maxsize=None)
def _pyramid_level(name: str, zoom: int) -> np.ndarray:
    """Image downscaled by an integer factor with anti-aliasing (block mean of a blurred image)."""
    im = _gray_image(name)
    if zoom == 1:
        return im
    blurred = ndimage.gaussian_filter(im, sigma=0.5 * zoom)
    h, w = (im.shape[0] // zoom) * zoom, (im.shape[1] // zoom) * zoom
    return blurred[:h, :w].reshape(h // zoom, zoom, w // zoom, zoom).mean(axis=(1, 3))


def image_names(split: str) -> tuple[str, ...]:
    if split == "train":
        return TRAIN_IMAGES
    if split == "test":
        return TEST_IMAGES
    raise ValueError(f"split must be 'train' or 'test', got {split!r}")


# ----------------------------------------------------------------------------------------------
# Stimuli: intensity movies (T + 1, H, W) in [0, 1]
# ----------------------------------------------------------------------------------------------
def texture_movie(image: str, direction: int, speed: float, size: tuple[int, int], steps: int,
                  rng: np.random.Generator, min_std: float = 0.04, tries: int = 20) -> np.ndarray:
    """A crop of `image` translated at `speed` px/step along `direction` (bilinear sampling).

    Zoom level and crop position are drawn from `rng`; crops flatter than `min_std` (sky, blank
    page) are redrawn up to `tries` times so that most movies carry texture.
    """
    h, w = size
    drow, dcol = velocity(direction, speed)
    travel_r, travel_c = abs(drow) * steps, abs(dcol) * steps
    need_r, need_c = h + travel_r + 2, w + travel_c + 2
    zooms = [z for z in ZOOMS if _pyramid_level(image, z).shape[0] >= need_r
             and _pyramid_level(image, z).shape[1] >= need_c]
    if not zooms:
        zooms = [1]
    best, best_std = None, -1.0
    t = np.arange(steps + 1, dtype=np.float64)[:, None, None]
    rows0 = np.arange(h, dtype=np.float64)[None, :, None]
    cols0 = np.arange(w, dtype=np.float64)[None, None, :]
    for _ in range(tries):
        base = _pyramid_level(image, int(rng.choice(zooms)))
        # Content moves by +v t, so pixel (r, c) at time t shows base[r0 + r - drow t, c0 + c - dcol t].
        r_lo = max(0.0, drow * steps)
        c_lo = max(0.0, dcol * steps)
        r_hi = base.shape[0] - 1 - h - max(0.0, -drow * steps)
        c_hi = base.shape[1] - 1 - w - max(0.0, -dcol * steps)
        r0 = rng.uniform(r_lo, max(r_lo, r_hi))
        c0 = rng.uniform(c_lo, max(c_lo, c_hi))
        rows = np.broadcast_to(r0 + rows0 - drow * t, (steps + 1, h, w))
        cols = np.broadcast_to(c0 + cols0 - dcol * t, (steps + 1, h, w))
        movie = ndimage.map_coordinates(base, [rows, cols], order=1, mode="nearest")
        std = float(movie[0].std())
        if std > best_std:
            best, best_std = movie, std
        if std >= min_std:
            break
    return np.clip(best, 0.0, 1.0)


def grating_movie(direction: int, speed: float, size: tuple[int, int], steps: int,
                  rng: np.random.Generator) -> np.ndarray:
    """Sinusoidal grating drifting along `direction`; random period (4..12 px), phase, contrast."""
    h, w = size
    theta = 2.0 * np.pi * direction / N_DIRECTIONS
    period = rng.uniform(4.0, 12.0)
    phase = rng.uniform(0.0, 2.0 * np.pi)
    contrast = rng.uniform(0.4, 0.9)
    x = np.arange(w, dtype=np.float64)[None, None, :]
    y = -np.arange(h, dtype=np.float64)[None, :, None]  # y up
    t = np.arange(steps + 1, dtype=np.float64)[:, None, None]
    s = x * np.cos(theta) + y * np.sin(theta) - speed * t
    return 0.5 + 0.5 * contrast * np.sin(2.0 * np.pi * s / period + phase)


def bar_movie(direction: int, speed: float, size: tuple[int, int], steps: int,
              rng: np.random.Generator) -> np.ndarray:
    """A periodic train of light or dark bars (width 2..5 px, spacing 10..20 px) moving along `direction`."""
    h, w = size
    theta = 2.0 * np.pi * direction / N_DIRECTIONS
    width = rng.uniform(2.0, 5.0)
    spacing = rng.uniform(10.0, 20.0)
    offset = rng.uniform(0.0, spacing)
    sign = rng.choice([-1.0, 1.0])
    x = np.arange(w, dtype=np.float64)[None, None, :]
    y = -np.arange(h, dtype=np.float64)[None, :, None]
    t = np.arange(steps + 1, dtype=np.float64)[:, None, None]
    s = np.mod(x * np.cos(theta) + y * np.sin(theta) - speed * t + offset, spacing)
    # Soft edges (1 px ramps) so sub-pixel motion changes intensities smoothly.
    inside = np.clip(np.minimum(s + 0.5, width + 0.5 - s), 0.0, 1.0)
    return 0.5 + sign * 0.35 * inside


# ----------------------------------------------------------------------------------------------
# DVS
# ----------------------------------------------------------------------------------------------
def dvs_events(movie: np.ndarray, params: DVSParams, rng: np.random.Generator) -> np.ndarray:
    """ON/OFF events (T, 2, H, W) bool from an intensity movie (T + 1, H, W); see module doc."""
    n_frames, h, w = movie.shape
    steps = n_frames - 1
    log_i = np.log(movie + params.eps)
    thr = np.maximum(params.threshold + params.threshold_sigma * rng.standard_normal((h, w)),
                     0.25 * params.threshold)
    ref = log_i[0].copy()
    refractory = np.zeros((h, w), dtype=np.int64)
    noise_draw = rng.random((steps, h, w))
    noise_pol = rng.random((steps, h, w)) < 0.5
    out = np.zeros((steps, 2, h, w), dtype=bool)
    for t in range(steps):
        diff = log_i[t + 1] - ref
        n_cross = np.trunc(diff / thr)
        ready = refractory == 0
        fire = ready & (n_cross != 0)
        on, off = fire & (n_cross > 0), fire & (n_cross < 0)
        ref = np.where(fire, ref + n_cross * thr, ref)
        refractory = np.where(fire, params.refractory, np.maximum(refractory - 1, 0))
        noisy = noise_draw[t] < params.noise
        out[t, 0] = on | (noisy & noise_pol[t])
        out[t, 1] = off | (noisy & ~noise_pol[t])
    return out


# ----------------------------------------------------------------------------------------------
# Data sets
# ----------------------------------------------------------------------------------------------
def _sample_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """One independent stream per (seed, split, sample): samples do not depend on the set size."""
    return np.random.default_rng(np.random.SeedSequence([int(seed) & 0xFFFFFFFF,
                                                         zlib.crc32(split.encode()), int(index)]))


def make_movie(kind: str, direction: int, speed_index: int, size: tuple[int, int] = (32, 32),
               steps: int = 40, split: str = "train", seed: int = 0, index: int = 0,
               image: str | None = None, dvs: DVSParams = DVSParams()) -> np.ndarray:
    """Events (steps, 2, H, W) of one movie: deterministic in (kind, direction, speed, seed, index)."""
    if kind not in STIMULUS_KINDS:
        raise ValueError(f"unknown stimulus kind {kind!r}; known: {STIMULUS_KINDS}")
    if not 0 <= direction < N_DIRECTIONS or not 0 <= speed_index < N_SPEEDS:
        raise ValueError(f"direction must be 0..{N_DIRECTIONS - 1}, speed_index 0..{N_SPEEDS - 1}")
    rng = _sample_rng(seed, f"{split}/{kind}", index)
    speed = SPEEDS[speed_index]
    if kind == "texture":
        names = image_names(split)
        name = image if image is not None else names[int(rng.integers(len(names)))]
        movie = texture_movie(name, direction, speed, size, steps, rng)
    elif kind == "grating":
        movie = grating_movie(direction, speed, size, steps, rng)
    else:
        movie = bar_movie(direction, speed, size, steps, rng)
    return dvs_events(movie, dvs, rng)


@dataclass
class EventDataset:
    """Movies (N, T, 2, H, W) bool with their class labels (N,) and stimulus kinds (N,)."""

    events: np.ndarray
    labels: np.ndarray
    kinds: np.ndarray

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def directions(self) -> np.ndarray:
        return self.labels // N_SPEEDS

    def subset(self, mask: np.ndarray) -> "EventDataset":
        return EventDataset(self.events[mask], self.labels[mask], self.kinds[mask])


def make_dataset(n_per_class: int, split: str = "train", size: tuple[int, int] = (32, 32),
                 steps: int = 40, kinds: dict[str, float] | tuple[str, ...] = ("texture",),
                 seed: int = 0, dvs: DVSParams = DVSParams()) -> EventDataset:
    """A class-balanced set: `n_per_class` movies for each of the 36 classes.

    `kinds` is a tuple (cycled in order) or a {kind: fraction} mix (kinds assigned in a fixed
    interleaved pattern, so the mix is exact per class). Textures use only `split`'s images.
    """
    if isinstance(kinds, dict):
        total = sum(kinds.values())
        pattern: list[str] = []
        counts = {k: 0.0 for k in kinds}
        for _ in range(n_per_class):  # largest-remainder interleaving
            k = max(kinds, key=lambda k: kinds[k] / total * (len(pattern) + 1) - counts[k])
            counts[k] += 1
            pattern.append(k)
    else:
        pattern = [kinds[i % len(kinds)] for i in range(n_per_class)]
    n = n_per_class * N_CLASSES
    h, w = size
    events = np.zeros((n, steps, 2, h, w), dtype=bool)
    labels = np.zeros(n, dtype=np.int64)
    kind_arr = np.empty(n, dtype=object)
    i = 0
    for rep in range(n_per_class):
        for label in range(N_CLASSES):
            kind = pattern[rep]
            events[i] = make_movie(kind, label // N_SPEEDS, label % N_SPEEDS, size, steps, split,
                                   seed, index=i, dvs=dvs)
            labels[i], kind_arr[i] = label, kind
            i += 1
    return EventDataset(events, labels, kind_arr.astype(str))


def to_spike_times(events: np.ndarray, offset: int = 0) -> list[np.ndarray]:
    """Per-neuron spike steps of one (T, 2, H, W) event tensor; neuron = p*H*W + row*W + col."""
    t, p, r, c = np.nonzero(events)
    steps_, _, h, w = events.shape
    neuron = (p * h + r) * w + c
    order = np.lexsort((t, neuron))
    neuron, t = neuron[order], t[order] + offset
    counts = np.bincount(neuron, minlength=2 * h * w)
    return np.split(t.astype(np.int64), np.cumsum(counts)[:-1])
