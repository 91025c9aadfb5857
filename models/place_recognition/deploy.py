"""The trained ensemble as an inference network in our IR, and its readout.

Per module k (all in one Network; modules share nothing, so a partitioner can place them apart):

    m{k}_input  poisson, 784 neurons, per-neuron rate = pixel / 255 * max_rate_hz (the query
                image), active for `steps` steps
    m{k}_exc    lif_curr_exp, n_exc neurons, per-neuron v_thresh = v_thresh_e + theta (frozen)
    m{k}_inh    lif_curr_exp, n_exc neurons
    m{k}_input -> m{k}_exc   all-to-all, learned weights (input_gain_nA * w, nA, fixed), delay 1
    m{k}_exc   -> m{k}_inh   one-to-one, w_ei, delay 1
    m{k}_inh   -> m{k}_exc   all-to-all except i -> i (lateral inhibition), w_ie < 0, delay 1

Mapping of the trained model to IF_curr_exp: training already simulates IF_curr_exp (same
propagators and update order as the float simulator); Diehl & Cook's adaptive threshold
v_thresh + theta_j is not an IF_curr_exp feature, so theta is frozen after training and each
excitatory neuron gets its own v_thresh = v_thresh_e + theta_j (IF_curr_exp allows per-neuron
parameters). All other parameters are shared.

The readout is host-side, as in the paper: count each excitatory neuron's spikes over the
presentation; a place's score is the mean count of the kept (assigned, not hyperactive) neurons
assigned to it; the prediction is the argmax over all places of all modules. The assignments and
kept-neuron masks travel in `net.metadata["place_recognition"]` (JSON lists), so `readout` works on
a network loaded from a .ncnet file.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from neurocompile.ir.network import Network
from neurocompile.models.place_recognition.train import N_INPUT, TrainedEnsemble, input_rates


def input_pop(k: int) -> str:
    return f"m{k}_input"


def exc_pop(k: int) -> str:
    return f"m{k}_exc"


def inh_pop(k: int) -> str:
    return f"m{k}_inh"


def build_inference_network(ens: TrainedEnsemble, image: np.ndarray, modules: list[int] | None = None,
                            seed: int = 0, name: str = "place_recognition",
                            extra_metadata: dict[str, Any] | None = None) -> Network:
    """The inference network of `modules` (default: all) presented with one 28 x 28 query image."""
    cfg = ens.cfg
    modules = list(range(ens.n_modules)) if modules is None else [int(m) for m in modules]
    for m in modules:
        if not 0 <= m < ens.n_modules:
            raise ValueError(f"module {m} does not exist; the ensemble has {ens.n_modules} modules")
    n = ens.n_exc
    rates = input_rates(np.asarray(image)[None], cfg)[0]
    Wc = ens.currents()
    vth = ens.v_thresh()
    keep = ens.keep_mask()
    net = Network(name=name, dt_ms=1.0, seed=int(seed))
    inh_w = np.full((n, n), cfg.w_ie)
    np.fill_diagonal(inh_w, 0.0)
    for k in modules:
        net.add_population(input_pop(k), N_INPUT, "poisson",
                           {"rate": rates.copy(), "start": 0, "duration": cfg.steps},
                           layer="input", module=k)
        net.add_population(exc_pop(k), n, "lif_curr_exp", cfg.exc_params(vth[k].copy()),
                           record=("spikes",), layer="excitatory", module=k)
        net.add_population(inh_pop(k), n, "lif_curr_exp", cfg.inh_params(), layer="inhibitory",
                           module=k)
        net.connect_matrix(input_pop(k), exc_pop(k), Wc[k], delay=1, receptor="excitatory",
                           name=f"m{k}_input->exc")
        net.add_projection(exc_pop(k), inh_pop(k), np.arange(n), np.arange(n), cfg.w_ei, 1,
                           receptor="excitatory", name=f"m{k}_exc->inh")
        net.connect_matrix(inh_pop(k), exc_pop(k), inh_w, delay=1, receptor="inhibitory",
                           name=f"m{k}_inh->exc")
    net.metadata["place_recognition"] = {
        "modules": modules,
        "n_places": int(ens.n_places),
        "presentation_steps": int(cfg.steps),
        "module_places": {str(k): ens.module_places[k].tolist() for k in modules},
        "assignments": {str(k): ens.assignments[k].tolist() for k in modules},
        "kept": {str(k): keep[k].astype(int).tolist() for k in modules},
        "hyperactive_threshold": int(ens.hyperactive_threshold),
        "readout": "score(place) = mean spike count over steps of the kept exc neurons assigned to "
                   "it; predicted place = argmax over all modules' places",
        **(extra_metadata or {}),
    }
    net.metadata["compile_options"] = loihi_compile_options(modules, cfg)
    return net


def loihi_compile_options(modules: list[int], cfg: Any) -> dict[str, Any]:
    """What this model accepts on Loihi, whose LIF has one synaptic current and resets to rest.

    The excitatory neurons keep the input's time constant (tau_syn_E): the learned input weights
    decide which neuron wins, the lateral inhibition (tau_syn_I, twice as long) only has to
    silence the others. The inhibitory neurons reset to rest instead of Diehl & Cook's
    v_reset_i > v_rest_i. Refractory periods are emulated by the compiler (its default). The
    accuracy this costs is measured by `python -m neurocompile.models.place_recognition.evaluate
    --modes float,spinnaker,loihi2` (docs/results.md).
    """
    return {"loihi": {"loihi_accept": ["v_reset"],
                      "tau_syn": {exc_pop(k): float(cfg.tau_syn_E_e) for k in modules}}}


def set_query(net: Network, ens: TrainedEnsemble, image: np.ndarray) -> None:
    """Re-encode the Poisson inputs of every module for another query image (in place)."""
    rates = input_rates(np.asarray(image)[None], ens.cfg)[0]
    for k in net.metadata["place_recognition"]["modules"]:
        net.populations[input_pop(k)].params["rate"] = rates.copy()


def readout(net: Network, spikes: dict[str, tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Place scores (n_places,) from a simulation's spikes; places of absent modules score -inf."""
    meta = net.metadata["place_recognition"]
    scores = np.full(meta["n_places"], -np.inf)
    for k in meta["modules"]:
        n = net.populations[exc_pop(k)].size
        counts = np.bincount(spikes[exc_pop(k)][1], minlength=n)
        lab = np.asarray(meta["assignments"][str(k)])
        kept = np.asarray(meta["kept"][str(k)], dtype=bool)
        for p in meta["module_places"][str(k)]:
            sel = kept & (lab == p)
            scores[p] = counts[sel].mean() if sel.any() else 0.0
    return scores


def simulator_rasters(net: Network, seed: int, steps: int) -> dict[int, np.ndarray]:
    """The input spike trains our simulator's Poisson sources produce for this network and seed:
    {module: (steps, 784) bool}, drawn by the IR's own Poisson source (neurocompile.ir.sources)."""
    from neurocompile.ir.sources import PoissonSource

    out = {}
    for k in net.metadata["place_recognition"]["modules"]:
        pop = net.populations[input_pop(k)]
        source = PoissonSource(pop, net.dt_ms, seed)
        r = np.zeros((steps, pop.size), dtype=bool)
        for t in range(steps):
            r[t, source.spikes_at(t)] = True
        out[k] = r
    return out
