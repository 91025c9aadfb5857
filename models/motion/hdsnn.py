"""HD-SNN: one layer of spiking neurons with heterogeneous synaptic delays (Grimaldi & Perrinet 2023).

Layer
-----
Input: an event tensor ``E`` of shape ``(T, 2, H, W)`` (ON/OFF). Output: 36 channels
(12 directions x 3 speeds, ``events.N_CLASSES``) at every output position of a stride-``s``
grid of ``K x K`` windows (``Py x Px`` positions, valid windows only). Output neuron
``(c, py, px)`` has one synapse per (delay ``d``, polarity ``p``, kernel pixel ``(i, j)``),
from input pixel ``(p, py*s + i, px*s + j)`` with weight ``W[c, d, p, i, j]`` and delay ``d``
in ``delays`` (``1..D``, D = 21 by default). Its membrane potential at step ``t`` is::

    z[c](t) = b[c] + sum_{d, p, i, j} W[c, d, p, i, j] * E[t - d, p, py*s + i, px*s + j]

and it spikes when ``z >= theta``: a spike at t - d arriving after delay d is exactly the IR
convention, so the same weights and delays run unchanged as a spiking network (``__init__.py``).
``z`` is only read at steps ``t = D .. T`` where the whole kernel history lies inside the movie.

Training (off-chip, vectorised numpy + scipy L-BFGS on sparse CSR rows). Every (movie,
position, step) sample is one row whose features are the ``F = nd*2*K*K`` delayed events under
the kernel, labelled with the movie's motion class (the paper's "time-invariant logistic
regression" set-up). Losses (:func:`fit_layer`, all with ``+ l2/2 |W|^2``):

* ``race`` (default): the cross-entropy of the *pooled* readout: per movie, channel c's mean
  spike probability ``rho_c = mean_rows sigmoid(z_c)``, class probability ``rho_c^a / sum rho^a``.
  The threshold acts before pooling, so the neurons become coincidence detectors. This matters:
  the class-conditional *mean* of a local event patch is the same for every direction (textures
  are translation invariant), so a per-row linear-logistic loss has almost nothing to fit; the
  direction is in the space-time *correlations* that a thresholded unit can detect.
* ``ovr``: per-row one-vs-rest logistic regression (each channel its own logistic neuron, positives
  re-weighted 35:1), the paper's objective taken literally; reported as a comparison row.
* ``softmax``: per-row multinomial logistic regression.

Weight sharing by the symmetry of the pixel grid (``symmetric=True``, default): the 12 directions
are closed under 90-degree rotations and mirrors, so training is restricted to D4-equivariant
layers (:func:`symmetrize`): the same as training on the 8 rotated/mirrored copies of every movie
(8x the data, 6 instead of 36 free kernels). The deployed layer still has 36 kernels.

``theta`` is calibrated on the training rows (scalar grid search maximising pooled accuracy);
``W``, ``b`` and ``theta`` together give per-neuron thresholds ``theta - b[c]``.

Readouts
--------
* local: argmax_c z[c] at one (position, step): "what does this neuron population say here";
* pooled (the classification readout): spike counts ``n[c] = sum_{py,px,t} [z[c] >= theta]``
  summed over positions and steps; decision ``argmax_c n[c]`` (first index on ties, none = wrong).
  This is what the deployed network computes (count output spikes per channel).

Baselines on the same data: ``delay_mode="none"`` (every synapse has delay 1: a purely spatial
kernel on the last event frame, the brief's no-delay baseline) and ``delay_mode="summed"`` (one
spatial kernel applied to the events of the last D steps summed: homogeneous delays, same
integration window, no temporal structure).

Pruning: :meth:`HDSNNLayer.pruned` keeps the largest-|W| fraction of weights (global magnitude
pruning over all channels) and recalibrates theta; optionally refits the surviving weights
(``retrain``; with l2 = 1e-2 this did not help, so the experiment does not use it by default).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, BinaryIO, Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
import scipy.sparse as sp
from scipy.optimize import minimize

from neurocompile.models.motion.events import N_CLASSES, N_SPEEDS, EventDataset

DELAY_MODES = ("heterogeneous", "none", "summed")


@dataclass(frozen=True)
class LayerGeometry:
    """Kernel size K, stride s, and the delay set (``delays``; max = D)."""

    kernel: int = 9
    stride: int = 4
    n_delays: int = 21
    delay_mode: str = "heterogeneous"

    def __post_init__(self) -> None:
        if self.delay_mode not in DELAY_MODES:
            raise ValueError(f"delay_mode must be one of {DELAY_MODES}, got {self.delay_mode!r}")
        if self.kernel < 1 or self.stride < 1 or self.n_delays < 1:
            raise ValueError("kernel, stride and n_delays must be >= 1")

    @property
    def delays(self) -> np.ndarray:
        """Delay of each synapse slot: 1..D (heterogeneous), [1] (none), [1] (summed: one slot)."""
        if self.delay_mode == "heterogeneous":
            return np.arange(1, self.n_delays + 1)
        return np.array([1])

    @property
    def history(self) -> int:
        """Steps of history the readout needs (the first readable step)."""
        return 1 if self.delay_mode == "none" else self.n_delays

    def n_features(self) -> int:
        return len(self.delays) * 2 * self.kernel * self.kernel

    def out_shape(self, h: int, w: int) -> tuple[int, int]:
        if h < self.kernel or w < self.kernel:
            raise ValueError(f"input {h}x{w} smaller than the kernel {self.kernel}")
        return (h - self.kernel) // self.stride + 1, (w - self.kernel) // self.stride + 1


def features(events: np.ndarray, geom: LayerGeometry) -> np.ndarray:
    """Delayed-event features (Tw, Py, Px, F) float32 of one movie (T, 2, H, W) at steps t = history..T.

    Feature order is (delay slot, polarity, row, col) so that ``W.reshape(C, -1)`` matches.
    """
    n_steps, _, h, w = events.shape
    k, s = geom.kernel, geom.stride
    t_read = np.arange(geom.history, n_steps + 1)
    e = events.astype(np.float32)
    if geom.delay_mode == "summed":
        csum = np.concatenate([np.zeros((1,) + e.shape[1:], np.float32), np.cumsum(e, axis=0)])
        stack = (csum[t_read] - csum[t_read - geom.n_delays])[:, None]  # sum of E[t-D .. t-1]
    else:
        stack = e[t_read[:, None] - geom.delays[None, :]]  # (Tw, nd, 2, H, W)
    win = sliding_window_view(stack, (k, k), axis=(3, 4))[:, :, :, ::s, ::s]
    # (Tw, nd, 2, Py, Px, K, K) -> (Tw, Py, Px, nd, 2, K, K)
    win = win.transpose(0, 3, 4, 1, 2, 5, 6)
    tw, py, px = win.shape[:3]
    return np.ascontiguousarray(win).reshape(tw, py, px, -1)


@dataclass
class HDSNNLayer:
    """Trained layer: weights (C, nd, 2, K, K), biases (C,), spike threshold theta (logit units)."""

    geom: LayerGeometry
    weights: np.ndarray
    bias: np.ndarray
    theta: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def n_channels(self) -> int:
        return int(self.weights.shape[0])

    @property
    def n_weights(self) -> int:
        return int(self.weights.size)

    @property
    def n_nonzero(self) -> int:
        return int(np.count_nonzero(self.weights))

    def potentials(self, events: np.ndarray) -> np.ndarray:
        """z (Tw, Py, Px, C) of one movie at steps t = history..T (bias included)."""
        x = features(events, self.geom)
        wf = self.weights.reshape(self.n_channels, -1).astype(np.float32)
        return x @ wf.T + self.bias.astype(np.float32)

    def spike_counts(self, events: np.ndarray, theta: float | None = None) -> np.ndarray:
        """Pooled spike counts (C,) over positions and readout steps."""
        th = self.theta if theta is None else theta
        z = self.potentials(events)
        return (z >= th).sum(axis=(0, 1, 2))

    def pruned(self, keep: float, retrain: "TrainData | None" = None, l2: float | None = None,
               recalibrate: "TrainData | EventDataset | None" = None,
               retrain_iter: int = 100) -> "HDSNNLayer":
        """Keep the `keep` fraction of weights with the largest magnitude (global); others -> 0."""
        mask = magnitude_mask(self.weights, keep)
        w = np.where(mask, self.weights, 0.0)
        b = self.bias.copy()
        info = dict(self.info, keep=keep)
        if retrain is not None:
            kshape = self.weights.shape[1:]
            project = ((lambda w_, b_: symmetrize(w_, b_, kshape))
                       if self.info.get("symmetric") else None)
            w, b = fit_layer(retrain, self.n_channels, loss=self.info.get("loss", "race"),
                             l2=self.info.get("l2", 1e-2) if l2 is None else l2,
                             mask=mask, w0=w.reshape(self.n_channels, -1), b0=b,
                             project=project, max_iter=retrain_iter,
                             temperature=self.info.get("temperature", 3.0))
            w = w.reshape(self.weights.shape)
            info["retrained"] = True
        out = HDSNNLayer(self.geom, w.astype(np.float32), b.astype(np.float32), self.theta, info)
        if recalibrate is not None:
            out.theta = calibrate_theta(out, recalibrate)
        return out


LAYER_FORMAT = 1   # the .npz layout of save_layer / load_layer


def save_layer(layer: HDSNNLayer, f: BinaryIO, extra: dict[str, Any] | None = None) -> None:
    """Write a layer as .npz (no pickles): weights, bias, theta, geometry, JSON-able `info` entries
    (the training rows in ``info["train_data"]`` are not saved) and `extra` metadata."""
    import json

    info = {k: v for k, v in layer.info.items() if k != "train_data"}
    meta = {"format": LAYER_FORMAT, "geom": {"kernel": layer.geom.kernel, "stride": layer.geom.stride,
                                             "n_delays": layer.geom.n_delays,
                                             "delay_mode": layer.geom.delay_mode},
            "theta": float(layer.theta), "info": info, "extra": extra or {}}
    np.savez(f, weights=layer.weights, bias=layer.bias, meta=np.array(json.dumps(meta)))


def load_layer(path: Any) -> tuple[HDSNNLayer, dict[str, Any]]:
    """(layer, extra) from a `save_layer` file; raises ValueError when it is not a consistent one."""
    import json

    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        if meta.get("format") != LAYER_FORMAT:
            raise ValueError(f"layer format {meta.get('format')!r}, expected {LAYER_FORMAT}")
        geom = LayerGeometry(**meta["geom"])
        weights, bias = z["weights"], z["bias"]
    want = (N_CLASSES, len(geom.delays), 2, geom.kernel, geom.kernel)
    if weights.shape != want or bias.shape != (N_CLASSES,):
        raise ValueError(f"weights {weights.shape} / bias {bias.shape}, expected {want} / ({N_CLASSES},)")
    if not (np.all(np.isfinite(weights)) and np.all(np.isfinite(bias)) and np.isfinite(meta["theta"])):
        raise ValueError("non-finite weights, bias or theta")
    return HDSNNLayer(geom, weights, bias, float(meta["theta"]), dict(meta["info"])), meta["extra"]


def magnitude_mask(weights: np.ndarray, keep: float) -> np.ndarray:
    """Boolean mask of the round(keep * size) largest |w| (ties broken by index, deterministic)."""
    if not 0.0 < keep <= 1.0:
        raise ValueError(f"keep must be in (0, 1], got {keep}")
    flat = np.abs(weights).ravel()
    n_keep = max(1, int(round(keep * flat.size)))
    order = np.argsort(-flat, kind="stable")
    mask = np.zeros(flat.size, dtype=bool)
    mask[order[:n_keep]] = True
    return mask.reshape(weights.shape)


# ----------------------------------------------------------------------------------------------
# Symmetry of the square pixel grid (dihedral group D4: 90-degree rotations x mirror)
# ----------------------------------------------------------------------------------------------
def _group_elements() -> list[tuple[int, int]]:
    return [(a, b) for b in (0, 1) for a in range(4)]


def transform_kernel(k: np.ndarray, a: int, b: int) -> np.ndarray:
    """Mirror rows (if b) then rotate 90 degrees counter-clockwise a times, on the last two axes."""
    if b:
        k = np.flip(k, axis=-2)
    return np.rot90(k, a, axes=(-2, -1))


def transform_label(label: np.ndarray | int, a: int, b: int) -> np.ndarray:
    """Class of the transformed motion: the mirror maps direction k -> -k, a rotation k -> k + 3a."""
    label = np.asarray(label)
    direction, speed = label // N_SPEEDS, label % N_SPEEDS
    n_dir = N_CLASSES // N_SPEEDS
    if b:
        direction = (-direction) % n_dir
    direction = (direction + a * (n_dir // 4)) % n_dir
    return direction * N_SPEEDS + speed


def symmetrize(w: np.ndarray, b: np.ndarray, kernel_shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Orthogonal projection onto D4-equivariant layers: W[g c] = g(W[c]) for every grid symmetry g.

    12 directions are closed under 90-degree rotations and mirrors, so an equivariant layer has
    only 2 direction templates (0 and 30 degrees) x 3 speeds of free parameters. Training in this
    subspace is equivalent to training on the 8 mirrored/rotated copies of every movie.
    """
    c = w.shape[0]
    wk = w.reshape((c,) + tuple(kernel_shape))
    out_w = np.zeros_like(wk)
    out_b = np.zeros_like(b)
    labels = np.arange(c)
    for a, f in _group_elements():
        dest = transform_label(labels, a, f)
        out_w[dest] += transform_kernel(wk, a, f)
        out_b[dest] += b
    n = len(_group_elements())
    return (out_w / n).reshape(w.shape), out_b / n


