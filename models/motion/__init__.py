"""HD-SNN motion detection (Grimaldi & Perrinet 2023): 36 channels (12 directions x 3 speeds).

Modules: ``events`` (DVS event streams from skimage images, gratings and bars), ``hdsnn`` (the
heterogeneous-delay layer, its training, baselines and pruning), ``experiment`` (scales and the
whole pipeline), ``deploy`` (the IR network), ``evaluate`` (the results table, ``main()``).
See docs/models/motion.md.
"""
from __future__ import annotations

import numpy as np

from neurocompile.ir.network import Network


def build(scale: str = "ci", n_movies: int = 36, keep: float = 0.05, size: int = 32,
          tau_m: float = 0.1, tau_syn: float = 0.05, cm: float = 1e-4, gain_mV: float = 1.0, seed: int = 0,
          cache: bool | None = None) -> Network:
    """HD-SNN motion detector (36 = 12 directions x 3 speeds) on a 32x32 DVS test stream, delays 1..21.

    Trains the layer off-chip at `scale` ("ci": ~10-30 s; "full": minutes) and prunes it to `keep`
    of its weights (global magnitude), or loads that layer from the trained-weights cache
    (neurocompile/cache.py; cache=False, --no-cache or NEUROCOMPILE_NO_CACHE=1: retrain, neither
    read nor write it; `net.metadata["trained_weights"]` says which). Returns the spiking network: a
    `spike_array` source "events" (2 x size x size ON/OFF pixels) replaying `n_movies`
    held-out-image movies (40 steps each) back to back into the `lif_curr_exp` population
    "motion" (36 channels x output positions, channel-major) through per-synapse weights and
    integer delays 1..21, split into excitatory/inhibitory projections by sign, plus a one-neuron
    source "bias" (every step, delay 1) carrying each channel's learned bias/threshold.
    `net.metadata["motion"]` holds the labels, the readout windows and the analytic layer's
    decisions; `deploy.simulate(net)` runs it in the float simulator and reads it out.
    """
    from neurocompile.models.motion import deploy, experiment

    if not 1 <= n_movies <= 10_000:
        raise ValueError(f"n_movies must be in 1..10000, got {n_movies}")
    if not 0.0 < keep <= 1.0:
        raise ValueError(f"keep must be in (0, 1], got {keep}")
    if not 7 <= size <= 256:  # the learned kernels are 7 pixels wide
        raise ValueError(f"size must be in 7..256 pixels, got {size}")
    sc = experiment.get_scale(scale, deploy_keep=float(keep), deploy_size=int(size))
    layer = experiment.deployable_layer(sc, int(seed), cache=cache)
    per_class = -(-n_movies // 36)
    test = experiment.test_set(experiment.get_scale(sc, test_per_class=per_class), int(seed), int(size))
    idx = np.arange(n_movies)
    net = deploy.build_network(layer, test.events[idx], test.labels[idx], seed=int(seed),
                               tau_m=tau_m, tau_syn=tau_syn, cm=cm, gain_mV=gain_mV)
    analytic = deploy.analytic_counts(layer, test.events[idx])
    net.metadata["motion"]["analytic_decisions"] = [int(v) for v in deploy.decide(analytic)]
    net.metadata["motion"]["scale"] = scale
    net.metadata["trained_weights"] = dict(layer.info["provenance"])
    return net


__all__ = ["build"]
