"""CA3 content-addressable memory (Casanueva-Morato et al., Neural Networks 2024) with one-shot STDP.

Entry point `build` returns the network with a demo protocol (or a published one) baked into its
input spikes, so ``neurocompile simulate ca3`` shows learning and recall. The protocol API
(`schedule`, `run`, `run_ops`, `decode`, the published protocols) is in `protocol.py`; the network
builder in `network.py`; the Loihi 2 lowering (integer STDP, emulated refractory period) in
`loihi.py`. docs/models/ca3.md has the parameters, their sources and the results.
"""
from __future__ import annotations

from neurocompile.ir.network import Network
from neurocompile.models.ca3.network import build_ca3
from neurocompile.models.ca3.protocol import (PUBLISHED, ProtocolRun, Schedule, decode, demo_ops,
                                              expected, functional, grid_map, random_ops, run,
                                              run_ops, schedule, stress)


def build(n_cues: int = 4, n_content: int = 8, seed: int = 0, protocol: str = "demo",
          number_format: str = "float", weights: str = "spinnaker") -> Network:
    """CA3 content-addressable memory (one-hot cues x content bits, one-shot STDP) running a protocol.

    protocol: "demo" (learn two overlapping memories, recall by cue and by content, re-learn,
    recall; n_cues >= 2 and n_content >= 8), or a published run with its own size: "functional"
    (5x10), "stress" (5x10, 60 operations), "grid_map" (16x6). The schedule (operations and start
    steps) is in `network.metadata["ca3_schedule"]`; run at least `metadata["ca3_steps"]` steps.
    number_format: "float" (lif_curr_exp) or "loihi2" (lowered: loihi2_lif, integer STDP).
    weights: "spinnaker" (published weights converted so the float mode integrates as SpiNNaker
    does) or "raw" (published numbers as nA in our exact integrator).
    """
    if protocol == "demo":
        if not (2 <= n_cues <= 10_000 and 8 <= n_content <= 10_000):
            raise ValueError(f"the demo protocol needs 2 <= n_cues <= 10000 and 8 <= n_content <= 10000, "
                             f"got n_cues={n_cues}, n_content={n_content}")
        sched = schedule(demo_ops(), n_cues, n_content, spacing=10)
    elif protocol in PUBLISHED:
        sched = PUBLISHED[protocol]()
    else:
        raise ValueError(f"protocol must be 'demo' or one of {sorted(PUBLISHED)}, got {protocol!r}")
    if weights not in ("spinnaker", "raw"):
        raise ValueError(f"weights must be 'spinnaker' or 'raw', got {weights!r}")
    if number_format not in ("float", "loihi2"):
        raise ValueError(f"number_format must be 'float' or 'loihi2', got {number_format!r}")
    net = build_ca3(sched.n_cues, sched.n_content, seed=seed, stimulus=sched.stimulus,
                    weights=weights, name=f"ca3-{protocol}")
    if number_format == "loihi2":
        from neurocompile.models.ca3.loihi import lower_to_loihi2

        net = lower_to_loihi2(net)
    net.metadata["ca3_schedule"] = [{"kind": op.kind, "cue": op.cue, "bits": list(op.bits),
                                     "start": op.start} for op in sched.operations]
    net.metadata["ca3_steps"] = sched.steps
    return net


__all__ = ["PUBLISHED", "ProtocolRun", "Schedule", "build", "build_ca3", "decode", "demo_ops",
           "expected", "functional", "grid_map", "random_ops", "run", "run_ops", "schedule",
           "stress"]
