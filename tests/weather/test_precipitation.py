"""Daily precipitation per station (weather_stats_by_station_day.precipitation_mm).

weather_observations gets its ``liquid_precip`` column from the flatten (branch
h12-lake); these tests write the observations partition themselves, with that column
declared as the shared decision fixes it, so the stats SQL is tested on its own.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

import duckdb
import pytest

from iot_lake.catalog import get_catalog
from iot_lake.engine import get_engine
from iot_lake.glue_types import glue_to_duckdb
from iot_lake.storage import filesystem
from iot_lake.wap import staging
from iot_lake.weather.pipeline import stats_day
from iot_lake.weather.tables import OBSERVATIONS, STATS_BY_STATION, ensure_tables, table_input
from simulators.weather_station.message import DATA_DIR, messages_from_file

DAY = "2026-11-03"
NESTED_COLUMNS = {
    "liquid_precip": "array<struct<hours:int,depth:double,condition:string,quality:string>>",
    "extreme_temperature": (
        "array<struct<period_hours:double,code:string,temperature:double,quality:string>>"
    ),
}


@pytest.fixture
def observations_table(lake_settings) -> dict[str, Any]:
    """weather_observations as declared, plus the nested columns if not declared yet."""
    ensure_tables(lake_settings)
    definition = table_input(OBSERVATIONS, lake_settings)
    columns = definition["StorageDescriptor"]["Columns"]
    declared = {c["Name"] for c in columns}
    columns += [{"Name": n, "Type": t} for n, t in NESTED_COLUMNS.items() if n not in declared]
    get_catalog(lake_settings).upsert_table(lake_settings.curated_database, definition)
    return definition


def _at(clock: str, day: str = DAY) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T{clock}")


def aa(hours: int | None, depth: float | None, condition: str | None = None, quality="5"):
    return {"hours": hours, "depth": depth, "condition": condition, "quality": quality}


def write_day(
    settings, table: dict[str, Any], day: str, observations: list[dict], copies: int = 1
) -> None:
    """One partition of weather_observations; each observation as ``copies`` rows (one per
    sky layer, as the flatten writes them)."""
    columns = table["StorageDescriptor"]["Columns"]
    location = staging.partition_location(table, [day])
    fs, path = filesystem(location)
    if fs.exists(path):
        fs.rm(path, recursive=True)
    fs.makedirs(path, exist_ok=True)
    con = duckdb.connect()
    try:
        con.execute(
            "CREATE TABLE o ("
            + ", ".join(f'"{c["Name"]}" {glue_to_duckdb(c["Type"])}' for c in columns)
            + ")"
        )
        names = [c["Name"] for c in columns]
        rows = []
        for observation in observations:
            for layer in range(copies):
                row = {**observation, "coverage": f"layer {layer}"}
                row.setdefault("extreme_temperature", [])
                rows.append([row.get(name) for name in names])
        if rows:
            con.executemany(f"INSERT INTO o VALUES ({', '.join('?' * len(names))})", rows)
        con.execute(f"COPY o TO '{path}/part-0.parquet' (FORMAT parquet)")
    finally:
        con.close()
    get_catalog(settings).put_partition(settings.curated_database, OBSERVATIONS, [day], location)


def observation(station: str, clock: str, *groups: dict, day: str = DAY, **values) -> dict:
    return {
        "weather_station": station,
        "observed_at": _at(clock, day),
        "air_temperature": values.get("air_temperature", 1.0),
        "liquid_precip": list(groups),
    }


def precipitation(settings, day: str = DAY) -> dict[str, float | None]:
    stats_day(STATS_BY_STATION, day, settings=settings)
    return dict(
        get_engine(settings).query(
            "SELECT weather_station, precipitation_mm FROM weather_stats_by_station_day "
            "WHERE dt = '{{ ds }}'",
            ds=day).rows
    )


def test_the_latest_24_hour_report_is_the_days_total(lake_settings, observations_table) -> None:
    write_day(
        lake_settings,
        observations_table,
        DAY,
        [
            # a summary of the local day, then the 12 UTC 24-hour report (METAR and SYNOP)
            observation("A", "05:59:00", aa(24, 7.6)),
            observation("A", "06:00:00", aa(6, 3.0)),
            observation("A", "11:51:00", aa(1, 0.5), aa(6, 2.0), aa(24, 5.0)),
            observation("A", "12:00:00", aa(6, 2.5), aa(24, 5.1)),
            observation("A", "18:00:00", aa(6, 9.0)),
            # a 24-hour report marked erroneous does not count
            observation("A", "23:51:00", aa(1, 0.3), aa(24, 40.0, quality="3")),
        ],
    )

    assert precipitation(lake_settings) == {"A": 5.1}


def test_six_hour_reports_of_one_series_are_summed(lake_settings, observations_table) -> None:
    synop = ("00:00:00", "06:00:00", "12:00:00", "18:00:00")
    metar = ("05:51:00", "11:51:00", "17:51:00", "23:51:00")
    write_day(
        lake_settings,
        observations_table,
        DAY,
        # both series (SYNOP and METAR): the one ending last in the day, no overlaps
        [observation("B", t, aa(6, d)) for t, d in zip(synop, (1.0, 2.0, 4.0, 8.0), strict=True)]
        + [
            observation("B", t, aa(6, d), aa(1, 0.7))
            for t, d in zip(metar, (0.5, 1.5, 0.2, 0.3), strict=True)
        ]
        # SYNOP only: 00 (the last 6 h of the day before, reported today) to 18
        + [
            # wet SYNOP amounts carry condition 3 in ISD data; a trace has no depth
            observation("C", t, aa(6, d, "2" if d is None else "3" if d else None))
            for t, d in zip(synop, (1.2, None, 0.0, 3.3), strict=True)
        ],
    )

    assert precipitation(lake_settings) == {"B": 2.5, "C": 4.5}


def test_six_hour_series_with_seconds_tile_by_whole_minutes_as_on_athena(
    lake_settings, observations_table
) -> None:
    """date_diff('minute', a, b) counts whole minutes elapsed on Athena (Trino), not the
    minute boundaries crossed (DuckDB's date_diff): 17:50:30 is 360 minutes before 23:51:00
    (in the series), 17:51:30 is 359 (not in it)."""
    series = ("05:51:00", "11:51:00", "17:50:30", "23:51:00")
    write_day(
        lake_settings,
        observations_table,
        DAY,
        [observation("D", t, aa(6, d)) for t, d in zip(series, (1.0, 2.0, 4.0, 8.0), strict=True)]
        + [observation("E", t, aa(6, d)) for t, d in (("17:51:30", 4.0), ("23:51:00", 8.0))],
    )

    assert precipitation(lake_settings) == {"D": 15.0, "E": 8.0}


def test_hourly_reports_count_each_clock_hour_once(lake_settings, observations_table) -> None:
    """Special reports (01:08, 01:17) hold part of the routine 01:51 report's hour."""
    write_day(
        lake_settings,
        observations_table,
        DAY,
        [
            observation("D", "00:51:00", aa(1, 0.0)),
            observation("D", "01:08:00", aa(1, 0.2, quality="1")),
            observation("D", "01:17:00", aa(1, 0.3, "3", quality="1")),
            observation("D", "01:51:00", aa(1, 1.0)),
            observation("D", "02:51:00", aa(1, 0.5), aa(3, 1.5)),
            observation("D", "03:51:00", aa(1, None, "2")),
            observation("D", "04:51:00", aa(1, 0.1)),
        ],
    )

    assert precipitation(lake_settings) == {"D": 1.6}


def test_a_station_without_usable_reports_has_null_and_trace_is_zero(
    lake_settings, observations_table
) -> None:
    write_day(
        lake_settings,
        observations_table,
        DAY,
        [
            observation("E", "00:00:00"),
            observation("E", "01:00:00", aa(1, None)),  # depth missing, not a trace
            observation("E", "06:00:00", aa(6, 2.0, "1")),  # measurement inaccurate
            observation("E", "07:00:00", aa(None, 3.0)),  # period missing
            observation("E", "08:00:00", aa(12, 3.0)),  # a period the rule does not use
            observation("F", "00:53:00", aa(1, None, "2")),
            observation("F", "01:53:00", aa(1, None, "2")),
        ],
    )

    assert precipitation(lake_settings) == {"E": None, "F": 0.0}


def test_rows_of_one_observation_count_once(lake_settings, observations_table) -> None:
    """The flatten writes an observation once per sky layer x present weather group."""
    day = [
        observation("G", "00:51:00", aa(1, 0.4)),
        observation("G", "01:51:00", aa(1, 0.6)),
        observation("H", "12:00:00", aa(24, 3.2)),
    ]
    write_day(lake_settings, observations_table, DAY, day, copies=3)
    tripled = precipitation(lake_settings)
    write_day(lake_settings, observations_table, DAY, day, copies=1)

    assert tripled == precipitation(lake_settings) == {"G": 1.0, "H": 3.2}
    [(count,)] = get_engine(lake_settings).query(
        "SELECT observation_count FROM weather_stats_by_station_day "
        "WHERE dt = '{{ ds }}' AND weather_station = 'G'",
        ds=DAY).rows
    assert count == 2


# --- the real reports of the bundled stations ------------------------------------------


def _usable(group: dict) -> bool:
    return (
        group["hours"] in (1, 6, 24)
        and (group["depth"] is not None or group["condition"] == "2")
        and group["condition"] != "1"
        and group["quality"] not in ("3", "7")
    )


def expected_total(observations: list[dict]) -> float | None:
    """The rule of the SQL file, written plainly in Python over one station-day."""
    by_period: dict[int, list[tuple[dt.datetime, int]]] = defaultdict(list)
    for o in observations:
        for g in o["liquid_precip"]:
            if _usable(g):
                by_period[g["hours"]].append((o["observed_at"], round((g["depth"] or 0) * 10)))
    if by_period[24]:
        return max(by_period[24])[1] / 10
    if by_period[6]:
        last = max(at for at, _ in by_period[6])
        ends = {last - dt.timedelta(hours=6 * k) for k in range(4)}
        best: dict[dt.datetime, int] = {}
        for at, tenths in by_period[6]:
            if at in ends:
                best[at] = max(best.get(at, 0), tenths)
        return sum(best.values()) / 10
    if by_period[1]:
        hours: dict[dt.datetime, int] = {}
        for at, tenths in by_period[1]:
            hour = at.replace(minute=0, second=0)
            hours[hour] = max(hours.get(hour, 0), tenths)
        return sum(hours.values()) / 10
    return None


def _real_days(name: str, days: int) -> dict[str, list[dict]]:
    """The first ``days`` observation days of a bundled file, as observation rows."""
    by_day: dict[str, list[dict]] = defaultdict(list)
    for m in messages_from_file(DATA_DIR / name):
        day = m["time"][:10]
        if day not in by_day and len(by_day) == days:
            break
        by_day[day].append(
            {
                "weather_station": m["weather_station"],
                "observed_at": dt.datetime.fromisoformat(m["time"].rstrip("Z")),
                "air_temperature": m["air_temperature"]["value"],
                "liquid_precip": m["liquid_precip"],
                "extreme_temperature": m["extreme_temperature"],
            }
        )
    return by_day


@pytest.mark.parametrize("without", [(), (24,), (24, 6)], ids=["all", "no-24h", "1h-only"])
def test_sql_and_the_plain_rule_agree_on_real_reports(
    lake_settings, observations_table, without: tuple[int, ...]
) -> None:
    """Real O'Hare 2014 (METAR + specials + SYNOP + SOD) and 1983 (hourly + 6 h + 24 h),
    Austin 2014 and Pope AFB 1973 days, with the longer periods removed in turn so each
    rule meets real data."""
    files = ("725300-94846-2014.gz", "725300-94846-1983.gz", "722540-13904-2014.gz",
             "723030-13714-1973.gz")  # fmt: skip
    days: dict[str, list[dict]] = defaultdict(list)
    for name in files:
        for day, observations in _real_days(name, 4).items():
            for o in observations:
                kept = [g for g in o["liquid_precip"] if g["hours"] not in without]
                days[day].append({**o, "liquid_precip": kept})
    checked = 0
    for day, observations in sorted(days.items()):
        write_day(lake_settings, observations_table, day, observations, copies=2)
        stations: dict[str, list[dict]] = defaultdict(list)
        for o in observations:
            stations[o["weather_station"]].append(o)
        expected = {s: expected_total(obs) for s, obs in stations.items()}
        assert precipitation(lake_settings, day) == pytest.approx(expected), day
        checked += sum(v is not None for v in expected.values())
    assert checked >= 12
