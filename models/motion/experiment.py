"""The HD-SNN motion experiment end to end: data, training, baselines, pruning, deployment.

Scales (:data:`SCALES`): ``ci`` runs in well under a minute (tests, ``evaluate --scale ci``);
``full`` is the reported configuration (minutes). The kernel is convolutional, so one trained
layer serves every input size: it is trained on 32x32 movies, evaluated at ``eval_size`` (the
full configuration) and deployed at ``deploy_size`` (the reduced configuration) after pruning.
"""
from __future__ import annotations

import functools
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Callable

import numpy as np

from neurocompile.models.motion import events as ev
from neurocompile.models.motion import hdsnn as hd

TRAIN_MIX = {"texture": 0.8, "grating": 0.1, "bar": 0.1}


@dataclass(frozen=True)
class Scale:
    name: str
    train_per_class: int          # training movies per class (36 classes), held-in images
    rows_per_movie: int           # (position, step) samples per training movie
    max_iter: int                 # L-BFGS iterations
    test_per_class: int           # held-out-image test movies per class
    kernel: int = 9
    stride: int = 4
    n_delays: int = 21
    steps: int = 40               # event frames per movie
    train_size: int = 32
    eval_size: int = 64           # input size of the full configuration
    deploy_size: int = 32         # input size of the reduced (deployed) configuration
    deploy_keep: float = 0.05     # fraction of weights kept in the deployed layer
    deploy_movies: int = 36       # held-out movies replayed through the spiking network
    prune_keeps: tuple[float, ...] = (0.5, 0.2, 0.1, 0.05, 0.02, 0.01)
    retrain_iter: int = 40        # masked refit after pruning (when enabled)
    retrain_curve: bool = False   # pruning curve also with a masked refit of the kept weights
    deploy_refit: bool = False    # refit the deployed layer's kept weights (did not help: docs)
    baselines: tuple[str, ...] = ("none", "summed")
    paper_loss: bool = False      # also train with the per-row one-vs-rest logistic loss
    extra_stimuli: tuple[str, ...] = ()  # held-out gratings / bars, reported separately
    l2: float = 1e-2
    temperature: float = 3.0
    # Baselines get their l2 chosen on a validation set (held-in images, other movies): they are
    # cheap to train and, unlike the HD-SNN, degenerate (no better than chance) at l2 = 1e-2.
    baseline_l2_grid: tuple[float, ...] = (1e-4, 1e-3, 1e-2)
    val_per_class: int = 2


SCALES = {
    "ci": Scale("ci", train_per_class=16, rows_per_movie=32, max_iter=60, test_per_class=4,
                kernel=7, eval_size=32, prune_keeps=(0.2, 0.05), deploy_movies=36,
                baselines=("none",)),
    "full": Scale("full", train_per_class=96, rows_per_movie=64, max_iter=120, test_per_class=10,
                  kernel=9, eval_size=64, deploy_movies=108, paper_loss=True,
                  extra_stimuli=("grating", "bar")),
}


def get_scale(scale: str | Scale, **overrides: Any) -> Scale:
    if not isinstance(scale, Scale) and scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; known: {', '.join(SCALES)}")
    base = scale if isinstance(scale, Scale) else SCALES[scale]
    return replace(base, **overrides) if overrides else base


def geometry(sc: Scale, delay_mode: str = "heterogeneous") -> hd.LayerGeometry:
    return hd.LayerGeometry(kernel=sc.kernel, stride=sc.stride, n_delays=sc.n_delays,
                            delay_mode=delay_mode)


@functools.lru_cache(maxsize=8)
def train_set(sc: Scale, seed: int) -> ev.EventDataset:
    return ev.make_dataset(sc.train_per_class, "train", (sc.train_size, sc.train_size), sc.steps,
                           TRAIN_MIX, seed=seed)


@functools.lru_cache(maxsize=8)
def test_set(sc: Scale, seed: int, size: int, kind: str = "texture") -> ev.EventDataset:
    return ev.make_dataset(sc.test_per_class, "test", (size, size), sc.steps, (kind,),
                           seed=seed + 1000)


@functools.lru_cache(maxsize=8)
def validation_set(sc: Scale, seed: int) -> ev.EventDataset:
    """Held-in images, movies not in the training set (own seed): for choosing baseline l2."""
    return ev.make_dataset(sc.val_per_class, "train", (sc.train_size, sc.train_size), sc.steps,
                           ("texture",), seed=seed + 2000)


