"""Pair STDP with additive weight dependence, run the way sPyNNaker 1!7.4.1 runs it.

The rule (`neurocompile.ir.network.STDPRule`) and every choice below are taken from sPyNNaker's
C source for `STDPMechanism(SpikePairRule, AdditiveWeightDependence)`; docs/plasticity.md has the
citations. In short, for a synapse with delay d (steps) from pre neuron i to post neuron j:

* Traces are per neuron and all-to-all: a spike adds 1 to its neuron's trace, which decays as
  exp(-dt/tau). Pre traces use tau_plus, post traces tau_minus.
* The delay is dendritic: a pre spike emitted at t_pre meets the synapse at t_pre, a post spike
  emitted at t_post meets it at t_post + d (`backprop_delay=True`, sPyNNaker's default). A pair
  has Δ = t_post + d - t_pre: Δ > 0 potentiates by a_plus·exp(-Δ·dt/tau_plus), Δ <= 0 (including
  Δ == 0) depresses by a_minus·exp(Δ·dt/tau_minus). a_plus/a_minus are absolute weight steps.
* Updates are deferred: nothing happens to a synapse until its pre neuron spikes. At a pre spike
  at t, for each synapse of the row: every post spike with t_prev - d < t_post <= t - d (t_prev the
  previous pre spike) potentiates by a_plus × (pre trace at t_prev, decayed to t_post + d), each
  followed by min(w, w_max); then, if the post neuron ever spiked, one depression by
  a_minus × (post trace at its last spike <= t - d, decayed to t), followed by max(w, w_min). The
  spike is then sent with the updated weight. Potentiation earned after a neuron's last spike
  is not in the stored weight (`weights(include_pending=True)` adds it).
* Each post neuron keeps only its last MAX_POST_EVENTS - 1 = 15 spikes (post_events.h); a post
  spike pushed out before a synapse's next pre spike loses its potentiation (its depression is in
  the trace and survives).
* The rule acts on |w|; the sign of each synapse (its receptor's) is kept.

Cost is event-driven: pre spikes x fan-out x (1 + post spikes in the window, <= 15), plus O(1)
per post spike. The per-post history replaces a CSR-by-post index: deferred updates only ever
walk rows of the neuron that spiked (as on SpiNNaker, where only pre-sorted rows exist).

The float arithmetic lives in `_float_pre_spikes` / `_float_post_spikes`; the bookkeeping that is
pure indexing (`_post_window`, `_push_post_event`) is shared, so a fixed-point mode can subclass
`PairSTDP` with sPyNNaker's LUT / s16.15 arithmetic and reuse the same control flow.
"""
from __future__ import annotations

from typing import Any, Callable

import numba
import numpy as np

from neurocompile.backends.sim.propagation import PreSortedSynapses
from neurocompile.errors import ModelError
from neurocompile.ir.network import Network, Projection, STDPRule

#: sPyNNaker post_events.h MAX_POST_SYNAPTIC_EVENTS: a time-0 placeholder + 15 post spikes.
MAX_POST_EVENTS = 16


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
# Float arithmetic (the `float` mode): exact exp, float64 weights
# ------------------------------------------------------------------------------------------------
@numba.njit(cache=True, nogil=True)
def _float_post_spikes(t, spiking, times, traces, count_m1, k_minus):  # pragma: no cover
    """timing_add_post_spike + post_events_add for each spiking post neuron."""
    for j in spiking:
        c = count_m1[j]
        trace = traces[j, c] * np.exp(-(t - times[j, c]) * k_minus) + 1.0
        _push_post_event(times, traces, count_m1, j, t, trace)


