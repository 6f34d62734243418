"""IoT SQL evaluation: the subset the rules use, with IoT Core's Undefined semantics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simulators.iot_core.rule_sql import (
    UNDEFINED,
    MessageContext,
    RuleSqlError,
    evaluate_template,
    format_java_time,
    parse_rule_sql,
)

CTX = MessageContext(
    topic="sensor/weather", client_id="weather-station-01", timestamp_ms=1_700_000_000_123
)
OBS = {
    "weather_station": "010010-99999",
    "time": "2024-01-05T06:00:00Z",
    "latitude": 70.933,
    "air_temperature": {"value": -7.5, "quality": "1"},
    "wind_speed": {"value": None, "quality": "9"},
    "sky_cover_condition": [{"coverage": "OVC"}],
}


def test_select_star_returns_the_whole_document_and_is_a_passthrough() -> None:
    query = parse_rule_sql("SELECT * FROM 'sensor/weather'")
    assert query.topic_filter == "sensor/weather"
    assert query.is_passthrough
    assert query.evaluate(OBS, CTX) == OBS


def test_nested_fields_and_aliases_are_projected_and_missing_ones_left_out() -> None:
    query = parse_rule_sql(
        "SELECT weather_station, air_temperature.value AS t, air_temperature.quality, "
        "wind_speed.value AS w, no.such.field AS gone, sky_cover_condition FROM 'sensor/+'"
    )
    assert not query.is_passthrough
    assert query.evaluate(OBS, CTX) == {
        "weather_station": "010010-99999",
        "t": -7.5,
        "quality": "1",
        "w": None,
        "sky_cover_condition": [{"coverage": "OVC"}],
    }


@pytest.mark.parametrize(
    ("where", "matches"),
    [
        ("air_temperature.value < -5", True),
        ("air_temperature.value < -10", False),
        ("air_temperature.value <= -7.5 AND latitude > 70", True),
        ("air_temperature.value > 0 OR air_temperature.quality = '1'", True),
        ("NOT (air_temperature.value > 0 OR air_temperature.quality <> '1')", True),
        ("NOT air_temperature.value < -5", False),
        # A missing field makes the comparison Undefined: never a match, even negated.
        ("missing.value < 0", False),
        ("NOT (missing.value < 0)", False),
        # Ill-typed comparisons are Undefined too, equality across types is false.
        ("air_temperature.quality < 5", False),
        ("air_temperature.quality = 1", False),
        ("air_temperature.quality <> 1", True),
        ("wind_speed.value IS NULL", True),
        ("wind_speed.value IS NOT NULL", False),
        ("air_temperature.value * 2 + 1 = -14", True),
        ("topic() = 'sensor/weather' AND topic(2) = 'weather'", True),
        ("clientid() = 'weather-station-01'", True),
        ("timestamp() > 1600000000000", True),
    ],
)
def test_where_clauses_follow_iot_semantics(where: str, matches: bool) -> None:
    query = parse_rule_sql(f"SELECT * FROM 'sensor/weather' WHERE {where}")
    assert query.matches(OBS, CTX) is matches
    assert (query.evaluate(OBS, CTX) is not None) is matches


def test_functions_in_select_use_the_message_context() -> None:
    query = parse_rule_sql(
        "SELECT *, topic() AS t, topic(1) AS t1, topic(9) AS t9, timestamp() AS ts, "
        "clientid() AS c, parse_time('yyyy/MM/dd/HH', timestamp(), 'UTC') AS hour, "
        "upper(weather_station) AS up, abs(air_temperature.value) AS magnitude "
        "FROM 'sensor/#'"
    )
    result = query.evaluate(OBS, CTX)
    assert result is not None
    assert {k: result[k] for k in ("t", "t1", "ts", "c", "hour", "up", "magnitude")} == {
        "t": "sensor/weather",
        "t1": "sensor",
        "ts": 1_700_000_000_123,
        "c": "weather-station-01",
        "hour": "2023/11/14/22",
        "up": "010010-99999",
        "magnitude": 7.5,
    }
    assert "t9" not in result  # topic level that does not exist is Undefined


def test_the_cold_rule_file_statement_selects_the_dynamodb_item() -> None:
    sql = json.loads(Path("include/iot/rules/weather_cold_to_dynamodb.json").read_text())["sql"]
    query = parse_rule_sql(sql)
    item = query.evaluate(OBS, CTX)
    assert item == {
        "weather_station": "010010-99999",
        "latitude": 70.933,
        "time": "2024-01-05T06:00:00Z",
        "air_temperature_value": -7.5,
        "air_temperature_quality": "1",
        "wind_speed_value": None,
        "sky_cover_condition": [{"coverage": "OVC"}],
    }
    assert query.evaluate({**OBS, "air_temperature": {"value": -5}}, CTX) is None


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("SELECT * FROM sensor", "quoted topic filter"),
        ("SELECT * FROM 'a' JOIN 'b' ON x = y", "JOINS"),
        ("SELECT * FROM 'a' ORDER BY x", "ORDER"),
        ("SELECT get_thing_shadow(x) AS s FROM 'a'", "not supported"),
        ("SELECT * FROM 'a' WHERE x IN (1, 2)", "unsupported expression"),
        ("SELECT 1 + 2 FROM 'a'", "name with AS"),
        ("SELECT topic(1, 2) AS t FROM 'a'", "arguments"),
        ("DELETE FROM x", "one SELECT"),
        ("SELECT * FROM 'a' WHERE (", "cannot parse"),
    ],
)
def test_unsupported_or_broken_sql_is_refused_with_the_reason(sql: str, reason: str) -> None:
    with pytest.raises(RuleSqlError, match=reason):
        parse_rule_sql(sql)


def test_substitution_templates_resolve_expressions_in_action_fields() -> None:
    key = evaluate_template(
        "errors/${parse_time('yyyy/MM/dd/HH', timestamp(), 'UTC')}/${topic(2)}-${newuuid()}.json",
        OBS,
        CTX,
    )
    prefix, _, name = key.rpartition("/")
    assert prefix == "errors/2023/11/14/22"
    assert name.startswith("weather-") and name.endswith(".json") and len(name) == 49
    assert evaluate_template("${missing}", OBS, CTX) == ""
    with pytest.raises(RuleSqlError, match="unterminated"):
        evaluate_template("x/${topic()", OBS, CTX)


def test_java_time_patterns_render_like_iot_parse_time() -> None:
    import datetime as dt

    moment = dt.datetime(2024, 3, 9, 7, 5, 3, 42_000, tzinfo=dt.UTC)
    assert format_java_time("yyyy-MM-dd'T'HH:mm:ss.SSS", moment) == "2024-03-09T07:05:03.042"
    assert format_java_time("yy/M/d", moment) == "24/3/9"
    with pytest.raises(RuleSqlError, match="not supported"):
        format_java_time("EEE", moment)


def test_undefined_is_falsy_and_unique() -> None:
    assert not UNDEFINED
    assert repr(UNDEFINED) == "Undefined"


def test_the_cold_rule_leaves_precipitation_and_period_extremes_out_of_the_item() -> None:
    """A real cold Svalbard message carries KA extremes; the DynamoDB item does not
    (docs/weather_stations.md: a period's extreme is not the reading at ``time``)."""
    from simulators.weather_station.message import DATA_DIR, messages_from_file

    sql = json.loads(Path("include/iot/rules/weather_cold_to_dynamodb.json").read_text())["sql"]
    query = parse_rule_sql(sql)
    message = next(
        m
        for m in messages_from_file(DATA_DIR / "010060-99999-2014.gz")
        if m["extreme_temperature"] and (m["air_temperature"]["value"] or 0) < -5
    )

    item = query.evaluate(message, CTX)

    assert set(item) == {
        "weather_station", "latitude", "longitude", "elevation", "time",
        "air_temperature_value", "air_temperature_quality", "wind_speed_value",
        "weather_condition", "sky_cover_condition",
    }  # fmt: skip
    assert item["air_temperature_value"] == message["air_temperature"]["value"]