def trained_layer(sc: Scale, seed: int, delay_mode: str = "heterogeneous",
                  loss: str = "race", l2: float | None = None) -> hd.HDSNNLayer:
    """The layer trained at this scale (cached per process)."""
    return _trained_layer(sc, int(seed), delay_mode, loss, float(sc.l2 if l2 is None else l2))


@functools.lru_cache(maxsize=16)
def _trained_layer(sc: Scale, seed: int, delay_mode: str, loss: str, l2: float) -> hd.HDSNNLayer:
    from neurocompile.cache import training_progress

    what = "" if (delay_mode, loss) == ("heterogeneous", "race") else f" ({delay_mode}, {loss})"
    with training_progress(f"training motion{what}", sc.max_iter) as progress:   # L-BFGS iterations
        data = train_set(sc, seed)     # shown at 0 while the training movies are generated
        return hd.train_layer(data, geometry(sc, delay_mode), sc.rows_per_movie,
                              l2=l2, loss=loss, max_iter=sc.max_iter, seed=seed,
                              temperature=sc.temperature, progress=progress)


def tuned_baseline(sc: Scale, seed: int, delay_mode: str) -> tuple[hd.HDSNNLayer, dict[float, float]]:
    """Baseline layer with the l2 of `baseline_l2_grid` that is best on the validation set."""
    val = validation_set(sc, seed)
    scores = {}
    for l2 in sc.baseline_l2_grid:
        scores[l2] = hd.evaluate(trained_layer(sc, seed, delay_mode, "race", l2), val).pooled
    best = max(scores, key=lambda k: (scores[k], k))
    return trained_layer(sc, seed, delay_mode, "race", best), scores


def pruned_layer(sc: Scale, seed: int, keep: float, retrain: bool = True,
                 layer: hd.HDSNNLayer | None = None) -> hd.HDSNNLayer:
    """`layer` (default: the layer trained at this scale) pruned to `keep` of its weights."""
    layer = trained_layer(sc, seed) if layer is None else layer
    if keep >= 1.0:
        return layer
    data = layer.info["train_data"]
    return layer.pruned(keep, retrain=data if retrain else None, recalibrate=data,
                        retrain_iter=sc.retrain_iter)


# Bump when the event generator, training, pruning or the saved layer format changes: cached
# deployable layers (neurocompile/cache.py) trained by older code are then never read.
WEIGHTS_VERSION = 1
# Scale fields that do not change the deployable layer (evaluation, reporting, deployed input
# size: the kernel is convolutional). Every other field, present or future, is part of the key.
_NOT_TRAINING = frozenset({"name", "test_per_class", "eval_size", "deploy_size", "deploy_movies",
                           "prune_keeps", "retrain_curve", "baselines", "paper_loss",
                           "extra_stimuli", "baseline_l2_grid", "val_per_class"})


def deployable_key(sc: Scale, seed: int) -> str:
    """Cache key of the deployable layer: every option it depends on (see `_NOT_TRAINING`)."""
    from neurocompile.cache import cache_key, library_versions

    items = {k: v for k, v in asdict(sc).items() if k not in _NOT_TRAINING}
    if not sc.deploy_refit:
        items.pop("retrain_iter")
    return cache_key("motion", WEIGHTS_VERSION, scale=items, seed=int(seed), train_mix=TRAIN_MIX,
                     train_images=list(ev.TRAIN_IMAGES), speeds=list(ev.SPEEDS),
                     n_directions=ev.N_DIRECTIONS, zooms=list(ev.ZOOMS),
                     libraries=library_versions("numpy", "scipy", "scikit-image"))


