"""The optional `energy:` section of a board file: sourced costs for estimates before deploying.

Each cost says what activity it multiplies (`counts` / `per`), whether its authors measured it on
the chip (`measured`), and where it comes from (`source`), so an estimate can show which of its
numbers are measurements and which are assumptions. The estimator (report/estimates.py) knows
only these names, never a board family. Layout and meaning: docs/boards.md, docs/energy.md.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

# Activity the estimator counts (per simulated second); an event cost multiplies one of them.
ACTIVITY = {
    "synaptic_events": "one synapse receiving one spike (spikes x fan-out)",
    "neuron_updates": "one neuron (not a spike source) updated for one step",
    "spikes": "one spike emitted (sources included)",
    "inter_chip_spikes": "one spike delivered to another chip (once per destination chip)",
    "chip_hops": "one spike crossing one chip-to-chip link (inter-chip spikes x hops)",
    "router_passes": "one spike packet passing one router (its own chip's, then one per hop)",
}
# What a static power (watts while the network runs) is multiplied by.
STATIC_PER = ("chip_used", "core_used", "chip", "board", "system")
STEP_MODELS = ("real_time", "per_core_work")


@dataclass(frozen=True)
class Cost:
    """One sourced number: joules per event, watts per unit, or seconds per event."""

    name: str
    value: float
    unit: str          # "J" | "W" | "s"
    counts: str        # an ACTIVITY name, a STATIC_PER name, or "" (barrier: once per step)
    measured: bool     # measured on the chip by its authors (False: simulated, derived or assumed)
    source: str


@dataclass(frozen=True)
class StepTime:
    """How long one step takes on the chip.

    real_time: a timer tick per step of dt x time_scale_factor (SpiNNaker).
    per_core_work: barrier + the busiest core's work (sum of `costs` over its events) (Loihi).
    """

    model: str
    source: str
    measured: bool
    time_scale_factor: float = 1.0
    costs: tuple[Cost, ...] = ()
    barrier: Cost | None = None


@dataclass(frozen=True)
class EnergyModel:
    events: tuple[Cost, ...]
    static: tuple[Cost, ...]
    step_time: StepTime | None


def _cost(r: Any, d: Any, where: str, name: str, unit_key: str, unit: str, kinds: tuple[str, ...] | dict,
          count_key: str | None) -> Cost:
    if not isinstance(d, dict):
        raise r.fail(where, f"a mapping with {unit_key}, {count_key + ', ' if count_key else ''}measured, source", d)
    allowed = (unit_key, "measured", "source") + ((count_key,) if count_key else ())
    unknown = sorted(str(k) for k in set(d) - set(allowed))
    if unknown:
        raise r.fail(f"{where}.{unknown[0]}", f"one of {list(allowed)} (unknown field)", unknown[0])
    v = d.get(unit_key, "<missing>")
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not (math.isfinite(v) and v >= 0):
        raise r.fail(f"{where}.{unit_key}", "a finite number >= 0 (write 1.0e-9, not 1e-9)", v)
    counts = ""
    if count_key:
        counts = d.get(count_key, "<missing>")
        if not isinstance(counts, str) or counts not in kinds:  # a list or mapping is not a kind (fuzzing found [])
            raise r.fail(f"{where}.{count_key}", f"one of {sorted(kinds)}", counts)
    measured = d.get("measured", "<missing>")
    if not isinstance(measured, bool):
        raise r.fail(f"{where}.measured", "true or false (measured on the chip by its authors?)", measured)
    source = d.get("source")
    if not isinstance(source, str) or not source.strip():
        raise r.fail(f"{where}.source", "a non-empty string naming where the number comes from", source)
    return Cost(name, float(v), unit, counts, measured, source.strip())


def _costs(r: Any, sec: Any, where: str, unit_key: str, unit: str, kinds: Any, count_key: str) -> tuple[Cost, ...]:
    if not isinstance(sec, dict):
        raise r.fail(where, "a mapping of name to cost", sec)
    return tuple(_cost(r, d, f"{where}.{k}", str(k), unit_key, unit, kinds, count_key) for k, d in sec.items())


def _step_time(r: Any, d: Any) -> StepTime:
    w = "energy.step_time"
    if not isinstance(d, dict):
        raise r.fail(w, "a mapping", d)
    allowed = ("model", "time_scale_factor", "costs", "barrier", "measured", "source")
    unknown = sorted(str(k) for k in set(d) - set(allowed))
    if unknown:
        raise r.fail(f"{w}.{unknown[0]}", f"one of {list(allowed)} (unknown field)", unknown[0])
    model = d.get("model", "<missing>")
    if not isinstance(model, str) or model not in STEP_MODELS:
        raise r.fail(f"{w}.model", f"one of {list(STEP_MODELS)}", model)
    measured, source = d.get("measured", "<missing>"), d.get("source")
    if not isinstance(measured, bool):
        raise r.fail(f"{w}.measured", "true or false", measured)
    if not isinstance(source, str) or not source.strip():
        raise r.fail(f"{w}.source", "a non-empty string", source)
    if model == "real_time":
        tsf = d.get("time_scale_factor", 1.0)
        if isinstance(tsf, bool) or not isinstance(tsf, (int, float)) or not (math.isfinite(tsf) and tsf > 0):
            raise r.fail(f"{w}.time_scale_factor", "a finite number > 0", tsf)
        return StepTime(model, source.strip(), measured, time_scale_factor=float(tsf))
    if "costs" not in d or "barrier" not in d:
        raise r.fail(f"{w}.{'costs' if 'costs' not in d else 'barrier'}", "present for model per_core_work",
                     "<missing>")
    costs = _costs(r, d["costs"], f"{w}.costs", "seconds", "s", ("synaptic_events", "neuron_updates"), "counts")
    barrier = _cost(r, d["barrier"], f"{w}.barrier", "barrier", "seconds", "s", (), None)
    return StepTime(model, source.strip(), measured, costs=costs, barrier=barrier)


def read_energy(r: Any, data: dict[str, Any]) -> EnergyModel | None:
    """The validated `energy:` section, or None when the board has none. `r` is schema._Reader."""
    if data.get("energy") is None:
        return None
    e = data["energy"]
    if not isinstance(e, dict):
        raise r.fail("energy", "a mapping with events, static, step_time", e)
    unknown = sorted(str(k) for k in set(e) - {"events", "static", "step_time"})
    if unknown and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in e.values()):
        # the unsourced name -> joules form of neurocompile before the sourced one (still in older
        # compile directories' board copies): readable, but it gives no estimates
        warnings.warn(f"{r.source}: field 'energy' uses the old form (name: joules) without sources; it is "
                      f"ignored and no energy estimate is made (docs/boards.md, `energy`)", stacklevel=2)
        return None
    if unknown:
        raise r.fail(f"energy.{unknown[0]}", "one of ['events', 'static', 'step_time'] (unknown field)", unknown[0])
    events = _costs(r, e.get("events", {}), "energy.events", "joules", "J", ACTIVITY, "counts")
    static = _costs(r, e.get("static", {}), "energy.static", "watts", "W", STATIC_PER, "per")
    step = _step_time(r, e["step_time"]) if "step_time" in e else None
    return EnergyModel(events, static, step)
