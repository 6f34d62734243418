"""Flattening a day: columns, dedupe, late data, empty arrays, the day's partition only."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlglot import exp

from iot_lake.engine import get_engine
from iot_lake.sql.transpile import duckdb_tree, parse_one
from iot_lake.weather import synthetic
from iot_lake.weather.pipeline import day_select, flatten_day, stats_day
from iot_lake.weather.tables import STATS_BY_CONDITION, STATS_BY_STATION, ensure_tables


@pytest.fixture
def declared(lake_settings, raw_days):
    ensure_tables(lake_settings)
    return raw_days


def _expected_rows(messages: list[dict]) -> int:
    return sum(
        max(len(m["sky_cover_condition"]), 1) * max(len(m["weather_condition"]), 1)
        for m in messages
    )


def test_a_day_becomes_one_row_per_observation_layer_and_condition_without_duplicates(
    declared,
) -> None:
    """Every 7th message was delivered twice: still 120 observations (5 stations x 24 h)."""
    day = "2026-11-03"
    result = flatten_day(day)
    messages = declared[day]
    assert result["observations"] == len(messages) == 120
    assert result["rows"] == _expected_rows(messages)
    assert result["rejects"] == 0
    rows = get_engine().query("SELECT DISTINCT dt FROM weather_observations").rows
    assert rows == [(day,)]


def test_nested_values_become_typed_columns(declared) -> None:
    day = "2026-11-02"
    flatten_day(day)
    m = declared[day][0]
    [row] = get_engine().query(
        "SELECT observed_at, air_temperature, air_temperature_quality, sea_level_pressure, "
        "sea_level_pressure_quality, visibility_distance, latitude "
        "FROM weather_observations WHERE weather_station = '{{ params.s }}' "
        "AND observed_at = TIMESTAMP '{{ params.t }}' LIMIT 1",
        params={"s": m["weather_station"], "t": m["time"].replace("T", " ").rstrip("Z")},
    ).rows
    assert row[0] == datetime.fromisoformat(m["time"].rstrip("Z"))
    assert row[1:] == (
        m["air_temperature"]["value"], m["air_temperature"]["quality"],
        m["sea_level_pressure"]["value"], m["sea_level_pressure"]["quality"],
        m["visibility_distance"]["value"], m["latitude"],
    )


def test_precipitation_and_extreme_temperatures_stay_nested_arrays(declared) -> None:
    day = "2026-11-03"
    flatten_day(day)
    rows = get_engine().query(
        "SELECT DISTINCT weather_station, observed_at, liquid_precip, extreme_temperature "
        "FROM weather_observations WHERE dt = '{{ ds }}'",
        ds=day,
    ).rows
    got = {(r[0], r[1].isoformat() + "Z"): (r[2], r[3]) for r in rows}
    assert len(got) == 120
    for m in declared[day]:
        precip, extremes = got[(m["weather_station"], m["time"])]
        assert precip == m["liquid_precip"]
        assert extremes == m["extreme_temperature"]
    assert any(p for p, _ in got.values()) and any(e for _, e in got.values())


def test_observations_with_empty_arrays_are_kept(declared) -> None:
    day = "2026-11-04"
    flatten_day(day)
    bare = [m for m in declared[day] if not m["sky_cover_condition"] and not m["weather_condition"]]
    assert bare, "fixture must contain observations with both arrays empty"
    [(count,)] = get_engine().query(
        "SELECT count(*) FROM weather_observations WHERE dt = '{{ ds }}' "
        "AND coverage IS NULL AND present_weather_condition IS NULL",
        ds=day,
    ).rows
    assert count >= len(bare)


def test_late_observations_land_in_their_observation_day(declared) -> None:
    late = declared["2026-11-03"][3]  # delivered a day and an hour late
    flatten_day("2026-11-03")
    [(count,)] = get_engine().query(
        "SELECT count(*) FROM weather_observations WHERE weather_station = '{{ params.s }}' "
        "AND observed_at = TIMESTAMP '{{ params.t }}'",
        params={"s": late["weather_station"], "t": late["time"].replace("T", " ").rstrip("Z")},
    ).rows
    assert count >= 1
    # and the last hour of day 1, which arrived after midnight, is in day 1, not day 2
    flatten_day("2026-11-02")
    [(hours,)] = get_engine().query(
        "SELECT count(DISTINCT hour(observed_at)) FROM weather_observations "
        "WHERE dt = '2026-11-02'"
    ).rows
    assert hours == 24


def test_a_day_read_long_after_it_arrived_needs_no_window(lake_settings) -> None:
    """A replay of old readings lands in its observation day's folder: found as is."""
    rng = random.Random(8)
    old = datetime(2014, 6, 1, 12, tzinfo=UTC)
    messages = [synthetic.message("725300-94846", old + timedelta(hours=h), rng) for h in range(3)]
    synthetic.write_raw(lake_settings.uri("raw"), messages,
                        arrival=lambda _m: datetime(2026, 11, 30, 9, tzinfo=UTC))
    ensure_tables(lake_settings)
    assert flatten_day("2014-06-01")["observations"] == 3


