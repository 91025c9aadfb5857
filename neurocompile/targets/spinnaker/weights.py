"""sPyNNaker's host-side weight quantisation, re-implemented from its Python source.

What happens on the host for every post-synaptic population (sPyNNaker 1!7.4.1; paths below are
relative to ``site-packages/spynnaker/pyNN/``; line numbers are those of that release):

1. **Statistics per receptor ("synapse type").**  ``models/neuron/population_vertex.py``
   ``PopulationVertex.get_ring_buffer_shifts`` (l.1365-1402) walks ``incoming_projections``
   (l.1710-1715: grouped by pre-population in order of first appearance, then creation order;
   projections whose ``synapse_type_from_dynamics`` is set are skipped, l.1383) and feeds each one
   to ``_Stats.add_projection`` (l.1874).  Static synapses do not implement
   ``AbstractSupportsSignedWeights``, so ``_Stats.__add_unsigned_projection`` (l.1912-1925) asks
   the *connector* for

   * ``n_conns = connector.get_n_connections_to_post_vertex_maximum`` (the largest fan-in of any
     one post neuron from this projection, not the number of synapses),
   * ``w_mean = get_weight_mean``, ``w_var = get_weight_variance``, ``w_max = get_weight_maximum``,
   * ``d_var = get_delay_variance``

   (all via ``models/neuron/synapse_dynamics/abstract_synapse_dynamics.py`` l.286-326, which just
   delegate to the connector).  ``_Stats.__add_details`` (l.1927-1938) then accumulates, with
   ``w_scale = neuron_impl.get_global_weight_scale()`` (1.0 for current/delta input,
   ``models/neuron/input_types/input_type_current.py`` l.40; 1024.0 for conductance input,
   ``input_type_conductance.py`` l.63):

   * ``running_totals[s].add_items(w_mean * w_scale, w_var * w_scale**2, n_conns)``
   * ``biggest_weight[s] = max(biggest_weight[s], w_max * w_scale)``
   * ``delay_running_totals[s].add_items(0.0, d_var, n_conns)``
   * ``rate_stats[s].add_items(spikes_per_second, 0, n_conns)``
   * ``total_weights[s] += spikes_per_tick * (w_max * n_conns)``  (note: *unscaled* ``w_max``)

   ``add_items`` is ``utilities/running_stats.py`` ``RunningStats.add_items`` (l.47-68, pooled
   mean/variance; ``n_items <= 0`` is ignored; ``variance`` l.85-91 divides by ``n - 1``).

2. **Pre-synaptic rate.**  ``_Stats.__pre_spike_stats`` (l.1940-1951): ``spikes_per_second`` is the
   *post* population's ``spikes_per_second`` (population parameter, else config
   ``[Simulation] spikes_per_second`` = 30, read in ``PopulationVertex.__init__`` l.298-302) and
   ``spikes_per_tick = max(1.0, spikes_per_second / steps_per_second)``, unless the pre
   *application* vertex is an ``AbstractMaxSpikes``.  In 1!7.4.1 only
   ``SpikeSourcePoissonMachineVertex`` implements that interface (a *machine* vertex); the
   application vertices a Projection connects (``SpikeSourcePoissonVertex``
   ``models/spike_source/spike_source_poisson_vertex.py`` l.138-140, ``SpikeSourceArrayVertex``,
   ``PopulationVertex`` l.174-176) do not, so **the Poisson rate of the source is never used**.

3. **Expected maximum input per tick, per receptor.**  ``_Stats.get_max_weight`` (l.2026-2040):
   if ``delay_running_totals[s].variance == 0.0`` (every contributing projection has a single delay
   value, or has a fan-in of 1) the answer is ``max(total_weights[s], biggest_weight[s])``, i.e.
   every synapse of the worst post neuron firing in the same tick.  Otherwise
   ``_ring_buffer_expected_upper_bound(mean, sd, rate_mean, n_items, ring_buffer_sigma)``
   (l.1954-2024; Poisson arrivals at ``rate_mean`` Hz on ``n_items`` synapses, mean + ``sigma`` SD
   with a gamma-function correction for the weight spread, ``POSSION_SIGMA_SUMMATION_LIMIT`` = 3.0
   from ``utilities/constants.py`` l.18), clipped to ``<= total_weights[s]`` and
   ``>= biggest_weight[s]``.  ``ring_buffer_sigma`` is the population parameter, else config
   ``[Simulation] ring_buffer_sigma`` = 5 (l.292-296).  A population parameter
   ``max_expected_summed_weight`` (list, one per receptor) replaces all of this (l.1372-1374,
   multiplied by the global weight scale).

4. **Shift.**  l.1390-1400: ``p = 0 if m <= 0 else ceil(max(0, log2(m)))``; ``p += 1`` if
   ``2**p <= m`` (so that ``m < 2**p`` strictly).  There is no upper clamp.

5. **Weight scale.**  ``__get_weight_scale`` / ``get_weight_scales`` (l.1405-1426):
   ``scale = 2 ** (16 - (shift + 1)) * global_weight_scale = 2**(15 - shift) * w_scale``.
   The ring buffer value is shifted left by ``shift`` into an s16.15 ``accum``, so one weight LSB is
   ``2**(shift - 15)`` nA (current models).

6. **Per-synapse integer.**  ``models/neuron/synapse_io.py`` ``get_synapses`` (l.262-266):
   ``weight * weight_scales[synapse_type]`` (float64, ``NUMPY_SYNAPSES_DTYPE``
   ``connectors/abstract_connector.py`` l.68-71); then
   ``models/neuron/synapse_dynamics/synapse_dynamics_static.py`` ``get_static_synaptic_data``
   (l.129-131): ``(numpy.rint(numpy.abs(w)).astype(uint32) & 0xFFFF) << 16``.  So: absolute value
   (the sign is the receptor's job), round-half-to-even, and *wrap* modulo 2**16 - not saturate.
   With the computed shift no weight can exceed ``2**15`` after scaling (``|w| <= m < 2**shift``),
   so wrapping only happens with a too-small ``max_expected_summed_weight``.  Weights below
   half an LSB become 0 silently.  Reading back (``read_static_synaptic_data`` l.182 and
   ``synapse_io._rescale_connections`` l.627-641) divides by the same scale, which is why
   ``Projection.get("weight")`` on a virtual board shows the quantised float.

``drop_late_spikes`` and ``incoming_spike_buffer_size`` are written next to the shifts
(``population_machine_synapses.py`` ``_write_synapse_parameters`` l.195-228) but play no part in
the shift or the weights.  (``drop_late_spikes`` from the config is never consulted for PyNN
models: ``abstract_pynn_neuron_model.py`` l.151 passes ``drop_late_spikes or False``.)

FromListConnector statistics (``models/neural_projections/connectors/from_list_connector.py``), the
form in which our backend hands synapses over, with ``weight`` and ``delay`` columns present:

* delays are stored rounded to whole ticks: ``rint(d * steps_per_ms) * timestep_ms`` (l.428-435);
* ``get_n_connections_to_post_vertex_maximum`` = ``max(bincount(targets))`` over the whole list
  (l.285-291);
* ``get_weight_mean`` / ``get_weight_maximum`` / ``get_weight_variance`` = ``mean`` / ``amax`` /
  ``var`` (population variance, ddof=0) of ``abs(weights)`` (l.293-323);
* ``get_delay_variance`` = ``numpy.var`` of the rounded delays (l.153-162);
* the synaptic block takes the listed (signed) weights as they are (l.351-352); only
  ``synapse_dynamics_static`` takes ``abs`` at packing time.

Other connectors compute these from the distribution instead (``abstract_connector.py``:
``get_weight_mean`` l.281-295, ``_get_weight_maximum`` l.297-324 using a probable maximum over
``n_connections`` draws, ``get_weight_variance`` l.334-348, ``get_delay_variance`` l.190-204), and
connectors generated on the machine quantise in the C synapse expander; neither is reproduced here.

Time step: ``sim.setup(timestep=t)`` stores ``timestep_us = ceil(t * 1000)`` (``spinnaker.py``
``_set_up_timings`` l.326); ``steps_per_ms = 1000.0 / timestep_us``, ``steps_per_s = 1e6 /
timestep_us``, ``timestep_ms = timestep_us / 1000.0``
(``spinn_front_end_common/data/fec_data_writer.py`` l.208-214).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Hashable, Iterable, Optional, Sequence

import numpy as np

#: ``spynnaker/pyNN/utilities/constants.py`` l.18 (sic).
POSSION_SIGMA_SUMMATION_LIMIT = 3.0
#: ``[Simulation]`` defaults in ``spynnaker/pyNN/spynnaker.cfg``.
DEFAULT_SPIKES_PER_SECOND = 30.0
DEFAULT_RING_BUFFER_SIGMA = 5.0
#: IF_curr_exp / IF_cond_exp receptor indices (``synapse_types_exponential``).
EXCITATORY, INHIBITORY = 0, 1


# --------------------------------------------------------------------------------------------
# Time step bookkeeping (spinnaker.py _set_up_timings, fec_data_writer._set_simulation_time_step)
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Timestep:
    """The four numbers sPyNNaker derives from ``sim.setup(timestep=...)``."""

    us: int

    @classmethod
    def from_ms(cls, timestep_ms: float) -> "Timestep":
        # spinnaker.py l.326: math.ceil(timestep * MICRO_TO_MILLISECOND_CONVERSION)
        return cls(int(math.ceil(timestep_ms * 1000.0)))

    @property
    def ms(self) -> float:
        return self.us / 1000.0

    @property
    def per_ms(self) -> float:
        return 1000.0 / self.us

    @property
    def per_s(self) -> float:
        return 1000000.0 / self.us


def _timestep(timestep_ms: "float | Timestep") -> Timestep:
    return timestep_ms if isinstance(timestep_ms, Timestep) else Timestep.from_ms(timestep_ms)


# --------------------------------------------------------------------------------------------
# utilities/running_stats.py, copied operation for operation so floats agree bit for bit
# --------------------------------------------------------------------------------------------
class RunningStats:
    """``spynnaker.pyNN.utilities.running_stats.RunningStats`` (l.19-98)."""

    __slots__ = ("mean", "_mean_2", "n_items")

    def __init__(self) -> None:
        self.mean = 0.0
        self._mean_2 = 0.0
        self.n_items = 0

    def add_items(self, mean: float, variance: float, n_items: int) -> None:
        if n_items > 0:  # l.55
            new_n_items = self.n_items + n_items
            mean_2 = variance * (n_items - 1.0)
            delta = mean - self.mean
            delta_2 = delta * delta
            new_mean = (((self.n_items * self.mean) + (n_items * mean)) / new_n_items)
            new_mean_2 = (self._mean_2 + mean_2 + (delta_2 * self.n_items * n_items) / new_n_items)
            self.n_items = new_n_items
            self.mean = new_mean
            self._mean_2 = new_mean_2

    @property
    def variance(self) -> float:
        if self.n_items <= 1:  # l.89
            return 0.0
        return self._mean_2 / (self.n_items - 1.0)

    @property
    def standard_deviation(self) -> float:
        return math.sqrt(self.variance)


# --------------------------------------------------------------------------------------------
# FromListConnector statistics
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ConnectorStats:
    """What ``_Stats.__add_unsigned_projection`` asks a connector for (population_vertex.py l.1912)."""

    n_conns: int        #: get_n_connections_to_post_vertex_maximum
    w_mean: float       #: get_weight_mean
    w_var: float        #: get_weight_variance
    w_max: float        #: get_weight_maximum
    d_var: float        #: get_delay_variance


def from_list_delays(delays_ms: np.ndarray, timestep_ms: "float | Timestep" = 1.0) -> np.ndarray:
    """Delays as FromListConnector stores them (from_list_connector.py l.428-435), in ms."""
    ts = _timestep(timestep_ms)
    return np.rint(np.array(delays_ms, dtype=np.float64) * ts.per_ms) * ts.ms


def from_list_stats(post: np.ndarray, weights: np.ndarray, delays_ms: np.ndarray,
                    timestep_ms: "float | Timestep" = 1.0) -> ConnectorStats:
    """FromListConnector's statistics for a list with ``weight`` and ``delay`` columns.

    ``post`` are the target indices (sPyNNaker casts the list column to uint32, l.419).
    """
    post = np.asarray(post)
    weights = np.asarray(weights, dtype=np.float64)
    if len(post) == 0:
        # An empty list has no weight column: sPyNNaker would fall back to the Projection's
        # scalar weight; we only describe non-empty lists.
        raise ValueError("empty projection: FromListConnector statistics need at least one synapse")
    targets = post.astype(np.uint32)
    # l.285-291: int(numpy.max(numpy.bincount(targets.astype(int64))))
    n_conns = int(np.max(np.bincount(targets.astype(np.int64, copy=False))))
    aw = np.abs(weights)
    w_mean = float(np.mean(aw))          # l.302
    w_max = float(np.amax(aw))           # l.312
    w_var = float(np.var(aw))            # l.323
    d_var = np.var(from_list_delays(delays_ms, timestep_ms))  # l.162 (numpy float, not cast)
    return ConnectorStats(n_conns, w_mean, w_var, w_max, d_var)


# --------------------------------------------------------------------------------------------
# One projection into a post population
# --------------------------------------------------------------------------------------------
@dataclass
class ListProjection:
    """A FromListConnector projection into the post population, as our backend hands it over.

    ``pre_key`` identifies the pre population; sPyNNaker visits projections grouped by pre
    population (first appearance order), which only matters for float rounding of the pooled
    statistics.  ``pre_max_spikes_per_second`` / ``pre_max_spikes_per_tick`` model a pre vertex that
    implements ``AbstractMaxSpikes``; no stock PyNN source does (module docstring, rule 2), so
    leave them ``None`` for SpikeSourceArray, SpikeSourcePoisson and neuron populations.
    """

    pre: np.ndarray
    post: np.ndarray
    weights: np.ndarray
    delays: np.ndarray
    receptor: int = EXCITATORY
    pre_key: Hashable = None
    pre_max_spikes_per_second: Optional[float] = None
    pre_max_spikes_per_tick: Optional[float] = None

    def __post_init__(self) -> None:
        self.pre = np.asarray(self.pre)
        self.post = np.asarray(self.post)
        self.weights = np.asarray(self.weights, dtype=np.float64)
        self.delays = np.asarray(self.delays, dtype=np.float64)
        n = len(self.weights)
        if not (len(self.pre) == len(self.post) == len(self.delays) == n):
            raise ValueError("pre, post, weights and delays must have the same length")


def _spynnaker_order(projections: Sequence[ListProjection]) -> list[ListProjection]:
    """population_vertex.py l.1710-1715 / l.859: dict of pre vertex -> list of projections."""
    groups: dict = {}
    for i, p in enumerate(projections):
        key = p.pre_key if p.pre_key is not None else ("__anon__", i)
        groups.setdefault(key, []).append(p)
    return [p for group in groups.values() for p in group]


# --------------------------------------------------------------------------------------------
# _Stats and the ring-buffer upper bound (population_vertex.py l.1832-2040)
# --------------------------------------------------------------------------------------------
def ring_buffer_expected_upper_bound(weight_mean: float, weight_std_dev: float,
                                     spikes_per_second: float, n_synapses_in: int, sigma: float,
                                     timestep_ms: "float | Timestep" = 1.0) -> float:
    """``_Stats._ring_buffer_expected_upper_bound`` (population_vertex.py l.1954-2024)."""
    from scipy import special  # same functions sPyNNaker uses

    ts = _timestep(timestep_ms)
    average_spikes_per_timestep = (float(n_synapses_in * spikes_per_second) / ts.per_s)
    poisson_variance = average_spikes_per_timestep * (weight_mean ** 2)
    upper_bound = int(round(average_spikes_per_timestep + POSSION_SIGMA_SUMMATION_LIMIT *
                            math.sqrt(average_spikes_per_timestep)))
    weight_variance = 0.0
    if weight_std_dev > 0:
        lngamma = special.gammaln(1 + upper_bound)
        gammai = special.gammaincc(1 + upper_bound, average_spikes_per_timestep)
        big_ratio = (math.log(average_spikes_per_timestep) * upper_bound - lngamma)
        if -701.0 < big_ratio < 701.0 and big_ratio != 0.0:
            log_weight_variance = (
                -average_spikes_per_timestep +
                math.log(average_spikes_per_timestep) +
                2.0 * math.log(weight_std_dev) +
                math.log(math.exp(average_spikes_per_timestep) * gammai - math.exp(big_ratio)))
            weight_variance = math.exp(log_weight_variance)
    return ((average_spikes_per_timestep * weight_mean) +
            (sigma * math.sqrt(poisson_variance + weight_variance)))


@dataclass
class ReceptorBound:
    """Per-receptor intermediate values, for reports and debugging."""

    max_weight: float          #: what the shift is chosen for (in nA * global scale)
    used_upper_bound: bool     #: False when delay variance was 0 (worst case sum used)
    total_weights: float
    biggest_weight: float
    n_items: int


def max_expected_input(projections: Sequence[ListProjection], *, n_synapse_types: int = 2,
                       timestep_ms: "float | Timestep" = 1.0,
                       spikes_per_second: Optional[float] = None,
                       ring_buffer_sigma: Optional[float] = None,
                       global_weight_scale: float = 1.0,
                       max_expected_summed_weight: Optional[Sequence[float]] = None
                       ) -> list[ReceptorBound]:
    """The per-receptor maximum sPyNNaker sizes the ring buffer for (``get_ring_buffer_shifts``)."""
    ts = _timestep(timestep_ms)
    sps = DEFAULT_SPIKES_PER_SECOND if spikes_per_second is None else float(spikes_per_second)
    sigma = DEFAULT_RING_BUFFER_SIGMA if ring_buffer_sigma is None else float(ring_buffer_sigma)

    if max_expected_summed_weight is not None:  # l.1372-1374
        if len(max_expected_summed_weight) != n_synapse_types:
            raise ValueError("max_expected_summed_weight needs one value per synapse type")
        mw = np.zeros(n_synapse_types)
        mw[:] = max_expected_summed_weight
        mw *= global_weight_scale
        return [ReceptorBound(float(m), False, 0.0, 0.0, 0) for m in mw]

    w_scale = global_weight_scale
    w_scale_sq = w_scale ** 2
    running = [RunningStats() for _ in range(n_synapse_types)]
    delay_running = [RunningStats() for _ in range(n_synapse_types)]
    total_weights = np.zeros(n_synapse_types)
    biggest_weight = np.zeros(n_synapse_types, dtype=np.double)
    rate_stats = [RunningStats() for _ in range(n_synapse_types)]

    for proj in _spynnaker_order(projections):
        if len(proj.weights) == 0:
            continue
        s = int(proj.receptor)
        st = from_list_stats(proj.post, proj.weights, proj.delays, ts)
        # __add_details l.1927-1938
        running[s].add_items(st.w_mean * w_scale, st.w_var * w_scale_sq, st.n_conns)
        biggest_weight[s] = max(biggest_weight[s], st.w_max * w_scale)
        delay_running[s].add_items(0.0, st.d_var, st.n_conns)
        # __pre_spike_stats l.1940-1951
        spikes_per_tick = max(1.0, sps / ts.per_s)
        pre_sps = sps
        if proj.pre_max_spikes_per_second is not None or proj.pre_max_spikes_per_tick is not None:
            rate = proj.pre_max_spikes_per_second or 0.0
            if rate > 0:
                pre_sps = rate
            if proj.pre_max_spikes_per_tick is None:
                raise ValueError("an AbstractMaxSpikes pre vertex needs pre_max_spikes_per_tick")
            spikes_per_tick = proj.pre_max_spikes_per_tick
        rate_stats[s].add_items(pre_sps, 0, st.n_conns)
        total_weights[s] += spikes_per_tick * (st.w_max * st.n_conns)  # unscaled w_max (sic)

    out = []
    for s in range(n_synapse_types):  # get_max_weight l.2026-2040
        if delay_running[s].variance == 0.0:
            m = max(total_weights[s], biggest_weight[s])
            out.append(ReceptorBound(float(m), False, float(total_weights[s]),
                                     float(biggest_weight[s]), running[s].n_items))
            continue
        stats = running[s]
        w_max = ring_buffer_expected_upper_bound(
            stats.mean, stats.standard_deviation, rate_stats[s].mean, stats.n_items, sigma, ts)
        w_max = min(w_max, total_weights[s])
        w_max = max(w_max, biggest_weight[s])
        out.append(ReceptorBound(float(w_max), True, float(total_weights[s]),
                                 float(biggest_weight[s]), stats.n_items))
    return out


def shift_for(max_weight: float) -> int:
    """population_vertex.py l.1392-1400: smallest ``p >= 0`` with ``max_weight < 2**p``."""
    w = 0 if max_weight <= 0 else int(math.ceil(max(0, math.log2(max_weight))))
    return w + 1 if (2 ** w) <= max_weight else w


def ring_buffer_shifts(projections: Sequence[ListProjection], **kwargs) -> np.ndarray:
    """Left shift per receptor, as ``PopulationVertex.get_ring_buffer_shifts`` returns it.

    Keyword arguments are those of :func:`max_expected_input`.
    """
    return np.array([shift_for(b.max_weight) for b in max_expected_input(projections, **kwargs)],
                    dtype=np.int64)


def weight_scales(shifts: Iterable[int], global_weight_scale: float = 1.0) -> np.ndarray:
    """population_vertex.py l.1405-1426: ``2**(16 - (shift + 1)) * global_weight_scale``."""
    return np.array([float(math.pow(2, 16 - (int(r) + 1))) * global_weight_scale for r in shifts])


def quantize(weights: np.ndarray, scale: float) -> np.ndarray:
    """synapse_io.py l.265 then synapse_dynamics_static.py l.130: ``rint(abs(w*scale)) & 0xFFFF``."""
    scaled = np.asarray(weights, dtype=np.float64) * scale
    return (np.rint(np.abs(scaled)).astype(np.uint32) & 0xFFFF).astype(np.uint16)


def weight_lsb(shift: int, global_weight_scale: float = 1.0) -> float:
    """Value of one weight unit in PyNN units (nA for current-based models)."""
    return 1.0 / float(weight_scales([shift], global_weight_scale)[0])


def spinnaker_weights(projections: Sequence[ListProjection], *, n_synapse_types: int = 2,
                      timestep_ms: float = 1.0, spikes_per_second: Optional[float] = None,
                      ring_buffer_sigma: Optional[float] = None, global_weight_scale: float = 1.0,
                      max_expected_summed_weight: Optional[Sequence[float]] = None
                      ) -> tuple[np.ndarray, list[np.ndarray]]:
    """Shift per receptor and the on-chip 16-bit weight of every synapse, in input order.

    ``projections`` are all FromListConnector projections into one post population (static
    synapses).  ``spikes_per_second``, ``ring_buffer_sigma`` and ``max_expected_summed_weight`` are
    the post population's parameters (``None`` = sPyNNaker's default / config value).
    """
    shifts = ring_buffer_shifts(
        projections, n_synapse_types=n_synapse_types, timestep_ms=timestep_ms,
        spikes_per_second=spikes_per_second, ring_buffer_sigma=ring_buffer_sigma,
        global_weight_scale=global_weight_scale,
        max_expected_summed_weight=max_expected_summed_weight)
    scales = weight_scales(shifts, global_weight_scale)
    return shifts, [quantize(p.weights, scales[int(p.receptor)]) for p in projections]
