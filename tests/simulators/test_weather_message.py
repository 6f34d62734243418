"""The published JSON message: exact shape, stable types, schema, none of the lab's defects."""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections import Counter
from collections.abc import Callable
from typing import Any

import jsonschema
import pytest

from simulators.weather_station import messages_from_file, messages_from_files
from simulators.weather_station.isd import parse_line
from simulators.weather_station.message import (
    DATA_DIR,
    default_files,
    encode,
    format_time,
    to_message,
)

FIELDS = [
    "weather_station",
    "latitude",
    "longitude",
    "elevation",
    "time",
    "air_temperature",
    "dew_point",
    "wind_speed",
    "wind_direction",
    "sea_level_pressure",
    "sky_ceiling",
    "visibility_distance",
    "sky_cover_condition",
    "weather_condition",
    "liquid_precip",
    "extreme_temperature",
]
MEASURED = FIELDS[5:12]
# The ISD missing-value sentinels once scaled: what the lab's converter leaked as numbers.
SENTINELS = {
    "air_temperature": 999.9,
    "dew_point": 999.9,
    "wind_speed": 999.9,
    "wind_direction": 999.0,
    "sea_level_pressure": 9999.9,
    "sky_ceiling": 99999.0,
    "visibility_distance": 999999.0,
}


def test_message_has_exactly_the_lab_fields_and_values(
    isd_record: Callable[..., str], message_schema: jsonschema.protocols.Validator
) -> None:
    record = isd_record(
        additional="ADDAW1611GA1081+004501061MW1021",
    )
    message = to_message(parse_line(record))

    message_schema.validate(message)
    assert list(message) == FIELDS
    assert message["weather_station"] == "722540-13904"
    assert message["time"] == "2014-01-01T00:53:00Z"
    assert message["air_temperature"] == {"value": 5.6, "quality": "5"}
    assert message["sea_level_pressure"] == {"value": 1026.8, "quality": "5"}
    assert message["sky_cover_condition"] == [
        {
            "coverage": "Eight oktas - 10/10, or OVC",
            "base_height": 450.0,
            "cloud_type": "Stratocumulus (Sc)",
        }
    ]
    assert message["weather_condition"] == [
        {"present_weather_condition": "Rain, not freezing, slight", "code": "61", "source": "AW"},
        {
            "present_weather_condition": "State of sky on the whole unchanged",
            "code": "02",
            "source": "MW",
        },
    ]


def test_missing_values_are_null_not_sentinels(
    isd_record: Callable[..., str], message_schema: jsonschema.protocols.Validator
) -> None:
    record = isd_record(
        air_temperature="+9999",
        sea_level_pressure="99999",
        sea_level_pressure_quality="9",
        visibility="999999",
        ceiling="99999",
        wind_speed="9999",
        additional="ADDGA1991+999999999",
    )
    message = to_message(parse_line(record))

    message_schema.validate(message)
    for name in ("air_temperature", "sea_level_pressure", "visibility_distance", "sky_ceiling"):
        assert message[name]["value"] is None
    assert message["sea_level_pressure"]["quality"] == "9"
    assert message["sky_cover_condition"] == [
        {"coverage": None, "base_height": None, "cloud_type": None}
    ]


def test_arrays_are_present_and_empty_when_the_groups_are_absent(
    isd_record: Callable[..., str],
) -> None:
    message = to_message(parse_line(isd_record()))

    assert message["sky_cover_condition"] == []
    assert message["weather_condition"] == []
    assert message["liquid_precip"] == []
    assert message["extreme_temperature"] == []


def _all_real_messages() -> list[dict[str, Any]]:
    return list(messages_from_files())


def test_every_real_message_has_stable_types() -> None:
    """Numbers are floats or null in every message, never strings, ints or sentinels."""
    for message in _all_real_messages():
        assert list(message) == FIELDS
        for name in ("latitude", "longitude", "elevation"):
            assert message[name] is None or type(message[name]) is float
        assert message["latitude"] != 99.999 and message["elevation"] != 9999.0
        for name in MEASURED:
            value = message[name]["value"]
            assert value is None or type(value) is float, (name, message)
            assert value != SENTINELS[name], (name, message)
            assert isinstance(message[name]["quality"], str)
        for layer in message["sky_cover_condition"]:
            assert layer["base_height"] is None or type(layer["base_height"]) is float
            assert layer["coverage"] is None or isinstance(layer["coverage"], str)
            assert layer["cloud_type"] is None or isinstance(layer["cloud_type"], str)
        assert isinstance(message["weather_condition"], list)
        for precip in message["liquid_precip"]:
            assert precip["hours"] is None or type(precip["hours"]) is int
            assert precip["depth"] is None or type(precip["depth"]) is float
            assert precip["depth"] != 999.9 and precip["hours"] != 99
        for extreme in message["extreme_temperature"]:
            assert extreme["period_hours"] is None or type(extreme["period_hours"]) is float
            assert extreme["temperature"] is None or type(extreme["temperature"]) is float
            assert extreme["temperature"] != 999.9 and extreme["period_hours"] != 99.9


