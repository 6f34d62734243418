"""Data-quality checks: common.sql's check operators on the lake's engine of the day.

The operators are common.sql's own (``SQLColumnCheckOperator``, ``SQLTableCheckOperator``,
``SQLCheckOperator``); what changes is where the hook comes from, DuckDB with catalog
views on `local`, Athena on `aws`, as the engine of the task's run says
(:func:`iot_lake.engine.get_engine`), so DAG files carry no connection and never branch on
the backend, and how they fail. Check SQL is Athena dialect on both backends.

On `local` a check runs in the task (DuckDB, seconds). On `aws` its query runs on Athena
while the task is *deferred* (no worker slot held): common.sql's logic is replayed on
the finished query's typed rows (:mod:`iot_lake.operators.deferred_sql`), and the
query is stopped if the task is killed or the wait fails or times out.

In the DAGs the checks read the *staged* version of the day (``{{ lake.staging_database }}``,
see :mod:`iot_lake.wap`). A failed check is a data error: it raises
:class:`DataCheckFailed` (an ``AirflowFailException``, never retried) whose message
names the check, the failing values and, given ``staged_by`` (the write task's id), where
the staged data is kept. The published partition is untouched: publishing waits for
every check.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from airflow.providers.common.sql.hooks.sql import DbApiHook
from airflow.providers.common.sql.operators.sql import (
    SQLCheckOperator,
    SQLColumnCheckOperator,
    SQLTableCheckOperator,
)
from airflow.sdk.exceptions import AirflowException

from iot_lake import config
from iot_lake.errors import DataCheckFailed
from iot_lake.operators.deferred_sql import AthenaReplayMixin, LakeQueryingOperator


def failure_message(
    task_id: str, results: list[Any], error: BaseException, staged: list[dict[str, Any]]
) -> str:
    """The check's name, each failing check with its observed value, and the staged data."""
    failed = [r for r in results if not r.success]
    lines = [f"data check {task_id} failed:"]
    for result in failed or []:
        column = f" column {result.column}" if result.column else ""
        lines.append(
            f"  - {result.name}{column} on {result.table or '(query)'}: observed "
            f"{result.actual!r}, expected {result.expected}"
        )
    if staged:
        from iot_lake.wap.staging import StagedPartition

        lines.append("The published partitions are unchanged. Staged data kept for inspection:")
        lines += [f"  - {StagedPartition.from_dict(s).describe()}" for s in staged]
    lines.append(f"common.sql says: {error}")
    return "\n".join(lines)


class _LakeCheck(AthenaReplayMixin):
    """Mixin: the lake's engine, and failures that are data errors naming the staged data.

    Each operator class declares ``__init__(staged_by=...)`` itself: Airflow wraps the
    ``__init__`` of operator classes only, not of plain mixins.
    """

    database: str | None
    task_id: str
    check_results: list[Any]

    staged_by: str | None = None

    def _lake_check(self, staged_by: str | None, poll_interval: int, max_polls: int) -> None:
        self.staged_by = staged_by
        self.poll_interval = poll_interval
        self.max_polls = max_polls

    def get_db_hook(self) -> DbApiHook:
        """Athena's finished results while replaying; else DuckDB in the task (an engine
        that defers its waits only ever runs the check through a replay)."""
        if self.recorded is not None:
            return self.recorded  # type: ignore[return-value]
        from iot_lake.hooks.lake_duckdb import LakeDuckDBHook

        hook = LakeDuckDBHook(settings=config.settings())
        if self.database:
            hook.schema = self.database
        return hook

    def execute(self, context: Any) -> Any:
        from iot_lake.engine import get_engine

        if get_engine().defers_waits:
            return self.execute_on_athena(context)
        return self.replayed(context)

    def replayed(self, context: Any) -> Any:
        """common.sql's check; a failed check becomes :class:`DataCheckFailed`."""
        self.check_results = []
        try:
            return super().execute(context)  # type: ignore[misc]
        except AirflowException as err:
            results = list(getattr(self, "check_results", None) or [])
            if results and all(r.success for r in results):
                raise  # not a check failure (an engine error): infrastructure, retried
            staged = self._staged(context)
            raise DataCheckFailed(failure_message(self.task_id, results, err, staged)) from err

    def _staged(self, context: Any) -> list[dict[str, Any]]:
        return staged_versions(context, self.staged_by)


def staged_versions(context: Any, staged_by: str | None) -> list[dict[str, Any]]:
    """The staged versions the write task ``staged_by`` returned (to name them)."""
    if not staged_by:
        return []
    written = context["ti"].xcom_pull(task_ids=staged_by) or {}
    return list(written.get("staged") or [])


