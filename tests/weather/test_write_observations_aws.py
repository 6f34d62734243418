"""weather_lake's write step on `aws`: every Athena wait is deferred, none outlives the task.

The DAG's own ``write_observations`` task, rendered as Airflow renders it, against a moto
server: the triggerer's side is the provider's trigger run against that server.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import boto3
import pytest

from tests.fixtures.moto import create_bucket, queue_result

DAY = "2026-11-03"
SUMMARY_COLUMNS = [
    ("rows", "bigint"), ("observations", "bigint"), ("rejects", "bigint"),
    ("lines_read", "bigint"), ("duplicates", "bigint"),
]  # fmt: skip


class _TaskInstance:
    """The XCom a deferring task pushes and a failed resume pulls (one task)."""

    def __init__(self) -> None:
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = _stored(value)

    def xcom_pull(self, task_ids: str, key: str = "return_value") -> Any:
        return self.xcom.get(key)


@pytest.fixture
def weather_on_moto(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch):
    from iot_lake import config
    from iot_lake.weather.tables import ensure_tables

    monkeypatch.setenv("IOT_LAKE_BACKEND", "aws")
    monkeypatch.setenv("IOT_LAKE_RAW_URI", "s3://lake-raw/")
    monkeypatch.setenv("IOT_LAKE_CURATED_URI", "s3://lake-curated")
    monkeypatch.setenv("IOT_LAKE_QUERY_RESULTS_URI", "s3://lake-athena/results/")
    monkeypatch.setenv("IOT_LAKE_ATHENA_WORKGROUP", "iot_lake_write")
    config.settings.cache_clear()
    for bucket in ("lake-raw", "lake-curated", "lake-athena"):
        create_bucket(moto_endpoint, bucket)
    _athena().create_work_group(
        Name="iot_lake_write",
        Configuration={"ResultConfiguration": {"OutputLocation": "s3://lake-athena/results/"}},
    )
    lake = config.settings()
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


def _event(trigger: Any) -> dict[str, Any]:
    """The trigger's first event, as the triggerer would fire it (against moto)."""

    async def first() -> Any:
        return await trigger.run().__anext__()

    return asyncio.run(first()).payload


def _stored(value: Any) -> Any:
    """What Airflow keeps of a value (XCom, the next method's kwargs): JSON, a copy."""
    return json.loads(json.dumps(value))


def _defer(call: Any) -> Any:
    """The task's deferral, its kwargs as the triggerer stores them."""
    from airflow.sdk.exceptions import TaskDeferred

    with pytest.raises(TaskDeferred) as deferred:
        call()
    deferred.value.kwargs = _stored(deferred.value.kwargs)
    return deferred.value


def test_each_athena_query_of_the_write_is_waited_for_in_the_triggerer(weather_on_moto) -> None:
    from airflow.sdk.exceptions import TaskDeferred

    from iot_lake.catalog import get_catalog
    from iot_lake.triggers import LakeAthenaTrigger

    task, ti = _write_task(), _TaskInstance()
    deferrals = [_defer(lambda: task.execute({"ti": ti}))]
    while True:
        last = deferrals[-1]
        assert isinstance(last.trigger, LakeAthenaTrigger)
        assert last.method_name == "execute_complete"
        state = last.kwargs["state"]
        assert ti.xcom["athena_write"] == state  # where a failed resume finds the queries
        if state["pending"][0]["table"] is None:  # the summary: moto runs no SQL
            queue_result(SUMMARY_COLUMNS, [["7", "3", "2", "6", "1"]])
        event = _event(last.trigger)
        try:
            result = task.resume_execution(
                "execute_complete", {"event": event, "state": _stored(state)}, {"ti": ti})
            break
        except TaskDeferred as deferred:
            deferred.kwargs = _stored(deferred.kwargs)
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


def _second_step(task: Any, ti: _TaskInstance) -> Any:
    """Run the write until it waits on its second step (both outputs' UNLOADs running)."""
    first = _defer(lambda: task.execute({"ti": ti}))
    event = _event(first.trigger)
    return _defer(lambda: task.resume_execution(
        "execute_complete", {"event": event, "state": first.kwargs["state"]}, {"ti": ti}))


def test_a_timed_out_wait_stops_every_running_query_of_its_step(weather_on_moto) -> None:
    from airflow.sdk.exceptions import TaskDeferralTimeout

    task, ti = _write_task(), _TaskInstance()
    second = _second_step(task, ti)
    pending = second.kwargs["state"]["pending"]
    prefixes = _with_objects(second.kwargs["state"])

    resumed = _write_task()  # a resumed task is a new operator instance
    with pytest.raises(TaskDeferralTimeout):
        resumed.resume_execution("__fail__", {"error": "Trigger timeout"}, {"ti": ti})
    assert [_query(q["id"])["Status"]["State"] for q in pending] == ["CANCELLED"] * 2
    assert all(_gone(prefix) for prefix in prefixes)


def test_a_failed_query_fails_the_task_and_stops_the_others(weather_on_moto) -> None:
    from iot_lake import engine

    task, ti = _write_task(), _TaskInstance()
    second = _second_step(task, ti)
    state = second.kwargs["state"]
    prefixes = _with_objects(state)
    failed = {"status": "error", "message": "query failed"}
    with pytest.raises(engine.QueryError):
        _write_task().resume_execution(
            "execute_complete", {"event": failed, "state": state}, {"ti": ti})
    assert [_query(q["id"])["Status"]["State"] for q in state["pending"]] == ["CANCELLED"] * 2
    assert all(_gone(prefix) for prefix in prefixes)


def test_marking_the_deferred_task_failed_stops_its_query(weather_on_moto) -> None:
    """The triggerer calls the trigger's on_kill when a user acts on a deferred task."""
    task, ti = _write_task(), _TaskInstance()
    deferred = _defer(lambda: task.execute({"ti": ti}))
    [query] = deferred.kwargs["state"]["pending"]
    [prefix] = _with_objects(deferred.kwargs["state"])
    asyncio.run(deferred.trigger.on_kill())
    assert _query(query["id"])["Status"]["State"] == "CANCELLED"
    assert _gone(prefix)


def test_killing_the_task_while_it_runs_stops_its_queries(weather_on_moto) -> None:
    task, ti = _write_task(), _TaskInstance()
    second = _second_step(task, ti)
    task.on_kill()
    for query in second.kwargs["state"]["pending"]:
        assert _query(query["id"])["Status"]["State"] == "CANCELLED"


def test_the_trigger_survives_serialization_with_its_location(weather_on_moto) -> None:
    """The triggerer rebuilds the trigger from what is stored: classpath and kwargs."""
    import importlib

    task = _write_task()
    trigger = _defer(lambda: task.execute({"ti": _TaskInstance()})).trigger
    classpath, kwargs = trigger.serialize()
    module, name = classpath.rsplit(".", 1)
    assert classpath == "iot_lake.triggers.LakeAthenaTrigger"
    rebuilt = getattr(importlib.import_module(module), name)(**kwargs)
    assert (rebuilt.query_execution_id, rebuilt.location) == (
        trigger.query_execution_id, trigger.location)
    assert rebuilt.location.startswith("s3://lake-curated/weather_typed_records/dt=2026-11-03/")
