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

The control flow (the row walk over post-event windows, `_post_window`, `_push_post_event`) is
written once in `stdp_walk.py`; this module supplies the float arithmetic (`FLOAT_ARITHMETIC`),
`loihi2_stdp.py` and `spinnaker_stdp.py` the integer ones, and each gets its own compiled walk.
Which `PairSTDP` subclass runs a rule in a mode is declared with `@implements(rule, mode=...)`.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Callable, TypeVar

import numba
import numpy as np

from neurocompile.backends.sim.propagation import PreSortedSynapses
from neurocompile.backends.sim.stdp_walk import (Arithmetic, WalkKernels,  # noqa: F401
                                                 _post_window, _push_post_event)
from neurocompile.backends.sim.stdp_walk import hook as _hook
from neurocompile.backends.sim.stdp_walk import walk_kernels
from neurocompile.errors import ModelError
from neurocompile.ir.network import Network, Projection, STDPRule

#: sPyNNaker post_events.h MAX_POST_SYNAPTIC_EVENTS: a time-0 placeholder + 15 post spikes.
MAX_POST_EVENTS = 16


# ------------------------------------------------------------------------------------------------
# Float arithmetic (the `float` mode): exact exp, float64 weights. Decays k = dt/tau;
# c = (a_plus, a_minus, w_min, w_max). The control flow is stdp_walk.py's.
# ------------------------------------------------------------------------------------------------
@numba.njit(cache=True, nogil=True)
def _float_decay(k, dt):  # pragma: no cover - compiled
    """exp(-dt k), k = dt_ms / tau."""
    return np.exp(-dt * k)


@_hook
def _float_trace_spike(trace, f, c):  # pragma: no cover - compiled
    """timing_add_{pre,post}_spike: decay, add one spike."""
    return trace * f + 1.0


@_hook
def _float_identity(w, c):  # pragma: no cover - compiled
    return w


@_hook
def _float_potentiate(w, dt_pot, last_tr, f, c):  # pragma: no cover - compiled
    # dt_pot != 0 (the walk's test); uint32 on chip: a negative difference reads a 0 from the LUT
    inc = c[0] * last_tr * f if dt_pot > 0 else 0.0
    return min(w + inc, c[3])


@_hook
def _float_depress(w, dt_dep, trace, f, c):  # pragma: no cover - compiled
    dec = c[1] * trace * f if dt_dep >= 0 else 0.0
    return max(w - dec, c[2])


@_hook
def _signed(sign, w):  # pragma: no cover - compiled
    return sign * w


FLOAT_ARITHMETIC = Arithmetic("float", _float_decay, _float_trace_spike, _float_identity, _float_potentiate,
                              _float_depress, _float_identity, _signed)


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

    The engine calls `step(t, pre_spikes, post_spikes)` every step before it scatters the pre
    spikes, so the updated values in `syn.weight` are the ones propagated. A subclass supplies
    the arithmetic: `kernels` (stdp_walk.walk_kernels of its `Arithmetic`), and in __init__
    `self.state` (stored weight per synapse, pre-sorted, updated in place), `self.emit_sign`
    (per-synapse sign handed to the arithmetic's `emit`) and `self.params` (dec_plus, dec_minus,
    c: the walk's last three arguments), plus
    `weights`. It is made available to a mode with `@implements(rule, mode=...)`.
    """

    trace_dtype: Any = np.float64
    kernels: WalkKernels
    state: np.ndarray
    emit_sign: np.ndarray
    params: tuple

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
        self.kernels.post_spikes(t, spiking, self.post_times, self.post_traces, self.post_count_m1,
                                 *self.params)

    def _on_pre(self, t: int, spiking: np.ndarray) -> None:
        s = self.syn
        self.kernels.pre_spikes(t, spiking, s.indptr, s.post, s.delay, self.state, self.emit_sign,
                                s.weight, self.last_pre_time, self.pre_trace, self.post_times,
                                self.post_traces, self.post_count_m1, *self.params)

    def _stored(self, include_pending: bool) -> np.ndarray:
        """`state` (pre-sorted), or with each row's owed potentiation applied (a new array)."""
        if not include_pending:
            return self.state
        s = self.syn
        return self.kernels.pending(s.indptr, s.post, s.delay, self.state, self.last_pre_time,
                                    self.pre_trace, self.post_times, self.post_count_m1, *self.params)

    def weights(self, include_pending: bool = False) -> np.ndarray:
        """Current weights in the projection's synapse order and units."""
        raise NotImplementedError


# ------------------------------------------------------------------------------------------------
# Declared implementations: which PairSTDP subclass runs which rule in which mode
# ------------------------------------------------------------------------------------------------
#: (rule type, mode name or NumericMode subclass) -> implementation; filled by @implements only.
_IMPLEMENTATIONS: dict[tuple[type, Any], type] = {}

_P = TypeVar("_P", bound=type)


def implements(rule: type, mode: Any) -> Callable[[_P], _P]:
    """Class decorator: declare the decorated PairSTDP subclass as the implementation of the
    plasticity rule type `rule` (e.g. `STDPRule`) in the sim backend mode `mode`.

    `mode` is a mode name ("float", "loihi2", ...), which covers every mode object with that
    `name`, or a mode class, which covers that class and its subclasses and takes precedence
    over the name (a variant of a mode, e.g. models/ca3's unbounded-history float mode). The
    class is built as ``cls(proj, syn, net)``. One implementation per (rule, mode).
    """
    if not isinstance(rule, type):
        raise TypeError(f"implements: rule must be a rule class, got {rule!r}")
    if not isinstance(mode, (str, type)):
        raise TypeError(f"implements: mode must be a mode name or class, got {mode!r}")

    def declare(cls: _P) -> _P:
        key = (rule, mode)
        other = _IMPLEMENTATIONS.get(key)
        if other is not None and (other.__module__, other.__qualname__) != (cls.__module__, cls.__qualname__):
            raise ValueError(f"{_mode_label(mode)} already has an implementation of {rule.__name__}: "
                             f"{other.__module__}.{other.__qualname__}")
        _IMPLEMENTATIONS[key] = cls  # a reloaded module replaces its own declaration
        return cls

    return declare


def _mode_label(mode: Any) -> str:
    return f"mode {mode!r}" if isinstance(mode, str) else f"mode class {mode.__qualname__}"


def implementation_for(rule: type, mode: Any) -> type | None:
    """The declared implementation of rule type `rule` for the mode object `mode`, or None.

    Mode classes along type(mode)'s MRO first, then mode.name; rule types along rule's MRO.
    """
    rules = rule.__mro__
    for key in (*type(mode).__mro__, getattr(mode, "name", None)):
        for r in rules:
            impl = _IMPLEMENTATIONS.get((r, key))
            if impl is not None:
                return impl
    return None


class _ByModeName(Mapping):
    """Read-only view: mode name -> declared STDPRule implementation (for listing and tests)."""

    def __getitem__(self, name: str) -> type:
        impl = _IMPLEMENTATIONS.get((STDPRule, name)) if isinstance(name, str) else None
        if impl is None:
            raise KeyError(name)
        return impl

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(m for r, m in _IMPLEMENTATIONS if r is STDPRule and isinstance(m, str)))

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __repr__(self) -> str:
        return f"PLASTICITY({dict(self)!r})"


