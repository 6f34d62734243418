"""Column profiles per table per day (what Glue DataBrew shows), as table ``column_profiles``.

Both backends run the same two Athena-dialect SQL files (``include/sql/quality/``):
Athena on ``aws``, DuckDB through the SQL engine seam on ``local``. A DataBrew profile
job was not chosen: it needs a DataBrew dataset, a job, an IAM role and a minimum of
node-minutes per run, returns its own JSON report that would need a second parser, and
has no local counterpart, so the two backends would compute different numbers. The SQL
gives the same statistics as DuckDB's SUMMARIZE (count, nulls, distinct, min, max, mean,
stddev, quartiles) plus what SUMMARIZE lacks (exact null and distinct counts, top
values), and a test checks it against SUMMARIZE on the local engine.
"""

from __future__ import annotations

import json
import logging
import re
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from iot_lake import quality
from iot_lake.engine import get_engine
from iot_lake.sql.render import render_sql

log = logging.getLogger(__name__)

RunSql = Callable[[str], list[dict[str, Any]]]
"""Runs one rendered statement, rows as dicts: the lake's engine in the task, or a
deferred task's Athena results (:mod:`iot_lake.operators.profile`)."""

PROFILE_TABLE = "column_profiles"
PROFILE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("database_name", "string"),
    ("table_name", "string"),
    ("column_position", "int"),
    ("column_name", "string"),
    ("column_type", "string"),
    ("row_count", "bigint"),
    ("null_count", "bigint"),
    ("distinct_count", "bigint"),
    ("min_value", "string"),
    ("max_value", "string"),
    ("mean", "double"),
    ("stddev", "double"),
    ("p25", "double"),
    ("p50", "double"),
    ("p75", "double"),
    # JSON text [{"value": ..., "count": n}, ...]: Athena returns nested types as
    # unparseable strings, JSON reads the same from both engines.
    ("top_values", "string"),
    ("run_id", "string"),
    ("profiled_at", "timestamp"),
)

PROFILE_COLUMNS_SQL = "quality/profile_columns.sql"
PROFILE_TOP_VALUES_SQL = "quality/profile_top_values.sql"
DEFAULT_TOP_N = 5

_NUMERIC = re.compile(r"^(tinyint|smallint|int|integer|bigint|float|real|double|decimal.*)$")
_ORDERABLE_OTHER = re.compile(r"^(string|varchar.*|char.*|date|timestamp.*)$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def column_spec(name: str, glue_type: str) -> dict[str, Any]:
    """How a column can be profiled, from its Glue type (complex types: counts only)."""
    if not _IDENTIFIER.match(name):
        raise ValueError(f"column name {name!r} cannot be profiled: not a plain identifier")
    kind = glue_type.strip().lower()
    numeric = bool(_NUMERIC.match(kind))
    boolean = kind == "boolean"
    orderable = numeric or bool(_ORDERABLE_OTHER.match(kind))
    return {
        "name": name,
        "type": kind,
        "numeric": numeric,
        "boolean": boolean,
        "orderable": orderable,
        "comparable": orderable or boolean,
    }


def columns_of(table_input: dict[str, Any]) -> list[dict[str, Any]]:
    """The profiled columns of a catalog table: every stored column, not partition keys."""
    partition_keys = {k["Name"] for k in table_input.get("PartitionKeys", [])}
    return [
        column_spec(c["Name"], c["Type"])
        for c in table_input["StorageDescriptor"]["Columns"]
        if c["Name"] not in partition_keys
    ]


def profile_rows(
    database: str,
    table: str,
    day: str,
    *,
    run_id: str,
    top_n: int = DEFAULT_TOP_N,
    run_sql: RunSql | None = None,
) -> list[dict[str, Any]]:
    """Compute the profile of ``database.table`` for partition ``dt=day`` (no writes)."""
    run = run_sql or (lambda text: get_engine().query(text).records())
    table_def = quality.get_table(database, table)
    if table_def is None:
        raise LookupError(f"table {database}.{table} is not in the catalog: nothing to profile")
    columns = columns_of(table_def)
    params = {"database": database, "table": table, "columns": columns, "top_n": top_n}
    stats = run(render_sql(PROFILE_COLUMNS_SQL, ds=day, params=params))
    tops: dict[str, list[dict[str, Any]]] = defaultdict(list)
    if any(c["comparable"] for c in columns):
        for row in run(render_sql(PROFILE_TOP_VALUES_SQL, ds=day, params=params)):
            tops[row["column_name"]].append(
                {"value": row["value"], "count": int(row["value_count"])}
            )
    now = datetime.now(UTC)
    order = {c["name"]: i for i, c in enumerate(columns)}
    out = []
    for row in sorted(stats, key=lambda r: order[r["column_name"]]):
        out.append(
            {
                "database_name": database,
                "table_name": table,
                "column_position": order[row["column_name"]],
                "column_name": row["column_name"],
                "column_type": row["column_type"],
                "row_count": _int(row["row_count"]),
                "null_count": _int(row["null_count"]),
                "distinct_count": _int(row["distinct_count"]),
                "min_value": row["min_value"],
                "max_value": row["max_value"],
                "mean": _float(row["mean"]),
                "stddev": _float(row["stddev"]),
                "p25": _float(row["p25"]),
                "p50": _float(row["p50"]),
                "p75": _float(row["p75"]),
                "top_values": json.dumps(tops.get(row["column_name"], []), ensure_ascii=False),
                "run_id": run_id,
                "profiled_at": now,
            }
        )
    return out


def profile_table(
    database: str,
    table: str,
    day: str,
    *,
    run_id: str,
    top_n: int = DEFAULT_TOP_N,
    run_sql: RunSql | None = None,
) -> str:
    """Profile one day of a table and store it in ``column_profiles`` (rerun = replace)."""
    rows = profile_rows(database, table, day, run_id=run_id, top_n=top_n, run_sql=run_sql)
    if not rows:
        raise ValueError(f"{database}.{table} has no columns to profile")
    uri = quality.publish_object(
        PROFILE_TABLE,
        PROFILE_COLUMNS,
        "Column profile of each lake table per day (iot-lake).",
        day,
        f"{database}.{table}.parquet",
        rows,
    )
    log.info("profiled %d columns of %s.%s for %s into %s", len(rows), database, table, day, uri)
    return uri


def profile_day(
    table: str,
    ds: str,
    run_id: str,
    database: str | None = None,
    run_sql: RunSql | None = None,
) -> str:
    """Profile day ``ds`` of a curated table (database from settings)."""
    from iot_lake.config import settings

    database = database or settings().curated_database
    return profile_table(database, table, ds, run_id=run_id, run_sql=run_sql)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


__all__ = [
    "PROFILE_COLUMNS",
    "PROFILE_TABLE",
    "column_spec",
    "columns_of",
    "profile_day",
    "profile_rows",
    "profile_table",
]