def test_stats_are_computed_over_distinct_observations(declared) -> None:
    day = "2026-11-03"
    flatten_day(day)
    stats_day(STATS_BY_STATION, day)
    stats_day(STATS_BY_CONDITION, day)
    rows = get_engine().query(
        "SELECT weather_station, observation_count, air_temperature_min, air_temperature_avg, "
        "air_temperature_max FROM weather_stats_by_station_day WHERE dt = '{{ ds }}' "
        "ORDER BY weather_station",
        ds=day,
    ).rows
    by_station: dict[str, list[float]] = {}
    for m in declared[day]:
        by_station.setdefault(m["weather_station"], []).append(m["air_temperature"]["value"])
    expected = [
        (s, len(t), min(t), pytest.approx(sum(t) / len(t), abs=0.006), max(t))
        for s, t in sorted(by_station.items())
    ]
    assert rows == expected
    conditions = dict(
        get_engine().query(
            "SELECT coalesce(present_weather_condition, '-'), observation_count "
            "FROM weather_stats_by_condition_day WHERE dt = '{{ ds }}'",
            ds=day,
        ).rows
    )
    expected_counts: dict[str, int] = {}
    for m in declared[day]:
        names = {c["present_weather_condition"] for c in m["weather_condition"]} or {"-"}
        for name in names:
            expected_counts[name] = expected_counts.get(name, 0) + 1
    assert conditions == expected_counts


def test_the_earliest_arrival_of_a_duplicated_observation_wins(lake_settings) -> None:
    """Copies that differ (a resend with other values) keep the first one to arrive."""
    rng = random.Random(3)
    observed = datetime(2026, 11, 3, 5, 0, tzinfo=UTC)
    first = synthetic.message("722540-13904", observed, rng, 1, 1, air_temperature=11.5)
    later = {**first, "air_temperature": {"value": 12.5, "quality": "5"}}
    latest = {**first, "air_temperature": {"value": 13.5, "quality": "5"}}
    raw = lake_settings.uri("raw")
    # written out of arrival order: the arrival in the object names, not write order, decides
    synthetic.write_raw(raw, [latest], arrival=lambda _m: observed + timedelta(days=1))
    synthetic.write_raw(raw, [later], arrival=lambda _m: observed + timedelta(hours=2))
    synthetic.write_raw(raw, [first], arrival=lambda _m: observed + timedelta(minutes=20))
    ensure_tables(lake_settings)
    result = flatten_day("2026-11-03")
    assert (result["observations"], result["rows"]) == (1, 1)
    assert get_engine().query("SELECT air_temperature FROM weather_observations").rows == [(11.5,)]


def test_null_and_missing_arrays_keep_the_observation(lake_settings) -> None:
    """Athena's LEFT JOIN UNNEST(NULL) ON TRUE gives one row of NULLs: so must DuckDB."""
    rng = random.Random(4)
    hour = datetime(2026, 11, 3, 7, 0, tzinfo=UTC)
    full = synthetic.message("722540-13904", hour, rng, 2, 1)
    null_arrays = {
        **synthetic.message("725300-94846", hour, rng, 0, 0),
        "sky_cover_condition": None,
        "weather_condition": None,
    }
    missing = synthetic.message("010060-99999", hour, rng, 1, 0)
    del missing["weather_condition"]
    synthetic.write_raw(lake_settings.uri("raw"), [full, null_arrays, missing])
    ensure_tables(lake_settings)
    result = flatten_day("2026-11-03")
    assert (result["observations"], result["rows"]) == (3, 2 + 1 + 1)
    rows = dict(
        get_engine().query(
            "SELECT weather_station, count(*) FROM weather_observations "
            "WHERE coverage IS NULL AND present_weather_condition IS NULL "
            "GROUP BY weather_station"
        ).rows
    )
    assert rows == {"725300-94846": 1}
    [(coverage, condition)] = get_engine().query(
        "SELECT coverage, present_weather_condition FROM weather_observations "
        "WHERE weather_station = '010060-99999'"
    ).rows
    assert coverage == missing["sky_cover_condition"][0]["coverage"] and condition is None


