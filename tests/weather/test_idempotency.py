"""Reruns and backfills of a day leave exactly the same rows in its partition."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

from iot_lake.engine import get_engine
from iot_lake.weather import synthetic
from iot_lake.weather.pipeline import flatten_day, stats_day
from iot_lake.weather.tables import STATS_BY_STATION, ensure_tables

from .conftest import DAYS


def _partition(table: str, day: str) -> list[tuple]:
    return sorted(
        get_engine().query(f"SELECT * FROM {table} WHERE dt = '{{{{ ds }}}}'", ds=day).rows,
        key=repr,
    )


def test_rerun_and_backfill_of_days_replace_their_partitions(lake_settings, raw_days) -> None:
    ensure_tables(lake_settings)
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
    for day in reversed(DAYS):
        flatten_day(day)
        stats_day(STATS_BY_STATION, day)
    for day in DAYS:
        assert _partition("weather_observations", day) == first[day], day
        assert _partition("weather_stats_by_station_day", day) == stats[day], day
    [(total,)] = get_engine().query("SELECT count(*) FROM weather_observations").rows
    assert total == sum(len(rows) for rows in first.values())


def test_keys_repeating_with_other_payloads_in_one_hour_and_one_object_publish_one_row(
    lake_settings,
) -> None:
    """The issue's case: two payloads of one key in the same hour (and in one object).

    The old ORDER BY arrival hour had ties there, so a rerun could publish either. Now
    arrival second, object key and the record's text order every copy: reruns agree,
    and the earliest arrival wins.
    """
    rng = random.Random(11)
    observed = datetime(2026, 11, 3, 12, 0, tzinfo=UTC)
    raw = lake_settings.uri("raw")
    base = synthetic.message("925300-94846", observed, rng, 1, 1)
    variants = [
        {**base, "air_temperature": {"value": value, "quality": "5"}}
        for value in (-20.6, 7.8, 3.3, 5.5)
    ]
    # same hour, two objects: the one that arrived first (12:05) wins over 12:40
    synthetic.write_object(raw, [variants[1]], observed + timedelta(minutes=40), "2026-11-03")
    synthetic.write_object(raw, [variants[0]], observed + timedelta(minutes=5), "2026-11-03")
    # another key: all its copies in ONE object; the arrival and key tie, the text decides
    other = synthetic.message("722540-13904", observed, rng, 0, 0)
    copies = [{**other, "dew_point": {"value": v, "quality": "5"}} for v in (9.0, -1.0, 4.0)]
    synthetic.write_object(raw, copies, observed + timedelta(minutes=7), "2026-11-03")
    ensure_tables(lake_settings)
    published = []
    for _ in range(3):
        result = flatten_day("2026-11-03")
        assert result["observations"] == 2
        published.append(_partition("weather_observations", "2026-11-03"))
    assert published[0] == published[1] == published[2]
    assert get_engine().query(
        "SELECT air_temperature FROM weather_observations WHERE weather_station = '925300-94846'"
    ).rows == [(-20.6,)]
    # within one object the copy whose text sorts first is kept, on every run
    texts = sorted(json.dumps(c, separators=(",", ":")) for c in copies)
    expected = json.loads(texts[0])["dew_point"]["value"]
    assert get_engine().query(
        "SELECT DISTINCT dew_point FROM weather_observations "
        "WHERE weather_station = '722540-13904'"
    ).rows == [(expected,)]
