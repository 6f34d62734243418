"""weather_lake on `aws`: every Athena wait is deferred, no query outlives its task.

The DAG's own tasks against a moto server: driven by hand (each deferral, its trigger run
against moto, the resume of a fresh task, a kill, a timeout) and through Airflow itself
(``dag.test``). moto runs no SQL: what Athena would answer a SELECT is queued.
"""

from __future__ import annotations

import asyncio
from typing import Any

import boto3
import pytest

from tests.fixtures.deferral import FakeTaskInstance, deferral, resume, stored
from tests.fixtures.moto import lake_on_server, queue_result

DAY = "2026-11-03"
SUMMARY_COLUMNS = [
    ("rows", "bigint"), ("observations", "bigint"), ("rejects", "bigint"),
    ("lines_read", "bigint"), ("duplicates", "bigint"),
]  # fmt: skip


@pytest.fixture
def weather_on_moto(airflow_db, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch):
    # airflow_db: these tasks look their DAG up in the metadata DB (table dag), which a
    # fresh checkout running this file alone had not migrated yet.
    from iot_lake.weather.tables import ensure_tables

    lake = lake_on_server(
        moto_endpoint, monkeypatch, bucket="lake-curated", workgroup="iot_lake_write",
        raw="lake-raw")
    ensure_tables(lake)
    return lake


def _athena() -> Any:
    return boto3.client("athena", region_name="us-east-1")


def _query(execution_id: str) -> dict[str, Any]:
    return _athena().get_query_execution(QueryExecutionId=execution_id)["QueryExecution"]


def _write_task() -> Any:
    """The DAG's write_observations, templates rendered for DAY as a run renders them."""
    from airflow.dag_processing.dagbag import DagBag

    from tests.conftest import ROOT

    bag = DagBag(dag_folder=str(ROOT / "dags" / "weather_lake.py"))
    assert bag.import_errors == {}
    task = bag.get_dag("weather_lake").get_task("write_observations")
    task.render_template_fields({"ds": DAY, "params": dict(task.params)})
    return task


def test_each_athena_query_of_the_write_is_waited_for_in_the_triggerer(weather_on_moto) -> None:
    from airflow.sdk.exceptions import TaskDeferred

    from iot_lake.catalog import get_catalog
    from iot_lake.triggers import LakeAthenaTrigger

    task, ti = _write_task(), FakeTaskInstance("write_observations")
    deferrals = [deferral(lambda: task.execute({"ti": ti}))]
    while True:
        last = deferrals[-1]
        assert isinstance(last.trigger, LakeAthenaTrigger)
        assert last.method_name == "execute_complete"
        state = last.kwargs["state"]
        # kept where a failed resume (no kwargs of ours) finds the running queries
        assert ti.xcom_pull("write_observations", key="athena_write") == state
        if state["pending"][0]["table"] is None:  # the summary: moto runs no SQL
            queue_result(SUMMARY_COLUMNS, [["7", "3", "2", "6", "1"]])
        try:
            result = resume(task, last, {"ti": ti})
            break
        except TaskDeferred as deferred:
            deferred.kwargs = stored(deferred.kwargs)
            deferrals.append(deferred)

    # typed pass; rejects and observations (submitted together); the summary
    waited = [d.kwargs["state"]["pending"][0] for d in deferrals]
    assert [q["table"] for q in waited] == [
        "weather_typed_records", "weather_rejects", "weather_observations", None]
    assert len(deferrals[1].kwargs["state"]["pending"]) == 2  # both outputs run at once
    queries = [_query(q["id"])["Query"] for q in waited]
    assert queries[0].startswith("UNLOAD (") and "iot_lake_raw.weather_lines" in queries[0]
    for query, table in zip(queries[1:3], ("weather_rejects", "weather_observations"),
                            strict=True):
        assert query.startswith("UNLOAD (")
        assert f"/{table}/dt={DAY}/run=" in query
        assert "FROM iot_lake_staging.weather_typed_records" in query
    assert queries[3].lstrip().startswith("-- The staged day")  # the summary SELECT file
    assert all(_query(q["id"])["WorkGroup"] == "iot_lake_write" for q in waited)

    # the summary is typed as on local; outputs staged (rejects first), nothing published
    assert {k: result[k] for k, _ in SUMMARY_COLUMNS} == {
        "rows": 7, "observations": 3, "rejects": 2, "lines_read": 6, "duplicates": 1}
    assert [s["table"] for s in result["staged"]] == ["weather_rejects", "weather_observations"]
    assert [s["table"] for s in result["intermediate"]] == ["weather_typed_records"]
    catalog = get_catalog(weather_on_moto)
    for staged in result["staged"] + result["intermediate"]:
        [partition] = catalog.get_partitions("iot_lake_staging", staged["table"])
        assert partition["StorageDescriptor"]["Location"] == staged["location"]
        assert catalog.get_partitions("iot_lake", staged["table"]) == []


