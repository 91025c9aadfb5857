"""Loihi 2's synapse arithmetic as Lava 0.10 implements it: one home, imported by the quantizer
(to emit weights Lava keeps unchanged) and by the simulator's loihi2 mode (to run them).

Rules read in lava-nc 0.10.0 (`utils/weightutils.py`, `proc/dense/models.py`); the simulator's
module docstring (backends/sim/loihi2_mode.py) has the full per-step contract.
"""
from __future__ import annotations

import numpy as np

DECAY_UNITY = 4096     # Lava: decays are x * (4096 - d) >> 12 (decay_shift = 12)
MAX_IR_DELAY = 64  # DelayDense accepts delays 0..63 (PyDelayDenseModelBitAcc.run_spk); IR = +1
EXCITATORY, INHIBITORY, MIXED = "excitatory", "inhibitory", "mixed"


class LoihiWeightWarning(UserWarning):
    """Lava would change some weights of a projection (clip to 8 bits / drop low bits)."""


def sign_mode(weights: np.ndarray) -> str:
    """`utils/weightutils.py:determine_sign_mode` (an empty projection counts as excitatory)."""
    if weights.size == 0 or np.min(weights) >= 0:
        return EXCITATORY
    if np.max(weights) <= 0:
        return INHIBITORY
    return MIXED


def lava_weights(weights: np.ndarray, num_weight_bits: int = 8,
                 mode: str | None = None) -> np.ndarray:
    """The integer weights Lava's bit-accurate Dense/Sparse/DelayDense actually use.

    `clip_weights(w, sign_mode, num_bits=8)` then `truncate_weights(w, sign_mode,
    num_weight_bits)` (utils/weightutils.py), as called in `AbstractPyDenseModelBitAcc.run_spk`.
    Input weights are cast to int32 as the process Var does (`compiler/builders/py_builder.py`,
    `var[:] = v.value` into an int32 array), which truncates towards zero.
    """
    w = np.asarray(weights)
    mode = mode or sign_mode(w)
    w = w.astype(np.int32).astype(np.int64)
    mixed = mode == MIXED
    if mode == INHIBITORY:
        w = -w
    w = np.clip(w, -256 if mixed else 0, 255)                      # clip_weights
    k = 8 - int(num_weight_bits) + int(mixed)                      # truncate_weights
    w = (w >> k) << k
    if mode == INHIBITORY:
        w = -w
    return w
