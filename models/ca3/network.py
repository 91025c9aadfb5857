"""The CA3 content-addressable memory of Casanueva-Morato et al. in neurocompile's IR.

Source of the architecture and of every number below: the authors' public sPyNNaker code,
``dancasmor/sPyMem`` ``sPyMem/CA3_content_addressable/CA3_content_addressable.py`` (populations,
connectors, which weights scale with the content size) and ``.../config/network_config.json``
(neuron and synapse parameters), identical to the paper's repository
``dancasmor/An-aproach-to-a-spike-based-Content-Addressable-Memory-bio-inspired-in-the-Hippocampus``
(``test_CA3_content_addressable.py`` adds the output layer's parameters). Paper: D. Casanueva-Morato,
A. Ayuso-Martinez, J. P. Dominguez-Morales, A. Jimenez-Fernandez, G. Jimenez-Moreno, "Bio-inspired
computational memory model of the Hippocampus: an approach to a neuromorphic spike-based
Content-Addressable Memory", Neural Networks 2024, 106474 (arXiv 2023). This file re-expresses
those facts in our IR; no code is copied (the originals are GPL).

Populations (C cues, one-hot; N content bits)::

    input (C+N spike source: cue part first, as the paper's ILayer)
    CueCue(C)   ContCue(N)    the "CueRecall" halves: driven by the input
    CueCont(C)  ContCont(N)   the "ContRecall" halves: driven through the learnt synapses
    ContCond(N) ContCondInt(1) gate: ContCont may fire only when no cue is presented
    MergeCue(C) MergeCont(N)  OR of both halves
    output(C+N)               the paper's OLayer (cue part first)

Learning is one-shot pair STDP on CueCue->ContCue (cue -> content) and ContCont->CueCont
(content -> cue): A+ = A- = w_max = 6 nA, tau 3 ms, initial weight 0. A re-learnt cue forgets its
old content because the old bits are depressed at the pairing (see docs/models/ca3.md).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from neurocompile.ir.network import Network, STDPRule
from neurocompile.targets.loihi2.refractory import kick_profile_from_keeps

# ------------------------------------------------------------------------------------------------
# Parameters (network_config.json of sPyMem's CA3_content_addressable, and the paper's test script)
# ------------------------------------------------------------------------------------------------
#: IF_curr_exp parameters shared by every population (network_config.json "neuronParameters").
_COMMON = {"i_offset": 0.0, "tau_refrac": 1.0, "tau_syn_E": 0.3, "tau_syn_I": 0.3,
           "v_reset": -60.0, "v_rest": -60.0, "v_thresh": -57.0, "v_init": -60.0}
#: "slow" populations: cm 0.27 nF, tau_m 3 ms; "fast" ones (gates, CueCont): cm 0.14 nF, tau_m 0.5 ms.
_SLOW = {**_COMMON, "cm": 0.27, "tau_m": 3.0}
_FAST = {**_COMMON, "cm": 0.14, "tau_m": 0.5}

#: population -> (size symbol, IF_curr_exp parameters). Sizes: "C" cues, "N" content bits.
POPULATIONS: dict[str, tuple[str, dict[str, float]]] = {
    "CueCue": ("C", _SLOW),        # CA3cueCueRecallL
    "ContCue": ("N", _SLOW),       # CA3contCueRecallL
    "CueCont": ("C", _FAST),       # CA3cueContRecallL
    "ContCont": ("N", _SLOW),      # CA3contContRecallL
    "ContCond": ("N", _FAST),      # CA3contCondL
    "ContCondInt": ("1", _FAST),   # CA3contCondIntL
    "MergeCue": ("C", _SLOW),      # CA3mergeCueL
    "MergeCont": ("N", _SLOW),     # CA3mergeContL
    # OLayer of test_CA3_content_addressable.py: as _SLOW but v_thresh -57.5 mV.
    "output": ("C+N", {**_SLOW, "v_thresh": -57.5}),
}

#: STDP of both learnt projections (network_config.json): SpikePairRule(tau_plus=3, tau_minus=3,
#: A_plus=6, A_minus=6) + AdditiveWeightDependence(w_min=0, w_max=6), initial weight 0, delay 1.
#: sPyNNaker does not scale A by w_max (docs/plasticity.md), so one pairing saturates.
STDP = STDPRule(tau_plus=3.0, tau_minus=3.0, a_plus=6.0, a_minus=6.0, w_min=0.0, w_max=6.0)


@dataclass(frozen=True)
class SynapseSpec:
    """One projection of the model: connector, weight (nA, magnitude), delay (steps), receptor."""

    name: str          # the key in network_config.json "synParameters"
    pre: str           # population (or "input:cue" / "input:cont" slices)
    post: str          # population (or "output:cue" / "output:cont" slices)
    connector: str     # one_to_one | all_to_all | all_to_all_no_self
    weight: float      # magnitude in nA (x N where scale_by_n)
    delay: int
    receptor: str      # excitatory | inhibitory
    plastic: bool = False
    scale_by_n: bool = False   # CA3_content_addressable.py multiplies these by contSize


SYNAPSES: tuple[SynapseSpec, ...] = (
    SynapseSpec("IL-CA3cueCueRecallL", "input:cue", "CueCue", "one_to_one", 6.0, 1, "excitatory"),
    SynapseSpec("IL-CA3contCueRecallL", "input:cont", "ContCue", "one_to_one", 6.0, 1, "excitatory"),
    SynapseSpec("CA3cueCueRecallL-CA3cueContRecallL", "CueCue", "CueCont", "one_to_one", 6.0, 2,
                "excitatory"),
    SynapseSpec("CA3cueCueRecallL-CA3cueContRecallL-inh", "CueCue", "CueCont", "all_to_all_no_self",
                6.0, 3, "inhibitory", scale_by_n=True),
    SynapseSpec("CA3cueCueRecallL-CA3contCondL", "CueCue", "ContCond", "all_to_all", 6.0, 2,
                "inhibitory"),
    SynapseSpec("CA3contCueRecallL-CA3contCondL", "ContCue", "ContCond", "one_to_one", 9.0, 1,
                "excitatory"),
    SynapseSpec("CA3contCondL-CA3contContRecallL", "ContCond", "ContCont", "one_to_one", 6.0, 1,
                "excitatory"),
    SynapseSpec("CA3contCueRecallL-CA3contCondIntL", "ContCue", "ContCondInt", "all_to_all", 6.0, 1,
                "excitatory"),
    SynapseSpec("CA3contCondIntL-CA3contCondL", "ContCondInt", "ContCond", "all_to_all", 2.0, 1,
                "excitatory"),
    SynapseSpec("CA3cueCueRecallL-CA3contCueRecallL", "CueCue", "ContCue", "all_to_all", 0.0, 1,
                "excitatory", plastic=True),
    SynapseSpec("CA3contContRecallL-CA3cueContRecallL", "ContCont", "CueCont", "all_to_all", 0.0, 1,
                "excitatory", plastic=True),
    SynapseSpec("CA3cueContRecallL-CA3cueContRecallL", "CueCont", "CueCont", "all_to_all_no_self",
                6.0, 2, "inhibitory", scale_by_n=True),
    SynapseSpec("CA3cueCueRecallL-CA3mergeCueL", "CueCue", "MergeCue", "one_to_one", 6.0, 3,
                "excitatory"),
    SynapseSpec("CA3cueContRecallL-CA3mergeCueL", "CueCont", "MergeCue", "one_to_one", 6.0, 1,
                "excitatory"),
    SynapseSpec("CA3contCueRecallL-CA3mergeContL", "ContCue", "MergeCont", "one_to_one", 6.0, 3,
                "excitatory"),
    SynapseSpec("CA3contContRecallL-CA3mergeContL", "ContCont", "MergeCont", "one_to_one", 6.0, 1,
                "excitatory"),
    SynapseSpec("CA3mergeCueL-OL", "MergeCue", "output:cue", "one_to_one", 6.0, 1, "excitatory"),
    SynapseSpec("CA3mergeContL-OL", "MergeCont", "output:cont", "one_to_one", 6.0, 1, "excitatory"),
)

#: The two learnt projections, by their IR names.
PLASTIC_PROJECTIONS = ("CA3cueCueRecallL-CA3contCueRecallL", "CA3contContRecallL-CA3cueContRecallL")


def spinnaker_weight_factor(params: dict[str, float], dt_ms: float = 1.0) -> float:
    """Factor that turns an sPyNNaker IF_curr_exp weight (nA) into the float mode's weight (nA).

    sPyNNaker 7.4.1 (docs/spinnaker-arithmetic.md §4) adds ``w * init`` to the synaptic current,
    ``init = (tau_s/dt)(1 - exp(-dt/tau_s))``, then holds that current constant over the step:
    ``V' = V p22 + I R (1 - p22)``, then decays I by ``exp(-dt/tau_s)``. Our float mode integrates
    exactly: ``V' = V p22 + I p21`` with the same current decay. Both are the same linear
    recurrence with per-nA gains ``g_spinn = init R (1 - p22)`` and ``p21``; so a weight
    ``w * g_spinn / p21`` in the float mode moves V at every step exactly as ``w`` does on
    SpiNNaker (in real arithmetic; SpiNNaker's s16.15 rounding aside). With tau_syn = 0.3 ms and
    dt = 1 ms the factors are 1.084 (tau_m 3 ms, cm 0.27 nF) and 1.673 (tau_m 0.5 ms, cm 0.14 nF).
    """
    from neurocompile.ir.dynamics import psc_propagator

    tau_m, cm, tau_s = float(params["tau_m"]), float(params["cm"]), float(params["tau_syn_E"])
    if float(params["tau_syn_I"]) != tau_s:
        raise ValueError("spinnaker_weight_factor needs tau_syn_E == tau_syn_I")
    init = tau_s / dt_ms * (1.0 - np.exp(-dt_ms / tau_s))
    g_spinn = init * tau_m / cm * (1.0 - np.exp(-dt_ms / tau_m))
    p21 = float(psc_propagator(np.array([tau_m]), np.array([tau_s]), np.array([cm]), dt_ms)[0])
    return float(g_spinn / p21)


def _size(symbol: str, c: int, n: int) -> int:
    return {"C": c, "N": n, "1": 1, "C+N": c + n}[symbol]


def _connect(connector: str, n_pre: int, n_post: int) -> tuple[np.ndarray, np.ndarray]:
    if connector == "one_to_one":
        if n_pre != n_post:
            raise ValueError(f"one_to_one needs equal sizes, got {n_pre} and {n_post}")
        idx = np.arange(n_pre)
        return idx, idx
    pre, post = np.meshgrid(np.arange(n_pre), np.arange(n_post), indexing="ij")
    pre, post = pre.ravel(), post.ravel()
    if connector == "all_to_all_no_self":
        keep = pre != post
        pre, post = pre[keep], post[keep]
    elif connector != "all_to_all":
        raise ValueError(f"unknown connector {connector!r}")
    return pre, post


def build_ca3(n_cues: int, n_content: int, seed: int = 0,
              stimulus: Sequence[Sequence[int]] | None = None,
              record: Sequence[str] | str = "all", name: str = "ca3",
              weights: str = "spinnaker") -> Network:
    """The CA3 content-addressable memory (n_cues one-hot cues x n_content bits) as a float Network.

    stimulus: spike steps per input neuron (n_cues + n_content lists: cue neurons first, then the
    content bits), e.g. from `protocol.schedule(...)`; None means a silent input.
    record: "all" records spikes of every population, "output" only of the output population.
    weights: "spinnaker" (default) converts the published sPyNNaker weights (and the STDP A+, A-,
    w_max) per target population with `spinnaker_weight_factor`, so the float mode computes the
    published platform's membrane trajectories; "raw" uses the published numbers as our nA
    unchanged (our exact integrator then gives smaller voltage jumps: 0.60x on the tau_m 0.5 ms
    populations, and recall by content misses cues; see docs/models/ca3.md).
    """
    if weights not in ("spinnaker", "raw"):
        raise ValueError(f"weights must be 'spinnaker' or 'raw', got {weights!r}")
    if not (isinstance(n_cues, (int, np.integer)) and n_cues >= 1):
        raise ValueError(f"n_cues must be an integer >= 1, got {n_cues!r}")
    if not (isinstance(n_content, (int, np.integer)) and n_content >= 1):
        raise ValueError(f"n_content must be an integer >= 1, got {n_content!r}")
    c, n = int(n_cues), int(n_content)
    if stimulus is None:
        stimulus = [[] for _ in range(c + n)]
    if len(stimulus) != c + n:
        raise ValueError(f"stimulus needs {c + n} spike lists (cues then content), got {len(stimulus)}")
    net = Network(name=name, dt_ms=1.0, seed=seed)
    net.metadata.update({"model": "ca3", "n_cues": c, "n_content": n, "weights": weights,
                         "source": "Casanueva-Morato et al., Neural Networks 2024 "
                                   "(sPyMem CA3_content_addressable)"})
    net.add_spike_source("input", [sorted(int(t) for t in s) for s in stimulus],
                         record=("spikes",) if record == "all" else ())
    for pop, (sym, params) in POPULATIONS.items():
        rec = ("spikes",) if (record == "all" or pop == "output" or pop in tuple(record)) else ()
        net.add_population(pop, _size(sym, c, n), "lif_curr_exp", dict(params), record=rec)
    offsets = {"input:cue": ("input", 0, c), "input:cont": ("input", c, n),
               "output:cue": ("output", 0, c), "output:cont": ("output", c, n)}
    for s in SYNAPSES:
        pre_pop, pre_off, n_pre = offsets.get(s.pre, (s.pre, 0, net.populations.get(s.pre).size
                                                      if s.pre in net.populations else 0))
        post_pop, post_off, n_post = offsets.get(s.post, (s.post, 0, net.populations[s.post].size
                                                          if s.post in net.populations else 0))
        pre, post = _connect(s.connector, n_pre, n_post)
        k = (spinnaker_weight_factor(POPULATIONS[post_pop][1], net.dt_ms) if weights == "spinnaker"
             else 1.0)
        w = s.weight * (n if s.scale_by_n else 1) * k
        sign = -1.0 if s.receptor == "inhibitory" else 1.0
        rule = None
        if s.plastic:
            rule = STDPRule(STDP.tau_plus, STDP.tau_minus, STDP.a_plus * k, STDP.a_minus * k,
                            STDP.w_min * k, STDP.w_max * k)
        net.add_projection(pre_pop, post_pop, pre + pre_off, post + post_off, sign * w, s.delay,
                           receptor=s.receptor, name=s.name, plasticity=rule)
    return net


def preset_memory(net: Network, memories: dict[int, Sequence[int]]) -> Network:
    """Make both learnt projections static, holding `memories` (cue -> bits) at w_max (in place).

    For checks of recall alone, e.g. in a numeric mode without STDP (the spinnaker mode).
    """
    for name in PLASTIC_PROJECTIONS:
        pr = net.projections[name]
        w_max = pr.plasticity.w_max if pr.plasticity is not None else float(np.max(pr.weight))
        cue_to_content = name == PLASTIC_PROJECTIONS[0]
        cues, bits = (pr.pre_idx, pr.post_idx) if cue_to_content else (pr.post_idx, pr.pre_idx)
        stored = np.array([int(b) in set(memories.get(int(c), ())) for c, b in zip(cues, bits)])
        pr.weight = np.where(stored, w_max, 0.0)
        pr.plasticity = None
    return net


def excitatory_bound(net: Network, pop: str) -> float:
    """Largest total excitatory weight (nA) any neuron of `pop` can receive in one step.

    Plastic projections count at their rule's w_max (what learning can reach).
    """
    total = np.zeros(net.populations[pop].size)
    for proj in net.projections_into(pop):
        w = np.full(proj.n_synapses, proj.plasticity.w_max) if proj.plasticity else proj.weight
        w = np.where(w > 0, w, 0.0)
        np.add.at(total, proj.post_idx, w)
    return float(total.max(initial=0.0))


def add_synaptic_refractory(net: Network, populations: Sequence[str] | None = None) -> Network:
    """Replace a 1-step refractory period by self-synapses (in place; returns `net`).

    For targets whose LIF has no refractory period (Lava's fixed-point LIF). After a spike at s, a
    self-synapse delivers -W1 at s+1 (no spike can follow: W1 exceeds any one-step input), +W2 at
    s+2 and -W3 at s+3 with W2 = (p22 + d) W1 and W3 = d p22 W1 (p22 = exp(-dt/tau_m),
    d = exp(-dt/tau_syn)), which cancel W1's trace in V and I from s+2 on. What is not the same as
    a true refractory step: the input that arrives during the step at s+1 is not discarded from V
    but decays into it: V is too high by p22^(k-1) p21 I(s+1) at s+k until the next spike.
    """
    for name in populations or [p.name for p in net.populations.values()
                                if p.model == "lif_curr_exp"]:
        pop = net.populations[name]
        ref = np.round(pop.param("tau_refrac") / net.dt_ms)
        if not np.all(ref == 1):
            raise ValueError(f"population {name!r}: synaptic refractory period emulates exactly one step")
        tau_m, tau_s = float(pop.param("tau_m")[0]), float(pop.param("tau_syn_E")[0])
        p22, d = np.exp(-net.dt_ms / tau_m), np.exp(-net.dt_ms / tau_s)
        w1 = excitatory_bound(net, name) / (1.0 - d)
        idx = np.arange(pop.size)
        pop.params["tau_refrac"] = 0.0
        kick = kick_profile_from_keeps(1, d, p22).x * w1      # -W1, +W2, -W3
        for delay, w in enumerate(kick.tolist(), start=1):
            tag = f"d{delay}"
            net.add_projection(name, name, idx, idx, w, delay,
                               receptor="inhibitory" if w < 0 else "excitatory",
                               name=f"{name}-refractory-{tag}")
    return net


__all__ = ["PLASTIC_PROJECTIONS", "POPULATIONS", "STDP", "SYNAPSES", "SynapseSpec", "build_ca3",
           "spinnaker_weight_factor", "add_synaptic_refractory", "excitatory_bound",
           "preset_memory"]