class LakeColumnCheckOperator(_LakeCheck, SQLColumnCheckOperator):
    """``SQLColumnCheckOperator`` on the lake (null, distinct, unique, min, max per column).

    common.sql sends every check as one ``UNION ALL`` whose ``check_result`` takes its
    type from all branches; Trino has no common type for a count (bigint) and ``MIN`` of
    a boolean column, and rejects the statement (DuckDB casts silently). Every check's
    result is therefore a double: the thresholds it is compared with are numbers anyway
    (a boolean's ``MIN`` becomes 0.0 or 1.0), and a type no number can hold (a timestamp's
    ``MIN``) fails on both engines alike instead of only on Athena.
    """

    column_checks: ClassVar[dict[str, str]] = {
        check: f"CAST({statement} AS double)"
        for check, statement in SQLColumnCheckOperator.column_checks.items()
    }

    def __init__(
        self,
        *,
        staged_by: str | None = None,
        poll_interval: int = 10,
        max_polls: int = 360,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("retry_on_failure", False)  # a failed check is a data error
        super().__init__(**kwargs)
        self._lake_check(staged_by, poll_interval, max_polls)


class LakeTableCheckOperator(_LakeCheck, SQLTableCheckOperator):
    """``SQLTableCheckOperator`` on the lake (boolean statements over a table)."""

    def __init__(
        self,
        *,
        staged_by: str | None = None,
        poll_interval: int = 10,
        max_polls: int = 360,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("retry_on_failure", False)  # a failed check is a data error
        super().__init__(**kwargs)
        self._lake_check(staged_by, poll_interval, max_polls)


class LakeSQLCheckOperator(_LakeCheck, SQLCheckOperator):
    """``SQLCheckOperator`` on the lake: every value of the first row of a query must be true.

    For checks that need more than one table, e.g. raw-versus-curated reconciliation,
    kept as a SQL file under ``include/sql/``.
    """

    def __init__(
        self,
        *,
        staged_by: str | None = None,
        poll_interval: int = 10,
        max_polls: int = 360,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("retry_on_failure", False)  # a failed check is a data error
        super().__init__(**kwargs)
        self._lake_check(staged_by, poll_interval, max_polls)


class LakeDayShrinkCheckOperator(LakeQueryingOperator):
    """The staged day may not be much smaller than the published day it would replace.

    Counts both versions of partition ``dt = ds`` of ``table``
    (``include/sql/quality/count_day_versions.sql``; deferred on `aws`) and fails with
    :class:`DataCheckFailed` when all published rows would be gone or more than the
    setting ``max_day_shrink`` of them (:mod:`iot_lake.shrink`), unless the run was
    triggered with the DAG param ``accept_shrink = true``.
    """

    template_fields: Sequence[str] = ("table", "day")

    def __init__(
        self,
        *,
        table: str,
        day: str = "{{ ds }}",
        staged_by: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.table = table
        self.day = day
        self.staged_by = staged_by
        self.check_results: list[Any] = []

    def work(self, context: Any, run_sql: Callable[[str], list[dict[str, Any]]]) -> dict:
        from airflow.providers.common.sql.operators.sql import SQLCheckResult

        from iot_lake import shrink
        from iot_lake.sql.render import render_sql

        lake = config.settings()
        accepted = shrink.accepted(context.get("params"))
        sql = render_sql(shrink.COUNT_SQL, ds=self.day, params={"table": self.table})
        [row] = run_sql(sql)
        verdict = shrink.judge(self.table, self.day, row, lake.max_day_shrink, accepted)
        self.check_results = [
            SQLCheckResult(
                name="day_not_shrunk",
                check_type="shrink",
                success=verdict.passes,
                table=f"{lake.staging_database}.{self.table}",
                expected=f"> 0 and >= {1 - verdict.max_shrink:.0%} of {verdict.published_rows}"
                if verdict.published_rows else "any (no published rows)",
                actual=str(verdict.staged_rows),
                description="a new version of a day keeps most of the published rows",
                params=verdict.as_dict(),
            )
        ]
        if verdict.too_small and accepted:
            self.log.warning("accepted by the run's param %s: %s",
                             shrink.ACCEPT_PARAM, verdict.describe())
        elif not verdict.passes:
            staged = staged_versions(context, self.staged_by)
            lines = [f"data check {self.task_id} failed: {verdict.describe()}."]
            if staged:
                from iot_lake.wap.staging import StagedPartition

                lines.append("The published partitions are unchanged. Staged data kept for "
                             "inspection:")
                lines += [f"  - {StagedPartition.from_dict(s).describe()}" for s in staged]
            lines.append(
                f"If the smaller day is right (rows deleted at the source on purpose), "
                f"trigger this day again with the param {shrink.ACCEPT_PARAM} = true."
            )
            raise DataCheckFailed("\n".join(lines))
        else:
            self.log.info("%s", verdict.describe())
        return verdict.as_dict()