def _with_objects(state: dict[str, Any]) -> list[str]:
    """Put a partial file under each pending UNLOAD's prefix; the prefixes' keys."""
    s3 = boto3.client("s3", region_name="us-east-1")
    prefixes = []
    for query in state["pending"]:
        prefix = query["location"].removeprefix("s3://lake-curated/")
        s3.put_object(Bucket="lake-curated", Key=f"{prefix}part-0.parquet", Body=b"x")
        prefixes.append(prefix)
    return prefixes


def _gone(prefix: str) -> bool:
    s3 = boto3.client("s3", region_name="us-east-1")
    return "Contents" not in s3.list_objects_v2(Bucket="lake-curated", Prefix=prefix)


def _second_step(task: Any, ti: FakeTaskInstance) -> Any:
    """Run the write until it waits on its second step (both outputs' UNLOADs running)."""
    first = deferral(lambda: task.execute({"ti": ti}))
    return deferral(lambda: resume(task, first, {"ti": ti}))


def test_a_timed_out_wait_stops_every_running_query_of_its_step(weather_on_moto) -> None:
    from airflow.sdk.exceptions import TaskDeferralTimeout

    task, ti = _write_task(), FakeTaskInstance("write_observations")
    second = _second_step(task, ti)
    pending = second.kwargs["state"]["pending"]
    prefixes = _with_objects(second.kwargs["state"])

    resumed = _write_task()  # a resumed task is a new operator instance
    with pytest.raises(TaskDeferralTimeout):
        resumed.resume_execution("__fail__", {"error": "Trigger timeout"}, {"ti": ti})
    assert [_query(q["id"])["Status"]["State"] for q in pending] == ["CANCELLED"] * 2
    assert all(_gone(prefix) for prefix in prefixes)


def test_a_failed_query_fails_the_task_and_stops_the_others(weather_on_moto) -> None:
    from iot_lake.errors import QueryError

    task, ti = _write_task(), FakeTaskInstance("write_observations")
    second = _second_step(task, ti)
    state = second.kwargs["state"]
    prefixes = _with_objects(state)
    failed = {"status": "error", "message": "query failed"}
    with pytest.raises(QueryError):
        _write_task().resume_execution(
            "execute_complete", {"event": failed, "state": state}, {"ti": ti})
    assert [_query(q["id"])["Status"]["State"] for q in state["pending"]] == ["CANCELLED"] * 2
    assert all(_gone(prefix) for prefix in prefixes)


class _MetadataDB:
    """The triggerer's supervisor as a trigger reaches it (``SUPERVISOR_COMMS``): answers
    ``GetTaskStates`` as the execution API does (``{run_id: {task_id: state}}``) from the
    task instance states of this dict."""

    def __init__(self, states: dict[tuple[str, str], str | None]) -> None:
        self.states = states
        self.asked: list[Any] = []

    def send(self, msg: Any) -> Any:
        from airflow.sdk.execution_time.comms import GetTaskStates, TaskStatesResult

        assert isinstance(msg, GetTaskStates), msg
        self.asked.append(msg)
        return TaskStatesResult(task_states={
            run_id: {task_id: state}
            for (run_id, task_id), state in self.states.items()
            if run_id in (msg.run_ids or [run_id]) and task_id in (msg.task_ids or [task_id])
        })


@pytest.fixture
def keep_running() -> Any:
    """Calling it makes Athena's queries stay RUNNING from then on (a long UNLOAD, once
    the steps before it have run), until the test ends."""
    from moto.moto_api import state_manager

    def start() -> None:
        state_manager.set_transition(
            model_name="athena::execution", transition={"progression": "manual", "times": 10_000})

    yield start
    state_manager.unset_transition(model_name="athena::execution")


RUN_ID = f"scheduled__{DAY}T00:00:00+00:00"


