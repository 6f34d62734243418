"""column_profiles on the local backend: profiled through the engine, stored, replaced on rerun."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pyarrow.parquet as pq
import pytest

from iot_lake import profiles, quality
from iot_lake.storage import filesystem

COLUMNS = (("station", "string"), ("temperature", "double"), ("ok", "boolean"))


def write_day(day: str, temperatures: list[float | None]) -> None:
    rows = [
        {"station": f"s{i % 2}", "temperature": t, "ok": t is not None and t > 0}
        for i, t in enumerate(temperatures)
    ]
    quality.publish_object("readings", COLUMNS, "test table", day, "part-0.parquet", rows)


def stored(lake_settings, day: str) -> list[dict]:
    fs, path = filesystem(
        f"{lake_settings.uri('curated')}/column_profiles/dt={day}/iot_lake.readings.parquet"
    )
    with fs.open(path, "rb") as handle:
        return pq.read_table(handle).to_pylist()


def test_profile_of_a_day_is_stored_per_column(lake_settings) -> None:
    write_day("2024-06-01", [1.0, -2.0, None, 4.0, 4.0])
    write_day("2024-06-02", [100.0])
    profiles.profile_day("readings", "2024-06-01", run_id="r1")
    rows = {r["column_name"]: r for r in stored(lake_settings, "2024-06-01")}
    assert list(rows) == ["station", "temperature", "ok"]
    t = rows["temperature"]
    assert (t["row_count"], t["null_count"], t["distinct_count"]) == (5, 1, 3)
    assert (float(t["min_value"]), float(t["max_value"])) == (-2.0, 4.0)
    # doubles as text as Athena (Trino) writes them, not DuckDB's "4.0"
    assert (t["min_value"], t["max_value"]) == ("-2.0E0", "4.0E0")
    assert t["mean"] == pytest.approx(1.75)
    # approx_percentile as Athena's t-digest answers it for 4 values: the value of rank
    # floor(p * 4), never an interpolation (DuckDB's approx_quantile gives 2.5 for p50)
    assert (t["p25"], t["p50"], t["p75"]) == (1.0, 4.0, 4.0)
    assert json.loads(t["top_values"])[0] == {"value": "4.0E0", "count": 2}
    assert rows["ok"]["mean"] == pytest.approx(3 / 5)
    assert t["run_id"] == "r1" and t["profiled_at"] <= datetime.now(UTC).replace(tzinfo=None)


def test_reprofiling_a_day_replaces_its_profile(lake_settings) -> None:
    write_day("2024-06-01", [1.0, 2.0])
    profiles.profile_day("readings", "2024-06-01", run_id="r1")
    write_day("2024-06-01", [1.0, 2.0, 3.0])
    profiles.profile_day("readings", "2024-06-01", run_id="r2")
    rows = stored(lake_settings, "2024-06-01")
    assert len(rows) == 3
    assert {(r["run_id"], r["row_count"]) for r in rows} == {("r2", 3)}


def test_profiling_a_table_missing_from_the_catalog_says_so(lake_settings) -> None:
    with pytest.raises(LookupError, match=r"iot_lake.nowhere is not in the catalog"):
        profiles.profile_day("nowhere", "2024-06-01", run_id="r1")