@numba.njit(cache=True, nogil=True)
def _float_pre_spikes(t, spiking, indptr, post, delay, mag, sign, out,
                      last_pre_time, pre_trace, times, traces, count_m1,
                      k_plus, k_minus, a_plus, a_minus, w_min, w_max):  # pragma: no cover
    """synapse_dynamics_process_plastic_synapses for each spiking pre neuron's row.

    mag is |w| (the rule's state), out the signed value propagation adds (sign * mag).
    """
    for s in spiking:
        last_t = last_pre_time[s]
        last_tr = pre_trace[s]
        # timing_add_pre_spike: the new trace is stored; this spike's updates use the old one.
        last_pre_time[s] = t
        pre_trace[s] = last_tr * np.exp(-(t - last_t) * k_plus) + 1.0
        for k in range(indptr[s], indptr[s + 1]):
            j = post[k]
            d = delay[k]
            begin = last_t - d if last_t >= d else 0
            end = t - d if t >= d else 0
            first, stop, prev = _post_window(times, j, count_m1[j], begin, end)
            w = mag[k]
            for e in range(first, stop):  # timing_apply_post_spike, oldest post spike first
                dt_pot = times[j, e] + d - last_t
                if dt_pot != 0:  # uint32 on chip: a negative difference reads a 0 from the LUT
                    inc = a_plus * last_tr * np.exp(-dt_pot * k_plus) if dt_pot > 0 else 0.0
                    w = min(w + inc, w_max)
            if stop > first:
                prev = stop - 1
            if prev != 0:  # "only if there has been a post spike ever" (prev_time_valid)
                dt_dep = t - (times[j, prev] + d)  # >= 0 except for t < d; no > 0 test on chip
                dec = a_minus * traces[j, prev] * np.exp(-dt_dep * k_minus) if dt_dep >= 0 else 0.0
                w = max(w - dec, w_min)
            mag[k] = w
            out[k] = sign[k] * w


@numba.njit(cache=True, nogil=True)
def _float_pending(indptr, post, delay, mag, last_pre_time, pre_trace, times, traces, count_m1,
                   k_plus, a_plus, w_max):  # pragma: no cover - compiled
    """|w| after the potentiation every row's next pre spike would apply (no depression)."""
    w_out = mag.copy()
    big = np.int64(1) << 62  # "no end": every stored post spike after the window start
    for s in range(indptr.shape[0] - 1):
        last_t = last_pre_time[s]
        last_tr = pre_trace[s]
        for k in range(indptr[s], indptr[s + 1]):
            j = post[k]
            d = delay[k]
            begin = last_t - d if last_t >= d else 0
            first, stop, prev = _post_window(times, j, count_m1[j], begin, big)
            w = w_out[k]
            for e in range(first, stop):
                dt_pot = times[j, e] + d - last_t
                if dt_pot != 0:
                    inc = a_plus * last_tr * np.exp(-dt_pot * k_plus) if dt_pot > 0 else 0.0
                    w = min(w + inc, w_max)
            w_out[k] = w
    return w_out


# ------------------------------------------------------------------------------------------------
# Engine-facing objects
# ------------------------------------------------------------------------------------------------
def synapse_signs(proj: Projection, net: Network) -> np.ndarray:
    """+1/-1 per synapse (projection order): the weight's sign, else the receptor's sign."""
    default = net.populations[proj.post].neuron_model.receptor_sign.get(proj.receptor)
    if default is None:
        default = -1 if np.any(proj.weight < 0) else 1
    return np.where(proj.weight > 0, 1.0, np.where(proj.weight < 0, -1.0, float(default)))


class PairSTDP:
    """State of one plastic projection: pre traces per pre neuron, post history per post neuron.

    Subclasses supply the arithmetic (`_on_post`, `_on_pre`, `weights`); the engine calls
    `step(t, pre_spikes, post_spikes)` every step before it scatters the pre spikes, so the
    updated values in `syn.weight` are the ones propagated.
    """

    trace_dtype: Any = np.float64

    def __init__(self, proj: Projection, syn: PreSortedSynapses, net: Network,
                 max_post_events: int = MAX_POST_EVENTS) -> None:
        if proj.plasticity is None:
            raise ModelError(f"projection {proj.name!r} has no plasticity rule")
        from neurocompile.ir.validate import _validate_stdp  # the IR's own parameter checks

        _validate_stdp(f"projection {proj.name!r}", proj.plasticity)
        if max_post_events < 2:
            raise ModelError(f"max_post_events must be >= 2 (placeholder + 1 spike), got {max_post_events}")
        self.name, self.pre, self.post = proj.name, proj.pre, proj.post
        self.rule: STDPRule = proj.plasticity
        self.dt_ms = float(net.dt_ms)
        self.syn = syn
        n_pre, n_post = net.populations[proj.pre].size, net.populations[proj.post].size
        self.sign = synapse_signs(proj, net)[syn.order]
        self.last_pre_time = np.zeros(n_pre, dtype=np.int64)  # sPyNNaker row header starts at 0, 0
        self.pre_trace = np.zeros(n_pre, dtype=self.trace_dtype)
        self.post_times = np.zeros((n_post, max_post_events), dtype=np.int64)
        self.post_traces = np.zeros((n_post, max_post_events), dtype=self.trace_dtype)
        self.post_count_m1 = np.zeros(n_post, dtype=np.int64)

    def step(self, t: int, pre_spikes: np.ndarray, post_spikes: np.ndarray) -> None:
        """Log this step's post spikes, then run the deferred updates of the spiking rows."""
        if post_spikes.size:
            self._on_post(int(t), post_spikes.astype(np.int64, copy=False))
        if pre_spikes.size:
            self._on_pre(int(t), pre_spikes.astype(np.int64, copy=False))

    def _on_post(self, t: int, spiking: np.ndarray) -> None:
        raise NotImplementedError

    def _on_pre(self, t: int, spiking: np.ndarray) -> None:
        raise NotImplementedError

    def weights(self, include_pending: bool = False) -> np.ndarray:
        """Current weights in the projection's synapse order and units."""
        raise NotImplementedError


