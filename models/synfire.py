"""Synfire chain: groups of excitatory neurons, each driving the next; the last loops to the first.

A pulse of synchronous spikes injected into group 0 travels along the chain and keeps circulating,
so a short simulation shows a clear diagonal raster. Small, fully deterministic for a seed, and
exercises sparse random connectivity, heterogeneous delays and inhibition: a good first example.
"""
from __future__ import annotations

import numpy as np

from neurocompile.ir.network import Network


def build(n_groups: int = 10, group_size: int = 100, fan_in: int = 60, weight_nA: float = 0.3,
          delay_min: int = 4, delay_max: int = 6, inhibition: bool = True, seed: int = 42) -> Network:
    """Synfire chain ring (n_groups x group_size LIF neurons) kicked by a spike pulse."""
    if n_groups < 2 or group_size < 1 or not 0 < fan_in <= group_size:
        raise ValueError("need n_groups >= 2, group_size >= 1 and 0 < fan_in <= group_size")
    if not 1 <= delay_min <= delay_max:
        raise ValueError("need 1 <= delay_min <= delay_max")
    n_neurons = n_groups * group_size
    # feed-forward, plus with inhibition: one synapse per neuron to the group's inhibitory cells and
    # (group_size // 4) x group_size back per group
    n_synapses = n_neurons * fan_in + (n_neurons + n_groups * max(1, group_size // 4) * group_size
                                       if inhibition else 0)
    if n_neurons > 10_000_000 or n_synapses > 500_000_000:
        raise ValueError(f"n_groups={n_groups}, group_size={group_size}, fan_in={fan_in} make {n_neurons:,} "
                         f"neurons and {n_synapses:,} synapses; this builder makes at most 10,000,000 "
                         f"neurons and 500,000,000 synapses")
    rng = np.random.default_rng(seed)
    net = Network(name="synfire", dt_ms=1.0, seed=seed)
    n = n_groups * group_size
    net.add_population("chain", n, "lif_curr_exp",
                       {"tau_m": 10.0, "tau_syn_E": 2.0, "tau_syn_I": 2.0, "tau_refrac": 0.0,
                        "v_rest": -65.0, "v_reset": -65.0, "v_thresh": -55.0, "v_init": -65.0},
                       record=("spikes",))
    net.add_spike_source("stimulus", [[5] for _ in range(group_size)])
    net.add_projection("stimulus", "chain", np.arange(group_size), np.arange(group_size), 12.0, 1,
                       receptor="excitatory", name="kick")
    pre, post = [], []
    for g in range(n_groups):
        nxt = (g + 1) % n_groups
        for j in range(group_size):
            pre.append(g * group_size + rng.choice(group_size, fan_in, replace=False))
            post.append(np.full(fan_in, nxt * group_size + j))
    pre_a, post_a = np.concatenate(pre), np.concatenate(post)
    delays = rng.integers(delay_min, delay_max + 1, size=pre_a.size)
    weights = weight_nA * rng.uniform(0.8, 1.2, size=pre_a.size)
    net.add_projection("chain", "chain", pre_a, post_a, weights, delays, receptor="excitatory",
                       name="feedforward")
    if inhibition:
        # Each group briefly inhibits itself after firing: keeps the packet from smearing out.
        n_inh = max(1, group_size // 4)
        net.add_population("inhibitory", n_groups * n_inh, "lif_curr_exp",
                           {"tau_m": 10.0, "tau_syn_E": 2.0, "tau_syn_I": 2.0, "tau_refrac": 0.0, "v_thresh": -55.0})
        g_of = np.repeat(np.arange(n_groups), group_size)
        src = np.arange(n)
        tgt = g_of * n_inh + rng.integers(0, n_inh, size=n)
        net.add_projection("chain", "inhibitory", src, tgt, 3.0, 1, receptor="excitatory", name="to_inh")
        inh_pre = np.repeat(np.arange(n_groups * n_inh), group_size)
        inh_post = (inh_pre // n_inh) * group_size + np.tile(np.arange(group_size), n_groups * n_inh)
        net.add_projection("inhibitory", "chain", inh_pre, inh_post, -1.0, 1, receptor="inhibitory",
                           name="feedback_inh")
    return net