# ----------------------------------------------------------------------------------------------
# Training
# ----------------------------------------------------------------------------------------------
@dataclass
class TrainData:
    x: Any            # (N, F) float32 rows: scipy CSR (default) or dense
    y: np.ndarray     # (N,) class of each row (its movie's class)
    movie: np.ndarray  # (N,) movie index of each row (rows of a movie are contiguous)


def sample_rows(ds: EventDataset, geom: LayerGeometry, rows_per_movie: int, seed: int,
                sparse: bool = True) -> TrainData:
    """`rows_per_movie` random (position, step) samples of each movie, labelled with its class.

    Events are sparse (a few % of the delayed-event features are 1), so rows are stored as a
    float32 CSR matrix by default.
    """
    rng = np.random.default_rng(seed)
    xs, ys, ms = [], [], []
    for i in range(len(ds)):
        x = features(ds.events[i], geom)
        flat = x.reshape(-1, x.shape[-1])
        pick = rng.choice(flat.shape[0], size=min(rows_per_movie, flat.shape[0]), replace=False)
        rows = flat[np.sort(pick)]
        xs.append(sp.csr_matrix(rows) if sparse else rows)
        ys.append(np.full(pick.size, ds.labels[i]))
        ms.append(np.full(pick.size, i))
    x_all = sp.vstack(xs, format="csr", dtype=np.float32) if sparse else np.concatenate(xs)
    return TrainData(x_all, np.concatenate(ys), np.concatenate(ms))


