"""Cost of the spynnaker backend: lowering, FromListConnector input, and sPyNNaker's own host path.

    .venv/bin/python bench/spynnaker_backend_cost.py --sizes 1000 5000 [--out DIR]

Network (as DESIGN.md s.2's measurement): N IF_curr_exp neurons, each fed by 100 synapses from a
Poisson population of N sources (random pre), weights 0.1..0.3 nA, delays 1..16 steps; run 100 ms
on a virtual SpiNN-5. Reported per size:

* compile_s: our compile (all passes) to a CompiledNetwork;
* lower_s: CompiledNetwork -> network.json + network.npz (numpy only);
* connector_numpy_s / connector_tuples_s: PyNN/sPyNNaker FromListConnector built from one (n, 4)
  float64 array (what the backend does) vs from a Python list of tuples (what scripts usually
  do, and what tests/test_spinnaker_weight_scaling.py does), in a child process;
* build_s / run_s / peak_rss_mb of the sPyNNaker child: Population/Projection creation, then
  sim.run (mapping + host-side synapse generation + data specification on a virtual board),
  and its peak RSS; readback_s: reading placements, tables and matrices back.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CONNECTOR_CHILD = r"""
import json, sys, time
import numpy as np
n = int(sys.argv[1])
rng = np.random.default_rng(0)
conns = np.stack([rng.integers(0, 1000, n), rng.integers(0, 1000, n), rng.uniform(0.1, 0.3, n),
                  rng.integers(1, 17, n).astype(float)], axis=1)
import pyNN.spiNNaker as sim
sim.setup(timestep=1.0)
t = time.perf_counter(); sim.FromListConnector(conns); a = time.perf_counter() - t
t = time.perf_counter(); tup = [tuple(x) for x in conns.tolist()]; sim.FromListConnector(tup); b = time.perf_counter() - t
sim.end()
print(json.dumps({"connector_numpy_s": a, "connector_tuples_s": b}))
"""


def network(n: int, fan_in: int = 100, seed: int = 0):
    from neurocompile.ir.network import Network

    rng = np.random.default_rng(seed)
    net = Network(name=f"poisson_lif_{n}", dt_ms=1.0, seed=seed)
    net.add_population("noise", n, "poisson", {"rate": 10.0})
    net.add_population("lif", n, "lif_curr_exp", record=("spikes",))
    post = np.repeat(np.arange(n), fan_in)
    pre = rng.integers(0, n, post.size)
    net.add_projection("noise", "lif", pre, post, rng.uniform(0.1, 0.3, post.size),
                       rng.integers(1, 17, post.size), receptor="excitatory", name="in")
    return net


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000])
    ap.add_argument("--out", default=None, help="directory for the sPyNNaker runs (default: temporary)")
    ap.add_argument("--timeout", type=float, default=900)
    args = ap.parse_args()
    from neurocompile.backends.spynnaker.lower import lower
    from neurocompile.boards import load_board
    from neurocompile.compiler import compile_network
    from neurocompile.plugins import get_backend
    from neurocompile.targets.spinnaker.spynnaker_env import make_spynnaker_env

    base = Path(args.out or tempfile.mkdtemp(prefix="nc-spynnaker-bench-")).resolve()
    rows = []
    for n in args.sizes:
        row: dict = {"neurons": n, "synapses": n * 100}
        t = time.perf_counter()
        c = compile_network(network(n), load_board("spinn-5"))
        row["compile_s"] = time.perf_counter() - t
        t = time.perf_counter()
        lower(c, 100)
        row["lower_s"] = time.perf_counter() - t
        senv = make_spynnaker_env(base / f"connector_{n}")
        proc = senv.run([sys.executable, "-c", CONNECTOR_CHILD, str(n * 100)], timeout=args.timeout)
        if proc.returncode == 0:
            row.update(json.loads(proc.stdout.strip().splitlines()[-1]))
        else:
            row["connector_error"] = proc.stderr.strip().splitlines()[-1]
        runner = get_backend("spynnaker").build(c, {"out_dir": base / f"run_{n}", "timeout_s": args.timeout,
                                                    "map_only": True})
        t = time.perf_counter()
        runner.run(100)
        row["backend_total_s"] = time.perf_counter() - t
        tm = runner.mapping["timing"]
        row.update({k: tm[k] for k in ("build_s", "run_s", "readback_s", "peak_rss_mb") if k in tm})
        row["weights_equal"] = runner.mapping["weights_equal"]
        row["differences"] = len(runner.mapping["differences"])
        rows.append(row)
        print(json.dumps({k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items()}), flush=True)


if __name__ == "__main__":
    main()
