"""Potjans & Diesmann (2014) cortical microcircuit, in PyNN 0.13: one script for every simulator.

    python microcircuit.py simulator=nest scale=0.1 t_sim=1000          # NEST 3 via pyNN.nest
    python microcircuit.py simulator=spiNNaker scale=0.1                # sPyNNaker
    python microcircuit.py simulator=neurocompile board=spinn-5         # neurocompile.pynn
    neurocompile compile microcircuit.py --board spinn-5 --param scale=0.1

Written by us from the paper's tables as the NEST example `Potjans_2014` holds them (network_params.py
and helpers.py of NEST's examples: population sizes, connection probabilities, K_ext, PSP 0.15 mV
-> PSC 87.8 pA, g = -4, L4E->L2/3E doubled, delays 1.5/0.75 ms with 50 % sd, tau_syn 0.5 ms, V0 ~
N(-58, 10) mV). Synapse numbers follow NEST's `num_synapses_from_conn_probs` (total numbers with
multapses and autapses: FixedTotalNumberConnector with replacement). `scale` scales the neurons and
`k_scale` (default: `scale`) the in-degrees; with k_scale < 1 the weights grow by 1/sqrt(k_scale)
and a DC current keeps each neuron's mean input (NEST's adjust_weights_and_input_to_synapse_scaling,
using the full-scale rates). Background: `background=dc` (default: K_ext x 8 Hz as a constant
current) or `background=poisson` (one Poisson source per neuron at K_ext x k_scale x 8 Hz, as NEST's
example scales the external in-degrees).
Arguments are KEY=VALUE; the script prints each population's mean rate (Hz) after the run.
"""
import importlib
import sys

import numpy as np

ARGS = dict(a.split("=", 1) for a in sys.argv[1:] if "=" in a)
SIMULATORS = {"nest": "pyNN.nest", "spiNNaker": "pyNN.spiNNaker", "neurocompile": "neurocompile.pynn",
              "mock": "pyNN.mock"}
sim = importlib.import_module(SIMULATORS[ARGS.get("simulator", "nest")])
# sPyNNaker refuses a Python rng in RandomDistributions and connectors it generates on the machine;
# it seeds from the Population (`seed=`) instead (its utility_calls.check_rng).
ON_SPINNAKER = "spiNNaker" in sim.__name__ or "spynnaker" in sim.__name__

SCALE = float(ARGS.get("scale", 0.1))
K_SCALE = float(ARGS.get("k_scale", SCALE))
BACKGROUND = ARGS.get("background", "dc")
T_SIM = float(ARGS.get("t_sim", 1000.0))
SEED = int(ARGS.get("seed", 55))
DT = 0.1

POPULATIONS = ["L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I"]
N_FULL = np.array([20683, 5834, 21915, 5479, 4850, 1065, 14395, 2948])
# Full-scale rates (Hz) of NEST's example, used for the in-degree scaling's DC compensation.
FULL_MEAN_RATES = np.array([0.971, 2.868, 4.746, 5.396, 8.142, 9.078, 0.991, 7.523])
CONN_PROBS = np.array([  # [target, source]
    [0.1009, 0.1689, 0.0437, 0.0818, 0.0323, 0., 0.0076, 0.],
    [0.1346, 0.1371, 0.0316, 0.0515, 0.0755, 0., 0.0042, 0.],
    [0.0077, 0.0059, 0.0497, 0.135, 0.0067, 0.0003, 0.0453, 0.],
    [0.0691, 0.0029, 0.0794, 0.1597, 0.0033, 0., 0.1057, 0.],
    [0.1004, 0.0622, 0.0505, 0.0057, 0.0831, 0.3726, 0.0204, 0.],
    [0.0548, 0.0269, 0.0257, 0.0022, 0.06, 0.3158, 0.0086, 0.],
    [0.0156, 0.0066, 0.0211, 0.0166, 0.0572, 0.0197, 0.0396, 0.2252],
    [0.0364, 0.001, 0.0034, 0.0005, 0.0277, 0.008, 0.0658, 0.1443]])
K_EXT = np.array([1600, 1500, 2100, 1900, 2000, 1900, 2900, 2100])
BG_RATE = 8.0           # Hz per external synapse
PSP_E, PSP_SD, G = 0.15, 0.1, -4.0
DELAY_E, DELAY_I, DELAY_SD = 1.5, 0.75, 0.5
NEURON = dict(cm=0.25, tau_m=10.0, v_rest=-65.0, v_thresh=-50.0, v_reset=-65.0, tau_refrac=2.0,
              tau_syn_E=0.5, tau_syn_I=0.5)
V0_MEAN, V0_SD = -58.0, 10.0


def psc_over_psp(c_m_pf, tau_m, tau_syn):
    """pA per mV of PSP peak for an exponential current synapse (NEST's helpers.py)."""
    sub = 1.0 / (tau_syn - tau_m)
    pre = tau_m * tau_syn / c_m_pf * sub
    frac = (tau_m / tau_syn) ** sub
    return 1.0 / (pre * (frac ** tau_m - frac ** tau_syn))