def _reassigned_or_cancelled(trigger: Any, state: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run ``trigger`` in Airflow's own TriggerRunner until the supervisor's
    ``update_triggers`` no longer finds it in this triggerer's assignment (moved to
    another triggerer, or its task left the deferred state), with the metadata DB saying
    the task is ``state``. Airflow 3.3.2 cancels both the same way (apache/airflow#73454)."""
    import uuid
    from collections import deque
    from types import SimpleNamespace

    from airflow.executors.workloads.task import TaskInstanceDTO
    from airflow.jobs.triggerer_job_runner import TriggerRunner, TriggerRunnerSupervisor
    from airflow.sdk.execution_time import task_runner

    trigger_id = 7
    trigger.task_instance = TaskInstanceDTO(
        id=uuid.uuid4(), dag_version_id=uuid.uuid4(), task_id="write_observations",
        dag_id="weather_lake", run_id=RUN_ID, try_number=1, map_index=-1, pool_slots=1,
        priority_weight=1)
    db = _MetadataDB({(RUN_ID, "write_observations"): state})
    monkeypatch.setattr(task_runner, "SUPERVISOR_COMMS", db, raising=False)
    monkeypatch.setenv("AIRFLOW_DISABLE_GREENBACK_PORTAL", "true")

    # The supervisor's side: this triggerer's assignment no longer lists the trigger.
    supervisor = SimpleNamespace(
        running_triggers={trigger_id}, events=deque(), cancelling_triggers=set(),
        failed_triggers=deque(), creating_triggers=deque(),
        build_trigger_workloads=lambda ids: [])
    TriggerRunnerSupervisor.update_triggers(supervisor, set())
    assert supervisor.cancelling_triggers == {trigger_id}

    async def run() -> None:
        runner = TriggerRunner()
        task = asyncio.create_task(runner.run_trigger(trigger_id, trigger))
        runner.triggers[trigger_id] = {
            "task": task, "name": "weather_lake/write_observations", "events": 0,
            "is_watcher": False}
        await asyncio.sleep(0.5)  # polling Athena
        assert not task.done()
        runner.to_cancel.extend(supervisor.cancelling_triggers)  # the sync's to_cancel
        await runner.cancel_triggers()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run())
    return db


def _step_prefixes_in_ledger(lake: Any, state: dict[str, Any]) -> None:
    from iot_lake.catalog import get_catalog
    from iot_lake.wap import superseded

    catalog = get_catalog(lake)
    for query in state["pending"]:
        table = catalog.require_table(lake.curated_database, query["table"])
        ledgered = [entry["location"] for _, entry in superseded.ledger(table)]
        assert query["location"] in ledgered


def test_a_trigger_moved_to_another_triggerer_leaves_its_queries_and_data_alone(
    weather_on_moto, keep_running, monkeypatch
) -> None:
    """Reassignment cancels with the user-action message, so on_kill runs: the task is
    still deferred (another triggerer polls its query), nothing may be stopped or deleted."""
    task, ti = _write_task(), FakeTaskInstance("write_observations")
    second = _second_step(task, ti)
    state = second.kwargs["state"]
    prefixes = _with_objects(state)
    keep_running()
    db = _reassigned_or_cancelled(second.trigger, "deferred", monkeypatch)
    assert {_query(q["id"])["Status"]["State"] for q in state["pending"]} <= {"QUEUED", "RUNNING"}
    assert not any(_gone(prefix) for prefix in prefixes)
    assert db.asked, "on_kill asked the metadata DB"


def test_marking_the_deferred_task_failed_stops_every_query_of_its_step(
    weather_on_moto, keep_running, monkeypatch
) -> None:
    """Both UNLOADs of step 2 stop; their prefixes stay (a trigger never deletes) and are
    in the superseded ledger, so expiry removes them after the grace period."""
    from datetime import UTC, datetime, timedelta

    from iot_lake.wap import superseded

    task, ti = _write_task(), FakeTaskInstance("write_observations")
    second = _second_step(task, ti)
    state = second.kwargs["state"]
    assert len(state["pending"]) == 2
    prefixes = _with_objects(state)
    keep_running()
    _reassigned_or_cancelled(second.trigger, "failed", monkeypatch)
    assert [_query(q["id"])["Status"]["State"] for q in state["pending"]] == ["CANCELLED"] * 2
    assert not any(_gone(prefix) for prefix in prefixes)
    _step_prefixes_in_ledger(weather_on_moto, state)

    later = datetime.now(UTC) + timedelta(hours=weather_on_moto.superseded_grace_hours + 1)
    expired = superseded.expire_superseded(weather_on_moto, now=later)
    assert {q["location"] for q in state["pending"]} <= set(expired)
    assert all(_gone(prefix) for prefix in prefixes)


