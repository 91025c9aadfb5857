"""The deferred pair-STDP row walk, written once and compiled once per arithmetic.

Every STDP arithmetic of the sim backend (float in `stdp.py`, our integer Loihi 2 model in
`loihi2_stdp.py`, sPyNNaker's fixed point in `spinnaker_stdp.py`) runs the same control flow,
sPyNNaker's `synapse_dynamics_process_plastic_synapses` over `post_events.h` windows
(docs/plasticity.md sections 2-3). This module holds that control flow -- `_post_window`,
`_push_post_event` and the three walks (post spikes, pre-spike rows, pending potentiation) -- and
an `Arithmetic` says what differs: how a trace decays and takes a spike, how a stored weight
becomes a working value and back, what one potentiation / depression does, and what the synapse
sends.

How the walk is shared without a speed cost: `walk_kernels(arith)` copies the three plain-Python
walk functions with the arithmetic's njit'd functions bound as *globals* (`types.FunctionType` on
the same code object) and njit's each copy. Numba freezes globals at compile time, so each
arithmetic gets its own machine code with the calls inlined, exactly as if the walk had been
written out by hand for it. Globals rather than closure cells because numba's `cache=True` hashes
closure cells by pickling them, and a captured dispatcher pickles with a per-process uuid: a
closure factory would recompile at every start and grow the cache. With globals the on-disk cache
works; each specialisation gets its own name (``pre_spikes_float_<hash>``), the hash covering the
source files of the arithmetic's functions, so editing an arithmetic cannot load a stale kernel
(numba itself only checks this file's timestamp).

Every walk ends with the arithmetic's three parameters ``dec_plus, dec_minus, c``: the pre-trace
(tau_plus) and post-trace (tau_minus) decays in whatever form its `decay` takes (a float
``dt/tau``, a LUT array), and a tuple ``c`` of its scalar constants. The arrays are passed as
arguments, never inside ``c``, and only `decay` sees them: numba reference-counts an array taken
out of a tuple or handed to an inlined function, and a call whose arguments are a tuple of arrays
is too big for LLVM to inline -- each of these cost the walk 1.3-3x when measured.
"""
from __future__ import annotations

import hashlib
import inspect
import types
from typing import Any, Callable, NamedTuple

import numba
import numpy as np


# ------------------------------------------------------------------------------------------------
# Arithmetic-free helpers: transcriptions of post_events.h on index arrays (any trace dtype)
# ------------------------------------------------------------------------------------------------
@numba.njit(cache=True, nogil=True)
def _post_window(times, j, count_m1, begin, end):  # pragma: no cover - compiled
    """post_events_get_window_delayed on row j: (first, stop, prev) indices.

    Window events are first..stop-1 (begin < time <= end, oldest first); prev is the newest entry
    with time <= begin, or 0 (the placeholder) when the walk reached the start of the buffer.
    """
    count = count_m1 + 1
    stop = count
    i = count
    first = count
    while True:
        if i < count and times[j, i] > end:
            stop = i
        first = i
        i -= 1
        if not (times[j, i] > begin and i != 0):
            break
    return first, stop, i


@numba.njit(cache=True, nogil=True)
def _push_post_event(times, traces, count_m1, j, t, trace):  # pragma: no cover - compiled
    """post_events_add: append (t, trace) to row j, dropping the oldest real event when full."""
    width = times.shape[1]
    c = count_m1[j]
    if c < width - 1:
        c += 1
        count_m1[j] = c
        times[j, c] = t
        traces[j, c] = trace
    else:
        for e in range(2, width):  # entry 0 is the placeholder at time 0 and stays
            times[j, e - 1] = times[j, e]
            traces[j, e - 1] = traces[j, e]
        times[j, width - 1] = t
        traces[j, width - 1] = trace


# ------------------------------------------------------------------------------------------------
# The walks. Plain Python: `walk_kernels` compiles a copy per arithmetic, whose globals bind
# trace_spike, load, potentiate, depress, store, emit and REFLOOR_UNTOUCHED.
# ------------------------------------------------------------------------------------------------
def _post_spikes(t, spiking, times, traces, count_m1, dec_plus, dec_minus, c_):  # pragma: no cover
    """timing_add_post_spike + post_events_add for each spiking post neuron."""
    for j in spiking:
        c = count_m1[j]
        trace = trace_spike(traces[j, c], decay(dec_minus, t - times[j, c]), c_)  # noqa: F821
        _push_post_event(times, traces, count_m1, j, t, trace)


def _pre_spikes(t, spiking, indptr, post, delay, state, sign, out,
                last_pre_time, pre_trace, times, traces, count_m1, dec_plus, dec_minus,
                c_):  # pragma: no cover - compiled
    """synapse_dynamics_process_plastic_synapses for each spiking pre neuron's row.

    state is the rule's stored weight per synapse (pre-sorted order), out what propagation adds.
    """
    for s in spiking:
        last_t = last_pre_time[s]
        last_tr = pre_trace[s]
        # timing_add_pre_spike: the new trace is stored; this spike's updates use the old one.
        last_pre_time[s] = t
        pre_trace[s] = trace_spike(last_tr, decay(dec_plus, t - last_t), c_)  # noqa: F821
        for k in range(indptr[s], indptr[s + 1]):
            j = post[k]
            d = delay[k]
            begin = last_t - d if last_t >= d else 0
            end = t - d if t >= d else 0
            first, stop, prev = _post_window(times, j, count_m1[j], begin, end)
            w = load(state[k], c_)  # noqa: F821
            e = first  # a while loop: LLVM unrolls a `for` here x2, a loss for 0-2 events
            while e < stop:  # timing_apply_post_spike, oldest post spike first
                dt_pot = times[j, e] + d - last_t
                if dt_pot != 0:  # `time_since_last_pre > 0` on a uint32
                    w = potentiate(w, dt_pot, last_tr, decay(dec_plus, dt_pot), c_)  # noqa: F821
                e += 1
            if stop > first:
                prev = stop - 1
            if prev != 0:  # "only if there has been a post spike ever" (prev_time_valid)
                dt_dep = t - (times[j, prev] + d)  # >= 0 except for t < d; no > 0 test on chip
                w = depress(w, dt_dep, traces[j, prev], decay(dec_minus, dt_dep), c_)  # noqa: F821
            r = store(w, c_)  # noqa: F821
            state[k] = r
            out[k] = emit(sign[k], r)  # noqa: F821


