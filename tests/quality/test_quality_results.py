"""quality_results in the lake: one object per (task, run) of a day, registered in the catalog."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow.parquet as pq
import pytest

from iot_lake import quality
from iot_lake.catalog import get_catalog
from iot_lake.storage import filesystem


def rows(run_id: str, *, max_ok: bool, task_id: str = "check_weather") -> list[quality.CheckRow]:
    at = datetime(2024, 6, 2, 1, 0, tzinfo=UTC)
    common = dict(
        database_name="iot_lake",
        table_name="weather_observations",
        check_type="min",
        severity="error",
        dag_id="weather_lake",
        task_id=task_id,
        run_id=run_id,
        try_number=1,
        checked_at=at,
    )
    return [
        quality.CheckRow(
            check_name="air_temperature.min",
            column_name="air_temperature",
            passed=True,
            observed_value="-12.5",
            expected=">= -90",
            **common,
        ),
        quality.CheckRow(
            check_name="air_temperature.max",
            column_name="air_temperature",
            passed=max_ok,
            observed_value="61.0",
            expected="<= 60",
            **common,
        ),
    ]


def read_partition(lake_settings, day: str) -> list[dict]:
    fs, path = filesystem(f"{lake_settings.uri('curated')}/quality_results/dt={day}")
    files = sorted(p for p in fs.ls(path, detail=False) if p.endswith(".parquet"))
    out = []
    for file in files:
        with fs.open(file, "rb") as handle:
            out += pq.read_table(handle).to_pylist()
    return out


def test_results_are_written_to_the_day_partition_and_catalogued(lake_settings) -> None:
    quality.record_check_rows(rows("scheduled__2024-06-01", max_ok=False), "2024-06-01")
    stored = read_partition(lake_settings, "2024-06-01")
    assert {(r["check_name"], r["passed"], r["observed_value"]) for r in stored} == {
        ("air_temperature.min", True, "-12.5"),
        ("air_temperature.max", False, "61.0"),
    }
    catalog = get_catalog()
    table = catalog.get_table(lake_settings.curated_database, "quality_results")
    assert [c["Name"] for c in table["StorageDescriptor"]["Columns"]] == [
        name for name, _ in quality.QUALITY_COLUMNS
    ]
    assert [
        p["Values"]
        for p in catalog.get_partitions(lake_settings.curated_database, "quality_results")
    ] == [["2024-06-01"]]


def test_rerun_of_a_run_replaces_its_results_instead_of_adding(lake_settings) -> None:
    quality.record_check_rows(rows("manual__1", max_ok=False), "2024-06-01")
    quality.record_check_rows(rows("manual__1", max_ok=True), "2024-06-01")
    stored = read_partition(lake_settings, "2024-06-01")
    assert len(stored) == 2
    assert all(r["passed"] for r in stored)


def test_each_run_and_task_keeps_its_own_history(lake_settings) -> None:
    quality.record_check_rows(rows("manual__1", max_ok=False), "2024-06-01")
    quality.record_check_rows(rows("manual__2", max_ok=True), "2024-06-01")
    quality.record_check_rows(rows("manual__2", max_ok=True, task_id="other"), "2024-06-01")
    quality.record_check_rows(rows("manual__3", max_ok=True), "2024-06-02")
    day1 = read_partition(lake_settings, "2024-06-01")
    assert sorted({(r["run_id"], r["task_id"]) for r in day1}) == [
        ("manual__1", "check_weather"),
        ("manual__2", "check_weather"),
        ("manual__2", "other"),
    ]
    assert len(day1) == 6
    assert len(read_partition(lake_settings, "2024-06-02")) == 2


def test_a_bad_day_is_refused_before_anything_is_written(lake_settings) -> None:
    with pytest.raises(ValueError):
        quality.record_check_rows(rows("r", max_ok=True), "2024-13-45")
    fs, path = filesystem(lake_settings.uri("curated"))
    assert not fs.exists(f"{path}/quality_results")
