"""Typed records the passes leave behind (what they decided and what it cost), JSON-ready.

They live apart from the passes so the compiled-network file, the report and the backends can
read them without importing the compiler.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np


@dataclass
class QuantizationRecord:
    """What `quantize` chose and the error it introduced (docs/report-schema.md, `quantization`).

    projections: per projection, error statistics (relative/absolute error, zeroed, saturated) and
    the chosen exponent or shift; populations: per population, the voltage scale, decays and
    thresholds (Loihi) or nothing; ring_buffer_shifts: per population and receptor, the shift the
    sPyNNaker rule chose (SpiNNaker).
    """

    number_format: str | None = None
    projections: dict[str, dict[str, Any]] = field(default_factory=dict)
    populations: dict[str, dict[str, Any]] = field(default_factory=dict)
    ring_buffer_shifts: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "QuantizationRecord":
        return cls(**{k: d.get(k, {} if k != "number_format" else None) for k in cls.__dataclass_fields__})


@dataclass
class DelayRecord:
    """What `delays` did: SpiNNaker delay-extension stages per pre population, Loihi relay chains."""

    extensions: dict[str, dict[str, Any]] = field(default_factory=dict)
    relays: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "DelayRecord":
        return cls(extensions=d.get("extensions", {}), relays=d.get("relays", {}))


def jsonable(value: Any) -> Any:
    """Plain JSON values from options and records (numpy scalars and arrays, sets and tuples)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return [jsonable(v) for v in sorted(value)]
    if isinstance(value, (tuple, list)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value