def test_a_published_unload_prefix_survives_expiry(weather_on_moto) -> None:
    """The ledger entry made at submission never expires a version that was staged."""
    from datetime import UTC, datetime, timedelta

    from iot_lake.catalog import get_catalog
    from iot_lake.wap import superseded

    task, ti = _write_task(), FakeTaskInstance("write_observations")
    first = deferral(lambda: task.execute({"ti": ti}))
    [query] = first.kwargs["state"]["pending"]
    [prefix] = _with_objects(first.kwargs["state"])
    deferral(lambda: resume(_write_task(), first, {"ti": ti}))  # staged; step 2 running
    later = datetime.now(UTC) + timedelta(hours=weather_on_moto.superseded_grace_hours + 1)
    assert query["location"] not in superseded.expire_superseded(weather_on_moto, now=later)
    assert not _gone(prefix)
    catalog = get_catalog(weather_on_moto)
    [staged] = catalog.get_partitions("iot_lake_staging", "weather_typed_records")
    assert staged["StorageDescriptor"]["Location"] == query["location"]


def test_killing_the_task_while_it_runs_stops_its_queries(weather_on_moto) -> None:
    task, ti = _write_task(), FakeTaskInstance("write_observations")
    second = _second_step(task, ti)
    task.on_kill()
    for query in second.kwargs["state"]["pending"]:
        assert _query(query["id"])["Status"]["State"] == "CANCELLED"


def test_the_trigger_survives_serialization_with_the_other_queries(weather_on_moto) -> None:
    """The triggerer rebuilds the trigger from what is stored: classpath and kwargs."""
    import importlib

    task, ti = _write_task(), FakeTaskInstance("write_observations")
    trigger = _second_step(task, ti).trigger
    classpath, kwargs = trigger.serialize()
    module, name = classpath.rsplit(".", 1)
    assert classpath == "iot_lake.triggers.LakeAthenaTrigger"
    rebuilt = getattr(importlib.import_module(module), name)(**kwargs)
    assert rebuilt.queries == trigger.queries
    assert len(rebuilt.queries) == 2  # both UNLOADs of step 2


def test_the_write_step_runs_through_airflow_with_its_deferrals(
    airflow_db, weather_on_moto
) -> None:
    """Airflow's own path (``dag.test``: the task SDK stores each deferral's kwargs, runs
    the trigger, resumes a fresh task) from the raw day to the staged outputs."""
    from datetime import UTC, datetime

    from iot_lake.catalog import get_catalog

    dag = _load_subset("register_tables", "write_observations")
    for _unload in range(3):  # moto hands queued results out in the order queries start
        queue_result([], [])
    queue_result(SUMMARY_COLUMNS, [["9", "4", "1", "6", "1"]])

    run = dag.test(logical_date=datetime(2026, 11, 3, tzinfo=UTC))

    assert str(run.state) == "success"
    [write] = [ti for ti in run.get_task_instances() if ti.task_id == "write_observations"]
    assert str(write.state) == "success"
    assert write.try_number == 1  # resumed after each deferral, never retried
    written = write.xcom_pull(task_ids="write_observations")
    assert {k: written[k] for k, _ in SUMMARY_COLUMNS} == {
        "rows": 9, "observations": 4, "rejects": 1, "lines_read": 6, "duplicates": 1}
    catalog = get_catalog(weather_on_moto)
    for staged in written["staged"] + written["intermediate"]:
        [partition] = catalog.get_partitions("iot_lake_staging", staged["table"])
        assert partition["StorageDescriptor"]["Location"] == staged["location"]


def _load_subset(*task_ids: str) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    from tests.conftest import ROOT

    bag = DagBag(dag_folder=str(ROOT / "dags" / "weather_lake.py"))
    return bag.get_dag("weather_lake").partial_subset(
        task_ids=list(task_ids), include_upstream=False)


@pytest.mark.parametrize(("highest_temperature", "state"), [(20.0, "success"), (75.0, "failed")])
def test_the_audit_runs_through_airflow_with_its_deferral(
    airflow_db, weather_on_moto, highest_temperature: float, state: str
) -> None:
    """The range check under Airflow on aws: deferred while Athena runs, then common.sql
    judges Athena's answer; a value out of bounds fails the check at once (no retry)."""
    from datetime import UTC, datetime

    check_id = "audit_observations.check_keys_and_ranges"
    dag = _load_subset(check_id)
    # What Athena answers common.sql's check query: every value on its bound (passing) ...
    rows = [
        [column, check, str(next(iter(condition.values())))]
        for column, checks in dag.get_task(check_id).column_mapping.items()
        for check, condition in checks.items()
    ]
    # ... but the day's highest air temperature
    [highest] = [r for r in rows if r[:2] == ["air_temperature", "max"]]
    highest[2] = str(highest_temperature)
    queue_result(
        [("col_name", "varchar"), ("check_type", "varchar"), ("check_result", "double")], rows)

    run = dag.test(logical_date=datetime(2026, 11, 3, tzinfo=UTC))

    [check] = run.get_task_instances()
    assert (str(check.state), str(run.state)) == (state, state)
    assert check.try_number == 1
