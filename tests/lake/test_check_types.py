"""The column checks' one UNION ALL has one type, as Trino (Athena) requires.

common.sql's ``SQLColumnCheckOperator`` sends every check of every column as one
``UNION ALL`` whose ``check_result`` column comes from each branch. Trino types that
column from all branches and has no common type for bigint (the null counts) and boolean
(``MIN``/``MAX`` of a flag): it rejects the statement. DuckDB casts silently, so running
the checks locally proves nothing; here each branch of the exact statement the DAG's task
sends is typed on its own (DuckDB ``DESCRIBE`` over tables with the declared Glue
columns) and the branches must agree.
"""

from __future__ import annotations

import duckdb
import pytest
import sqlglot
from sqlglot import exp

from iot_lake.coffee import columns as coffee_columns
from iot_lake.config import PROJECT_ROOT
from iot_lake.glue_types import glue_to_duckdb
from iot_lake.sql.render import render_sql
from iot_lake.sql.transpile import LOCAL_DIALECT, READ_DIALECT
from iot_lake.weather import tables as weather_tables

DAY = "2026-11-20"


def _task(dag_file: str, dag_id: str, task_id: str):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(PROJECT_ROOT / "dags" / dag_file))
    assert bag.import_errors == {}
    return bag.dags[dag_id].get_task(task_id)


def _declared(lake_settings, table: str) -> list[tuple[str, str]]:
    if table == "coffees":
        cols = coffee_columns.glue_columns()
    else:
        cols = weather_tables.table_input(table, lake_settings)["StorageDescriptor"]["Columns"]
    return [(c["Name"], c["Type"]) for c in cols] + [("dt", "string")]


def _branches(statement: str) -> list[exp.Select]:
    """The SELECTs joined by the statement's UNION ALL (left to right)."""
    tree = sqlglot.parse_one(statement, read=READ_DIALECT)
    union = tree.find(exp.Union)
    assert union is not None, statement
    out: list[exp.Select] = []

    def walk(node: exp.Expression) -> None:
        if isinstance(node, exp.Union):
            walk(node.left)
            walk(node.right)
        else:
            out.append(node)

    walk(union)
    return out


@pytest.mark.parametrize(
    ("dag_file", "dag_id", "task_id", "table"),
    [
        ("coffee_lake.py", "coffee_lake", "audit_coffees.check_columns", "coffees"),
        (
            "weather_lake.py",
            "weather_lake",
            "audit_observations.check_keys_and_ranges",
            "weather_observations",
        ),
    ],
)
def test_every_branch_of_the_column_checks_union_has_one_type(
    lake_settings, dag_file, dag_id, task_id, table
) -> None:
    task = _task(dag_file, dag_id, task_id)
    # The statement the operator sends (its ``sql``, rendered as Airflow renders it).
    statement = render_sql(task.sql, ds=DAY)
    con = duckdb.connect()
    con.execute(f"CREATE SCHEMA {lake_settings.staging_database}")
    con.execute(
        f"CREATE TABLE {lake_settings.staging_database}.{table} ("
        + ", ".join(f'"{n}" {glue_to_duckdb(t)}' for n, t in _declared(lake_settings, table))
        + ")"
    )
    types = {}
    for branch in _branches(statement):
        name = branch.expressions[0].sql(dialect=READ_DIALECT)
        check = branch.expressions[1].sql(dialect=READ_DIALECT)
        local = branch.sql(dialect=LOCAL_DIALECT)
        [(column_type,)] = con.execute(
            f"SELECT column_type FROM (DESCRIBE {local}) WHERE column_name = 'check_result'"
        ).fetchall()
        types[f"{name}/{check}"] = column_type
    assert len(types) > 2, statement
    assert len(set(types.values())) == 1, f"check_result types differ across the UNION: {types}"
    assert "BOOLEAN" not in set(types.values())