def deployable_layer(sc: Scale, seed: int, cache: bool | None = None) -> hd.HDSNNLayer:
    """The reduced configuration's layer: pruned to `deploy_keep` (threshold recalibrated).

    Kept in neurocompile's trained-weights cache (see neurocompile/cache.py; cache=False: trained
    afresh, the cache neither read nor written). ``layer.info["provenance"]`` says which."""
    from neurocompile import cache as wcache

    key = deployable_key(sc, seed)

    def train() -> hd.HDSNNLayer:
        # cache off: a fresh training, not even this process's earlier one (left in place)
        fresh = None if wcache.enabled(cache) else _trained_layer.__wrapped__(
            sc, int(seed), "heterogeneous", "race", float(sc.l2))
        return pruned_layer(sc, seed, sc.deploy_keep, retrain=sc.deploy_refit, layer=fresh)

    def load(path: Any) -> hd.HDSNNLayer:
        layer, extra = hd.load_layer(path)
        if extra.get("cache_key") != key:
            raise ValueError(f"written for key {extra.get('cache_key')!r}, expected {key!r}")
        return layer

    layer, prov = wcache.load_or_train("motion", key, WEIGHTS_VERSION, train, load,
                                       lambda lay, f: hd.save_layer(lay, f, {"cache_key": key}),
                                       cache=cache)
    layer.info["provenance"] = prov.as_metadata()
    return layer


@dataclass
class Row:
    what: str
    input: str
    weights: str
    acc36: float | None
    acc12: float | None
    extra: dict[str, Any] = field(default_factory=dict)


def _score_row(what: str, layer: hd.HDSNNLayer, ds: ev.EventDataset, size: int) -> tuple[Row, hd.Scores]:
    s = hd.evaluate(layer, ds)
    kept = layer.n_nonzero / layer.n_weights
    return Row(what, f"{size}x{size}", f"{layer.n_nonzero} ({100 * kept:.1f}%)", s.pooled,
               s.pooled_direction, {"local36": s.local, "local12": s.local_direction,
                                    "pooled_rate36": s.pooled_rate, "vote36": s.pooled_vote,
                                    "spikes_per_movie": s.mean_spikes}), s