class FloatPairSTDP(PairSTDP):
    """The `float` mode: float64 weights and traces, exact exponentials (no LUT cut-off)."""

    def __init__(self, proj: Projection, syn: PreSortedSynapses, net: Network,
                 max_post_events: int = MAX_POST_EVENTS) -> None:
        super().__init__(proj, syn, net, max_post_events)
        r = self.rule
        self.k_plus, self.k_minus = self.dt_ms / r.tau_plus, self.dt_ms / r.tau_minus
        if syn.weight.dtype != np.float64:
            raise ModelError(f"projection {proj.name!r}: float STDP needs float64 synapse values")
        self.mag = np.abs(syn.weight).astype(np.float64)

    def _on_post(self, t: int, spiking: np.ndarray) -> None:
        _float_post_spikes(t, spiking, self.post_times, self.post_traces, self.post_count_m1,
                           self.k_minus)

    def _on_pre(self, t: int, spiking: np.ndarray) -> None:
        r, s = self.rule, self.syn
        _float_pre_spikes(t, spiking, s.indptr, s.post, s.delay, self.mag, self.sign, s.weight,
                          self.last_pre_time, self.pre_trace, self.post_times, self.post_traces,
                          self.post_count_m1, self.k_plus, self.k_minus, float(r.a_plus),
                          float(r.a_minus), float(r.w_min), float(r.w_max))

    def weights(self, include_pending: bool = False) -> np.ndarray:
        """Signed weights in projection order.

        Default: the stored weights, as sPyNNaker's `Projection.get("weight")` reads them after a
        run. include_pending=True also applies the potentiation each row's next pre spike would
        apply first (post spikes after its last pre spike, still in the 15-entry history).
        """
        mag = self.mag
        if include_pending:
            s, r = self.syn, self.rule
            mag = _float_pending(s.indptr, s.post, s.delay, self.mag, self.last_pre_time,
                                 self.pre_trace, self.post_times, self.post_traces,
                                 self.post_count_m1, self.k_plus, float(r.a_plus), float(r.w_max))
        out = np.empty_like(mag)
        out[self.syn.order] = self.sign * mag
        return out


#: Plasticity implementation per numeric mode name; a mode may instead define
#: `make_plasticity(proj, syn, net) -> PairSTDP`.
PLASTICITY: dict[str, Callable[[Projection, PreSortedSynapses, Network], PairSTDP]] = {
    "float": FloatPairSTDP,
}


def make_plasticity(proj: Projection, syn: PreSortedSynapses, mode: Any, net: Network) -> PairSTDP:
    """The plasticity state for a plastic projection in `mode` (raises if the mode has none)."""
    factory = getattr(mode, "make_plasticity", None) or PLASTICITY.get(mode.name)
    if factory is None:
        raise ModelError(f"projection {proj.name!r} is plastic (STDP), but the sim backend's "
                         f"{mode.name!r} mode has no STDP yet; modes with STDP: "
                         f"{', '.join(sorted(PLASTICITY))}")
    return factory(proj, syn, net)


__all__ = ["MAX_POST_EVENTS", "PLASTICITY", "FloatPairSTDP", "PairSTDP", "make_plasticity",
           "synapse_signs"]
