"""Write partitions from SQL files; on `aws` every Athena wait is deferred (no worker slot).

:class:`LakeStagedWriteOperator` runs a staged write (:mod:`iot_lake.wap.steps`):
steps of ``{table: SQL file}``, each table's rows written as a new staged version of
its partition ``dt = ds`` (:mod:`iot_lake.wap.staging`), then an optional one-row summary
query. :class:`LakeWritePartitionOperator` is its one-table case, which can also publish
at once (derived tables without checks).

- `local`: DuckDB, in the task (seconds).
- `aws`: each step's tables are ``UNLOAD``-ed to fresh prefixes together; the task then
  *defers* to the provider's ``AthenaTrigger`` (:class:`iot_lake.triggers.LakeAthenaTrigger`),
  one query after the other, giving its worker slot back while Athena runs, and resumes
  only to register what finished and submit the next step (or the summary, itself
  deferred). The queries never outlive their task: ``on_kill`` (killed while it holds
  the slot), the trigger's ``on_kill`` (marked failed or cleared while deferred, never
  when the trigger only moves to another triggerer: :mod:`iot_lake.triggers`) and a
  failed or timed-out wait (``__fail__`` resume) call ``StopQueryExecution`` on every
  query of the step still running. Every UNLOAD prefix enters the superseded ledger
  before its query starts, so whatever a stopped (or lost) query wrote expires with the
  grace period unless it was staged; the task's own failure paths also delete it at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from airflow.sdk import BaseOperator

from iot_lake.operators.deferred_sql import (
    athena_engine,
    athena_trigger,
    failed_wait,
    resumed_kwargs,
    wait_timeout,
)

STATE_XCOM_KEY = "athena_write"
"""Where a failed or timed-out resume (which gets no kwargs of ours) finds the queries."""


class LakeStagedWriteOperator(BaseOperator):
    """Stage one day's partitions of several tables, step after step (then a summary)."""

    template_fields: Sequence[str] = ("steps", "summary_sql", "partition_values")
    template_ext: Sequence[str] = (".sql",)
    template_fields_renderers: ClassVar[dict[str, str]] = {
        "steps": "py", "summary_sql": "sql"
    }
    ui_color = "#e8f4fd"

    def __init__(
        self,
        *,
        steps: Sequence[Mapping[str, str]] = (),
        summary_sql: str | None = None,
        partition_values: Sequence[str] = ("{{ ds }}",),
        poll_interval: int = 10,
        max_polls: int = 360,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.steps = [dict(step) for step in steps]
        self.summary_sql = summary_sql
        self.partition_values = list(partition_values)
        self.poll_interval = poll_interval
        self.max_polls = max_polls
        self.state: dict[str, Any] | None = None

    def plan(self) -> list[dict[str, str]]:
        """The rendered steps: ``[{table: SELECT}, ...]``."""
        return self.steps

    # ------------------------------------------------------------------ start
    def execute(self, context: Any) -> dict[str, Any]:
        from iot_lake import config
        from iot_lake.engine import get_engine
        from iot_lake.wap import steps

        lake = config.settings()
        state = steps.new_state(self.partition_values)
        if not get_engine(lake).defers_waits:  # DuckDB: the whole plan in the task (seconds)
            return self._advance(context, state, lake, start=steps.stage_now)
        return self._advance(context, state, lake, start=self._submit)

    def _advance(
        self, context: Any, state: dict[str, Any], lake: Any, start: Any = None
    ) -> dict[str, Any]:
        """Run the plan on (:func:`iot_lake.wap.steps.advance`): finish, or defer on the
        first pending query."""
        from iot_lake.wap import steps

        result = steps.advance(
            self.plan(), self.summary_sql, state, lake, start=start or self._submit
        )
        if result is not None:
            return self.finish(result, lake)
        self._defer(context, state, lake)
        raise AssertionError("defer() returns only by raising")  # pragma: no cover

    def _submit(self, queries: Any, state: dict[str, Any], lake: Any) -> None:
        """The deferring starter: UNLOAD each table of a step to a fresh prefix (and start
        the summary) on Athena, all together; a submit error stops those already started."""
        from iot_lake.catalog import get_catalog
        from iot_lake.engine.athena import unload_sql
        from iot_lake.sql.transpile import parse_one
        from iot_lake.wap import staging

        database = lake.curated_database
        try:
            for table_name, select in queries:
                parse_one(select)  # fail before starting anything on a bad statement
                query: dict[str, Any] = {"table": table_name, "location": None}
                statement = select
                if table_name is not None:
                    table = staging.target_table(
                        get_catalog(lake), database, table_name, state["values"])
                    query["location"] = staging.stage_location(
                        table, state["values"], staging.new_run_id())
                    # in the ledger before the query starts: no kill, lost trigger or
                    # crash can leave an UNLOAD prefix that expiry does not know of
                    staging.record_unload_prefix(table, state["values"], query["location"])
                    statement = unload_sql(
                        select, query["location"], staging.compression_of(table, lake))
                query["id"] = athena_engine(lake).start(statement, database=database)
                state["pending"].append(query)
                self.log.info("Athena query %s writes %s", query["id"],
                              query["location"] or "the summary")
        except BaseException:
            self._abandon(state, lake)
            raise

    def _defer(self, context: Any, state: dict[str, Any], lake: Any) -> None:
        self.state = state
        context["ti"].xcom_push(key=STATE_XCOM_KEY, value=state)
        query, *others = state["pending"]
        self.log.info("waiting for Athena query %s in the triggerer", query["id"])
        self.defer(
            trigger=athena_trigger(
                query["id"], lake, self.poll_interval, self.max_polls,
                also_running=[other["id"] for other in others],
            ),
            method_name="execute_complete",
            kwargs={"state": state},
            timeout=wait_timeout(self.poll_interval, self.max_polls),
        )

    # ------------------------------------------------------------------ resume
    def execute_complete(
        self, context: Any, event: dict[str, Any] | None = None,
        state: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        from iot_lake import config
        from iot_lake.errors import QueryError
        from iot_lake.wap import steps

        lake = config.settings()
        state = state or resumed_kwargs(context, self.task_id, STATE_XCOM_KEY)
        if not state.get("pending"):
            raise QueryError(f"{self.task_id} resumed without a pending Athena query")
        self.state = state
        query = state["pending"][0]
        if not event or event.get("status") != "success":
            self._abandon(state, lake)
            raise failed_wait(query["id"], event, lake)
        state["pending"].pop(0)
        summary = (
            steps.one_row(athena_engine(lake).result(query["id"]).records())
            if query["table"] is None else None
        )
        steps.finish_query(state, query, lake, summary)
        return self._advance(context, state, lake)

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Any):
        """A wait that failed or timed out (``__fail__``) stops its queries first."""
        if next_method == "__fail__":
            from iot_lake import config

            state = context["ti"].xcom_pull(task_ids=self.task_id, key=STATE_XCOM_KEY)
            if state:
                self._abandon(state, config.settings())
        return super().resume_execution(next_method, next_kwargs, context)

    def on_kill(self) -> None:
        if self.state:
            from iot_lake import config

            self._abandon(self.state, config.settings())

    # ------------------------------------------------------------------ helpers
    def _abandon(self, state: dict[str, Any], lake: Any) -> None:
        """Stop every query still running and delete what it may have half written."""
        engine = athena_engine(lake)
        for query in state.get("pending") or []:
            engine.abandon(query)

    def finish(self, result: dict[str, Any], lake: Any) -> dict[str, Any]:
        """What the task returns (XCom): the staged write as is."""
        return result


class LakeWritePartitionOperator(LakeStagedWriteOperator):
    """Replace (or stage) one partition of a curated Parquet table from a SELECT.

    ``publish=True`` (derived tables without checks) swaps the new version in at once and
    returns where it lives; ``publish=False`` leaves it staged for an audit and returns
    ``{"staged": [...], "rows": ...}`` as every write step does.
    """

    template_fields: Sequence[str] = ("sql", "partition_values")
    template_fields_renderers: ClassVar[dict[str, str]] = {"sql": "sql"}

    def __init__(self, *, sql: str, table: str, publish: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sql = sql
        self.table = table
        self.publish = publish

    def plan(self) -> list[dict[str, str]]:
        return [{self.table: self.sql}]

    def finish(self, result: dict[str, Any], lake: Any) -> dict[str, Any]:
        from iot_lake.wap.publish import publish

        [staged] = result["staged"]
        if not self.publish:
            return {"staged": [staged], "rows": staged.get("rows")}
        [published] = publish(result, lake)
        return {**published, "rows": staged.get("rows")}
