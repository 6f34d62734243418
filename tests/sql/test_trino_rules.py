"""Every statement the `aws` path sends follows Trino's rules (grammar, functions, types).

DuckDB runs these statements locally and forgives what Athena (Trino) refuses, so the
local suite alone cannot show them wrong: :mod:`tests.sql.trino_rules` checks them the
way Trino would, against the tables as the catalog declares them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.sql import aws_statements, trino_rules

FIXTURES = Path(__file__).with_name("fixtures")


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory):
    from iot_lake import config

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("IOT_LAKE_BACKEND", "local")
        patch.setenv("IOT_LAKE_HOME", str(tmp_path_factory.mktemp("lake")))
        config.settings.cache_clear()
        yield config.settings()
    config.settings.cache_clear()


@pytest.fixture(scope="module")
def schema(lake):
    return trino_rules.glue_schema(aws_statements.declared_tables(lake))


@pytest.fixture(scope="module")
def statements(lake):
    return aws_statements.all_statements(lake)


def test_the_statements_cover_every_source(statements, lake) -> None:
    from iot_lake.dashboard import data

    names = [s.name for s in statements]
    # both DAGs' checks, the weather write steps and stats, both profile queries of the
    # coffee and weather tables, every dashboard file
    for expected in (
        "coffee_lake.audit_coffees.check_columns",
        "coffee_lake.audit_coffees.check_coffee_hour_in_day",
        "weather_lake.audit_observations.check_keys_and_ranges",
        "weather_lake.audit_observations.check_row_count",
        "weather/weather_typed_records",
        "weather/weather_observations",
        "weather/weather_rejects",
        "weather/weather_stats_by_station_day",
        "weather/weather_stats_by_condition_day",
    ):
        assert any(name.endswith(expected) for name in names), expected
    profiled = [s.sql for s in statements if s.name.startswith("profile ")]
    assert any(f"{lake.curated_database}.coffees" in sql for sql in profiled)
    assert any("approx_percentile" in sql for sql in profiled)
    assert any("value_rank" in sql for sql in profiled)  # the top values query
    dashboard = {n.removeprefix("dashboard/") for n in names if n.startswith("dashboard/")}
    assert dashboard == {p.name for p in data.SQL.glob("*.sql")}


def test_every_aws_statement_follows_trinos_rules(statements, schema) -> None:
    """Fails while coffee_lake's check_columns mixes bigint and boolean (issue 18)."""
    found = {
        s.name: problems
        for s in statements
        if (problems := trino_rules.problems(s.sql, schema, s.database))
    }
    assert found == {}


def test_the_coffee_column_check_as_it_was_is_rejected(schema) -> None:
    """coffee_lake's check_columns on main: SUM(CASE ...) (bigint) UNION ALL MIN(flag)
    (boolean). DuckDB runs it; Trino refuses it (TYPE_MISMATCH)."""
    sql = (FIXTURES / "coffee_check_columns_before_fix.sql").read_text()
    assert trino_rules.problems(sql, schema, "iot_lake") == [
        "column 3 in UNION query has incompatible types: bigint, boolean"
    ]


@pytest.mark.parametrize(
    ("sql", "problem"),
    [
        (  # boolean compared with a number: DuckDB casts, Trino refuses
            "SELECT count(*) FROM iot_lake.coffees WHERE smile = 1",
            "'=' cannot be applied to boolean, int",
        ),
        (  # text compared with a number
            "SELECT count(*) FROM iot_lake.coffees WHERE machine_id > 3",
            "'>' cannot be applied to varchar, int",
        ),
        (  # timestamp against text
            "SELECT 1 FROM iot_lake.coffees WHERE coffee_hour BETWEEN '2026-11-03' AND "
            "'2026-11-04'",
            "'BETWEEN' cannot be applied to timestamp, varchar",
        ),
        (
            "SELECT smile FROM iot_lake.coffees UNION ALL SELECT id FROM iot_lake.coffees",
            "column 1 in UNION query has incompatible types: boolean, bigint",
        ),
        (  # DuckDB sums booleans as 0/1; Trino has no sum(boolean)
            "SELECT sum(smile) FROM iot_lake.coffees",
            "Unexpected parameters (boolean) for function sum",
        ),
        (
            "SELECT smile + 1 FROM iot_lake.coffees",
            "'+' cannot be applied to boolean, int",
        ),
        (
            "SELECT coalesce(smile, 0) FROM iot_lake.coffees",
            "All COALESCE results must be the same type or coercible: boolean, int",
        ),
        (
            "SELECT CASE WHEN smile THEN 1 ELSE 'no' END FROM iot_lake.coffees",
            "All CASE results must be the same type or coercible: int",
        ),
        (  # DuckDB's name of the function
            "SELECT approx_quantile(air_temperature, 0.5) FROM iot_lake.weather_observations",
            "Function 'approx_quantile' not registered",
        ),
        (  # DuckDB's cast syntax
            "SELECT id::varchar FROM iot_lake.coffees",
            "Trino's grammar rejects it",
        ),
    ],
)
def test_the_rules_catch_what_trino_refuses(sql: str, problem: str, schema) -> None:
    found = trino_rules.problems(sql, schema, "iot_lake")
    assert any(p.startswith(problem) for p in found), found


@pytest.mark.parametrize(
    "sql",
    [
        # Trino converts between numeric types, and date to timestamp, implicitly
        "SELECT id FROM iot_lake.coffees UNION ALL SELECT air_temperature "
        "FROM iot_lake.weather_observations",
        "SELECT 1 FROM iot_lake.coffees WHERE CAST(coffee_hour AS DATE) < coffee_hour",
        "SELECT 1 FROM iot_lake.coffees WHERE id IN (1, 2.5) AND smile IS NOT NULL",
        "SELECT NULL AS x FROM iot_lake.coffees UNION ALL SELECT smile FROM iot_lake.coffees",
        "SELECT coffee_hour + INTERVAL '1' DAY, id * 2.5, coalesce(id, 0.5), "
        "CASE WHEN smile THEN 1 END FROM iot_lake.coffees",
    ],
)
def test_the_rules_let_trinos_implicit_conversions_pass(sql: str, schema) -> None:
    assert trino_rules.problems(sql, schema, "iot_lake") == []
