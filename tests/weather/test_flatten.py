"""Flattening a day: columns, dedupe, late data, empty arrays, the day's partition only."""

from __future__ import annotations

from datetime import datetime

import pytest

from iot_lake import engine
from iot_lake.crawler import crawl_raw
from iot_lake.weather.pipeline import flatten_day, stats_day
from iot_lake.weather.tables import STATS_BY_CONDITION, STATS_BY_STATION, ensure_tables


@pytest.fixture
def crawled(lake_settings, raw_days):
    ensure_tables(lake_settings)
    crawl_raw(lake_settings)
    return raw_days


def _expected_rows(messages: list[dict]) -> int:
    return sum(
        max(len(m["sky_cover_condition"]), 1) * max(len(m["weather_condition"]), 1)
        for m in messages
    )


def test_a_day_becomes_one_row_per_observation_layer_and_condition_without_duplicates(
    crawled,
) -> None:
    """Every 7th message was delivered twice: still 120 observations (5 stations x 24 h)."""
    day = "2026-11-03"
    result = flatten_day(day)
    messages = crawled[day]
    assert result["observations"] == len(messages) == 120
    assert result["rows"] == _expected_rows(messages)
    rows = engine.run_query(
        "SELECT DISTINCT dt FROM weather_observations"
    )
    assert rows == [(day,)]


def test_nested_values_become_typed_columns(crawled) -> None:
    day = "2026-11-02"
    flatten_day(day)
    m = crawled[day][0]
    [row] = engine.run_query(
        "SELECT observed_at, air_temperature, air_temperature_quality, sea_level_pressure, "
        "sea_level_pressure_quality, visibility_distance, latitude "
        "FROM weather_observations WHERE weather_station = '{{ params.s }}' "
        "AND observed_at = TIMESTAMP '{{ params.t }}' LIMIT 1",
        params={"s": m["weather_station"], "t": m["time"].replace("T", " ").rstrip("Z")},
    )
    assert row[0] == datetime.fromisoformat(m["time"].rstrip("Z"))
    assert row[1:] == (
        m["air_temperature"]["value"], m["air_temperature"]["quality"],
        m["sea_level_pressure"]["value"], m["sea_level_pressure"]["quality"],
        m["visibility_distance"]["value"], m["latitude"],
    )


def test_observations_with_empty_arrays_are_kept(crawled) -> None:
    day = "2026-11-04"
    flatten_day(day)
    bare = [m for m in crawled[day] if not m["sky_cover_condition"] and not m["weather_condition"]]
    assert bare, "fixture must contain observations with both arrays empty"
    [(count,)] = engine.run_query(
        "SELECT count(*) FROM weather_observations WHERE dt = '{{ ds }}' "
        "AND coverage IS NULL AND present_weather_condition IS NULL",
        ds=day,
    )
    assert count >= len(bare)


def test_late_observations_land_in_their_observation_day(crawled) -> None:
    late = crawled["2026-11-03"][3]  # delivered a day and an hour late
    flatten_day("2026-11-03")
    [(count,)] = engine.run_query(
        "SELECT count(*) FROM weather_observations WHERE weather_station = '{{ params.s }}' "
        "AND observed_at = TIMESTAMP '{{ params.t }}'",
        params={"s": late["weather_station"], "t": late["time"].replace("T", " ").rstrip("Z")},
    )
    assert count >= 1
    # and the last hour of day 1, which arrived after midnight, is in day 1, not day 2
    flatten_day("2026-11-02")
    [(hours,)] = engine.run_query(
        "SELECT count(DISTINCT hour(observed_at)) FROM weather_observations "
        "WHERE dt = '2026-11-02'"
    )
    assert hours == 24


def test_stats_are_computed_over_distinct_observations(crawled) -> None:
    day = "2026-11-03"
    flatten_day(day)
    stats_day(STATS_BY_STATION, day)
    stats_day(STATS_BY_CONDITION, day)
    rows = engine.run_query(
        "SELECT weather_station, observation_count, air_temperature_min, air_temperature_avg, "
        "air_temperature_max FROM weather_stats_by_station_day WHERE dt = '{{ ds }}' "
        "ORDER BY weather_station",
        ds=day,
    )
    by_station: dict[str, list[float]] = {}
    for m in crawled[day]:
        by_station.setdefault(m["weather_station"], []).append(m["air_temperature"]["value"])
    expected = [
        (s, len(t), min(t), pytest.approx(sum(t) / len(t), abs=0.006), max(t))
        for s, t in sorted(by_station.items())
    ]
    assert rows == expected
    conditions = dict(
        engine.run_query(
            "SELECT coalesce(present_weather_condition, '-'), observation_count "
            "FROM weather_stats_by_condition_day WHERE dt = '{{ ds }}'",
            ds=day,
        )
    )
    expected_counts: dict[str, int] = {}
    for m in crawled[day]:
        names = {c["present_weather_condition"] for c in m["weather_condition"]} or {"-"}
        for name in names:
            expected_counts[name] = expected_counts.get(name, 0) + 1
    assert conditions == expected_counts
