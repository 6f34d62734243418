"""Where DuckDB and Athena (Trino) answer the same SQL differently, the local engine gives
Athena's answer (:mod:`iot_lake.sql.as_trino`). Each test: the input, and Trino's answer with
where it is documented. The statements run through the local engine as the DAGs' do.
"""

from __future__ import annotations

import pytest

from iot_lake.engine import get_engine


def one(sql: str, settings) -> object:
    [[value]] = get_engine(settings).query(sql).rows
    return value


# CAST(double AS varchar): the SQL standard's scientific form since Trino 369 (trinodb/trino
# pull request #10657, "Follow the SQL standard in cast from double or real to varchar":
# DoubleOperators.castToVarchar, DecimalFormat "0.0###################E0"; zero "0E0",
# NaN, Infinity). DuckDB writes 75.0, 0.1, 0.0, nan, inf.
@pytest.mark.parametrize(
    ("value", "trino"),
    [
        ("75.0", "7.5E1"),
        ("0.1", "1.0E-1"),
        ("-2.5", "-2.5E0"),
        ("0.0", "0E0"),
        ("0.00001", "1.0E-5"),
        ("123456789012.0", "1.23456789012E11"),
        ("1.5E300", "1.5E300"),
        ("'NaN'", "NaN"),
        ("'-Infinity'", "-Infinity"),
    ],
)
def test_a_double_as_text_is_written_as_trino_writes_it(value, trino, lake_settings) -> None:
    assert one(f"SELECT CAST(CAST({value} AS double) AS varchar)", lake_settings) == trino


def test_a_real_as_text_is_written_as_trino_writes_it(lake_settings) -> None:
    # RealOperators.castToVarchar: the same form with a float's digits
    assert one("SELECT CAST(CAST(0.1 AS real) AS varchar)", lake_settings) == "1.0E-1"


def test_other_casts_to_text_are_unchanged(lake_settings) -> None:
    assert get_engine(lake_settings).query(
        "SELECT CAST(7 AS varchar), CAST('a' AS varchar), CAST(true AS varchar), "
        "try_cast(DATE '2026-11-03' AS varchar)").rows == [("7", "a", "true", "2026-11-03")]


# Timestamps as text: Athena engine v3 reads timestamps with millisecond precision
# (https://docs.aws.amazon.com/athena/latest/ug/engine-versions-reference-0003.html,
# "Timestamp changes"), and Trino writes a timestamp(3) with its three decimals
# (https://trino.io/docs/current/language/types.html#timestamp-p). DuckDB writes
# "2026-11-03 05:59:30" and keeps microseconds.
@pytest.mark.parametrize(
    ("timestamp", "athena"),
    [
        ("2026-11-03 05:59:30", "2026-11-03 05:59:30.000"),
        ("2026-11-03 05:59:30.123956", "2026-11-03 05:59:30.123"),
    ],
)
def test_a_timestamp_as_text_is_athenas_timestamp_3(timestamp, athena, lake_settings) -> None:
    assert one(f"SELECT CAST(TIMESTAMP '{timestamp}' AS varchar)", lake_settings) == athena


# date_diff(unit, a, b): "Returns timestamp2 - timestamp1 expressed in terms of unit"
# (https://trino.io/docs/current/functions/datetime.html#date_diff): whole units elapsed.
# DuckDB's date_diff counts the unit boundaries crossed (361 for the first case).
@pytest.mark.parametrize(
    ("unit", "start", "end", "trino"),
    [
        ("minute", "2026-11-03 05:59:30", "2026-11-03 12:00:00", 360),
        ("minute", "2026-11-03 12:00:00", "2026-11-03 05:59:30", -360),
        ("minute", "2026-11-03 17:51:30", "2026-11-03 23:51:00", 359),
        ("hour", "2026-11-03 05:59:59", "2026-11-03 06:00:00", 0),
        ("day", "2026-11-01 23:00:00", "2026-11-02 01:00:00", 0),
    ],
)
def test_date_diff_counts_whole_units_elapsed(unit, start, end, trino, lake_settings) -> None:
    sql = f"SELECT date_diff('{unit}', TIMESTAMP '{start}', TIMESTAMP '{end}')"
    assert one(sql, lake_settings) == trino


# approx_percentile(x, p): Trino's t-digest (airlift TDigest.valueAt, used by
# ApproximateDoublePercentileAggregations; https://trino.io/docs/current/functions/
# aggregate.html#approx_percentile) returns, while each centroid holds one value, the input
# value of rank floor(p * n): no interpolation. DuckDB's approx_quantile gives 2.5 for
# the median of 1, 2, 3, 4.
@pytest.mark.parametrize(
    ("p", "trino"), [(0.0, 1.0), (0.25, 2.0), (0.5, 3.0), (0.75, 4.0), (1.0, 4.0)]
)
def test_approx_percentile_answers_as_trinos_t_digest(p, trino, lake_settings) -> None:
    sql = (
        f"SELECT approx_percentile(x, {p}) FROM "
        "(VALUES (4e0), (CAST(NULL AS double)), (2e0), (1e0), (3e0)) AS t (x)"
    )
    assert one(sql, lake_settings) == trino


def test_approx_percentile_of_nothing_is_null(lake_settings) -> None:
    sql = "SELECT approx_percentile(x, 0.5) FROM (VALUES (CAST(NULL AS double))) AS t (x)"
    assert one(sql, lake_settings) is None
