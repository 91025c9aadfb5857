"""Small PyNN networks run unchanged on pyNN.nest and on neurocompile.pynn (tests/test_pynn_vs_nest.py).

Each `net_*` function takes a PyNN backend module `sim`, builds and runs one network and returns
what it measured: spike counts and spike times per population, a few v traces, learned weights.
`python nest_compare.py nest net_a net_b ...` runs them under pyNN.nest (in its own process: NEST
must not share pytest's) and prints the results as one JSON line; the test calls the same
functions in-process with neurocompile.pynn.
"""
from __future__ import annotations

import json
import sys

import numpy as np

DT = 0.1


def _setup(sim, seed: int = 1, **nest_only) -> None:
    if sim.__name__ == "pyNN.nest":
        sim.setup(timestep=DT, min_delay=DT, spike_precision="on_grid", rng_seed=seed, **nest_only)
    else:
        sim.setup(timestep=DT, board="spinn-5", mode="float", seed=seed)


def _spikes(pops: dict, segment: int = -1) -> dict:
    """{label: sorted list of (index, time ms)} from get_data (neo), the way a user reads them."""
    out = {}
    for label, pop in pops.items():
        seg = pop.get_data("spikes").segments[segment]
        out[label] = sorted((int(st.annotations["source_index"]), round(float(t), 4))
                            for st in seg.spiketrains for t in st.magnitude)
    return out


def net_deterministic(sim) -> dict:
    """Spike arrays into IF_curr_exp through FromList, OneToOne, AllToAll, Array (excitatory, and
    inhibitory with negative weights as NEST requires; several delays), a PopulationView, an
    Assembly, a DCSource from t=0, per-neuron parameters and initialize(v=...), recorded spikes
    and v, run twice."""
    _setup(sim)
    times = [[5.0, 20.0, 21.0, 60.0], [7.3, 30.0, 80.0], [10.0, 10.5, 11.0, 11.5, 12.0], [40.0], [],
             [15.0, 55.5, 90.0], [3.0, 33.3], [70.0, 71.0, 72.0], [25.0, 26.0], [50.0, 95.0]]
    src = sim.Population(10, sim.SpikeSourceArray(spike_times=times), label="src")
    cells = sim.Population(12, sim.IF_curr_exp(tau_m=[15.0 + i for i in range(12)], cm=0.8, tau_refrac=3.0,
                                               v_thresh=-52.0, tau_syn_E=4.0, tau_syn_I=6.0,
                                               i_offset=[0.05 * (i % 4) for i in range(12)]), label="cells")
    cells.initialize(v=[-65.0 + 0.8 * i for i in range(12)])
    drive = sim.Population(6, sim.IF_curr_exp(tau_refrac=2.0), label="drive")
    sim.DCSource(amplitude=1.2).inject_into(drive)  # from t=0: constant bias on our targets
    out = sim.Population(5, sim.IF_curr_exp(), label="out")
    syn = sim.StaticSynapse
    sim.Projection(src, cells, sim.FromListConnector([(i, (i * 5) % 12, 3.0 + 0.2 * i, 1.0 + 0.3 * i)
                                                      for i in range(10)] + [(2, 0, 2.5, 4.0), (7, 11, 4.0, 0.5)],
                                                     column_names=["weight", "delay"]),
                   syn(), label="list")
    sim.Projection(src[0:5], cells[5:10], sim.OneToOneConnector(), syn(weight=2.5, delay=2.0), label="view")
    sim.Projection(drive, out, sim.AllToAllConnector(), syn(weight=0.9, delay=1.5), label="all")
    sim.Projection(cells, out, sim.AllToAllConnector(), syn(weight=0.3, delay=1.0), label="cells-out")
    mask = np.zeros((6, 5), dtype=bool)
    mask[[0, 2, 4], [1, 3, 4]] = True
    sim.Projection(drive, out, sim.ArrayConnector(mask), syn(weight=-1.5, delay=0.7),
                   receptor_type="inhibitory", label="array-inh")
    sim.Projection(src[5:10], cells, sim.AllToAllConnector(), syn(weight=-0.4, delay=3.0),
                   receptor_type="inhibitory", label="inh")
    sim.Projection(src[8:10] + drive[0:1], out[0:2], sim.AllToAllConnector(), syn(weight=0.6, delay=2.0),
                   label="assembly")
    pops = {"src": src, "cells": cells, "drive": drive, "out": out}
    for pop in pops.values():
        pop.record("spikes")
    cells.record("v")
    sim.run(60.0)
    sim.run(40.0)
    result = {"spikes": _spikes(pops),
              "v": cells.get_data("v").segments[-1].analogsignals[0].magnitude[:, [0, 3, 7]].T.tolist()}
    sim.end()
    return result


