"""Lower the float CA3 network to Loihi 2 fixed point (loihi2_lif, integer weights, integer STDP).

Three steps:

1. ``neurocompile.passes.quantize_loihi.quantize_loihi`` lowers every population and static
   projection (voltage scale per population, 8-bit weight mantissas with a per-projection
   weight_exp; see that module). It refuses plastic projections and refractory periods, so:
2. the two STDP projections are quantized as if every synapse were at w_max (so that weight_exp
   is chosen for the range learning can reach), then get back their initial weights and an
   `STDPRule` in mantissa units (w_max -> its mantissa m_max; a_plus, a_minus, w_min scaled by
   m_max / w_max). The loihi2 mode runs it with `backends/sim/loihi2_stdp.py`.
3. Lava's fixed-point LIF has no refractory period, and the model needs one step of it (tau_refrac
   = 1 ms at dt = 1 ms). We accept dropping it in quantize_loihi (`loihi_accept={"tau_refrac"}`)
   and emulate it with three integer self-projections per neuron (``<pop>-refractory-d{1,2,3}``):
   after a spike at s (v is reset to 0, u is not), -W1 arrives at s+1 with W1 >= the largest u
   any input can produce, so v(s+1) = u(s+1) <= 0 and the neuron cannot fire; +W2 at s+2 and -W3
   at s+3 with W2 = W1 (keep_v + keep_u)/4096 and W3 = W1 keep_v keep_u / 4096**2 (keep_u =
   4096 - (du + 1), keep_v = 4096 - dv, Lava's decay factors) take W1's trace out of v and u again
   (up to Lava's truncations: a few state units, against thresholds of ~10**5 to 10**6). Each W
   is represented exactly as a sum of 8-bit mantissas at weight_exp 7 plus one at weight_exp 0.
   What differs from a true refractory step: the input that arrives at s+1 is not thrown away
   from v; it decays into it, so v is high by keep_v**(k-1) u_in(s+1) at s+k until the next spike.
   In float mode with ``network.add_synaptic_refractory`` the same construction reproduces the
   true-refractory rasters of every published protocol spike for spike; tests check the loihi2
   rasters against the float ones.
   To leave u room for -W1 without wrapping (Lava wraps u at +-2**23), the voltage scale of each
   such population is lowered (quantize_loihi's ``voltage_scale`` option) until
   (U_exc + U_inh) * 4096/(du+1) * S <= 0.95 * (2**23 - 1), U the largest one-step excitatory /
   inhibitory input in mV.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from neurocompile.backends.sim.float_mode import psc_propagator
from neurocompile.ir.network import Network, STDPRule

LAVA_DECAY_UNITY = 4096
U_LIMIT = 2 ** 23 - 1
HIGH_EXP = 7          # weight_exp of the coarse part of a refractory weight (board max)
MAX_MANT = 255        # Lava's 8-bit excitatory/inhibitory mantissa


def _one_step_input_mv(net: Network, pop: str) -> tuple[float, float]:
    """Largest one-step excitatory and inhibitory input (mV) of any neuron of a lif_curr_exp pop."""
    p = net.populations[pop]
    p21 = psc_propagator(p.param("tau_m"), p.param("tau_syn_E"), p.param("cm"), net.dt_ms)
    exc, inh = np.zeros(p.size), np.zeros(p.size)
    for pr in net.projections_into(pop):
        w = np.full(pr.n_synapses, pr.plasticity.w_max) if pr.plasticity else np.abs(pr.weight)
        np.add.at(inh if pr.receptor == "inhibitory" else exc, pr.post_idx, w * p21[pr.post_idx])
    return float(exc.max(initial=0.0)), float(inh.max(initial=0.0))


def _split(total: int, n_neurons: int) -> list[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
    """`total` input units per neuron as (weight_exp, pre, post, mantissas) projections (exact)."""
    out = []
    high, low = divmod(int(total), 1 << HIGH_EXP)
    for exp, amount in ((HIGH_EXP, high), (0, low)):
        if amount == 0:
            continue
        n_syn = math.ceil(amount / MAX_MANT)
        mants = np.full(n_syn, MAX_MANT, dtype=np.int64)
        mants[-1] = amount - MAX_MANT * (n_syn - 1)
        idx = np.repeat(np.arange(n_neurons), n_syn)
        out.append((exp, idx, idx, np.tile(mants, n_neurons)))
    return out


def add_refractory_emulation(q: Network, pop: str, exc_bound_state: float) -> dict[str, Any]:
    """Add the three self-projections emulating a 1-step refractory period to loihi2_lif `pop`."""
    p = q.populations[pop]
    du, dv = int(np.max(p.param("du"))), int(np.max(p.param("dv")))
    if np.any(p.param("du") != du) or np.any(p.param("dv") != dv):
        raise ValueError(f"population {pop!r}: refractory emulation needs uniform du and dv")
    keep_u, keep_v = LAVA_DECAY_UNITY - (du + 1), LAVA_DECAY_UNITY - dv
    gain = LAVA_DECAY_UNITY / (du + 1)
    step = 64 << HIGH_EXP
    w1_state = int(math.ceil(exc_bound_state * gain / step)) * step      # >= any u(s+1)
    w1 = w1_state // 64
    w2 = int(round(w1_state * (keep_v + keep_u) / LAVA_DECAY_UNITY / 64))
    w3 = int(round(w1_state * keep_v * keep_u / LAVA_DECAY_UNITY ** 2 / 64))
    for tag, delay, sign, total in (("d1", 1, -1, w1), ("d2", 2, +1, w2), ("d3", 3, -1, w3)):
        for exp, pre, post, mants in _split(total, p.size):
            name = f"{pop}-refractory-{tag}" + ("" if exp == HIGH_EXP else "-fine")
            q.add_projection(pop, pop, pre, post, sign * mants.astype(np.float64), delay,
                             receptor="input", name=name,
                             attrs={"weight_exp": exp, "num_weight_bits": 8})
    return {"W1_input_units": w1, "W2_input_units": w2, "W3_input_units": w3,
            "exc_bound_state_units": exc_bound_state, "keep_u": keep_u, "keep_v": keep_v}


def lower_to_loihi2(net: Network, board: Any = "loihi2-oheo-gulch", headroom: float = 0.95,
                    info: dict[str, Any] | None = None) -> Network:
    """The CA3 float network as a loihi2 network (loihi2_lif, integer weights and STDP).

    `info`, if given, receives quantize_loihi's diagnostics and artefacts and the refractory
    emulation's weights, per population.
    """
    from neurocompile.boards import load_board
    from neurocompile.passes.delays import clone_network
    from neurocompile.passes.pipeline import CompileContext
    from neurocompile.passes.quantize_loihi import quantize_loihi

    board = load_board(board) if isinstance(board, str) else board
    stage = clone_network(net)
    plastic: dict[str, tuple[STDPRule, np.ndarray]] = {}
    for name, pr in stage.projections.items():
        if pr.plasticity is not None:
            plastic[name] = (pr.plasticity, pr.weight.copy())
            sign = -1.0 if pr.receptor == "inhibitory" else 1.0
            pr.weight[:] = sign * pr.plasticity.w_max
            pr.plasticity = None
    refractory = []
    for pop in stage.populations.values():
        if pop.model != "lif_curr_exp":
            continue
        steps = np.round(pop.param("tau_refrac") / stage.dt_ms)
        if np.any(steps > 1) or (np.any(steps == 1) and not np.all(steps == 1)):
            raise ValueError(f"population {pop.name!r}: only a uniform refractory period of 0 or 1 "
                             f"step can be emulated on Loihi 2")
        if np.all(steps == 1):
            refractory.append(pop.name)
    options: dict[str, Any] = {"loihi_accept": {"tau_refrac"}}
    ctx = CompileContext(board=board, options=options)
    q = quantize_loihi(stage, ctx)
    # Room in u for the refractory self-inhibition: lower S where needed, then quantize again.
    overrides = {}
    for name in refractory:
        exc, inh = _one_step_input_mv(net, name)
        du = int(np.max(q.populations[name].param("du")))
        room = headroom * U_LIMIT / ((exc + inh) * LAVA_DECAY_UNITY / (du + 1))
        s_auto = ctx.artefacts["quantization_populations"][name]["voltage_scale"]
        if s_auto > room:
            overrides[name] = room
    if overrides:
        ctx = CompileContext(board=board, options={**options, "voltage_scale": overrides})
        q = quantize_loihi(stage, ctx)
    # STDP back, in mantissa units.
    for name, (rule, w0) in plastic.items():
        qp = q.projections[name]
        m_max = float(np.max(np.abs(qp.weight)))
        if not np.all(np.abs(qp.weight) == m_max) or m_max <= 0:
            raise ValueError(f"projection {name!r}: w_max did not quantize to one mantissa")
        scale = m_max / rule.w_max
        qp.weight = np.round(w0 * scale)
        qp.plasticity = STDPRule(rule.tau_plus, rule.tau_minus, rule.a_plus * scale,
                                 rule.a_minus * scale, float(round(rule.w_min * scale)), m_max)
    emulation = {}
    for name in refractory:
        pops = q.populations[name]
        bound = np.zeros(pops.size)
        for pr in q.projections_into(name):
            m = np.full(pr.n_synapses, pr.plasticity.w_max) if pr.plasticity else pr.weight
            contrib = np.where(m > 0, m, 0.0) * 2.0 ** int(pr.attrs.get("weight_exp", 0)) * 64
            np.add.at(bound, pr.post_idx, contrib)
        emulation[name] = add_refractory_emulation(q, name, float(bound.max(initial=0.0)))
    q.metadata["ca3_loihi2"] = {"board": board.name, "voltage_scale_overrides": overrides,
                                "refractory_emulation": emulation}
    if info is not None:
        info.update({"diagnostics": ctx.diagnostics, "artefacts": ctx.artefacts,
                     "voltage_scale_overrides": overrides, "refractory_emulation": emulation})
    return q


__all__ = ["add_refractory_emulation", "lower_to_loihi2"]
