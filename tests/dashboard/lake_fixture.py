"""A small, deterministic lake for the dashboard tests, written through the real seams.

Tables are Parquet partitions registered in the local catalog exactly as the DAGs
register theirs; ``quality_results`` and ``column_profiles`` are produced by the
project's own recorder and profiler (the profiler runs its SQL on the engine).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from iot_lake import profiles, quality
from iot_lake.coffee import columns as coffee_columns
from iot_lake.weather import tables as weather_tables

STATIONS = ("725030-14732", "744860-94789", "725053-94728")
CONDITIONS = (None, "rain", "mist")
FIRST_DAY = date(2024, 6, 1)
DAYS = 7
COFFEE_DAYS = (date(2024, 6, 6), date(2024, 6, 7))
MACHINES = ("coffee-machine-1", "coffee-machine-2")


def glue_columns(table: str) -> list[tuple[str, str]]:
    """The data columns of a curated weather table, as the weather DAG declares it."""
    definition = weather_tables.table_input(table)
    return [(c["Name"], c["Type"]) for c in definition["StorageDescriptor"]["Columns"]]


def days() -> list[str]:
    return [(FIRST_DAY + timedelta(days=i)).isoformat() for i in range(DAYS)]


def station_rows(day_index: int) -> list[dict]:
    out = []
    for s, station in enumerate(STATIONS):
        base = 12.0 + 4 * s + 1.5 * day_index
        count = 20 + 2 * s + day_index
        out.append(
            {
                "weather_station": station,
                "observation_count": count,
                "air_temperature_count": count - (s + day_index) % 3,
                "air_temperature_min": round(base - 6.3 - s, 1),
                "air_temperature_avg": round(base + 0.25 * s, 2),
                "air_temperature_max": round(base + 7.1 + (day_index % 3), 1),
                # Rain on some days, none reported (null) on others.
                "precipitation_mm": round(0.7 * (s + 1) * day_index, 1)
                if (s + day_index) % 3
                else None,
            }
        )
    return out


def condition_rows(day_index: int) -> list[dict]:
    out = []
    for c, condition in enumerate(CONDITIONS):
        count = 5 + 3 * c + day_index
        out.append(
            {
                "present_weather_condition": condition,  # None: no present weather reported
                "observation_count": count,
                "station_count": 1 + (c + day_index) % 3,
                "air_temperature_count": count - c % 2,
                "air_temperature_min": round(8.0 - c + 0.5 * day_index, 1),
                "air_temperature_avg": round(14.0 - 1.5 * c + day_index * 0.75, 2),
                "air_temperature_max": round(22.0 - 2 * c + day_index, 1),
            }
        )
    return out


def coffee_rows(day: date, first_id: int) -> list[dict]:
    out = []
    for i in range(23 if day == COFFEE_DAYS[-1] else 9):
        hour = (7 + (i * 5) % 11) if i % 4 else 8
        face = i % 5 != 0
        at = datetime(day.year, day.month, day.day, hour, (i * 7) % 60, i % 60)
        out.append(
            {
                "id": first_id + i,
                "machine_id": MACHINES[i % 3 == 0],
                "photo_url": f"file:///lake/photos/{day.isoformat()}/{first_id + i}.jpg",
                "coffee_hour": at,
                "has_face": face,
                "has_face_confidence": 90.0 if face else None,
                "smile": (i % 3 == 1) if face else None,
                "smile_confidence": 80.0 if face else None,
                "beard": None,  # the local analyser cannot judge beards
                "beard_confidence": None,
                "mustache": None,
                "mustache_confidence": None,
                "glasses": (i % 4 == 2) if face else None,
                "glasses_confidence": 70.0 if face else None,
                "created_at": at + timedelta(seconds=3),
            }
        )
    return out


def check_rows(day: str, index: int) -> list[quality.CheckRow]:
    at = datetime.fromisoformat(day).replace(hour=3, tzinfo=UTC) + timedelta(days=1)
    failing = index == DAYS - 2  # one bad day in the week
    common = dict(
        database_name="iot_lake",
        table_name="weather_observations",
        check_type="min",
        severity="error",
        dag_id="weather_lake",
        task_id="check_observations",
        run_id=f"scheduled__{day}T00:00:00+00:00",
        try_number=1,
        checked_at=at,
    )
    return [
        quality.CheckRow(
            check_name="weather_station.null_check",
            column_name="weather_station",
            passed=True,
            observed_value="0",
            expected="= 0",
            **common,
        ),
        quality.CheckRow(
            check_name="air_temperature.max",
            column_name="air_temperature",
            passed=not failing,
            observed_value="61.2" if failing else "31.5",
            expected="<= 60",
            **common,
        ),
    ]


def build(curated_database: str) -> dict[str, list[str]]:
    """Write every fixture table; return the days each holds."""
    build_weather()
    build_coffees()
    profiles.profile_table(
        curated_database, "coffees", COFFEE_DAYS[-1].isoformat(), run_id="fixture_run"
    )
    profiles.profile_table(
        curated_database, "weather_stats_by_station_day", days()[-1], run_id="fixture_run"
    )
    return {"weather": days(), "coffee": [d.isoformat() for d in COFFEE_DAYS]}


def build_weather() -> None:
    """The two weather stats tables and a week of check results (one failed check)."""
    for i, day in enumerate(days()):
        quality.publish_object(
            weather_tables.STATS_BY_STATION,
            glue_columns(weather_tables.STATS_BY_STATION),
            "fixture",
            day,
            "part-0.parquet",
            station_rows(i),
        )
        quality.publish_object(
            weather_tables.STATS_BY_CONDITION,
            glue_columns(weather_tables.STATS_BY_CONDITION),
            "fixture",
            day,
            "part-0.parquet",
            condition_rows(i),
        )
        quality.record_check_rows(check_rows(day, i), day)


def build_coffees() -> None:
    """Two days of coffees, typed as the coffee_lake export writes them."""
    coffee_types = [(name, kind) for name, kind, _ in coffee_columns.COLUMNS]
    next_id = 1
    for day in COFFEE_DAYS:
        rows = coffee_rows(day, next_id)
        next_id += len(rows)
        quality.publish_object(
            coffee_columns.TABLE, coffee_types, "fixture", day.isoformat(), "part-0.parquet", rows
        )