def net_reset(sim) -> dict:
    """run, reset, run: the second segment is a fresh run from t=0 with the same network (pyNN.nest
    refuses reset() unless setup(t_flush=...) lets in-flight spikes drain)."""
    _setup(sim, t_flush=500.0)
    src = sim.Population(4, sim.SpikeSourceArray(spike_times=[[2.0, 9.0], [4.0], [6.0, 7.0], [12.0]]), label="src")
    post = sim.Population(4, sim.IF_curr_exp(), label="post")
    sim.Projection(src, post, sim.OneToOneConnector(), sim.StaticSynapse(weight=4.0, delay=1.0))
    post.record("spikes")
    sim.run(20.0)
    first = _spikes({"post": post}, 0)
    sim.reset()
    sim.run(20.0)
    result = {"first": first["post"], "second": _spikes({"post": post}, -1)["post"]}
    sim.end()
    return result


def net_random(sim) -> dict:
    """Poisson sources into IF_curr_exp through each random connector, RandomDistribution weights
    and delays: the synapses drawn differ between backends (and the Poisson generators), so only
    statistics are comparable: counts over many neurons and a long run."""
    _setup(sim, seed=3)
    rng = sim.NumpyRNG(seed=11)
    n = 200
    src = sim.Population(400, sim.SpikeSourcePoisson(rate=20.0), label="poisson",
                         structure=sim.space.Line(dx=5.0))
    kw = dict(tau_m=20.0, tau_refrac=2.0, v_thresh=-50.0)
    conns = {
        "fixed_prob": sim.FixedProbabilityConnector(0.05, rng=rng),
        "fixed_pre": sim.FixedNumberPreConnector(20, rng=rng),
        "fixed_post": sim.FixedNumberPostConnector(10, rng=rng),
        "fixed_total": sim.FixedTotalNumberConnector(4000, rng=rng),
        "distance": sim.DistanceDependentProbabilityConnector("d < 100", rng=rng),
    }
    pops = {"poisson": src}
    w = sim.RandomDistribution("uniform", (0.5, 0.7), rng=rng)
    d = sim.RandomDistribution("uniform", (0.5, 3.0), rng=rng)
    for label, conn in conns.items():
        pop = sim.Population(n, sim.IF_curr_exp(**kw), label=label,
                             structure=sim.space.Line(dx=10.0) if label == "distance" else None)
        pops[label] = pop
        sim.Projection(src, pop, conn, sim.StaticSynapse(weight=w, delay=d), label=label)
    for pop in pops.values():
        pop.record("spikes")
    sim.run(1000.0)
    result = {"counts": {k: len(v) for k, v in _spikes(pops).items()}}
    sim.end()
    return result


def net_stdp(sim) -> dict:
    """Pair STDP, additive weights, w_max = 1 so NEST's `stdp_synapse` (which scales A_plus/A_minus
    by w_max) and sPyNNaker's rule (absolute A) mean the same. Spike arrays make pre and post
    deterministic (each post neuron is driven by a strong static teacher; the plastic weights
    are too small to decide its spikes). One post neuron per plastic delay: 0.1 and 1 ms."""
    _setup(sim)
    pre_times = [[float(t) for t in range(10 + 3 * i, 400, 37 + i)] for i in range(8)]
    pre = sim.Population(8, sim.SpikeSourceArray(spike_times=pre_times), label="pre")
    teacher = sim.Population(1, sim.SpikeSourceArray(spike_times=[[float(t) for t in range(15, 400, 25)]]),
                             label="teacher")
    posts, projections = {}, {}
    for delay in STDP_DELAYS:
        post = posts[f"post_{delay}"] = sim.Population(1, sim.IF_curr_exp(tau_refrac=2.0), label=f"post_{delay}")
        sim.Projection(teacher, post, sim.OneToOneConnector(), sim.StaticSynapse(weight=8.0, delay=1.0))
        stdp = sim.STDPMechanism(timing_dependence=sim.SpikePairRule(tau_plus=20.0, tau_minus=20.0,
                                                                     A_plus=0.01, A_minus=0.012),
                                 weight_dependence=sim.AdditiveWeightDependence(w_min=0.0, w_max=1.0),
                                 weight=0.05, delay=delay, dendritic_delay_fraction=1.0)
        projections[delay] = sim.Projection(pre, post, sim.AllToAllConnector(), stdp, label=f"plastic_{delay}")
        post.record("spikes")
    sim.run(400.0)
    weights = {str(d): [float(w) for _, _, w in sorted(p.get("weight", format="list"))]
               for d, p in projections.items()}
    result = {"spikes": _spikes(posts), "weights": weights, "pre_times": pre_times}
    sim.end()
    return result


STDP_DELAYS = (0.1, 1.0)

NETWORKS = {name: fn for name, fn in globals().items() if name.startswith("net_")}


if __name__ == "__main__":
    import pyNN.nest as nest_sim

    print(json.dumps({name: NETWORKS[name](nest_sim) for name in sys.argv[2:]}))