def run(scale: str | Scale = "ci", seed: int = 0, simulate: bool = True,
        log: Callable[[str], None] = lambda m: None, boards: tuple[str, ...] = (),
        **overrides: Any) -> dict[str, Any]:
    """Every number of the results table; `log` receives progress lines."""
    from neurocompile.ir.validate import validate_network
    from neurocompile.models.motion import deploy

    sc = get_scale(scale, **overrides)
    t_start, cpu_start = time.perf_counter(), time.process_time()
    timings: dict[str, float] = {}

    def lap(key: str, t0: float) -> None:
        timings[key] = round(time.perf_counter() - t0, 2)
        log(f"  {key}: {timings[key]:.1f} s")

    t0 = time.perf_counter()
    train = train_set(sc, seed)
    test = test_set(sc, seed, sc.eval_size)
    lap("data", t0)
    rows: list[Row] = []

    t0 = time.perf_counter()
    layer = trained_layer(sc, seed)
    lap("train", t0)
    t0 = time.perf_counter()
    main_row, main_scores = _score_row("HD-SNN, delays 1..%d" % sc.n_delays, layer, test, sc.eval_size)
    rows.append(main_row)
    lap("evaluate", t0)

    for mode in sc.baselines:
        t0 = time.perf_counter()
        base, val_scores = tuned_baseline(sc, seed, mode)
        label = {"none": "no-delay baseline (all delays 1)",
                 "summed": f"homogeneous baseline (events of last {sc.n_delays} steps summed)"}[mode]
        row = _score_row(label, base, test, sc.eval_size)[0]
        row.extra["l2"] = base.info["l2"]
        row.extra["validation_acc36_by_l2"] = {str(k): v for k, v in val_scores.items()}
        rows.append(row)
        lap(f"baseline_{mode}", t0)
    if sc.paper_loss:
        t0 = time.perf_counter()
        ovr = trained_layer(sc, seed, "heterogeneous", "ovr")
        rows.append(_score_row("HD-SNN, per-row one-vs-rest logistic loss", ovr, test, sc.eval_size)[0])
        lap("paper_loss", t0)
    rows.append(Row("chance", "", "", 1.0 / ev.N_CLASSES, 1.0 / ev.N_DIRECTIONS))
    for kind in sc.extra_stimuli:
        t0 = time.perf_counter()
        extra = test_set(sc, seed, sc.eval_size, kind)
        rows.append(_score_row(f"HD-SNN on {kind}s (test seeds)", layer, extra, sc.eval_size)[0])
        lap(f"extra_{kind}", t0)

    t0 = time.perf_counter()
    curve = [{"keep": 1.0, "weights": layer.n_nonzero, "acc36": main_scores.pooled,
              "acc12": main_scores.pooled_direction,
              "acc36_retrained": main_scores.pooled, "acc12_retrained": main_scores.pooled_direction}]
    for keep in sc.prune_keeps:
        p = pruned_layer(sc, seed, keep, retrain=False)
        s = hd.evaluate(p, test)
        point = {"keep": keep, "weights": p.n_nonzero, "acc36": s.pooled, "acc12": s.pooled_direction}
        if sc.retrain_curve:
            s2 = hd.evaluate(pruned_layer(sc, seed, keep, retrain=True), test)
            point.update(acc36_retrained=s2.pooled, acc12_retrained=s2.pooled_direction)
        curve.append(point)
        log(f"  prune keep={keep:g}: {point}")
    lap("pruning", t0)

    # Reduced, deployable configuration.
    t0 = time.perf_counter()
    dep = deployable_layer(sc, seed)
    dtest = test if sc.deploy_size == sc.eval_size else test_set(sc, seed, sc.deploy_size)
    if sc.deploy_size != sc.eval_size:
        rows.append(_score_row("HD-SNN, all weights, reduced input", layer, dtest, sc.deploy_size)[0])
    dep_row, dep_scores = _score_row("deployable (analytic)", dep, dtest, sc.deploy_size)
    rows.append(dep_row)
    lap("deploy_analytic", t0)
    deployment: dict[str, Any] = {}
    if simulate:
        t0 = time.perf_counter()
        n = min(sc.deploy_movies, len(dtest))
        idx = np.arange(n)  # data sets are ordered rep-major: the first 36 cover every class
        net = deploy.build_network(dep, dtest.events[idx], dtest.labels[idx], seed=seed)
        validate_network(net)
        sim = deploy.simulate(net)
        analytic = dep_scores.decisions[idx]
        labels = dtest.labels[idx]
        spk = sim["decisions"]
        delays = np.concatenate([p.delay for p in net.projections.values()])
        deployment = {
            "movies": int(n), "neurons": int(net.n_neurons), "synapses": int(net.n_synapses),
            "delay_min": int(delays.min()), "delay_max": int(delays.max()),
            "agreement": float(np.mean(spk == analytic)),
            "spiking_acc36": float(np.mean(spk == labels)),
            "spiking_acc12": float(np.mean((spk >= 0) & (spk // ev.N_SPEEDS == labels // ev.N_SPEEDS))),
            "analytic_acc36_same_movies": float(np.mean(analytic == labels)),
            "output_spikes": int(sim["result"].spikes["motion"][0].size),
            "sim_wall_s": round(float(sim["result"].wall_s), 2),
        }
        rows.append(Row(f"deployable (spiking, float sim, {n} movies)", f"{sc.deploy_size}x{sc.deploy_size}",
                        dep_row.weights, deployment["spiking_acc36"], deployment["spiking_acc12"],
                        {"agreement_with_analytic": deployment["agreement"],
                         "analytic_same_movies36": deployment["analytic_acc36_same_movies"]}))
        lap("deploy_spiking", t0)
        for board in boards:  # compile for the board and run in its arithmetic's simulator mode
            t0 = time.perf_counter()
            hw = deploy.on_board(net, board, seed)
            dec = hw["decisions"]
            deployment.setdefault("boards", {})[board] = {
                "number_format": hw["number_format"], "mode": hw["mode"],
                "agreement": float(np.mean(dec == analytic)),
                "acc36": float(np.mean(dec == labels)),
                "acc12": float(np.mean((dec >= 0) & (dec // ev.N_SPEEDS == labels // ev.N_SPEEDS))),
                "output_spikes": hw["output_spikes"], "compiler_warnings": hw["warnings"]}
            rows.append(Row(f"deployable (spiking, compiled for {board}, {hw['mode']} arithmetic)",
                            f"{sc.deploy_size}x{sc.deploy_size}", dep_row.weights,
                            deployment["boards"][board]["acc36"], deployment["boards"][board]["acc12"],
                            {"agreement_with_analytic": deployment["boards"][board]["agreement"]}))
            lap(f"board_{board}", t0)
    timings["total"] = round(time.perf_counter() - t_start, 2)
    timings["total_cpu"] = round(time.process_time() - cpu_start, 2)
    return {"scale": asdict(sc), "seed": seed, "rows": [asdict(r) for r in rows], "pruning": curve,
            "deployment": deployment, "timings_s": timings,
            "theta": layer.theta, "train_rows": int(layer.info["rows"]),
            "n_train_movies": len(train), "n_test_movies": len(test)}
