"""Physically plausible bounds of every measured weather column, written once.

The flatten's reject reasons (``include/sql/weather/flatten_*.sql`` get them as
``params.measures``) and the audit's range checks (:func:`column_mapping`) both read this
table, so a value the flatten lets through can never fail the check for a different
reason, and changing a bound changes both. The bounds are the MIN/MAX of the NOAA ISD
format document for each field (the fleet replays ISD data, and a value outside them is
either a corrupted record or a unit error), widened to 0 where ISD starts at 1.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Measure:
    """One measured column: where it is in a message and what values are plausible."""

    column: str
    """Column of ``weather_observations`` (and, for the per-message measures, the field
    of the raw message whose ``value`` it is)."""
    minimum: float
    maximum: float
    unit: str


# ISD format document (fixed-width "mandatory" and GA1 sections), MIN/MAX per field.
MEASURES: tuple[Measure, ...] = (
    Measure("air_temperature", -93.2, 61.8, "°C"),
    Measure("dew_point", -98.2, 36.8, "°C"),
    Measure("wind_speed", 0.0, 90.0, "m/s"),
    Measure("wind_direction", 0.0, 360.0, "degrees"),
    Measure("sea_level_pressure", 860.0, 1090.0, "hPa"),
    Measure("visibility_distance", 0.0, 160000.0, "m"),
    Measure("sky_ceiling", 0.0, 22000.0, "m"),
)
CLOUD_BASE = Measure("base_height", -400.0, 35000.0, "m")
"""Cloud layer base (one per sky cover layer, so checked per layer, not per message)."""

ALL: tuple[Measure, ...] = (*MEASURES, CLOUD_BASE)


def sql_params() -> dict[str, Any]:
    """What the flatten's SQL files receive as ``params`` to type and bound-check records."""
    return {
        "measures": [asdict(m) for m in MEASURES],
        "cloud_base": asdict(CLOUD_BASE),
    }


def column_mapping() -> dict[str, dict[str, Any]]:
    """``SQLColumnCheckOperator`` column_mapping: every measured column within its bounds."""
    return {
        m.column: {"min": {"geq_to": m.minimum}, "max": {"leq_to": m.maximum}} for m in ALL
    }


def non_finite_statement() -> str:
    """A table-check statement true when no measured column holds NaN or ±Infinity.

    min/max ignore NULLs and NaN compares false, so the range checks alone could pass a
    NaN that is the only value of its column on some engines: this says it outright.
    """
    terms = " OR ".join(f"NOT is_finite({m.column})" for m in ALL)
    return f"COUNT_IF({terms}) = 0"