#: Which mode names have an STDPRule implementation (read-only; declare with @implements).
PLASTICITY: Mapping[str, type] = _ByModeName()


def make_plasticity(proj: Projection, syn: PreSortedSynapses, mode: Any, net: Network) -> PairSTDP:
    """The plasticity state for a plastic projection in `mode` (ModelError if none is declared)."""
    rule = type(proj.plasticity)
    impl = implementation_for(rule, mode)
    if impl is None:
        have = sorted({_mode_label(m) for r, m in _IMPLEMENTATIONS if issubclass(rule, r)})
        raise ModelError(f"projection {proj.name!r} is plastic ({rule.__name__}), but the sim "
                         f"backend's {mode.name!r} mode has no STDP implementation of "
                         f"{rule.__name__}; declared (@implements): {', '.join(have) or 'none'}")
    return impl(proj, syn, net)


@implements(STDPRule, mode="float")
class FloatPairSTDP(PairSTDP):
    """The `float` mode: float64 weights and traces, exact exponentials (no LUT cut-off)."""

    kernels = walk_kernels(FLOAT_ARITHMETIC)

    def __init__(self, proj: Projection, syn: PreSortedSynapses, net: Network,
                 max_post_events: int = MAX_POST_EVENTS) -> None:
        super().__init__(proj, syn, net, max_post_events)
        r = self.rule
        self.k_plus, self.k_minus = self.dt_ms / r.tau_plus, self.dt_ms / r.tau_minus
        if syn.weight.dtype != np.float64:
            raise ModelError(f"projection {proj.name!r}: float STDP needs float64 synapse values")
        self.mag = self.state = np.abs(syn.weight).astype(np.float64)
        self.emit_sign = self.sign
        self.params = (float(self.k_plus), float(self.k_minus),
                       (float(r.a_plus), float(r.a_minus), float(r.w_min), float(r.w_max)))

    def weights(self, include_pending: bool = False) -> np.ndarray:
        """Signed weights in projection order.

        Default: the stored weights, as sPyNNaker's `Projection.get("weight")` reads them after a
        run. include_pending=True also applies the potentiation each row's next pre spike would
        apply first (post spikes after its last pre spike, still in the 15-entry history).
        """
        mag = self._stored(include_pending)
        out = np.empty_like(mag)
        out[self.syn.order] = self.sign * mag
        return out


__all__ = ["MAX_POST_EVENTS", "PLASTICITY", "FloatPairSTDP", "PairSTDP", "implementation_for",
           "implements", "make_plasticity", "synapse_signs"]
