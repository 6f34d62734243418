"""Data-quality history: every check of every run, kept as the lake table ``quality_results``.

The common.sql check operators leave their outcome on the operator as
``check_results`` (a list of ``SQLCheckResult``, set *before* a failing check raises,
"to be used by listeners"). :class:`QualityResultsListener`, registered by the
``iot_lake_dashboard`` plugin, turns them into rows after every check task, passed or
failed, so no operator needs to know about recording. Rows land in
``<curated>/quality_results/dt=<day>/<dag>.<task>.<run>.parquet``: one object per
(task, run) of a day, replaced whole on a retry or rerun, so the table holds each
(table, day, check, run) once.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from typing import Any

from airflow.listeners import hookimpl

from iot_lake.config import settings
from iot_lake.storage import atomic_open, join

log = logging.getLogger(__name__)

QUALITY_TABLE = "quality_results"
PARTITION_KEY = "dt"

# Glue column types of quality_results, in file order (the partition key dt is not stored).
QUALITY_COLUMNS: tuple[tuple[str, str], ...] = (
    ("database_name", "string"),
    ("table_name", "string"),
    ("check_name", "string"),
    ("column_name", "string"),
    ("check_type", "string"),
    ("passed", "boolean"),
    ("observed_value", "string"),
    ("expected", "string"),
    ("severity", "string"),
    ("dag_id", "string"),
    ("task_id", "string"),
    ("run_id", "string"),
    ("try_number", "int"),
    ("checked_at", "timestamp"),
)


@dataclass(frozen=True)
class CheckRow:
    """One check outcome, as stored in ``quality_results``."""

    database_name: str | None
    table_name: str
    check_name: str
    column_name: str | None
    check_type: str | None
    passed: bool
    observed_value: str | None
    expected: str | None
    severity: str
    dag_id: str
    task_id: str
    run_id: str
    try_number: int
    checked_at: datetime


def split_table(qualified: str) -> tuple[str | None, str]:
    """``db.table`` (quotes allowed) -> (db, table); a bare name keeps db None."""
    parts = [p.strip().strip('"`') for p in qualified.split(".")]
    if len(parts) == 1:
        return None, parts[0]
    return parts[-2], parts[-1]


def check_rows(
    operator: Any,
    *,
    dag_id: str,
    task_id: str,
    run_id: str,
    try_number: int,
    checked_at: datetime | None = None,
) -> list[CheckRow]:
    """Rows for the checks a finished common.sql check operator ran.

    Reads ``operator.check_results`` (common.sql >= 2.x, every check operator). A
    check that observed nothing (a query with no rows) is kept, failed, with no value.
    """
    results = getattr(operator, "check_results", None) or []
    at = checked_at or datetime.now(UTC)
    rows = []
    for result in results:
        database, table = split_table(
            result.table or getattr(operator, "table", None) or _first_table(result.content)
        )
        rows.append(
            CheckRow(
                database_name=database,
                table_name=table,
                check_name=result.name,
                column_name=result.column,
                check_type=result.check_type,
                passed=bool(result.success),
                observed_value=result.actual,
                expected=result.expected,
                severity=result.severity,
                dag_id=dag_id,
                task_id=task_id,
                run_id=run_id,
                try_number=try_number,
                checked_at=at,
            )
        )
    return rows


def _first_table(sql: str | None) -> str:
    """The table a free-form check query reads first (SQLCheckOperator names none)."""
    if sql:
        import sqlglot
        from sqlglot import exp

        try:
            tree = sqlglot.parse_one(sql, read="athena")
        except sqlglot.errors.ParseError:
            return "(query)"
        for table in tree.find_all(exp.Table):
            if table.name:
                return f"{table.db}.{table.name}" if table.db else table.name
    return "(query)"


def _safe(name: str) -> str:
    """A run id such as ``scheduled__2024-06-01T00:00:00+00:00`` as an object-name part."""
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", name)


def arrow_schema(columns: Sequence[tuple[str, str]]) -> Any:
    """The pyarrow schema for Glue column types used by this module's tables."""
    import pyarrow as pa

    simple = {
        "string": pa.string(),
        "boolean": pa.bool_(),
        "int": pa.int32(),
        "bigint": pa.int64(),
        "double": pa.float64(),
        "float": pa.float32(),
        "timestamp": pa.timestamp("us"),
    }
    return pa.schema([(name, simple[kind]) for name, kind in columns])


