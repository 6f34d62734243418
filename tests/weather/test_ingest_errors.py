"""Records the ingestion could not deliver are rejects of the day they arrived, on both
backends: Firehose's ``processing-failed`` output (aws) and the IoT rule's error documents
(local, and aws for failed PutRecords) are read the same way."""

from __future__ import annotations

import base64
import random
from datetime import UTC, datetime, timedelta

import pytest

from iot_lake.engine import get_engine
from iot_lake.weather import synthetic
from iot_lake.weather.pipeline import stage_day
from iot_lake.weather.reconcile import reconcile_day
from iot_lake.weather.tables import ensure_tables
from tests.fixtures.firehose_errors import firehose_processing_failed, iot_rule_failed

DAY = "2026-11-08"
START = datetime(2026, 11, 8, tzinfo=UTC)
NOT_JSON = b"T=21.5;station=722540-13904"


@pytest.fixture
def good_day(lake_settings) -> int:
    ensure_tables(lake_settings)
    rng = random.Random(8)
    messages = [
        synthetic.message("722540-13904", START + timedelta(hours=h), rng) for h in range(5)
    ]
    synthetic.write_raw(lake_settings.uri("raw"), messages)
    return len(messages)


def _rejects() -> list[tuple]:
    return sorted(get_engine().query(
        "SELECT source, line_number, reason, raw FROM iot_lake_staging.weather_rejects "
        "WHERE dt = '{{ ds }}'", ds=DAY,
    ).rows)


@pytest.mark.parametrize("backend_shape", ["aws: firehose processing-failed", "local: iot rule"])
def test_a_non_json_payload_is_one_reject_of_its_arrival_day(
    lake_settings, good_day, backend_shape
) -> None:
    arrival = START + timedelta(hours=13, minutes=2)
    if backend_shape.startswith("aws"):
        # IoT's SELECT * passes the payload through with the rule's "\n" separator.
        where = firehose_processing_failed(lake_settings.uri("raw"), [NOT_JSON + b"\n"], arrival)
    else:
        where = iot_rule_failed(lake_settings.uri("raw"), NOT_JSON, arrival)
    # the cold-readings rule's failures are DynamoDB's: the message still reached raw
    iot_rule_failed(lake_settings.uri("raw"), b'{"x": 1}', arrival,
                    rule="weather_cold_to_dynamodb")
    # another day's error is not this day's reject
    firehose_processing_failed(lake_settings.uri("raw"), [b"nope\n"], arrival + timedelta(days=1))

    written = stage_day(DAY)

    assert written["ingest_errors"] == 1
    assert written["rejects"] == 1 and written["observations"] == good_day
    [(source, _line, reason, raw)] = _rejects()
    assert source == where
    assert raw == NOT_JSON.decode()
    assert reason.startswith("not delivered to raw: ")
    figures = reconcile_day(DAY, written=written)
    assert figures["ingest_errors"] == 1
    assert figures["raw_records"] + 1 == (
        figures["observations"] + figures["rejects"] + figures["duplicates_removed"]
    )


def test_every_record_of_a_firehose_error_object_is_a_reject(lake_settings, good_day) -> None:
    payloads = [b"garbage\n", b"\xff\xfe not utf-8\n", b"[1, 2]\n"]
    firehose_processing_failed(lake_settings.uri("raw"), payloads, START + timedelta(hours=2))
    written = stage_day(DAY)
    rows = _rejects()
    assert [r[1] for r in rows] == [1, 2, 3]
    # bytes that are not UTF-8 are kept whole, as base64
    not_text = "base64:" + base64.b64encode(b"\xff\xfe not utf-8").decode()
    assert {r[3] for r in rows} == {"garbage", "[1, 2]", not_text}
    assert "DynamicPartitioning.MetadataExtractionFailed" in rows[0][2]
    assert reconcile_day(DAY, written=written)["ingest_errors"] == 3


def test_on_s3_the_error_objects_are_recorded_with_their_etag_and_join_the_staged_rejects(
    moto_endpoint, monkeypatch
) -> None:
    import pyarrow.parquet as pq

    from iot_lake.storage import filesystem
    from iot_lake.weather import ingest_errors
    from tests.fixtures.moto import lake_on_server

    lake = lake_on_server(moto_endpoint, monkeypatch, bucket="lake-curated",
                          workgroup="iot_lake_errors", raw="lake-raw")
    where = firehose_processing_failed(
        lake.uri("raw"), [NOT_JSON + b"\n"], START + timedelta(hours=4))
    [entry] = ingest_errors.error_objects(DAY, lake)
    assert entry["uri"] == where and entry["kind"] == "processing-failed"
    assert entry["etag"] and entry["size"] > 0  # S3's ETag: the version that was read
    staged = "s3://lake-curated/curated/weather_rejects/dt=2026-11-08/run=test/"
    written = {"staged": [{"table": "weather_rejects", "location": staged, "rows": None}],
               "rejects": 2}
    result = ingest_errors.add_to_staged_rejects(written, [entry], lake)
    assert result["rejects"] == 3 and result["ingest_errors"] == 1
    fs, path = filesystem(staged + ingest_errors.INGEST_ERRORS_FILE)
    with fs.open(path, "rb") as handle:
        rows = pq.read_table(handle).to_pylist()
    assert [(r["source"], r["raw"]) for r in rows] == [(where, NOT_JSON.decode())]


def test_the_dag_publishes_the_days_ingestion_errors_as_rejects(
    airflow_db, lake_settings, good_day
) -> None:
    from airflow.dag_processing.dagbag import DagBag

    from tests.conftest import ROOT

    firehose_processing_failed(lake_settings.uri("raw"), [NOT_JSON + b"\n"],
                               START + timedelta(hours=9))
    iot_rule_failed(lake_settings.uri("raw"), b"\x00binary", START + timedelta(hours=10))
    dag = DagBag(dag_folder=str(ROOT / "dags" / "weather_lake.py")).get_dag("weather_lake")
    run = dag.test(logical_date=START)
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    assert str(run.state) == "success", states
    published = get_engine().query(
        "SELECT raw FROM weather_rejects WHERE dt = '{{ ds }}' ORDER BY raw", ds=DAY).rows
    assert published == [("\x00binary",), (NOT_JSON.decode(),)]


def test_a_damaged_error_record_is_still_a_reject(lake_settings) -> None:
    from iot_lake.weather.ingest_errors import RULE_ERRORS, UNREADABLE, records_of

    [row] = records_of(b"{truncated", {"uri": "file:///e.json", "kind": RULE_ERRORS})
    assert (row["reason"], row["raw"]) == (UNREADABLE, "{truncated")
