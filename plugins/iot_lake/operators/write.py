"""Write one partition from a SQL file; on `aws` the Athena wait is deferred (no worker slot).

:class:`LakeWritePartitionOperator` renders an Athena-dialect SELECT (a file under
``include/sql/``, templated like any Airflow SQL) and writes its rows as a new version of
partition ``dt = ds`` (:mod:`iot_lake.wap`), then publishes it (``publish=True``, for
derived tables without checks) or leaves it staged for the audit (``publish=False``,
returning ``{"staged": [...]}`` as every write step does).

- `local`: DuckDB, in the task (seconds).
- `aws`: ``UNLOAD`` to a fresh prefix, submitted from the task, which then *defers* to
  the Amazon provider's :class:`~airflow.providers.amazon.aws.triggers.athena.AthenaTrigger`
  and gives its worker slot back while Athena runs. The query never outlives its task:
  ``on_kill`` (task killed, cleared or marked failed while it holds the slot) and a
  failed, timed out or killed wait (``__fail__`` resume, trigger error or ``timeout``)
  call ``StopQueryExecution`` and delete the partial prefix.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from airflow.sdk import BaseOperator

from iot_lake.operators.deferred_sql import (
    QUERY_XCOM_KEY,
    athena_trigger,
    failed_wait,
    wait_timeout,
)


class LakeWritePartitionOperator(BaseOperator):
    """Replace (or stage) one partition of a curated Parquet table from a SELECT."""

    template_fields: Sequence[str] = ("sql", "partition_values")
    template_ext: Sequence[str] = (".sql",)
    template_fields_renderers: ClassVar[dict[str, str]] = {"sql": "sql"}
    ui_color = "#e8f4fd"

    def __init__(
        self,
        *,
        sql: str,
        table: str,
        partition_values: Sequence[str] = ("{{ ds }}",),
        publish: bool = True,
        poll_interval: int = 10,
        max_polls: int = 360,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.sql = sql
        self.table = table
        self.partition_values = list(partition_values)
        self.publish = publish
        self.poll_interval = poll_interval
        self.max_polls = max_polls
        self.query_execution_id: str | None = None

    # ------------------------------------------------------------------ start
    def execute(self, context: Any) -> dict[str, Any]:
        from iot_lake import config, engine, wap
        from iot_lake.catalog import get_catalog

        lake = config.settings()
        database = lake.curated_database
        values = [str(v) for v in self.partition_values]
        if lake.is_local:
            staged = engine.stage_partition(self.sql, database, self.table, values, lake)
            return self._finish(staged, lake)
        table = engine.target_table(get_catalog(lake), database, self.table, values)
        location = wap.stage_location(lake, table, values, wap.new_run_id())
        statement = engine.unload_sql(self.sql, location, engine.compression_of(table, lake))
        engine.parse_one(self.sql)
        self.query_execution_id = engine.athena_start(statement, lake, database=database)
        query = {"id": self.query_execution_id, "location": location, "values": values}
        # Kept where a failed or timed-out resume (which gets no kwargs of ours) finds it.
        context["ti"].xcom_push(key=QUERY_XCOM_KEY, value=query)
        self.log.info("Athena query %s writes %s; deferring", self.query_execution_id, location)
        self.defer(
            trigger=athena_trigger(
                self.query_execution_id, lake, self.poll_interval, self.max_polls
            ),
            method_name="execute_complete",
            kwargs={"query": query},
            timeout=wait_timeout(self.poll_interval, self.max_polls),
        )
        raise AssertionError("defer() returns only by raising")  # pragma: no cover

    # ------------------------------------------------------------------ resume
    def execute_complete(
        self, context: Any, event: dict[str, Any] | None = None, query: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        from iot_lake import config, engine, wap
        from iot_lake.catalog import get_catalog

        lake = config.settings()
        query = query or {}
        self.query_execution_id = query.get("id")
        if not event or event.get("status") != "success":
            self._abandon(query, lake)
            raise failed_wait(query.get("id"), event, lake)
        catalog = get_catalog(lake)
        database = lake.curated_database
        table = engine.target_table(catalog, database, self.table, query["values"])
        staged = wap.register_staged(
            lake, database, table, query["values"], query["location"], catalog=catalog
        )
        return self._finish(staged, lake)

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Any):
        """A wait that failed or timed out (``__fail__``) stops its query first."""
        if next_method == "__fail__":
            from iot_lake import config

            query = context["ti"].xcom_pull(task_ids=self.task_id, key=QUERY_XCOM_KEY)
            if query:
                self._abandon(query, config.settings())
        return super().resume_execution(next_method, next_kwargs, context)

    def on_kill(self) -> None:
        if self.query_execution_id:
            from iot_lake import config, engine

            engine.stop_query(self.query_execution_id, config.settings())

    # ------------------------------------------------------------------ helpers
    def _abandon(self, query: dict[str, Any], lake: Any) -> None:
        from iot_lake import engine

        if query.get("id"):
            engine.stop_query(query["id"], lake)
        if query.get("location"):
            engine.delete_prefix(query["location"], lake)

    def _finish(self, staged: Any, lake: Any) -> dict[str, Any]:
        from iot_lake import wap

        if not self.publish:
            return {"staged": [staged.as_dict()], "rows": staged.rows}
        [published] = wap.publish_all([staged], lake)
        return {**published, "rows": staged.rows}
