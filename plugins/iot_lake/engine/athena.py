"""Athena (`aws`): statements in the lake's workgroup through the provider's ``AthenaHook``.

Start, wait, stop and typed results of one query, and UNLOAD to Parquet. A query never
outlives the wait of the process that started it: a wait that times out, or a task
killed or timed out while it waits (Airflow raises inside the task), stops the query
(``StopQueryExecution``) before the error propagates. DAG tasks do not wait here: they
start a query, give their worker slot back and wait in the triggerer
(:mod:`iot_lake.operators.deferred_sql`, :mod:`iot_lake.operators.write`), then read the
result with :meth:`AthenaEngine.result`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from functools import cached_property
from typing import Any

from iot_lake.engine import Engine, Result
from iot_lake.sql.render import quote_literal
from iot_lake.sql.transpile import parse_one

log = logging.getLogger(__name__)

ATHENA_MAX_POLLS = 720
"""Polls of a synchronous Athena wait (x ``sleep_time``: one hour at 5 s) before it stops."""


def unload_sql(select_sql: str, location: str, compression: str) -> str:
    """Athena UNLOAD of a SELECT to Parquet at a fresh prefix."""
    return (
        f"UNLOAD ({select_sql.strip().rstrip(';')}) TO {quote_literal(location)} "
        f"WITH (format = 'PARQUET', compression = {quote_literal(compression)})"
    )


class AthenaEngine(Engine):
    """Athena in the lake's workgroup (``athena_workgroup``), results under
    ``query_results``; credentials and region from the Airflow AWS connection."""

    defers_waits = True

    @cached_property
    def hook(self) -> Any:
        """The provider's ``AthenaHook`` (imported here: the engine leaves Airflow out)."""
        from airflow.providers.amazon.aws.hooks.athena import AthenaHook

        return AthenaHook(aws_conn_id=self.settings.aws_conn_id, region_name=self.settings.region)

    def start(self, sql: str, database: str | None = None) -> str:
        """Submit one rendered statement; its execution id (no wait)."""
        return self.hook.run_query(
            query=sql,
            query_context={"Database": database or self.settings.curated_database},
            result_configuration={"OutputLocation": self.settings.uri("query_results")},
            client_request_token=str(uuid.uuid4()),
            workgroup=self.settings.athena_workgroup,
        )

    def execute(
        self,
        sql: str,
        database: str | None = None,
        sleep_time: int = 5,
        max_polls: int = ATHENA_MAX_POLLS,
    ) -> str:
        """Run one rendered statement and wait for it in this process; its execution id.

        For tools, tests and ``lake_setup``; DAG tasks wait in the triggerer instead.
        """
        execution_id = self.start(sql, database)
        self.wait(execution_id, sleep_time, max_polls)
        return execution_id

    def wait(
        self, execution_id: str, sleep_time: int = 5, max_polls: int = ATHENA_MAX_POLLS
    ) -> None:
        """Poll until the query ends; raise unless it succeeded. A wait that times out or is
        interrupted (a kill, a task's timeout) stops the query first."""
        try:
            state = self.hook.poll_query_status(
                execution_id, max_polling_attempts=max_polls, sleep_time=sleep_time
            )
        except BaseException:
            self.stop(execution_id)
            raise
        if state in self.hook.INTERMEDIATE_STATES or state is None:
            self.stop(execution_id)
            from iot_lake.errors import QueryError

            raise QueryError(
                f"Athena query {execution_id} still {state} after {max_polls * sleep_time}s: "
                "stopped"
            )
        if state != "SUCCEEDED":
            raise self.failure(execution_id, f"ended {state}")

    def failure(self, execution_id: str | None, outcome: str) -> Exception:
        """The error of a query that did not succeed (``outcome`` says how): a data error
        (never retried) only for Athena's data errors, named in its state-change reason."""
        from iot_lake.errors import QueryDataError, QueryError, is_athena_data_error

        reason = self.hook.get_state_change_reason(execution_id) if execution_id else None
        error = QueryDataError if is_athena_data_error(reason) else QueryError
        return error(f"Athena query {execution_id} {outcome}: {reason}")

    def stop(self, execution_id: str) -> None:
        """``StopQueryExecution`` of a query that may still run; never raises (best effort:
        the error that led here matters more than a failed stop)."""
        try:
            self.hook.stop_query(execution_id)
            log.warning("stopped Athena query %s", execution_id)
        except Exception:
            log.exception("could not stop Athena query %s", execution_id)

    def abandon(self, query: Mapping[str, Any]) -> None:
        """Stop a query that may still run and delete what it may have half written.

        ``query`` is ``{"id": ..., "location": ...}`` (location: an UNLOAD's fresh prefix,
        or None). Best effort, never raises: it runs on the way out of a failure.
        """
        self.stop(query["id"])
        if query.get("location"):
            try:
                from iot_lake.storage import delete_tree

                delete_tree(query["location"])
            except Exception:
                log.exception("could not delete %s", query["location"])

    def result(self, execution_id: str) -> Result:
        """The names and rows of a finished query (a SELECT's header row dropped), each
        value typed from the column's Athena type (GetQueryResults returns text)."""
        from pyathena.converter import DefaultTypeConverter

        convert = DefaultTypeConverter().convert
        columns: list[dict[str, Any]] = []
        cells: list[list[dict[str, Any]]] = []
        for page in self.hook.get_query_results_paginator(execution_id) or []:
            result = page["ResultSet"]
            columns = columns or list(result.get("ResultSetMetadata", {}).get("ColumnInfo", []))
            cells += [row["Data"] for row in result["Rows"]]
        names = [column["Name"] for column in columns]
        if cells and [cell.get("VarCharValue") for cell in cells[0]] == names:
            cells = cells[1:]  # a SELECT's first row holds the column labels
        rows = [
            tuple(
                convert(c["Type"], cell.get("VarCharValue"))
                for c, cell in zip(columns, row, strict=True)
            )
            for row in cells
        ]
        return Result(names, rows)

    def _run(self, text: str, database: str | None, label: str) -> Result:
        return self.result(self.execute(text, database))

    def write_parquet(
        self, select_sql: str, location: str, *, compression: str, database: str | None = None
    ) -> None:
        """UNLOAD the SELECT to ``location``; on any failure the prefix is deleted."""
        parse_one(select_sql)  # fail before touching anything on a malformed statement
        try:
            self.execute(unload_sql(select_sql, location, compression), database)
        except BaseException:
            from iot_lake.storage import delete_tree

            delete_tree(location)
            raise
        return None