def _pending(indptr, post, delay, state, last_pre_time, pre_trace, times, count_m1,
             dec_plus, dec_minus, c_):  # pragma: no cover - compiled
    """state after the potentiation every row's next pre spike would apply (no depression)."""
    out = state.copy()
    big = np.int64(1) << 62  # "no end": every stored post spike after the window start
    for s in range(indptr.shape[0] - 1):
        last_t = last_pre_time[s]
        last_tr = pre_trace[s]
        for k in range(indptr[s], indptr[s + 1]):
            j = post[k]
            d = delay[k]
            begin = last_t - d if last_t >= d else 0
            first, stop, prev = _post_window(times, j, count_m1[j], begin, big)
            if REFLOOR_UNTOUCHED or stop > first:  # noqa: F821
                w = load(state[k], c_)  # noqa: F821
                for e in range(first, stop):
                    dt_pot = times[j, e] + d - last_t
                    if dt_pot != 0:
                        w = potentiate(w, dt_pot, last_tr, decay(dec_plus, dt_pot), c_)  # noqa: F821
                out[k] = store(w, c_)  # noqa: F821
    return out


def hook(fn: Callable) -> Any:
    """Decorator for an arithmetic's functions (njit; LLVM inlines them into each walk).

    Hooks take scalars only: an array handed to them is reference-counted per call, an atomic
    incref/decref per post spike that cost the walk ~30 % (also with numba-IR inlining, which
    in addition cost compile time); the decay arrays are read only by `decay`, called by the walk
    on its own arguments, as the hand-written kernels called their LUT look-up.
    """
    return numba.njit(cache=True, nogil=True)(fn)


class Arithmetic(NamedTuple):
    """What one STDP arithmetic supplies to the walk: functions (decorated with `hook`), a flag.

    decay(dec, dt) -> f: the decay factor over dt steps (any sign) of dec_plus or dec_minus
        (plain njit: LLVM inlines it; it is the only function that sees the decay arrays)
    trace_spike(trace, f, c): a trace decayed by f, plus one spike
    load(stored, c) -> w: the working value of a stored weight
    potentiate(w, dt_pot, pre_trace, f, c) -> w: one post spike's potentiation, then
        min(., w_max); dt_pot = t_post + d - t_prev_pre != 0 (the walk skips 0, as
        timing_apply_post_spike's uint32 `> 0` test does; < 0 is the arithmetic's to decide),
        f = decay(dec_plus, dt_pot)
    depress(w, dt_dep, post_trace, f, c) -> w: the pre spike's depression, then max(., w_min);
        f = decay(dec_minus, dt_dep)
    store(w, c) -> stored: back to the stored form (rounding onto a grid, truncation)
    emit(sign, stored) -> the value propagation adds
    refloor_untouched: the pending walk passes every synapse through load/store (True), or only
        those with post spikes in their window (False, for a load/store that is not the identity
        on every stored value and must not be applied without an update)
    """

    name: str
    decay: Any
    trace_spike: Any
    load: Any
    potentiate: Any
    depress: Any
    store: Any
    emit: Any
    refloor_untouched: bool = False


class WalkKernels(NamedTuple):
    post_spikes: Callable[..., None]
    pre_spikes: Callable[..., None]
    pending: Callable[..., np.ndarray]


def _fingerprint(arith: Arithmetic) -> str:
    """Hash of the source files the arithmetic's functions come from (cache invalidation)."""
    h = hashlib.sha256()
    funcs = [getattr(f, "py_func", f) for f in arith[1:-1]]
    for path in sorted({inspect.getfile(f) for f in funcs}):
        try:
            with open(path, "rb") as fh:
                h.update(fh.read())
        except OSError:  # no source on disk: the functions' own code objects
            for f in funcs:
                h.update(f.__code__.co_code + repr(f.__code__.co_consts).encode())
    return h.hexdigest()[:12]


def walk_kernels(arith: Arithmetic) -> WalkKernels:
    """The three walks compiled for one arithmetic (lazily, at first call; cached on disk)."""
    env = dict(globals())
    env.update(decay=arith.decay, trace_spike=arith.trace_spike, load=arith.load, potentiate=arith.potentiate,
               depress=arith.depress, store=arith.store, emit=arith.emit,
               REFLOOR_UNTOUCHED=bool(arith.refloor_untouched))
    tag = f"{arith.name}_{_fingerprint(arith)}"
    compiled = []
    for walk in (_post_spikes, _pre_spikes, _pending):
        name = f"{walk.__name__.lstrip('_')}_{tag}"
        fn = types.FunctionType(walk.__code__, env, name)
        fn.__qualname__ = name  # numba names the cache files by qualname: one set per arithmetic
        fn.__doc__ = walk.__doc__
        fn.__module__ = __name__
        compiled.append(numba.njit(cache=True, nogil=True)(fn))
    return WalkKernels(*compiled)


__all__ = ["Arithmetic", "WalkKernels", "hook", "walk_kernels"]
