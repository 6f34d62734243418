"""The profile SQL files: valid Athena, and on DuckDB the same numbers as SUMMARIZE."""

from __future__ import annotations

import math
from datetime import datetime

import duckdb
import pytest
import sqlglot

from iot_lake import profiles
from iot_lake.sql.render import render_sql

DAY = "2024-06-01"


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    """A DuckDB with iot_lake.readings: one day of mixed-type rows and one other day."""
    con = duckdb.connect()
    con.execute("CREATE SCHEMA iot_lake")
    con.execute(
        "CREATE TABLE iot_lake.readings (station VARCHAR, temperature DOUBLE, pressure INTEGER,"
        " ok BOOLEAN, seen_at TIMESTAMP, tags VARCHAR[], dt VARCHAR)"
    )
    rows = []
    for i in range(40):
        rows.append(
            (
                f"st{i % 3}",
                None if i % 7 == 0 else round(-5 + i * 0.75, 2),
                1000 + (i % 5),
                None if i % 10 == 0 else i % 2 == 0,
                datetime(2024, 6, 1, i % 24, i % 60),
                ["a", "b"] if i % 2 else [],
                DAY,
            )
        )
    rows.append(("other", 99.0, 1, True, datetime(2024, 6, 2), [], "2024-06-02"))
    con.executemany("INSERT INTO iot_lake.readings VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    return con


COLUMNS = [
    profiles.column_spec("station", "string"),
    profiles.column_spec("temperature", "double"),
    profiles.column_spec("pressure", "int"),
    profiles.column_spec("ok", "boolean"),
    profiles.column_spec("seen_at", "timestamp"),
    profiles.column_spec("tags", "array<string>"),
]
PARAMS = {"database": "iot_lake", "table": "readings", "columns": COLUMNS, "top_n": 3}


def run_athena_sql(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict]:
    sqlglot.parse_one(sql, read="athena")  # raises on anything Athena would not parse
    duck = sqlglot.transpile(sql, read="athena", write="duckdb")[0]
    cursor = con.execute(duck)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def test_profile_matches_duckdb_summarize_for_the_day(con) -> None:
    sql = render_sql(profiles.PROFILE_COLUMNS_SQL, ds=DAY, params=PARAMS)
    got = {r["column_name"]: r for r in run_athena_sql(con, sql)}
    summary = con.execute(
        f"SUMMARIZE SELECT * EXCLUDE (dt) FROM iot_lake.readings WHERE dt = '{DAY}'"
    ).fetchall()
    names = [d[0] for d in con.description]
    for record in (dict(zip(names, row, strict=True)) for row in summary):
        column = record["column_name"]
        row = got[column]
        assert row["row_count"] == record["count"] == 40
        assert math.isclose(
            100.0 * row["null_count"] / 40, float(record["null_percentage"]), abs_tol=0.01
        ), column
        if column in ("temperature", "pressure"):
            assert math.isclose(row["mean"], float(record["avg"]), rel_tol=1e-9), column
            assert math.isclose(row["stddev"], float(record["std"]), rel_tol=1e-9), column
            assert math.isclose(row["p50"], float(record["q50"]), rel_tol=1e-6), column
            assert math.isclose(row["p25"], float(record["q25"]), rel_tol=1e-6), column
            assert float(row["min_value"]) == float(record["min"]), column
            assert float(row["max_value"]) == float(record["max"]), column
        if column == "station":
            assert (row["min_value"], row["max_value"]) == (record["min"], record["max"])


def test_profile_counts_nulls_and_distincts_exactly(con) -> None:
    sql = render_sql(profiles.PROFILE_COLUMNS_SQL, ds=DAY, params=PARAMS)
    got = {r["column_name"]: r for r in run_athena_sql(con, sql)}
    assert got["temperature"]["null_count"] == 6  # i = 0, 7, ..., 35
    assert got["ok"]["null_count"] == 4
    assert got["station"]["distinct_count"] == 3
    assert got["pressure"]["distinct_count"] == 5
    assert got["ok"]["mean"] == pytest.approx(16 / 36)  # share of true among known
    # A complex column is counted, never compared.
    assert got["tags"]["null_count"] == 0 and got["tags"]["distinct_count"] is None
    assert got["tags"]["min_value"] is None


def test_top_values_are_the_most_frequent_per_column(con) -> None:
    sql = render_sql(profiles.PROFILE_TOP_VALUES_SQL, ds=DAY, params=PARAMS)
    rows = run_athena_sql(con, sql)
    stations = [(r["value"], r["value_count"]) for r in rows if r["column_name"] == "station"]
    assert stations == [("st0", 14), ("st1", 13), ("st2", 13)]
    pressure = [r for r in rows if r["column_name"] == "pressure"]
    assert len(pressure) == 3 and all(r["value_count"] == 8 for r in pressure)
    assert {r["column_name"] for r in rows} == {
        "station",
        "temperature",
        "pressure",
        "ok",
        "seen_at",
    }


def test_column_names_that_are_not_identifiers_are_refused() -> None:
    with pytest.raises(ValueError, match="not a plain identifier"):
        profiles.column_spec("x'; DROP TABLE y; --", "string")
