"""Deferrable Athena for operators whose logic reads rows through a DB-API hook: *replay*.

common.sql's check operators build their SQL, ask the hook for rows (``get_records`` or
``get_first``) and judge them. On `aws`, :class:`AthenaReplayMixin` runs that logic with
a :class:`RecordedResults` hook that answers from finished Athena queries. A statement
with no result yet (:class:`QueryPending`) is submitted in the lake's workgroup and the
task *defers* to the Amazon provider's ``AthenaTrigger``, giving its worker slot back
while Athena runs. On resume the rows are fetched, typed with the column types Athena
reports (GetQueryResults returns text; a count must compare as a number, a boolean as a
boolean, NULL as None), and the logic runs again from the start until it asks for
nothing new. The operator's own SQL, evaluation and failure messages are untouched.

The query never outlives its task: ``on_kill``, the trigger's ``on_kill`` (a user marks
the deferred task failed or clears it; not when the trigger only moves to another
triggerer, see :mod:`iot_lake.triggers`) and a failed or timed-out wait (``__fail__``
resume, which gets no kwargs of ours: the query is found in XCom) call
``StopQueryExecution``, as :mod:`iot_lake.operators.write` does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any, NoReturn

from airflow.sdk import BaseOperator

if TYPE_CHECKING:
    from iot_lake.config import LakeSettings
    from iot_lake.engine import Result
    from iot_lake.engine.athena import AthenaEngine

QUERY_XCOM_KEY = "athena_query"
"""XCom key of the query a task waits for (a ``__fail__`` resume looks it up there)."""

Rows = list[tuple[Any, ...]]
Records = list[dict[str, Any]]


class QueryPending(Exception):
    """The replayed logic asked for a statement that has no result yet.

    Not an error of the library (it never leaves :meth:`AthenaReplayMixin.execute_on_athena`,
    which turns it into a deferral), so it stays beside its only user, not in
    :mod:`iot_lake.errors`.
    """

    def __init__(self, sql: str) -> None:
        super().__init__(f"no Athena result yet for: {sql}")
        self.sql = sql


class RecordedResults:
    """A stand-in hook: results (column names, typed rows) of finished queries, looked up
    by their exact SQL."""

    def __init__(self, results: Mapping[str, Result]) -> None:
        self.results = dict(results)

    def result(self, sql: str) -> Result:
        """The finished query's result, or :class:`QueryPending` when it has none yet."""
        if sql not in self.results:
            raise QueryPending(sql)
        return self.results[sql]

    def get_dicts(self, sql: str) -> Records:
        """The rows as ``{column: value}`` (for logic that reads columns by name)."""
        return self.result(sql).records()

    def get_records(self, sql: str, parameters: Any = None) -> Rows:
        if parameters:
            raise ValueError(
                "query parameters are not supported by checks deferred to Athena: "
                "render the values into the SQL with templates ({{ params.x }})"
            )
        return self.result(sql).rows

    def get_first(self, sql: str, parameters: Any = None) -> tuple[Any, ...] | None:
        rows = self.get_records(sql, parameters)
        return rows[0] if rows else None


def athena_trigger(
    execution_id: str,
    lake: LakeSettings,
    poll_interval: int,
    max_polls: int,
    also_running: list[str] | None = None,
) -> Any:
    """The provider's trigger that waits for one query in the triggerer (and stops it, with
    the ``also_running`` queries of the same step, when the deferred task is killed)."""
    from iot_lake.triggers import LakeAthenaTrigger

    return LakeAthenaTrigger(
        query_execution_id=execution_id,
        also_running=also_running,
        waiter_delay=poll_interval,
        waiter_max_attempts=max_polls,
        aws_conn_id=lake.aws_conn_id,
        region_name=lake.region,
    )


def resumed_kwargs(context: Any, task_id: str, key: str) -> dict[str, Any]:
    """The deferral's kwargs, from XCom, for a resume that got the trigger's event only.

    The triggerer adds the event to the kwargs given to ``defer``; ``airflow dags test``
    (Airflow 3.3's inline trigger run) replaces them by the event. A deferring task also
    pushes them to XCom, which Airflow keeps across its resumes: read them back there.
    """
    from iot_lake.errors import QueryError

    stored = context["ti"].xcom_pull(task_ids=task_id, key=key)
    if not stored:
        raise QueryError(f"{task_id} resumed without its pending Athena query")
    return stored


def wait_timeout(poll_interval: int, max_polls: int) -> timedelta:
    """The deferral's timeout: the trigger's own polls, with a margin."""
    return timedelta(seconds=poll_interval * max_polls * 1.2)


def athena_engine(lake: LakeSettings | None = None) -> AthenaEngine:
    """The engine a deferring task talks to (it defers only when the engine waits
    elsewhere: :attr:`iot_lake.engine.Engine.defers_waits`)."""
    from iot_lake import config
    from iot_lake.engine import get_engine

    engine = get_engine(lake or config.settings())
    if not engine.defers_waits:
        from iot_lake.errors import QueryError

        raise QueryError(f"{type(engine).__name__} runs statements in the task: nothing to defer")
    return engine  # type: ignore[return-value]


