"""The JSON message a weather station publishes for one observation.

Shape (validated by ``include/schemas/weather_message.schema.json``)::

    weather_station, latitude, longitude, elevation, time,
    air_temperature / dew_point / wind_speed / wind_direction / sea_level_pressure /
    sky_ceiling / visibility_distance: {"value": number|null, "quality": "<ISD code>"},
    sky_cover_condition: [{"coverage", "base_height", "cloud_type"}, ...]   (GA1-GA6)
    weather_condition: [{"present_weather_condition", "code", "source"}, ...] (AW, MW)
    liquid_precip: [{"hours", "depth", "condition", "quality"}, ...]            (AA1-AA4)
    extreme_temperature: [{"period_hours", "code", "temperature", "quality"}, ...] (KA1-KA4)

Types never vary between messages: every measured value is a JSON float (``5.0``, never
``5`` nor ``"5"``) or ``null`` (``hours`` of precipitation is a JSON integer or ``null``),
every array is always present, so a crawler infers one schema for every partition (no
HIVE_PARTITION_SCHEMA_MISMATCH downstream).

:func:`messages_from_files` is the entry point for tests and benches that need realistic
payloads without MQTT.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

# The MQTT topic every station publishes to (the library's: the IoT policy and ACL use it).
from iot_lake.devices.names import WEATHER_TOPIC as WEATHER_TOPIC
from simulators.weather_station.isd import (
    Measurement,
    Memo,
    Observation,
    ParseStats,
    read_observations,
)

DATA_DIR = Path(__file__).resolve().parent / "data"
"""Real NOAA ISD station files shipped with the project."""

# Replay order of the bundled stations: recent ASOS stations first (AW/GA groups), then
# the manual-era files; `--stations N` takes the first N. The first five are five
# different stations (the 1983 file is a second year of 725300-94846).
DEFAULT_FILES: tuple[str, ...] = (
    "722540-13904-2014.gz",
    "725300-94846-2014.gz",
    "010060-99999-2014.gz",
    "726430-14920-2015.gz",
    "723030-13714-1973.gz",
    "725300-94846-1983.gz",
)

Message = dict[str, Any]


def default_files(count: int | None = None) -> list[Path]:
    """The bundled ISD files in replay order (the first ``count`` of them)."""
    files = [DATA_DIR / name for name in DEFAULT_FILES]
    return files if count is None else files[:count]


_UTC_OFFSET = dt.timedelta(0)
# isoformat() of an aware datetime costs ~1 us, a tenth of producing a message: the day
# and the time of day texts are memoized instead (a station repeats both).
_DAY_TEXT: Memo[dt.date, str] = Memo(lambda day: day.isoformat() + "T")
_CLOCK_TEXT: Memo[dt.time, str] = Memo(lambda clock: clock.isoformat()[:8] + "Z")


def format_time(moment: dt.datetime) -> str:
    """ISO 8601 in UTC with a ``Z`` suffix, second precision (``2014-01-01T00:53:00Z``)."""
    if moment.tzinfo is not dt.UTC and moment.utcoffset() != _UTC_OFFSET:
        moment = moment.astimezone(dt.UTC)
    return _DAY_TEXT[moment.date()] + _CLOCK_TEXT[moment.time()]


def _measured(measurement: Measurement) -> dict[str, Any]:
    # The parser's values are already floats or None (never ints): no conversion needed.
    return {"value": measurement.value, "quality": measurement.quality}


def to_message(observation: Observation, *, time_shift: dt.timedelta | None = None) -> Message:
    """The published JSON object of one observation (``time_shift`` rebases its time)."""
    moment = observation.time + time_shift if time_shift else observation.time
    return {
        "weather_station": observation.station,
        "latitude": observation.latitude,
        "longitude": observation.longitude,
        "elevation": observation.elevation,
        "time": format_time(moment),
        "air_temperature": _measured(observation.air_temperature),
        "dew_point": _measured(observation.dew_point),
        "wind_speed": _measured(observation.wind_speed),
        "wind_direction": _measured(observation.wind_direction),
        "sea_level_pressure": _measured(observation.sea_level_pressure),
        "sky_ceiling": _measured(observation.ceiling),
        "visibility_distance": _measured(observation.visibility),
        "sky_cover_condition": [
            {
                "coverage": layer.coverage,
                "base_height": layer.base_height,
                "cloud_type": layer.cloud_type,
            }
            for layer in observation.sky_cover
        ],
        "weather_condition": [
            {
                "present_weather_condition": weather.condition,
                "code": weather.code,
                "source": weather.source,
            }
            for weather in observation.present_weather
        ],
        "liquid_precip": [
            {
                "hours": precip.hours,
                "depth": precip.depth,
                "condition": precip.condition,
                "quality": precip.quality,
            }
            for precip in observation.liquid_precip
        ],
        "extreme_temperature": [
            {
                "period_hours": extreme.period_hours,
                "code": extreme.code,
                "temperature": extreme.temperature,
                "quality": extreme.quality,
            }
            for extreme in observation.extreme_temperature
        ],
    }


def encode(message: Message) -> bytes:
    """Compact UTF-8 JSON, the MQTT payload.

    orjson writes exactly what ``json.dumps(separators=(",", ":"), ensure_ascii=False)``
    wrote for these messages (keys in insertion order, the same shortest float texts,
    checked byte for byte on every bundled observation) at about 15x the speed.
    """
    return orjson.dumps(message)


def messages_from_file(
    path: str | os.PathLike[str],
    *,
    stats: ParseStats | None = None,
    hours: float | None = None,
    time_shift: dt.timedelta | None = None,
) -> Iterator[Message]:
    """Messages of one ISD file in time order; ``hours`` keeps the first N hours only."""
    end: dt.datetime | None = None
    for observation in read_observations(path, stats):
        if hours is not None:
            if end is None:
                end = observation.time + dt.timedelta(hours=hours)
            if observation.time >= end:
                break
        yield to_message(observation, time_shift=time_shift)


def messages_from_files(
    paths: Iterable[str | os.PathLike[str]] | None = None,
    *,
    stats: ParseStats | None = None,
    hours: float | None = None,
) -> Iterator[Message]:
    """Messages of several ISD files, file after file (default: the bundled files)."""
    for path in default_files() if paths is None else paths:
        yield from messages_from_file(path, stats=stats, hours=hours)
