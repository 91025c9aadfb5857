"""Visual place recognition with ensembles of compact, region-specific SNNs (Hussaini et al. 2023).

`build(...)` trains the modules on a procedurally generated route (routes.py; nothing is
downloaded), or loads them from the trained-weights cache (neurocompile/cache.py) when an earlier
run trained them with the same settings, and returns the inference network as our IR: per module
a 784-neuron Poisson source encoding one query image, 400 IF_curr_exp excitatory neurons with the
learned (fixed) input weights and per-neuron thresholds, and 400 inhibitory neurons (see
deploy.py). The place readout (argmax of per-place mean spike counts) is
host-side; its tables travel in `net.metadata["place_recognition"]` and
`deploy.readout(net, result.spikes)` applies them.

    neurocompile compile place_recognition --board spinn-5 --param n_places=100
    python -m neurocompile.models.place_recognition.evaluate --places 300     # the results table

Modules: routes (data), train (network, STDP, readout), deploy (IR), evaluate (metrics, table).
"""
from __future__ import annotations

from neurocompile.ir.network import Network


def train_or_load(n_places: int = 100, places_per_module: int = 25, seed: int = 0,
                  epochs: int | None = None, cache_dir: str = "", n_exc: int | None = None,
                  cache: bool | None = None):
    """The TrainedEnsemble for the route of (n_places, seed): loaded from the trained-weights cache
    when an entry trained with the same settings is there, else trained (with a progress bar) and
    stored there. The cache is `cache_dir` if given, else neurocompile's cache directory
    (`neurocompile.cache.cache_dir()`: $NEUROCOMPILE_CACHE_DIR, $XDG_CACHE_HOME/neurocompile or
    ~/.cache/neurocompile). cache=False (or the CLI's --no-cache, NEUROCOMPILE_NO_CACHE=1): train,
    neither read nor write the cache. `ens.provenance` says which happened, with the key."""
    from neurocompile import cache as wcache
    from neurocompile.models.place_recognition import routes
    from neurocompile.models.place_recognition.train import STATE_VERSION, SNNConfig, TrainedEnsemble, fit

    cfg = SNNConfig()
    if epochs is not None:
        cfg = cfg.replace(epochs=int(epochs))
    if n_exc is not None:
        cfg = cfg.replace(n_exc=int(n_exc))
    n_places, places_per_module, seed = int(n_places), int(places_per_module), int(seed)
    key = wcache.cache_key("place_recognition", STATE_VERSION, n_places=n_places,
                           places_per_module=places_per_module, seed=seed, cfg=cfg,
                           reference=list(routes.DEFAULT_REFERENCE), query=routes.DEFAULT_QUERY,
                           routes_version=routes.ROUTES_VERSION,
                           traverse_seeds=[list(routes.REFERENCE_SEEDS), routes.CALIBRATION_SEED],
                           libraries=wcache.library_versions("numpy", "numba"))

    def train() -> TrainedEnsemble:
        # steps: the epochs, then the reference and calibration passes
        with wcache.training_progress("training place_recognition",
                                      cfg.epochs + len(routes.DEFAULT_REFERENCE) + 1) as progress:
            return fit(routes.make_dataset(n_places, seed), cfg, places_per_module, seed,
                       progress=progress).ensemble

    ens, prov = wcache.load_or_train(
        "place_recognition", key, STATE_VERSION, train,
        load=lambda path: TrainedEnsemble.load(path, cache_key=key),
        save=lambda e, f: e.save(f, cache_key=key), cache=cache, directory=cache_dir or None)
    ens.provenance = prov.as_metadata()
    return ens


def build(n_places: int = 100, places_per_module: int = 25, module: int = -1, query: int = 0,
          seed: int = 0, epochs: int = 40, cache_dir: str = "", cache: bool | None = None) -> Network:
    """Place recognition: ensemble of 784-input 400+400 LIF modules (Hussaini et al. 2023), one query.

    n_places: places on the procedural route; places_per_module: consecutive places each module
    learns (n_places / places_per_module modules, 25 in the paper); module: -1 = every module,
    k = only module k; query: index of the query image (from the query traverse) the Poisson inputs
    encode; seed: route, training and simulation seed; epochs: STDP epochs; cache_dir: directory
    to store/load the trained ensemble ('' = neurocompile's cache directory, see
    neurocompile/cache.py; nothing is ever downloaded); cache: False = train, do not read or
    write the cache (None = on unless --no-cache / NEUROCOMPILE_NO_CACHE=1).
    `net.metadata["trained_weights"]` records whether the weights came from the cache, and the key.
    """
    from neurocompile.models.place_recognition import routes
    from neurocompile.models.place_recognition.deploy import build_inference_network

    if not (1 <= n_places <= 100_000 and 1 <= places_per_module <= 100_000):
        raise ValueError(f"n_places and places_per_module must be in 1..100000, got {n_places} and "
                         f"{places_per_module}")
    if not 1 <= epochs <= 10_000:
        raise ValueError(f"epochs must be in 1..10000, got {epochs}")
    if not 0 <= query < n_places:
        raise ValueError(f"query must be in 0..{n_places - 1}, got {query}")
    n_modules = -(-n_places // places_per_module)
    if not (module == -1 or 0 <= module < n_modules):
        raise ValueError(f"module must be -1 (all) or 0..{n_modules - 1}, got {module}")
    ens = train_or_load(n_places, places_per_module, seed, epochs, cache_dir, cache=cache)
    image = routes.render_traverse(routes.make_world(n_places, seed), routes.DEFAULT_QUERY,
                                   routes.QUERY_SEED, places=[query]).images[0]
    net = build_inference_network(
        ens, image, None if module == -1 else [module], seed=seed,
        extra_metadata={"query": int(query), "true_place": int(query),
                        "query_condition": routes.DEFAULT_QUERY,
                        "reference_conditions": list(routes.DEFAULT_REFERENCE)})
    net.metadata["trained_weights"] = dict(ens.provenance)
    return net
