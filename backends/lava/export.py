"""`lava/` in a compile output: a stand-alone Lava 0.10 project (lava-nc and numpy only).

    lava/network.npz   the lowered network (processes.py's arrays), every source's spikes for
                       `source_steps` steps (seeded as compiled), and which population is where
    lava/run_lava.py   processes.py + runtime.py (copied verbatim: the backend's own builder and
                       runner, so the script and `--backend lava` build the same processes) + main
    lava/README.txt    how to run it

    python lava/run_lava.py --steps 500 -o spikes.npz
writes, per population P: `P.steps`, `P.ids` (one entry per spike) and, for LIF populations,
`P.u`, `P.v` (state after the last step) -- the same arrays as `neurocompile simulate
--backend lava`; per plastic projection J (pair STDP on a LearningDense, rule and seed in
network.npz), `J.weights`: the learnt weight mantissas in J's synapse order.
"""
from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_EXPORT_STEPS = 1000

MAIN = '''

# ----------------------------------------------------------------------------------------- main
def run_exported(npz_path, steps=None, timeout=None):
    """Rebuild the network of `npz_path` in Lava and run it; returns {array name: array}."""
    a = dict(np.load(npz_path, allow_pickle=False))
    have = int(a["source_steps"])
    steps = have if steps is None else int(steps)
    if int(a["n_src"]) and steps > have:
        raise SystemExit(f"network.npz holds source spikes for {have} steps, not {steps}; export again "
                         f"with neurocompile.backends.lava.export.export(compiled, dir, steps={steps})")
    built = build(a, steps)
    out = run_built(built, steps, timeout=timeout)
    result = {}
    for name, slot, off, size in zip(a["pop_name"], a["pop_slot"], a["pop_offset"], a["pop_size"]):
        name, slot, off, size = str(name), str(slot), int(off), int(size)
        if slot.startswith("lif"):
            k = int(slot[3:])
            raster = out["spikes"][k][:, off:off + size]
            result[name + ".u"] = out["u"][k][off:off + size]
            result[name + ".v"] = out["v"][k][off:off + size]
        else:
            raster = built.source_rasters[int(slot[3:])][:, off:off + size]
        st, ids = np.nonzero(raster)
        result[name + ".steps"], result[name + ".ids"] = st.astype(np.int32), ids.astype(np.int32)
    for name, k in zip(a.get("plastic_name", []), a.get("plastic_conn", [])):
        k = int(k)   # learnt weights after the last step, in the projection's synapse order
        result[str(name) + ".weights"] = out["weights"][k][a[f"conn{k}_rows"], a[f"conn{k}_cols"]]
    return result


def main(argv=None):
    import argparse
    import os

    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description="Run the exported network in Lava 0.10 "
                                             "(Loihi2SimCfg, select_tag='fixed_pt') and save its spikes.")
    ap.add_argument("--network", default=os.path.join(here, "network.npz"))
    ap.add_argument("--steps", type=int, default=None, help="default: the steps the sources were exported for")
    ap.add_argument("--timeout", type=float, default=None, help="seconds before a hung Lava run is ended")
    ap.add_argument("-o", "--output", default="spikes.npz")
    args = ap.parse_args(argv)
    result = run_exported(args.network, args.steps, args.timeout)
    np.savez(args.output, **result)
    n = {k[:-6]: v.size for k, v in result.items() if k.endswith(".steps")}
    print(f"wrote {args.output}: " + ", ".join(f"{k} {v} spikes" for k, v in n.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
'''

README = """Exported by neurocompile for Lava 0.10 (needs only lava-nc==0.10.0 and numpy; Python 3.10).

    python run_lava.py --steps {steps} -o spikes.npz

Runs on Lava's CPU models, Loihi2SimCfg(select_tag="fixed_pt") (bit-accurate Loihi 2 arithmetic).
network.npz holds source spikes for {steps} steps (seed {seed}). Compiled for board {board}.
"""


def script_source() -> str:
    """run_lava.py: the backend's processes.py and runtime.py, then MAIN."""
    from neurocompile.backends.lava import processes, runtime

    head = ('"""Stand-alone Lava 0.10 runner written by neurocompile (no neurocompile import).\n\n'
            'Usage: python run_lava.py [--steps N] [-o spikes.npz]\n"""\n')
    parts = [head]
    for mod in (processes, runtime):
        parts.append(f"\n# ---- {Path(mod.__file__).name} (neurocompile.backends.lava, verbatim) ----\n")
        parts.append(inspect.getsource(mod))
    parts.append(MAIN)
    return "".join(parts)


def export_arrays(compiled: Any, steps: int) -> dict[str, np.ndarray]:
    from neurocompile.backends.lava.lowering import lower, with_sources

    net = compiled.network
    low = lower([net])
    a = with_sources(low, [compiled.seed], steps)
    names = list(net.populations)
    a["pop_name"] = np.array(names)
    a["pop_slot"] = np.array([low.loc[(0, n)][0] for n in names])
    a["pop_offset"] = np.array([low.loc[(0, n)][1] for n in names], dtype=np.int64)
    a["pop_size"] = np.array([net.populations[n].size for n in names], dtype=np.int64)
    a["plastic_name"] = np.array([name for (_, name) in low.plastic], dtype=str)
    a["plastic_conn"] = np.array(list(low.plastic.values()), dtype=np.int64)
    a["source_steps"] = np.array(steps)
    a["seed"] = np.array(int(compiled.seed))
    return a


def export(compiled: Any, out_dir: Any, steps: int = DEFAULT_EXPORT_STEPS) -> list[Path]:
    """Write `out_dir/lava/` with source spikes for `steps` steps; returns the files written."""
    arrays = export_arrays(compiled, steps)   # raises before anything is written
    d = Path(out_dir) / "lava"
    d.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(d / "network.npz", **arrays)
    (d / "run_lava.py").write_text(script_source())
    (d / "README.txt").write_text(README.format(steps=steps, seed=compiled.seed, board=compiled.board.name))
    return [d / "network.npz", d / "run_lava.py", d / "README.txt"]