LOSSES = ("race", "ovr", "softmax")


def fit_layer(data: TrainData, n_classes: int, loss: str = "race", l2: float = 1e-2,
              max_iter: int = 200, mask: np.ndarray | None = None, w0: np.ndarray | None = None,
              b0: np.ndarray | None = None, project: Any = None, seed: int = 0,
              b_init: float = -4.0, init_scale: float = 0.05,
              temperature: float = 3.0,
              progress: Callable[[int, int], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Fit W (C, F), b (C,) by L-BFGS on one of three losses (all + l2/2 |W|^2):

    * ``race`` (default): the pooled readout itself. Each row r of movie m gives every channel a
      spike probability ``s = sigmoid(z)``; the movie's rate per channel ``rho[m, c] = mean_r s``;
      the class probability is ``rho^a / sum_c rho^a`` (a = `temperature`; a = 1: the chance that
      the next output spike comes from channel c) and the loss is its cross-entropy with the movie
      label. The threshold acts before pooling, so the layer learns coincidence detectors (the
      direction of motion lives in the space-time correlations of the events, not in their mean:
      per-row linear losses cannot see it). Non-convex: starts from small random W and a negative
      bias (sparse spiking, where the gradient is Hebbian in the events' covariance).
    * ``ovr``: per-row one-vs-rest logistic regression (each channel its own logistic neuron,
      positives re-weighted to balance the 1:35 ratio): the paper's "time-invariant logistic
      regression" taken literally.
    * ``softmax``: per-row multinomial logistic regression.

    `mask` freezes pruned weights at 0. `project(w, b) -> (w, b)`: a linear projection applied to
    the start and every gradient so the iterates stay in its subspace (grid-symmetry sharing).
    `progress(iteration, max_iter)` is called after every L-BFGS iteration (and once at the end).
    """
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    x, y = data.x, data.y
    n, f = x.shape
    c = n_classes
    sparse_x = sp.issparse(x)
    xt = x.T.tocsr() if sparse_x else None
    onehot = np.zeros((n, c), dtype=np.float32)
    onehot[np.arange(n), y] = 1.0
    if loss == "ovr":
        pos = onehot.sum(axis=0)
        w_pos = np.where(pos > 0, (n - pos) / np.maximum(pos, 1), 1.0).astype(np.float32)
        sw = np.where(onehot > 0, w_pos, 1.0).astype(np.float32)
        norm = float(sw.sum()) / c
    if loss == "race":
        movies, row_movie = np.unique(data.movie, return_inverse=True)
        n_movies = movies.size
        counts = np.bincount(row_movie, minlength=n_movies).astype(np.float32)
        pool = sp.csr_matrix((1.0 / counts[row_movie], (row_movie, np.arange(n))),
                             shape=(n_movies, n), dtype=np.float32)  # mean over a movie's rows
        pool_t = pool.T.tocsr()
        movie_label = np.zeros(n_movies, dtype=np.int64)
        movie_label[row_movie] = y
        movie_onehot = np.zeros((n_movies, c), dtype=np.float32)
        movie_onehot[np.arange(n_movies), movie_label] = 1.0
    m = None if mask is None else mask.reshape(c, f).astype(np.float32)

    def unpack(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        w = theta[: c * f].reshape(c, f).astype(np.float32)
        return (w * m if m is not None else w), theta[c * f:].astype(np.float32)

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = unpack(theta)
        z = np.asarray(x @ w.T) + b
        if loss == "softmax":
            z = z - z.max(axis=1, keepdims=True)
            ez = np.exp(z)
            ssum = ez.sum(axis=1, keepdims=True)
            value = -float((onehot * (z - np.log(ssum))).sum()) / n
            g = (ez / ssum - onehot) / n
        elif loss == "ovr":
            value = -float((sw * (onehot * -np.logaddexp(0.0, -z)
                                  + (1 - onehot) * -np.logaddexp(0.0, z))).sum()) / norm
            g = sw * (1.0 / (1.0 + np.exp(-z)) - onehot) / norm
        else:
            s = 1.0 / (1.0 + np.exp(-z))
            rho = np.asarray(pool @ s) + 1e-12                     # (M, C)
            logit = temperature * np.log(rho)
            logit -= logit.max(axis=1, keepdims=True)
            p = np.exp(logit)
            p /= p.sum(axis=1, keepdims=True)
            value = -float((movie_onehot * np.log(p + 1e-30)).sum()) / n_movies
            g_rho = temperature * (p - movie_onehot) / rho / n_movies  # dL/drho
            g = np.asarray(pool_t @ g_rho) * (s * (1.0 - s))         # dL/dz per row
            g = g.astype(np.float32)
        gw = (np.asarray(xt @ g).T if sparse_x else g.T @ x) + l2 * w
        gb = g.sum(axis=0)
        if project is not None:
            gw, gb = project(gw, gb)
        if m is not None:
            gw = gw * m
        value += 0.5 * l2 * float((w * w).sum())
        return value, np.concatenate([np.ravel(gw), np.ravel(gb)]).astype(np.float64)

    if w0 is not None:
        w_start = np.asarray(w0, dtype=np.float64).reshape(c, f)
    elif loss == "race":
        w_start = init_scale * np.random.default_rng(seed).standard_normal((c, f))
    else:
        w_start = np.zeros((c, f))
    if b0 is not None:
        b_start = np.asarray(b0, dtype=np.float64)
    else:
        b_start = np.full(c, b_init if loss == "race" else 0.0)
    if project is not None:
        w_start, b_start = project(w_start, b_start)
    if m is not None:
        w_start = w_start * m
    theta0 = np.concatenate([w_start.ravel(), b_start])
    done = [0]

    def step(_xk: np.ndarray) -> None:
        done[0] += 1
        progress(min(done[0], max_iter), max_iter)

    res = minimize(objective, theta0, jac=True, method="L-BFGS-B",
                   options={"maxiter": max_iter, "maxcor": 20},
                   callback=step if progress is not None else None)
    if progress is not None:
        progress(max_iter, max_iter)
    w, b = unpack(res.x)
    return w, b


def train_layer(train: EventDataset, geom: LayerGeometry = LayerGeometry(), rows_per_movie: int = 64,
                l2: float = 1e-2, loss: str = "race", max_iter: int = 200, seed: int = 0,
                calibrate: bool = True, symmetric: bool = True,
                progress: Callable[[int, int], None] | None = None, **fit_options: Any) -> HDSNNLayer:
    """Fit W, b on `train` (see module docstring), then calibrate theta on the same movies.
    `progress(iteration, max_iter)`: see :func:`fit_layer`."""
    data = sample_rows(train, geom, rows_per_movie, seed)
    k = geom.kernel
    kshape = (len(geom.delays), 2, k, k)
    project = (lambda w, b: symmetrize(w, b, kshape)) if symmetric else None
    w, b = fit_layer(data, N_CLASSES, loss=loss, l2=l2, max_iter=max_iter, project=project,
                     seed=seed, progress=progress, **fit_options)
    layer = HDSNNLayer(geom, w.reshape((N_CLASSES,) + kshape), b, 0.0,
                       {"l2": l2, "loss": loss, "rows": int(data.x.shape[0]),
                        "symmetric": symmetric, **fit_options})
    if calibrate:
        layer.theta = calibrate_theta(layer, data)
    layer.info["train_data"] = data  # kept for pruning with retraining (not serialised)
    return layer


def calibrate_theta(layer: HDSNNLayer, data: "TrainData | EventDataset",
                    grid: np.ndarray | None = None) -> float:
    """Scalar spike threshold maximising pooled spike-count accuracy (ties: the larger theta).

    `data` is either sampled training rows (counts pooled over each movie's sampled rows: cheap)
    or a set of movies (all positions and readout steps).
    """
    if isinstance(data, TrainData):
        wf = layer.weights.reshape(layer.n_channels, -1).astype(np.float32)
        z = np.asarray(data.x @ wf.T) + layer.bias.astype(np.float32)
        movies, row_movie = np.unique(data.movie, return_inverse=True)
        labels = np.zeros(movies.size, dtype=np.int64)
        labels[row_movie] = data.y
        sample = z
    else:
        zs = [layer.potentials(ev).reshape(-1, layer.n_channels) for ev in data.events]
        row_movie = np.repeat(np.arange(len(zs)), [len(v) for v in zs])
        labels = data.labels
        sample = np.concatenate(zs)
    if grid is None:
        grid = np.quantile(sample, np.linspace(0.5, 0.9995, 80))
    best, best_acc = 0.0, -1.0
    n_movies = labels.size
    pool = sp.csr_matrix((np.ones(row_movie.size, np.float32), (row_movie, np.arange(row_movie.size))),
                         shape=(n_movies, row_movie.size))
    for th in np.unique(grid):
        counts = np.asarray(pool @ (sample >= th).astype(np.float32))
        acc = float(np.mean(_decide(counts) == labels))
        if acc >= best_acc:
            best, best_acc = float(th), acc
    return best


# ----------------------------------------------------------------------------------------------
# Evaluation
# ----------------------------------------------------------------------------------------------
def _decide(counts: np.ndarray) -> np.ndarray:
    """argmax per row (first on ties); -1 when a row has no spike at all."""
    counts = np.atleast_2d(counts)
    return np.where(counts.max(axis=1) > 0, counts.argmax(axis=1), -1)


def decide(counts: np.ndarray) -> np.ndarray:
    return _decide(counts)


@dataclass
class Scores:
    """Accuracies of one layer on one data set (fractions in [0, 1])."""

    pooled: float            # 36-way, pooled spike counts
    pooled_direction: float  # 12-way (direction of the predicted class)
    local: float             # 36-way, argmax z at single (position, step) samples
    local_direction: float
    pooled_rate: float       # 36-way, argmax of summed sigmoid(z) (the training readout, no hard threshold)
    pooled_vote: float       # 36-way, argmax of votes: each (position, step) votes for its argmax_c z
    mean_spikes: float       # output spikes per movie
    decisions: np.ndarray    # pooled spike-count decisions (N,)

    def row(self) -> dict[str, float]:
        return {k: v for k, v in self.__dict__.items() if k != "decisions"}


def evaluate(layer: HDSNNLayer, ds: EventDataset) -> Scores:
    counts, local_ok, local_dir_ok, n_local, rate_dec, vote_dec = [], 0, 0, 0, [], []
    for ev, label in zip(ds.events, ds.labels):
        z = layer.potentials(ev).reshape(-1, layer.n_channels)
        counts.append((z >= layer.theta).sum(axis=0))
        arg = z.argmax(axis=1)
        local_ok += int((arg == label).sum())
        local_dir_ok += int((arg // N_SPEEDS == label // N_SPEEDS).sum())
        n_local += arg.size
        rate_dec.append(int((1.0 / (1.0 + np.exp(-z))).sum(axis=0).argmax()))
        vote_dec.append(int(np.bincount(arg, minlength=layer.n_channels).argmax()))
    counts_a = np.array(counts)
    dec = _decide(counts_a)
    labels = ds.labels
    return Scores(
        pooled=float(np.mean(dec == labels)),
        pooled_direction=float(np.mean((dec >= 0) & (dec // N_SPEEDS == labels // N_SPEEDS))),
        local=local_ok / n_local,
        local_direction=local_dir_ok / n_local,
        pooled_rate=float(np.mean(np.array(rate_dec) == labels)),
        pooled_vote=float(np.mean(np.array(vote_dec) == labels)),
        mean_spikes=float(counts_a.sum(axis=1).mean()),
        decisions=dec,
    )