def failed_wait(execution_id: str | None, event: Any, lake: LakeSettings) -> Exception:
    """The error of a wait that did not succeed: a data error only for Athena's data errors."""
    return athena_engine(lake).failure(execution_id, f"did not succeed ({event})")


class AthenaReplayMixin:
    """Runs :meth:`replayed` on `aws` with Athena results, deferring while queries run.

    The operator implements :meth:`replayed` (its logic, reading rows through
    ``get_db_hook()``) and returns :attr:`recorded` from ``get_db_hook`` while it is set.
    """

    task_id: str
    database: str | None
    log: Any
    defer: Any
    poll_interval: int = 10
    max_polls: int = 360
    query_execution_id: str | None = None
    recorded: RecordedResults | None = None

    def replayed(self, context: Any) -> Any:
        raise NotImplementedError

    def execute_on_athena(self, context: Any, queries: Mapping[str, str] | None = None) -> Any:
        """Replay the logic on the rows of ``queries`` ({sql: execution id}); defer on a miss."""
        from iot_lake import config

        lake = config.settings()
        engine = athena_engine(lake)
        queries = dict(queries or {})
        self.recorded = RecordedResults({sql: engine.result(q) for sql, q in queries.items()})
        try:
            return self.replayed(context)
        except QueryPending as miss:
            pending = miss.sql
        finally:
            self.recorded = None
        self._submit_and_defer(context, pending, queries, lake)

    def _submit_and_defer(
        self, context: Any, sql: str, queries: dict[str, str], lake: LakeSettings
    ) -> NoReturn:
        execution_id = athena_engine(lake).start(sql, database=self.database)
        self.query_execution_id = queries[sql] = execution_id
        waiting = {"queries": queries, "pending": execution_id}
        context["ti"].xcom_push(key=QUERY_XCOM_KEY, value={"id": execution_id, **waiting})
        self.log.info("Athena query %s runs %s; deferring", execution_id, self.task_id)
        self.defer(
            trigger=athena_trigger(execution_id, lake, self.poll_interval, self.max_polls),
            method_name="execute_complete",
            kwargs=waiting,
            timeout=wait_timeout(self.poll_interval, self.max_polls),
        )
        raise AssertionError("defer() returns only by raising")  # pragma: no cover

    def execute_complete(
        self,
        context: Any,
        event: dict[str, Any] | None = None,
        queries: dict[str, str] | None = None,
        pending: str | None = None,
    ) -> Any:
        """The trigger fired: a failed query is an engine error, a finished one is replayed."""
        from iot_lake import config

        lake = config.settings()
        if pending is None:  # resumed with the event only (see resumed_kwargs)
            waiting = resumed_kwargs(context, self.task_id, QUERY_XCOM_KEY)
            queries, pending = waiting["queries"], waiting["pending"]
        self.query_execution_id = pending
        if not event or event.get("status") != "success":
            if pending:
                athena_engine(lake).stop(pending)
            raise failed_wait(pending, event, lake)
        return self.execute_on_athena(context, queries)

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Any):
        """A wait that failed or timed out (``__fail__``) stops its query first."""
        if next_method == "__fail__":
            query = context["ti"].xcom_pull(task_ids=self.task_id, key=QUERY_XCOM_KEY)
            if query and query.get("id"):
                athena_engine().stop(query["id"])
        return super().resume_execution(next_method, next_kwargs, context)  # type: ignore[misc]

    def on_kill(self) -> None:
        if self.query_execution_id:
            athena_engine().stop(self.query_execution_id)


class LakeQueryingOperator(AthenaReplayMixin, BaseOperator):
    """An operator whose work reads query results by name: ``work(context, run_sql)``.

    ``run_sql(statement)`` gives a rendered statement's rows as ``{column: value}``: run
    in the task on `local` (DuckDB), and on `aws` the recorded results of a replay, the
    task deferring while each new statement runs on Athena. ``work`` runs once per
    finished query on `aws`: side effects belong after its last query.
    """

    def __init__(self, *, poll_interval: int = 10, max_polls: int = 360, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.database: str | None = None  # statements run in the curated database
        self.poll_interval = poll_interval
        self.max_polls = max_polls

    def work(self, context: Any, run_sql: Callable[[str], Records]) -> Any:
        raise NotImplementedError

    def execute(self, context: Any) -> Any:
        from iot_lake.engine import get_engine

        engine = get_engine()
        if engine.defers_waits:
            return self.execute_on_athena(context)
        return self.work(context, lambda statement: engine.query(statement).records())

    def replayed(self, context: Any) -> Any:
        assert self.recorded is not None  # set by execute_on_athena around this call
        return self.work(context, self.recorded.get_dicts)
