"""Write -> audit -> publish: staging, swaps, grace period, data errors, Athena waits.

Local lake in tmp_path with real DuckDB; AWS APIs (S3, Glue, Athena) on moto only.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from iot_lake.catalog import get_catalog, parquet_table_input
from iot_lake.engine import get_engine
from iot_lake.engine.athena import AthenaEngine
from iot_lake.errors import AirflowFailException, PublishError, QueryDataError, QueryError
from iot_lake.storage import filesystem, join
from iot_lake.wap import publish, staging, superseded
from tests.fixtures.deferral import FakeTaskInstance, deferral, resume
from tests.fixtures.moto import lake_on_server


def _readings(lake, location: str | None = None) -> dict:
    table = parquet_table_input(
        "readings", [("station", "string"), ("value", "double")],
        location or join(lake.uri("curated"), "readings"), [("dt", "string")],
    )
    get_catalog(lake).upsert_table(lake.curated_database, table)
    return table


def _files(uri: str) -> dict[str, bytes]:
    fs, path = filesystem(uri)
    return {name[len(path):]: fs.cat_file(name) for name in sorted(fs.find(path))}


# --------------------------------------------------------------------------- local


def test_a_staged_version_is_invisible_until_published_then_the_old_one_waits(
    lake_settings,
) -> None:
    _readings(lake_settings)
    db = lake_settings.curated_database
    publish.write_partition("SELECT 'a' AS station, 1.0 AS value", db, "readings", ["d1"])
    published_uri = join(lake_settings.uri("curated"), "readings", "dt=d1")
    before = _files(published_uri)

    staged = staging.stage_partition("SELECT 'b' AS station, 2.0 AS value", db, "readings", ["d1"])
    assert "/readings/_staging/dt=d1/run=" in staged.location
    assert get_engine().query("SELECT station FROM readings").rows == [("a",)]
    assert get_engine().query("SELECT station FROM iot_lake_staging.readings").rows == [("b",)]
    assert _files(published_uri) == before

    [result] = publish.publish({"staged": [staged]})
    assert get_engine().query("SELECT station FROM readings").rows == [("b",)]
    catalog = get_catalog(lake_settings)
    assert catalog.get_partitions(lake_settings.staging_database, "readings") == []
    # The replaced directory is kept, byte for byte, until the grace period ends.
    assert result["superseded"] and _files(result["superseded"]) == before
    assert superseded.expire_superseded(lake_settings) == []
    later = datetime.now(UTC) + timedelta(hours=lake_settings.superseded_grace_hours, minutes=1)
    assert superseded.expire_superseded(lake_settings, now=later) == [result["superseded"]]
    assert not filesystem(result["superseded"])[0].exists(filesystem(result["superseded"])[1])
    fs, table_path = filesystem(join(lake_settings.uri("curated"), "readings"))
    assert sorted(p.rsplit("/", 1)[-1] for p in fs.ls(table_path)) == ["_superseded", "dt=d1"]
    assert fs.ls(join(table_path, "_superseded")) == []


def test_a_retried_publish_is_a_no_op(lake_settings) -> None:
    _readings(lake_settings)
    db = lake_settings.curated_database
    staged = staging.stage_partition("SELECT 'a' AS station, 1.0 AS value", db, "readings", ["d1"])
    assert publish.publish({"staged": [staged]})[0]["already_published"] is False
    assert publish.publish({"staged": [staged]})[0]["already_published"] is True
    assert get_engine().query("SELECT station FROM readings").rows == [("a",)]


def test_publishing_a_version_that_is_no_longer_staged_fails(lake_settings) -> None:
    _readings(lake_settings)
    db = lake_settings.curated_database
    old = staging.stage_partition("SELECT 'a' AS station, 1.0 AS value", db, "readings", ["d1"])
    staging.stage_partition("SELECT 'b' AS station, 2.0 AS value", db, "readings", ["d1"])
    with pytest.raises(PublishError, match="no longer the version staged"):
        publish.publish({"staged": [old]})
    assert get_engine().query("SELECT count(*) FROM readings").rows == [(0,)]


def test_a_corrupt_raw_object_is_a_data_error_naming_the_file(lake_settings) -> None:
    from iot_lake.weather import synthetic
    from iot_lake.weather.pipeline import stage_day
    from iot_lake.weather.tables import ensure_tables

    day = datetime(2026, 11, 3, tzinfo=UTC)
    rng = __import__("random").Random(1)
    [uri] = synthetic.write_raw(
        lake_settings.uri("raw"), [synthetic.message("722540-13904", day, rng, 1, 1)]
    )
    ensure_tables(lake_settings)
    corrupt = uri.replace(".gz", "-corrupt.gz")
    with filesystem(corrupt)[0].open(filesystem(corrupt)[1], "wb") as handle:
        handle.write(b"this is not gzip")

    with pytest.raises(QueryDataError) as error:
        stage_day("2026-11-03", settings=lake_settings)
    assert isinstance(error.value, AirflowFailException)  # failed at once, not retried
    assert filesystem(corrupt)[1] in str(error.value)
    assert get_catalog(lake_settings).get_partitions(
        lake_settings.staging_database, "weather_observations"
    ) == []


# --------------------------------------------------------------------------- Athena waits


@pytest.fixture
def long_queries(aws_lake, athena_keeps_running):
    return aws_lake


def _started() -> str:
    athena = boto3.client("athena", region_name="us-east-1")
    [execution_id] = athena.list_query_executions(WorkGroup="iot_lake_test")["QueryExecutionIds"]
    return execution_id


def _state(execution_id: str) -> str:
    athena = boto3.client("athena", region_name="us-east-1")
    return athena.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"][
        "Status"]["State"]


def test_a_synchronous_wait_that_times_out_stops_its_query(long_queries) -> None:
    with pytest.raises(QueryError, match="stopped"):
        AthenaEngine(long_queries).execute("SELECT 1", sleep_time=0, max_polls=2)
    assert _state(_started()) == "CANCELLED"


def test_a_killed_wait_stops_its_query(long_queries, monkeypatch) -> None:
    from airflow.providers.amazon.aws.hooks.athena import AthenaHook
    from airflow.sdk.exceptions import AirflowTaskTerminated

    def killed(*_args: Any, **_kwargs: Any) -> str:  # SIGTERM arrives while polling
        raise AirflowTaskTerminated("Task received SIGTERM signal")

    monkeypatch.setattr(AthenaHook, "poll_query_status", killed)
    with pytest.raises(AirflowTaskTerminated):
        AthenaEngine(long_queries).execute("SELECT 1")
    assert _state(_started()) == "CANCELLED"


@pytest.fixture
def moto_lake(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch):
    """`aws` settings on a moto *server* (the trigger's async client needs an endpoint)."""
    lake = lake_on_server(moto_endpoint, monkeypatch, bucket="wap-curated",
                          workgroup="iot_lake_wap")
    _readings(lake, "s3://wap-curated/curated/readings/")
    return lake


def _operator(**kwargs: Any):
    from iot_lake.operators.write import LakeWritePartitionOperator

    return LakeWritePartitionOperator(
        task_id="write", sql="SELECT 'a' AS station, 1.0 AS value", table="readings",
        partition_values=["2026-11-03"], poll_interval=1, max_polls=5, **kwargs,
    )


def test_the_write_defers_to_the_athena_trigger_then_publishes(moto_lake, moto_endpoint) -> None:
    from airflow.providers.amazon.aws.triggers.athena import AthenaTrigger

    operator, ti = _operator(), FakeTaskInstance("write")
    deferred = deferral(lambda: operator.execute({"ti": ti}))
    assert isinstance(deferred.trigger, AthenaTrigger)
    assert deferred.method_name == "execute_complete"
    [query] = deferred.kwargs["state"]["pending"]
    athena = boto3.client("athena", endpoint_url=moto_endpoint, region_name="us-east-1")
    execution = athena.get_query_execution(QueryExecutionId=query["id"])["QueryExecution"]
    assert execution["Query"].startswith("UNLOAD (SELECT 'a' AS station")
    assert execution["WorkGroup"] == "iot_lake_wap"

    result = resume(_operator(), deferred, {"ti": ti})  # the trigger fired against moto
    assert result["location"] == query["location"]
    glue = boto3.client("glue", endpoint_url=moto_endpoint, region_name="us-east-1")
    partition = glue.get_partition(
        DatabaseName="iot_lake", TableName="readings", PartitionValues=["2026-11-03"]
    )["Partition"]
    assert partition["StorageDescriptor"]["Location"] == query["location"]


def test_a_deferred_write_that_times_out_stops_its_query(moto_lake, moto_endpoint) -> None:
    from airflow.sdk.exceptions import TaskDeferralTimeout

    operator, ti = _operator(), FakeTaskInstance("write")
    [query] = deferral(lambda: operator.execute({"ti": ti})).kwargs["state"]["pending"]
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    bucket_key = query["location"].removeprefix("s3://wap-curated/")
    s3.put_object(Bucket="wap-curated", Key=f"{bucket_key}partial.parquet", Body=b"x")

    fresh = _operator()  # a resumed task is a new operator instance
    with pytest.raises(TaskDeferralTimeout):
        fresh.resume_execution("__fail__", {"error": "Trigger timeout"}, {"ti": ti})
    athena = boto3.client("athena", endpoint_url=moto_endpoint, region_name="us-east-1")
    state = athena.get_query_execution(QueryExecutionId=query["id"])["QueryExecution"]["Status"]
    assert state["State"] == "CANCELLED"
    assert "Contents" not in s3.list_objects_v2(Bucket="wap-curated", Prefix=bucket_key)


def test_killing_a_write_stops_its_query(moto_lake, moto_endpoint) -> None:

    operator = _operator()
    deferral(lambda: operator.execute({"ti": FakeTaskInstance("write")}))
    operator.on_kill()
    [query] = operator.state["pending"]
    athena = boto3.client("athena", endpoint_url=moto_endpoint, region_name="us-east-1")
    state = athena.get_query_execution(QueryExecutionId=query["id"])
    assert state["QueryExecution"]["Status"]["State"] == "CANCELLED"


def test_the_write_runs_in_the_task_on_local(lake_settings) -> None:
    _readings(lake_settings)
    result = _operator(publish=False).execute({"ti": FakeTaskInstance("write")})
    [staged] = result["staged"]
    assert staged["staging_database"] == "iot_lake_staging" and result["rows"] == 1
    assert get_engine().query("SELECT count(*) FROM readings").rows == [(0,)]
    publish.publish(result)
    assert get_engine().query("SELECT station FROM readings").rows == [("a",)]


def test_a_check_query_cut_by_execution_timeout_is_stopped(long_queries) -> None:
    """Airflow's execution_timeout raises AirflowTaskTimeout from SIGALRM inside the wait."""
    import signal

    from airflow.sdk.exceptions import AirflowTaskTimeout

    def timeout(*_args: Any) -> None:
        raise AirflowTaskTimeout("Timeout, PID: test")

    engine = AthenaEngine(long_queries)
    execution_id = engine.start("SELECT 1")
    # The alarm is armed once the query runs, so it lands in the wait whatever the
    # machine's load; a bounded wait makes a swallowed timeout fail instead of hanging.
    previous = signal.signal(signal.SIGALRM, timeout)
    signal.setitimer(signal.ITIMER_REAL, 1.5)
    try:
        with pytest.raises(AirflowTaskTimeout):
            engine.wait(execution_id, sleep_time=1, max_polls=60)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert execution_id == _started() and _state(execution_id) == "CANCELLED"


def test_a_replaced_version_keeps_its_grace_whatever_its_submission_entry_says(
    moto_lake, moto_endpoint
) -> None:
    """Every UNLOAD prefix enters the ledger at submission; once that version is published
    and later replaced, it is kept for the grace period counted from the replacement, even
    when no expiry ran while it was live (its submission entry is older than the grace)."""
    import json
    from datetime import UTC, datetime, timedelta

    from iot_lake.catalog import get_catalog
    from iot_lake.wap import superseded

    ti = FakeTaskInstance("write")
    first = deferral(lambda: _operator().execute({"ti": ti}))
    v1 = resume(_operator(), first, {"ti": ti})["location"]
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    v1_key = v1.removeprefix("s3://wap-curated/")
    s3.put_object(Bucket="wap-curated", Key=f"{v1_key}part-0.parquet", Body=b"x")
    # a day passes without an expiry run: V1's submission entry is older than the grace
    table = get_catalog(moto_lake).require_table("iot_lake", "readings")
    [(entry_uri, entry)] = [(u, e) for u, e in superseded.ledger(table)
                            if e["location"] == v1]
    entry["superseded_at"] = (datetime.now(UTC) - timedelta(hours=30)).isoformat()
    s3.put_object(Bucket="wap-curated", Key=entry_uri.removeprefix("s3://wap-curated/"),
                  Body=json.dumps(entry).encode())

    ti2 = FakeTaskInstance("write")
    second = deferral(lambda: _operator().execute({"ti": ti2}))
    resume(_operator(), second, {"ti": ti2})  # publishes V2, replaces V1, runs expiry
    assert "Contents" in s3.list_objects_v2(Bucket="wap-curated", Prefix=v1_key)
    later = datetime.now(UTC) + timedelta(hours=moto_lake.superseded_grace_hours + 1)
    assert v1 in superseded.expire_superseded(moto_lake, now=later)
    assert "Contents" not in s3.list_objects_v2(Bucket="wap-curated", Prefix=v1_key)


# --------------------------------------------------------------------------- local on S3


@pytest.fixture
def local_lake_on_s3(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path):
    """The `local` backend (DuckDB, the local catalog) with every bucket on an S3 endpoint,
    as the compose file and Celery workers that share nothing but S3 run it."""
    from iot_lake import config
    from tests.fixtures.moto import create_bucket

    create_bucket(moto_endpoint, "lake-on-s3")
    monkeypatch.setenv("IOT_LAKE_BACKEND", "local")
    monkeypatch.setenv("IOT_LAKE_HOME", str(tmp_path / "home"))
    for bucket in ("raw", "curated", "photos", "query_results", "catalog"):
        monkeypatch.setenv(f"IOT_LAKE_{bucket.upper()}_URI", f"s3://lake-on-s3/{bucket}/")
    config.settings.cache_clear()
    yield config.settings()
    config.settings.cache_clear()


def test_a_local_lake_on_s3_publishes_by_pointing_the_catalog_at_the_staged_prefix(
    local_lake_on_s3,
) -> None:
    lake = local_lake_on_s3
    _readings(lake)
    db = lake.curated_database
    first = publish.write_partition("SELECT 'a' AS station, 1.0 AS value", db, "readings", ["d1"])
    assert first["location"].startswith("s3://lake-on-s3/curated/readings/dt=d1/run=")
    assert get_engine().query("SELECT station FROM readings").rows == [("a",)]

    staged = staging.stage_partition("SELECT 'b' AS station, 2.0 AS value", db, "readings", ["d1"])
    assert get_engine().query("SELECT station FROM readings").rows == [("a",)]
    assert get_engine().query("SELECT station FROM iot_lake_staging.readings").rows == [("b",)]
    [result] = publish.publish({"staged": [staged]})
    assert result["location"] == staged.location
    assert result["superseded"].rstrip("/") == first["location"].rstrip("/")
    assert get_engine().query("SELECT station FROM readings").rows == [("b",)]
    # A retried publish (the worker died after the swap) finds it done.
    assert publish.publish({"staged": [staged]})[0]["already_published"] is True
    # The replaced prefix stays readable for the grace period, then expires.
    assert _files(first["location"])
    assert superseded.expire_superseded(lake) == []
    later = datetime.now(UTC) + timedelta(hours=lake.superseded_grace_hours + 1)
    assert [r.rstrip("/") for r in superseded.expire_superseded(lake, now=later)] == [
        first["location"].rstrip("/")
    ]
    assert _files(first["location"]) == {}
    assert get_engine().query("SELECT station FROM readings").rows == [("b",)]


def test_a_local_lake_on_s3_reads_two_tables_and_writes_from_one_in_one_query(
    local_lake_on_s3,
) -> None:
    """One DuckDB connection meets the S3 filesystem several times (every table it reads,
    the COPY it writes): DuckDB refuses a second registration of the protocol."""
    lake = local_lake_on_s3
    _readings(lake)
    db = lake.curated_database
    get_catalog(lake).upsert_table(db, parquet_table_input(
        "stations", [("station", "string"), ("name", "string")],
        join(lake.uri("curated"), "stations"), [("dt", "string")],
    ))  # fmt: skip
    publish.write_partition("SELECT 'a' AS station, 1.0 AS value", db, "readings", ["d1"])
    publish.write_partition("SELECT 'a' AS station, 'Austin' AS name", db, "stations", ["d1"])
    assert get_engine().query(
        "SELECT s.name, r.value FROM readings r JOIN stations s ON r.station = s.station"
    ).rows == [("Austin", 1.0)]
    publish.write_partition(
        "SELECT r.station, r.value * 2 AS value FROM readings r JOIN stations s"
        " ON r.station = s.station", db, "readings", ["d2"],
    )  # fmt: skip
    assert get_engine().query("SELECT value FROM readings WHERE dt = 'd2'").rows == [(2.0,)]
