"""Turn a trained (pruned) HD-SNN layer and a test event stream into a spiking IR network.

Network (``dt_ms = 1``):

* ``events``: ``spike_array`` source, ``2 * H * W`` neurons (neuron ``p*H*W + row*W + col``,
  p = 0 ON, 1 OFF) replaying the test movies back to back (movie ``i`` occupies steps
  ``[i*T, (i+1)*T)``);
* ``motion``: ``lif_curr_exp``, ``36 * Py * Px`` neurons, **channel-major**: neuron
  ``c * (Py*Px) + py*Px + px`` is channel ``c`` (``label = direction*3 + speed``) at output
  position ``(py, px)``;
* ``events->motion:exc`` / ``events->motion:inh``: one synapse per non-zero kernel weight and
  output position, weight ``W * gain / p21`` nA and integer delay ``d`` (1..D) exactly as in the
  layer, split by sign onto the excitatory / inhibitory receptor. Several synapses may join the
  same pair of neurons (one per delay);
* the bias (``bias="synapse"``, default): a one-neuron ``spike_array`` ``bias`` that spikes every
  step, projecting to every output neuron with weight ``(b[c] - theta + margin) * gain / p21``
  and delay 1 (``bias->motion:inh`` and/or ``:exc`` by sign); all neurons share
  ``v_thresh = v_rest + gain * margin``. Spiking then means ``gain' * (z - theta + margin) >=
  gain * margin``, i.e. ``z >= theta`` in the float simulator (gain' = gain) and
  ``z >= theta - margin (1 - gain/gain')`` on a target whose voltage gain per nA differs:
  sPyNNaker scales inputs by ``(tau_syn/dt)(1 - exp(-dt/tau_syn))`` and integrates a constant
  current over the tick, ~1100x the float gain here. With the bias in per-neuron thresholds
  (``bias="threshold"``) that gain mismatch makes the SpiNNaker run fire at almost every step;
  with the bias as a synapse and ``margin = 0.001`` the compiled network decides like the
  analytic layer in the spinnaker and loihi2 simulator modes too (``on_board``).

LIF parameters make the neuron a memoryless threshold unit, so its spikes reproduce the analytic
layer's ``z >= theta`` step by step: with ``tau_syn = 0.05 ms`` an input current is gone within
the step (``exp(-20)``), with ``tau_m = 0.1 ms`` the membrane keeps ``exp(-10) = 4.5e-5`` of
the previous step, ``tau_refrac = 0`` and ``v_reset = v_rest``. Over one step an arrival of
``w`` nA moves V by ``w * p21`` mV (``p21`` = the float simulator's ``psc_propagator``; ``cm =
1e-4 nF`` makes p21 = 0.045 mV/nA so weights stay O(10) nA), hence weights ``W * gain / p21``
with ``gain`` mV per unit of z. With a slower membrane (e.g. ``tau_m = 0.25 ms``, 1.8 % memory)
about 1.5 % of output spikes differ and the pooled decision agreed on ~86 % of movies in a trial
(close races between neighbouring directions flip).

Readout: spikes of channel ``c`` summed over positions during movie ``i``'s readout steps
``[i*T + D, i*T + T]`` (those whose whole delay history lies in the movie), decision = argmax
(first on ties, -1 without spikes), exactly the analytic layer's pooled decision.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from neurocompile.ir.dynamics import psc_propagator
from neurocompile.errors import ModelError
from neurocompile.ir.network import Network
from neurocompile.models.motion.events import N_CLASSES, to_spike_times
from neurocompile.models.motion.hdsnn import HDSNNLayer, decide

LIF_DEFAULTS = {"tau_m": 0.1, "tau_syn": 0.05, "cm": 1e-4, "v_rest": -65.0, "gain_mV": 1.0,
                "margin": 0.001}


def synapse_table(layer: HDSNNLayer, h: int, w: int) -> dict[str, np.ndarray]:
    """Flat (pre, post, weight_z, delay) arrays of the layer on an h x w input (non-zero weights only)."""
    g = layer.geom
    if g.delay_mode == "summed":
        raise ModelError("the 'summed' baseline has no per-synapse delays to deploy")
    k, s = g.kernel, g.stride
    py, px = g.out_shape(h, w)
    n_pos = py * px
    c_i, d_i, p_i, r_i, q_i = np.nonzero(layer.weights)  # (C, nd, 2, K, K)
    vals = layer.weights[c_i, d_i, p_i, r_i, q_i].astype(np.float64)
    delays = g.delays[d_i]
    pos = np.arange(n_pos)
    pos_r, pos_c = (pos // px) * s, (pos % px) * s
    # Every non-zero weight is repeated at every output position.
    pre = ((p_i[:, None] * h + r_i[:, None] + pos_r[None, :]) * w + q_i[:, None] + pos_c[None, :])
    post = c_i[:, None] * n_pos + pos[None, :]
    return {"pre": pre.ravel(), "post": post.ravel(),
            "weight": np.repeat(vals, n_pos), "delay": np.repeat(delays, n_pos)}


def build_network(layer: HDSNNLayer, movies: np.ndarray, labels: np.ndarray | None = None,
                  name: str = "hdsnn_motion", seed: int = 0, tau_m: float = LIF_DEFAULTS["tau_m"],
                  tau_syn: float = LIF_DEFAULTS["tau_syn"], cm: float = LIF_DEFAULTS["cm"],
                  v_rest: float = LIF_DEFAULTS["v_rest"], gain_mV: float = LIF_DEFAULTS["gain_mV"],
                  bias: str = "synapse", margin: float = LIF_DEFAULTS["margin"],
                  record: bool = True) -> Network:
    """IR network replaying `movies` (N, T, 2, H, W) into the layer (see module docstring).

    `bias="synapse"` (default): a one-neuron source ``bias`` spikes every step and gives channel
    c the weight ``(b[c] - theta + margin) * gain / p21`` (delay 1); ``v_thresh = v_rest + gain *
    margin`` for every neuron, so spiking means ``z >= theta`` whatever the voltage gain of the
    target's arithmetic. `bias="threshold"`: per-neuron ``v_thresh = v_rest + gain*(theta - b[c])``.
    """
    n_movies, n_steps, _, h, w = movies.shape
    g = layer.geom
    if n_steps < g.history:
        raise ModelError(f"movies of {n_steps} steps are shorter than the delay history {g.history}")
    if bias not in ("synapse", "threshold"):
        raise ModelError(f"bias must be 'synapse' or 'threshold', got {bias!r}")
    py, px = g.out_shape(h, w)
    n_pos = py * px
    dt = 1.0
    p21 = float(psc_propagator(np.array([tau_m]), np.array([tau_syn]), np.array([cm]), dt)[0])
    offset = layer.theta - layer.bias.astype(np.float64)  # z >= theta  <=>  sum W E >= offset
    if bias == "threshold":
        thresholds = np.repeat(v_rest + gain_mV * offset, n_pos)
        if np.any(offset <= 0):
            bad = int(np.argmax(offset <= 0))
            raise ModelError(f"channel {bad}: bias {layer.bias[bad]:.3g} >= theta {layer.theta:.3g}; "
                             "the neuron would fire without input (use bias='synapse')")
    else:
        thresholds = v_rest + gain_mV * margin
    n_total = n_movies * n_steps + 1

    net = Network(name=name, dt_ms=dt, seed=seed)
    # Movie i's event frame t is emitted at step i*T + t.
    spikes = to_spike_times(movies.reshape(n_movies * n_steps, 2, h, w))
    net.add_spike_source("events", spikes)
    if bias == "synapse":
        net.add_spike_source("bias", [np.arange(n_total - 1)])  # arrives at steps 1..n_total-1
    net.add_population(
        "motion", N_CLASSES * n_pos, "lif_curr_exp",
        {"tau_m": tau_m, "cm": cm, "v_rest": v_rest, "v_reset": v_rest, "v_init": v_rest,
         "v_thresh": thresholds, "tau_refrac": 0.0,
         "tau_syn_E": tau_syn, "tau_syn_I": tau_syn, "i_offset": 0.0},
        record=("spikes",) if record else ())
    syn = synapse_table(layer, h, w)
    tables = [("events", syn["pre"], syn["post"], syn["weight"], syn["delay"])]
    if bias == "synapse":
        post = np.arange(N_CLASSES * n_pos)
        tables.append(("bias", np.zeros(post.size, np.int64), post,
                       np.repeat(margin - offset, n_pos), np.ones(post.size, np.int64)))
    for src, pre, post, w_z, delay in tables:
        weight_nA = w_z * gain_mV / p21
        for receptor, sel in (("excitatory", weight_nA > 0), ("inhibitory", weight_nA < 0)):
            if np.any(sel):
                net.add_projection(src, "motion", pre[sel], post[sel], weight_nA[sel], delay[sel],
                                   receptor=receptor, name=f"{src}->motion:{receptor[:3]}")
    net.metadata["motion"] = {
        "n_movies": int(n_movies), "steps_per_movie": int(n_steps), "input_shape": [2, int(h), int(w)],
        "n_channels": N_CLASSES, "positions": [int(py), int(px)], "neuron_order": "channel-major",
        "readout_first_step": int(g.history), "readout_last_step": int(n_steps),
        "labels": [int(v) for v in labels] if labels is not None else None,
        "kernel": int(g.kernel), "stride": int(g.stride), "max_delay": int(g.delays.max()),
        "theta": float(layer.theta), "gain_mV": float(gain_mV), "p21_mV_per_nA": p21,
        "bias": bias, "margin": float(margin),
        "weights_kept": int(layer.n_nonzero), "weights_total": int(layer.n_weights),
        "simulate_steps": int(n_total),
    }
    return net


def readout_counts(net: Network, spike_steps: np.ndarray, spike_ids: np.ndarray) -> np.ndarray:
    """Pooled spike counts (N movies, 36) of the motion population within each readout window."""
    meta = net.metadata["motion"]
    n_movies, n_steps = meta["n_movies"], meta["steps_per_movie"]
    n_pos = meta["positions"][0] * meta["positions"][1]
    first, last = meta["readout_first_step"], meta["readout_last_step"]
    movie, rel = np.divmod(spike_steps.astype(np.int64), n_steps)
    # Step i*T + T (rel == 0 of the next movie) is movie i's last readout step.
    at_end = (rel == 0) & (movie > 0)
    movie = np.where(at_end, movie - 1, movie)
    rel = np.where(at_end, n_steps, rel)
    keep = (rel >= first) & (rel <= last) & (movie < n_movies)
    counts = np.zeros((n_movies, N_CLASSES), dtype=np.int64)
    np.add.at(counts, (movie[keep], spike_ids[keep] // n_pos), 1)
    return counts


def simulate(net: Network, seed: int | None = None) -> dict[str, Any]:
    """Run the float simulator over every movie; counts, decisions and the SimResult."""
    from neurocompile.backends.sim import FloatMode, Simulation

    meta = net.metadata["motion"]
    res = Simulation(net, FloatMode(), seed).run(meta["simulate_steps"])
    steps, ids = res.spikes["motion"]
    counts = readout_counts(net, steps, ids)
    return {"counts": counts, "decisions": decide(counts), "result": res}


def on_board(net: Network, board_name: str, seed: int = 0) -> dict[str, Any]:
    """Compile `net` for a bundled board and run it in the simulator mode of the board's arithmetic.

    Returns the pooled counts and decisions (as :func:`simulate`), the number format, and the
    compiler's warnings count; the decisions can be compared with the analytic layer's.
    """
    import warnings

    from neurocompile.backends.sim import Simulation, mode_for
    from neurocompile.boards.registry import load_board
    from neurocompile.compiler import compile_network

    board = load_board(board_name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        compiled = compile_network(net, board, seed=seed, target=net.name).network
        res = Simulation(compiled, mode_for(compiled, board, None), seed).run(
            compiled.metadata["motion"]["simulate_steps"])
    steps, ids = res.spikes["motion"]
    counts = readout_counts(compiled, steps, ids)
    return {"counts": counts, "decisions": decide(counts), "number_format": compiled.number_format,
            "mode": res.mode, "warnings": len(caught), "output_spikes": int(steps.size)}


def analytic_counts(layer: HDSNNLayer, movies: np.ndarray) -> np.ndarray:
    return np.stack([layer.spike_counts(m) for m in movies])
