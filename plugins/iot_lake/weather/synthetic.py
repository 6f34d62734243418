"""Raw weather objects exactly as the ingest side writes them, for tests and benchmarks.

Messages have the shape of ``include/schemas/weather_message.schema.json`` (issue 5's
station message) and objects the Firehose layout with dynamic partitioning on the
message's own day and arrival day
(``weather/day=YYYY-MM-DD/arrived=YYYY-MM-DD/<stream>-1-YYYY-MM-DD-HH-MM-SS-<uuid>.gz``,
``day=undated`` when ``time`` is not a date; gzip, one record per line). The object name
carries the *arrival* time, which may differ from the observation time (late data).
Deterministic for a seed (object names carry a random UUID, as Firehose's do).
"""

from __future__ import annotations

import gzip
import json
import random
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from iot_lake.storage import atomic_open, join
from iot_lake.weather.layout import arrival_prefix, day_key

STREAM = "iot-lake-raw-weather"
STATIONS = (
    ("722540-13904", 30.183, -97.68, 151.0),
    ("725300-94846", 41.995, -87.934, 201.8),
    ("010060-99999", 78.25, 22.817, 14.0),
    ("726430-14920", 43.879, -91.253, 198.1),
    ("723030-13714", 35.167, -79.017, 66.8),
)
COVERAGES = ("Clear - No coverage", "One okta - 1/10 or less but not zero",
             "Four oktas - 5/10, or SCT", "Eight oktas - 10/10, or OVC")
CLOUD_TYPES = ("Cumulus (Cu)", "Stratus (St)", "Cirrus (Ci)", None)
CONDITIONS = (("Rain, not freezing, slight", "61", "MW"), ("Mist", "10", "MW"),
              ("Snow, slight", "71", "AW"), ("Fog", "30", "AW"))

Message = dict[str, Any]


def _measure(value: float | None, quality: str = "5") -> dict[str, Any]:
    return {"value": value, "quality": quality if value is not None else "9"}


def message(
    station: str,
    observed_at: datetime,
    rng: random.Random,
    sky_layers: int | None = None,
    conditions: int | None = None,
    air_temperature: float | bool | None = True,
) -> Message:
    """One station message; ``sky_layers``/``conditions`` fix the array sizes (None: random)."""
    known = {s[0]: s for s in STATIONS}
    _, lat, lon, elevation = known.get(station, (station, 45.0, 7.0, 300.0))
    layers = rng.choice((0, 0, 1, 1, 2, 3)) if sky_layers is None else sky_layers
    groups = rng.choice((0, 0, 0, 1, 2)) if conditions is None else conditions
    temperature = round(rng.uniform(-25, 35), 1) if air_temperature is True else air_temperature
    return {
        "weather_station": station,
        "latitude": lat,
        "longitude": lon,
        "elevation": elevation,
        "time": observed_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "air_temperature": _measure(temperature),
        "dew_point": _measure(round(rng.uniform(-30, 20), 1)),
        "wind_speed": _measure(round(rng.uniform(0, 15), 1)),
        "wind_direction": _measure(float(rng.randrange(0, 360, 10))),
        "sea_level_pressure": _measure(rng.choice((None, round(rng.uniform(990, 1035), 1)))),
        "sky_ceiling": _measure(float(rng.choice((22000, 1200, 600)))),
        "visibility_distance": _measure(float(rng.choice((16093, 8000, 400)))),
        "sky_cover_condition": [
            {
                "coverage": rng.choice(COVERAGES),
                "base_height": float(rng.choice((300, 1200, 6096))),
                "cloud_type": rng.choice(CLOUD_TYPES),
            }
            for _ in range(layers)
        ],
        "weather_condition": [
            dict(zip(("present_weather_condition", "code", "source"), rng.choice(CONDITIONS),
                     strict=True))
            for _ in range(groups)
        ],
        # Drawn last, so the fields above stay what they were for a seed.
        "liquid_precip": [
            {"hours": rng.choice((1, 6, 24)), "depth": round(rng.uniform(0, 30), 1),
             "condition": rng.choice(("2", "9", None)), "quality": "5"}
            for _ in range(rng.choice((0, 0, 1, 2)))
        ],
        "extreme_temperature": [
            {"period_hours": 12.0, "code": code,
             "temperature": round(rng.uniform(-20, 30), 1), "quality": "5"}
            for code in rng.choice(((), (), ("N",), ("N", "M")))
        ],
    }


def hourly_messages(
    day: str,
    stations: Iterable[str] = tuple(s[0] for s in STATIONS),
    per_hour: int = 1,
    seed: int = 7,
) -> list[Message]:
    """Messages of one observation day: ``per_hour`` per station per hour."""
    rng = random.Random(seed)
    start = datetime.fromisoformat(day).replace(tzinfo=UTC)
    step = timedelta(minutes=60 // max(per_hour, 1))
    out = []
    for hour in range(24):
        for station in stations:
            for n in range(per_hour):
                out.append(message(station, start + timedelta(hours=hour) + n * step, rng))
    return out


def object_key(arrival: datetime, day: str, stream: str = STREAM) -> str:
    """``weather/day=<day>/arrived=<YYYY-MM-DD>/<stream>-1-YYYY-MM-DD-HH-MM-SS-<uuid>.gz``
    (Firehose's layout)."""
    a = arrival.astimezone(UTC)
    name = f"{stream}-1-{a:%Y-%m-%d-%H-%M-%S}-{uuid.uuid4()}.gz"
    return arrival_prefix(day, f"{a:%Y-%m-%d}") + name


def write_object(
    raw_uri: str, records: Iterable[Message | str], arrival: datetime, day: str,
    stream: str = STREAM,
) -> str:
    """One raw object of exactly these records (a ``str`` is written as the line itself)."""
    uri = join(raw_uri, object_key(arrival, day, stream))
    with atomic_open(uri) as handle:
        handle.write(encode_records(records))
    return uri


def encode_records(messages: Iterable[Message | str]) -> bytes:
    """Firehose with separator "\\n": every record followed by a newline, gzip-compressed."""
    lines = (m if isinstance(m, str) else json.dumps(m, separators=(",", ":")) for m in messages)
    return gzip.compress("".join(f"{line}\n" for line in lines).encode(), compresslevel=1)


def write_raw(
    raw_uri: str,
    messages: Iterable[Message],
    arrival: Callable[[Message], datetime] | None = None,
    records_per_object: int = 500,
    stream: str = STREAM,
) -> list[str]:
    """Write messages as raw objects, as Firehose with dynamic partitioning does.

    Messages are grouped by their day folder (the ``time`` rule of
    :func:`iot_lake.weather.layout.day_key`) and arrival hour; each object is named after
    the arrival of its first record. ``arrival`` maps a message to its arrival time
    (default: its observation time plus a minute). Returns the URIs written.
    """
    def default_arrival(m: Message) -> datetime:
        observed = datetime.strptime(m["time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        return observed + timedelta(minutes=1)

    arrival = arrival or default_arrival
    groups: dict[tuple[str, datetime], list[tuple[datetime, Message]]] = defaultdict(list)
    for m in messages:
        at = arrival(m)
        hour = at.replace(minute=0, second=0, microsecond=0)
        groups[(day_key(m.get("time")), hour)].append((at, m))
    written = []
    for (day, _hour), batch in sorted(groups.items()):
        batch.sort(key=lambda item: item[0])
        for start in range(0, len(batch), records_per_object):
            chunk = batch[start : start + records_per_object]
            written.append(
                write_object(raw_uri, [m for _, m in chunk], chunk[0][0], day, stream)
            )
    return written