def parquet_bytes(rows: Iterable[dict[str, Any]], columns: Sequence[tuple[str, str]]) -> bytes:
    """Rows as one Parquet object, compressed as the lake's curated tables are."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = arrow_schema(columns)
    records = list(rows)
    for record in records:  # naive UTC timestamps, as Athena reads them
        for key, value in record.items():
            if isinstance(value, datetime) and value.tzinfo is not None:
                record[key] = value.astimezone(UTC).replace(tzinfo=None)
    table = pa.Table.from_pylist(records, schema=schema)
    sink = io.BytesIO()
    pq.write_table(table, sink, compression=settings().parquet_compression.lower())
    return sink.getvalue()


def table_location(table: str) -> str:
    return join(settings().uri("curated"), table)


def table_input(table: str, columns: Sequence[tuple[str, str]], description: str) -> dict:
    """A Glue TableInput for a Parquet table partitioned by ``dt``."""
    from iot_lake.catalog import parquet_table_input

    return parquet_table_input(
        table,
        list(columns),
        table_location(table),
        partition_keys=[(PARTITION_KEY, "string")],
        compression=settings().parquet_compression,
        description=description,
    )


def publish_object(
    table: str,
    columns: Sequence[tuple[str, str]],
    description: str,
    day: str,
    object_name: str,
    rows: Iterable[dict[str, Any]],
) -> str:
    """Write one whole Parquet object into partition ``dt=day`` and register it.

    The object replaces any earlier one of the same name (a rerun), and the table and
    partition are (re)declared in the catalog, which is idempotent.
    """
    date.fromisoformat(day)  # a bad day fails here, before anything is written
    partition_uri = join(table_location(table), f"{PARTITION_KEY}={day}")
    uri = join(partition_uri, object_name)
    payload = parquet_bytes(rows, columns)
    with atomic_open(uri) as handle:
        handle.write(payload)
    register_partition(table_input(table, columns, description), day, partition_uri + "/")
    return uri


def record_check_rows(rows: Sequence[CheckRow], day: str) -> str | None:
    """Store the rows of one (task, run) in ``quality_results`` for ``day``."""
    if not rows:
        return None
    first = rows[0]
    name = f"{_safe(first.dag_id)}.{_safe(first.task_id)}.{_safe(first.run_id)}.parquet"
    uri = publish_object(
        QUALITY_TABLE,
        QUALITY_COLUMNS,
        "Outcome of every data-quality check of every run (iot-lake).",
        day,
        name,
        (asdict(row) for row in rows),
    )
    log.info("recorded %d check results for %s in %s", len(rows), day, uri)
    return uri


def checked_day(context: dict[str, Any]) -> str:
    """The data day a run checks: its logical date, else the start of its data interval."""
    if context.get("ds"):
        return str(context["ds"])
    start = context.get("data_interval_start") or context["dag_run"].run_after
    return start.date().isoformat()


def record_task_instance(task_instance: Any) -> str | None:
    """Record the checks of a finished task instance, if its operator ran any."""
    operator = getattr(task_instance, "task", None)
    if not getattr(operator, "check_results", None):
        return None
    rows = check_rows(
        operator,
        dag_id=task_instance.dag_id,
        task_id=task_instance.task_id,
        run_id=task_instance.run_id,
        try_number=int(getattr(task_instance, "try_number", 0) or 0),
    )
    return record_check_rows(rows, checked_day(task_instance.get_template_context()))


class QualityResultsListener:
    """Airflow listener: after a task succeeds or fails, keep its check results."""

    @hookimpl
    def on_task_instance_success(self, previous_state: Any, task_instance: Any) -> None:
        self._record(task_instance)

    @hookimpl
    def on_task_instance_failed(self, previous_state: Any, task_instance: Any, error: Any) -> None:
        self._record(task_instance)

    @staticmethod
    def _record(task_instance: Any) -> None:
        # Only the task process holds the operator that ran; the scheduler's and the
        # API server's calls (ORM task instances) carry no results and are skipped.
        # The task runner calls listeners after the task's state is final and logs
        # their errors, so a failed write is reported but never fails the task.
        if hasattr(task_instance, "get_template_context"):
            record_task_instance(task_instance)


quality_results_listener = QualityResultsListener()


# --- The lake seam: the catalog of the active backend -------------------------------------
# Everything this module, profiles.py and the dashboard declare goes through these few
# functions, so they follow whatever the DAGs use on each backend (queries: iot_lake.engine).


def _database() -> str:
    return settings().curated_database


def get_table(database: str, table: str) -> dict[str, Any] | None:
    """The catalog's TableInput of ``database.table``, or None when it is not declared."""
    from iot_lake.catalog import get_catalog

    return get_catalog().get_table(database, table)


def get_partition_days(database: str, table: str) -> list[str]:
    """The ``dt`` values of a table's registered partitions, oldest first."""
    from iot_lake.catalog import get_catalog

    catalog = get_catalog()
    if catalog.get_table(database, table) is None:
        return []
    return sorted(_partition_day(p) for p in catalog.get_partitions(database, table))


def _partition_day(partition: Any) -> str:
    values = partition["Values"] if isinstance(partition, dict) else partition
    return str(values[0])


def register_partition(table_def: dict[str, Any], day: str, location: str) -> None:
    """Declare the table (idempotent upsert) and its partition ``dt=day`` in the catalog."""
    from iot_lake.catalog import get_catalog

    catalog = get_catalog()
    database = _database()
    catalog.ensure_database(database)
    catalog.upsert_table(database, table_def)
    catalog.put_partition(database, table_def["Name"], [day], location)
