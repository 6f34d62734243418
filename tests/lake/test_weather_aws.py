"""The weather tables and the day's writes on `aws`: Glue and Athena calls against moto."""

from __future__ import annotations

import boto3

from iot_lake.catalog import get_catalog
from iot_lake.weather.pipeline import stage_day
from iot_lake.weather.tables import ensure_tables
from tests.fixtures.moto import queue_result


def test_raw_tables_are_declared_in_glue_with_partition_projection(aws_lake) -> None:
    changed = ensure_tables(aws_lake)
    assert "iot_lake_raw.weather" in changed and "iot_lake_raw.weather_lines" in changed
    glue = boto3.client("glue", region_name="us-east-1")
    for name in ("weather", "weather_lines"):
        table = glue.get_table(DatabaseName="iot_lake_raw", Name=name)["Table"]
        assert table["Parameters"]["projection.enabled"] == "true"
        assert table["Parameters"]["projection.day.type"] == "injected"
        assert table["Parameters"]["storage.location.template"] == (
            "s3://lake-raw/weather/day=${day}/"
        )
        assert glue.get_partitions(DatabaseName="iot_lake_raw", TableName=name)[
            "Partitions"
        ] == []
    assert ensure_tables(aws_lake) == []  # a second run changes nothing


def test_stage_day_unloads_observations_and_rejects_to_staged_partitions(
    moto_endpoint, monkeypatch
) -> None:
    # On a moto server: the write lists the raw objects through s3fs (aiobotocore), which
    # the in-process mock does not serve.
    from datetime import UTC, datetime

    from iot_lake.weather import synthetic
    from tests.fixtures.moto import lake_on_server

    aws_lake = lake_on_server(moto_endpoint, monkeypatch, bucket="lake-curated",
                              workgroup="iot_lake_test", raw="lake-raw")
    ensure_tables(aws_lake)
    [raw_object] = synthetic.write_raw(
        aws_lake.uri("raw"), synthetic.hourly_messages("2026-11-03", seed=1)[:3],
        arrival=lambda _m: datetime(2026, 11, 3, 5, tzinfo=UTC))
    # moto runs no SQL and hands queued results out in the order queries start: the
    # three UNLOADs answer nothing, the summary of the staged day what Athena would
    columns = ("rows", "observations", "rejects", "lines_read", "duplicates")
    for _unload in range(3):
        queue_result([], [])
    queue_result([(name, "bigint") for name in columns], [["5", "2", "1", "4", "1"]])
    written = stage_day("2026-11-03", settings=aws_lake)
    assert {name: written[name] for name in columns} == {
        "rows": 5, "observations": 2, "rejects": 1, "lines_read": 4, "duplicates": 1}
    assert [s["table"] for s in written["staged"]] == ["weather_rejects", "weather_observations"]
    athena = boto3.client("athena", region_name="us-east-1")
    ids = athena.list_query_executions(WorkGroup="iot_lake_test")["QueryExecutionIds"]
    queries = [
        athena.get_query_execution(QueryExecutionId=i)["QueryExecution"]["Query"] for i in ids
    ]
    unloads = [q for q in queries if q.startswith("UNLOAD (")]
    assert len(unloads) == 3
    # one pass over the raw lines: the typed intermediate, UNLOADed with ZSTD ...
    [typed] = [q for q in unloads if "/weather_typed_records/dt=2026-11-03/run=" in q]
    assert "FROM iot_lake_raw.weather_lines AS l" in typed
    assert "l.day = '2026-11-03'" in typed
    # undated objects: only those that arrived on the day, by partition, not by "$path"
    assert "FROM iot_lake_raw.weather_undated_lines AS l" in typed
    assert "l.arrived = '2026-11-03'" in typed
    assert "'undated')" not in typed and "NOT LIKE" not in typed
    # exactly the objects the write listed (and returns for the audit)
    assert f"l.\"$path\" IN ('{raw_object}')" in typed
    assert [o["uri"] for o in written["raw_objects"]] == [raw_object]
    assert "compression = 'ZSTD'" in typed
    # ... then both outputs read the staged intermediate, never the raw lines again
    for table in ("weather_observations", "weather_rejects"):
        [query] = [q for q in unloads if f"/{table}/dt=2026-11-03/run=" in q]
        assert "FROM iot_lake_staging.weather_typed_records" in query
        assert "weather_lines" not in query
    # staged only: nothing published
    catalog = get_catalog(aws_lake)
    for table in ("weather_observations", "weather_rejects"):
        assert catalog.get_partitions("iot_lake", table) == []
        assert len(catalog.get_partitions("iot_lake_staging", table)) == 1