def test_real_messages_validate_against_the_schema(
    message_schema: jsonschema.protocols.Validator,
) -> None:
    for path in default_files():
        # Every 40th message of each station keeps the run short (jsonschema is slow) but
        # spans all stations, eras and group mixes; the type test covers every message.
        for i, message in enumerate(messages_from_file(path)):
            if i % 40 == 0:
                message_schema.validate(message)


def test_cloud_type_is_not_one_bogus_value_across_real_data() -> None:
    types = Counter(
        layer["cloud_type"]
        for message in messages_from_file(DATA_DIR / "725300-94846-1983.gz")
        for layer in message["sky_cover_condition"]
    )

    named = {k: v for k, v in types.items() if k is not None}
    assert len(named) >= 5
    assert max(named.values()) < 0.7 * sum(named.values())


def test_sea_level_pressure_keeps_its_quality_code_in_real_data() -> None:
    qualities = {
        m["sea_level_pressure"]["quality"]
        for m in messages_from_file(DATA_DIR / "722540-13904-2014.gz")
    }

    assert qualities >= {"5", "9"}


def test_rebasing_moves_only_the_time(isd_record: Callable[..., str]) -> None:
    observation = parse_line(isd_record())

    original = to_message(observation)
    moved = to_message(observation, time_shift=dt.timedelta(days=3, hours=2))

    assert moved["time"] == "2014-01-04T02:53:00Z"
    assert {k: v for k, v in moved.items() if k != "time"} == {
        k: v for k, v in original.items() if k != "time"
    }


def test_encoded_payload_is_compact_json_of_the_message(isd_record: Callable[..., str]) -> None:
    message = to_message(parse_line(isd_record()))

    payload = encode(message)

    assert json.loads(payload) == message
    assert b" " not in payload.replace(b"Four oktas", b"")


def test_payloads_are_byte_for_byte_what_the_json_module_writes() -> None:
    """encode() uses orjson; the bytes on the wire must not change with it."""
    for message in _all_real_messages():
        assert (
            encode(message)
            == json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()
        )


def test_time_is_formatted_in_utc_whatever_the_zone() -> None:
    utc = dt.datetime(2014, 1, 1, 0, 53, 7, 123456, tzinfo=dt.UTC)
    paris = utc.astimezone(dt.timezone(dt.timedelta(hours=1)))

    assert format_time(utc) == format_time(paris) == "2014-01-01T00:53:07Z"


def test_messages_from_files_yields_the_bundled_stations_in_time_order() -> None:
    messages = list(messages_from_files(hours=24))

    stations = [m["weather_station"] for m in messages]
    assert set(stations) == {
        "722540-13904",
        "725300-94846",
        "010060-99999",
        "726430-14920",
        "723030-13714",
    }
    first_station = [m["time"] for m in messages if m["weather_station"] == "722540-13904"]
    assert first_station == sorted(first_station)
    assert first_station[-1] < "2014-01-02T00:00:00Z"


@pytest.mark.parametrize(
    ("path", "change"),
    [
        (("air_temperature", "value"), "5.6"),
        (("sky_cover_condition",), None),
        (("weather_condition",), {}),
        (("liquid_precip",), None),
        (
            ("extreme_temperature",),
            [{"period_hours": "24", "code": "M", "temperature": 1.0, "quality": "1"}],
        ),
        (("time",), "2014-01-01 00:53"),
        (("sea_level_pressure", "quality"), None),
    ],
)
def test_schema_rejects_unstable_types(
    isd_record: Callable[..., str],
    message_schema: jsonschema.protocols.Validator,
    path: tuple[str, ...],
    change: object,
) -> None:
    message = copy.deepcopy(to_message(parse_line(isd_record())))
    target = message
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = change

    with pytest.raises(jsonschema.ValidationError):
        message_schema.validate(message)


def test_schema_rejects_a_missing_field(
    isd_record: Callable[..., str], message_schema: jsonschema.protocols.Validator
) -> None:
    message = to_message(parse_line(isd_record()))
    del message["sea_level_pressure"]

    with pytest.raises(jsonschema.ValidationError):
        message_schema.validate(message)