def test_struct_fields_bind_by_name_whatever_their_order_in_the_record(lake_settings) -> None:
    """A sky layer written {cloud_type, base_height, coverage} lands in the right columns."""
    rng = random.Random(5)
    m = synthetic.message("722540-13904", datetime(2026, 11, 3, 9, tzinfo=UTC), rng, 0, 0)
    m["sky_cover_condition"] = [
        {"cloud_type": "Cirrus (Ci)", "base_height": 6096.0,
         "coverage": "Four oktas - 5/10, or SCT"}
    ]
    m["weather_condition"] = [{"source": "MW", "code": "10", "present_weather_condition": "Mist"}]
    synthetic.write_raw(lake_settings.uri("raw"), [m])
    ensure_tables(lake_settings)
    flatten_day("2026-11-03")
    assert get_engine().query(
        "SELECT cloud_type, base_height, coverage, present_weather_source, present_weather_code, "
        "present_weather_condition FROM weather_observations"
    ).rows == [("Cirrus (Ci)", 6096.0, "Four oktas - 5/10, or SCT", "MW", "10", "Mist")]


def test_left_join_unnest_runs_as_a_plain_unnest_on_duckdb(lake_settings) -> None:
    """The flatten's LEFT JOIN UNNEST ... ON TRUE is not a correlated LEFT JOIN on DuckDB.

    DuckDB plans a LEFT JOIN of a correlated subquery as a join keyed on every column of
    the observation (2x the time and memory of a plain unnest on a day of messages).
    """
    text = day_select("weather_observations", "2026-11-03", lake_settings)
    athena = parse_one(text)
    local = duckdb_tree(athena)
    sides = [(join.side or "").upper() for join in athena.find_all(exp.Join)]
    assert sides.count("LEFT") == 2
    assert not [join for join in local.find_all(exp.Join) if join.side]
    assert local.sql(dialect="duckdb").count("ELSE [NULL] END, max_depth := 2)") == 2


def test_stage_day_writes_aside_and_publishes_nothing(declared, lake_settings) -> None:
    """The write of write -> audit -> publish: a day staged, the curated tables untouched."""
    import duckdb

    from iot_lake.catalog import get_catalog
    from iot_lake.storage import filesystem
    from iot_lake.weather.pipeline import stage_day

    written = stage_day("2026-11-03")
    rejects, observations = written["staged"]
    assert observations["rows"] == _expected_rows(declared["2026-11-03"])
    assert rejects["rows"] == 0 and written["rejects"] == 0
    assert written["observations"] == 120
    path = filesystem(observations["location"])[1]
    assert "/weather_observations/_staging/dt=2026-11-03/run=" in path
    [(distinct,)] = duckdb.sql(
        f"SELECT count(DISTINCT (weather_station, observed_at)) "
        f"FROM read_parquet('{path}/*.parquet')"
    ).fetchall()
    assert distinct == 120
    catalog = get_catalog(lake_settings)
    for table in ("weather_observations", "weather_rejects"):
        assert catalog.get_partitions("iot_lake", table) == []
        assert len(catalog.get_partitions("iot_lake_staging", table)) == 1


def test_the_typed_pass_is_retired_once_the_day_is_published(declared, lake_settings) -> None:
    """The intermediate stays staged through the audit, then only until its grace ends."""
    from datetime import timedelta

    from iot_lake.catalog import get_catalog
    from iot_lake.storage import filesystem
    from iot_lake.wap import superseded
    from iot_lake.weather.pipeline import publish_day, stage_day

    catalog = get_catalog(lake_settings)
    written = stage_day("2026-11-03")
    [typed] = written["intermediate"]
    assert len(catalog.get_partitions("iot_lake_staging", "weather_typed_records")) == 1
    publish_day(written)
    assert catalog.get_partitions("iot_lake_staging", "weather_typed_records") == []
    assert catalog.get_partitions("iot_lake", "weather_typed_records") == []  # never published
    fs, path = filesystem(typed["location"])
    assert fs.exists(path)  # a query planned on it may still read it
    removed = superseded.expire_superseded(lake_settings, grace=timedelta(0))
    assert typed["location"] in removed and not fs.exists(path)
