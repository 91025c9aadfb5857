"""Importing Lava 0.10 after other code has used multiprocessing.

``lava/magma/runtime/message_infrastructure/multiprocessing.py`` calls
``multiprocessing.set_start_method('fork')`` at import time, without ``force``. That raises
"context has already been set" once anything in the process has fixed the default start method,
and numba does so when it starts its parallel threading layer (our place-recognition training
kernels are ``parallel=True``). So "train a model, then run it in Lava" failed in one process.

``prepare_lava_import`` un-fixes the default context only when it is already 'fork', the method
Lava is about to set, so nothing changes for anyone; any other method is left alone and Lava's own
error stands.
"""
from __future__ import annotations

import multiprocessing


def prepare_lava_import() -> None:
    default = multiprocessing.context._default_context
    actual = getattr(default, "_actual_context", None)
    if actual is not None and actual.get_start_method() == "fork":
        default._actual_context = None


__all__ = ["prepare_lava_import"]
