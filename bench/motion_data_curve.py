"""Motion HD-SNN: 36-way accuracy on held-out images against training movies per class.

    .venv/bin/python bench/motion_data_curve.py 96 192 384  # ~4, ~14, ~22 minutes; 3.4 / 6.8 GB at 192 / 384

Full geometry (``--scale full``: 64x64 test movies, 9x9 kernels, delays 1..21); only the number of
training movies per class changes. Tests whether the gap to the paper's ~91 % is data-limited.
"""
from __future__ import annotations

import json
import resource
import sys
import time

from neurocompile.models.motion import experiment as E
from neurocompile.models.motion import hdsnn as hd


def main(argv: list[str]) -> int:
    out = {}
    for n in [int(a) for a in argv] or [96, 192]:
        t = time.perf_counter()
        sc = E.get_scale("full", train_per_class=n)
        s = hd.evaluate(E.trained_layer(sc, 0), E.test_set(sc, 0, sc.eval_size))
        out[n] = {"acc36": s.pooled, "acc12": s.pooled_direction, "seconds": time.perf_counter() - t,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
        print(f"{n} movies/class: 36-way {100 * s.pooled:.1f} %, 12-way {100 * s.pooled_direction:.1f} % "
              f"({out[n]['seconds']:.0f} s)", flush=True)
        E._trained_layer.cache_clear()
        E.train_set.cache_clear()
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