def network_tables():
    """Neurons, synapse numbers, mean weights (pA), external weight (pA) and DC (pA) per population."""
    n = np.round(N_FULL * SCALE).astype(int)
    prod = np.outer(N_FULL, N_FULL)
    full_synapses = np.log(1.0 - CONN_PROBS) / np.log((prod - 1.0) / prod)
    synapses = np.round(full_synapses * SCALE * K_SCALE).astype(int)
    psc = PSP_E * psc_over_psp(NEURON["cm"] * 1000.0, NEURON["tau_m"], NEURON["tau_syn_E"])
    w = np.tile([psc, G * psc], (8, 4))
    w[0, 2] = 2.0 * psc  # L4E -> L2/3E doubled
    w_ext, dc = psc, np.zeros(8)
    if BACKGROUND == "dc":
        dc = dc + BG_RATE * K_EXT * w_ext * NEURON["tau_syn_E"] * 0.001
    if K_SCALE < 1.0:
        indegree = full_synapses / N_FULL[:, None]
        input_rec = np.sum(w * indegree * FULL_MEAN_RATES, axis=1)
        dc = dc + 0.001 * NEURON["tau_syn_E"] * (1.0 - np.sqrt(K_SCALE)) * input_rec
        if BACKGROUND == "poisson":
            dc = dc + 0.001 * NEURON["tau_syn_E"] * (1.0 - np.sqrt(K_SCALE)) * w_ext * K_EXT * BG_RATE
        w, w_ext = w / np.sqrt(K_SCALE), w_ext / np.sqrt(K_SCALE)
    return n, synapses, w, w_ext, dc


def build():
    sim.setup(timestep=DT, min_delay=DT, **({"seed": SEED} if "neurocompile" in sim.__name__ else {}))
    n, synapses, w, w_ext, dc = network_tables()
    rng = {} if ON_SPINNAKER else {"rng": sim.NumpyRNG(seed=SEED)}
    pops = []
    for i, name in enumerate(POPULATIONS):
        seeded = {"seed": SEED + i} if ON_SPINNAKER else {}
        pop = sim.Population(int(n[i]), sim.IF_curr_exp(i_offset=dc[i] / 1000.0, **NEURON), label=name,
                             **seeded)
        pop.initialize(v=sim.RandomDistribution("normal", (V0_MEAN, V0_SD), **rng))
        pop.record("spikes")
        pops.append(pop)
    for t, target in enumerate(pops):
        for s, source in enumerate(pops):
            if synapses[t, s] <= 0:
                continue
            excitatory = s % 2 == 0
            mean_w = w[t, s] / 1000.0  # nA
            sd_w = abs(mean_w) * PSP_SD
            weight = sim.RandomDistribution("normal_clipped", mu=mean_w, sigma=sd_w,
                                            low=0.0 if excitatory else -np.inf,
                                            high=np.inf if excitatory else 0.0, **rng)
            d = DELAY_E if excitatory else DELAY_I
            delay = sim.RandomDistribution("normal_clipped", mu=d, sigma=d * DELAY_SD, low=DT, high=np.inf,
                                           **rng)
            sim.Projection(source, target, sim.FixedTotalNumberConnector(int(synapses[t, s]), **rng),
                           sim.StaticSynapse(weight=weight, delay=delay),
                           receptor_type="excitatory" if excitatory else "inhibitory",
                           label=f"{source.label}->{target.label}")
    if BACKGROUND == "poisson":
        for i, pop in enumerate(pops):
            k_ext = round(K_EXT[i] * K_SCALE)  # NEST's ext_indegrees: external in-degrees scale too
            noise = sim.Population(pop.size, sim.SpikeSourcePoisson(rate=BG_RATE * k_ext),
                                   label=f"{pop.label}_bg")
            sim.Projection(noise, pop, sim.OneToOneConnector(),
                           sim.StaticSynapse(weight=w_ext / 1000.0, delay=1.5), receptor_type="excitatory")
    return pops


if __name__ == "__main__":
    import resource
    import time

    t0 = time.perf_counter()
    populations = build()
    t1 = time.perf_counter()
    sim.run(T_SIM)
    t2 = time.perf_counter()
    print(f"build {t1 - t0:.1f} s, run {t2 - t1:.1f} s ({(t2 - t1) / (T_SIM / 1000.0):.1f} s per simulated s), "
          f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    for pop in populations:
        try:
            trains = pop.get_data("spikes").segments[0].spiketrains
        except Exception as e:  # sPyNNaker on a virtual board maps but records nothing
            print(f"{pop.label} {pop.size} neurons: no spikes to read ({type(e).__name__})")
            continue
        rate = sum(len(st) for st in trains) / pop.size / (T_SIM / 1000.0)
        print(f"{pop.label} {pop.size} neurons {rate:.3f} Hz")
    if ON_SPINNAKER:
        print("(sPyNNaker on a virtual board maps the network and records nothing: rates read 0)")
    sim.end()
