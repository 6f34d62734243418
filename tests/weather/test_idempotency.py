"""Reruns and backfills of a day leave exactly the same rows in its partition."""

from __future__ import annotations

from iot_lake import engine
from iot_lake.crawler import crawl_raw
from iot_lake.weather.pipeline import flatten_day, stats_day
from iot_lake.weather.tables import STATS_BY_STATION, ensure_tables

from .conftest import DAYS


def _partition(table: str, day: str) -> list[tuple]:
    return sorted(
        engine.run_query(f"SELECT * FROM {table} WHERE dt = '{{{{ ds }}}}'", ds=day), key=repr
    )


def test_rerun_and_backfill_of_days_replace_their_partitions(lake_settings, raw_days) -> None:
    ensure_tables(lake_settings)
    crawl_raw(lake_settings)
    # nightly runs
    for day in DAYS:
        flatten_day(day)
        stats_day(STATS_BY_STATION, day)
    first = {day: _partition("weather_observations", day) for day in DAYS}
    stats = {day: _partition("weather_stats_by_station_day", day) for day in DAYS}
    assert all(first.values())
    # rerun of day 2, then a backfill over the whole range
    flatten_day(DAYS[1])
    assert _partition("weather_observations", DAYS[1]) == first[DAYS[1]]
    for day in DAYS:
        crawl_raw(lake_settings)
        flatten_day(day)
        stats_day(STATS_BY_STATION, day)
    for day in DAYS:
        assert _partition("weather_observations", day) == first[day], day
        assert _partition("weather_stats_by_station_day", day) == stats[day], day
    [(total,)] = engine.run_query("SELECT count(*) FROM weather_observations")
    assert total == sum(len(rows) for rows in first.values())
