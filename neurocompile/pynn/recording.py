"""Recorded spikes and membrane potentials, read from the last run's SimResult (lower.py).

Spike times are `step * dt` ms, the tick at which the neuron fired, as sPyNNaker reports them.
A recorded variable has `steps + 1` samples: the initial value at t=0, then the value after each
step (PyNN's AnalogSignal convention: t_start=0, sampling period dt).
"""
from __future__ import annotations

from typing import Any

import numpy as np
from pyNN import recording

from neurocompile.pynn import simulator


class Recorder(recording.Recorder):
    _simulator = simulator

    def _record(self, variable: Any, new_ids: Any, sampling_interval: Any = None) -> None:
        if sampling_interval not in (None, simulator.state.dt):
            from neurocompile.errors import ModelError
            raise ModelError(f"population {self.population.label!r}: recording every "
                             f"{sampling_interval} ms; neurocompile records every step ({simulator.state.dt} ms)")

    def _result(self) -> Any:
        lowered = simulator.state.lowered
        if simulator.state.result is None or lowered is None:
            return None, None
        return simulator.state.result, lowered

    def _get_spiketimes(self, ids: Any, clear: bool = False) -> tuple[np.ndarray, np.ndarray]:
        result, lowered = self._result()
        ids = np.asarray([int(i) for i in ids], dtype=np.int64)
        if result is None:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        pop = self.population
        steps, idx = result.spikes[lowered.names[pop]]
        first = int(pop.first_id)
        wanted = np.isin(idx + first, ids)
        return (idx[wanted] + first).astype(np.int64), steps[wanted] * simulator.state.dt

    def _get_all_signals(self, variable: Any, ids: Any, clear: bool = False) -> tuple[np.ndarray, None]:
        result, lowered = self._result()
        pop = self.population
        index = np.asarray([pop.id_to_index(int(i)) for i in ids], dtype=np.int64)
        if result is None:
            return np.zeros((0, index.size)), None
        trace = lowered.trace(result, pop, variable.name)
        initial = lowered.initial_value(pop, variable.name)
        return np.vstack([initial[None, :], trace])[:, index], None

    def _local_count(self, variable: Any, filter_ids: Any = None) -> dict[int, int]:
        ids = sorted(int(i) for i in self.filter_recorded(variable, filter_ids))
        counts = dict.fromkeys(ids, 0)
        spike_ids, _ = self._get_spiketimes(ids)
        for i, n in zip(*np.unique(spike_ids, return_counts=True)):
            counts[int(i)] = int(n)
        return counts

    def _clear_simulator(self) -> None:
        pass

    def _reset(self) -> None:
        pass
