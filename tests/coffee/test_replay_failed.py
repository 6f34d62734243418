"""Photo events that failed for good: kept, visible, replayed into MySQL (issue 18 item 5).

``aws``: the on-failure records Lambda would send (``tests.fixtures.lambda_destinations``,
AWS's documented format) wait in a moto SQS queue; the photos are in moto S3; the rows go
to the real MariaDB. ``local``: the notifier sets an event aside after Lambda's three
attempts, and the same command replays it.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from iot_lake import config, incidents
from iot_lake.coffee import local_notifier as notifier
from iot_lake.coffee import photo_handler as ph
from iot_lake.coffee import photo_url, replay_failed
from iot_lake.coffee import photo_writers as pw
from iot_lake.coffee.faces import LocalFaceAnalyzer
from iot_lake.config import PROJECT_ROOT
from iot_lake.errors import FunctionFailed
from simulators.coffee_machine.machine import PHOTOS_DIR
from tests.coffee.conftest import DAY
from tests.fixtures.lambda_destinations import deliver, on_failure_record
from tests.fixtures.moto import create_bucket

IMAGE = (PHOTOS_DIR / "coffee.png").read_bytes()
BUCKET = "coffee-photos"
QUEUE = "iot-lake-coffee-photo-failed"


@pytest.fixture(scope="module")
def analyzer() -> LocalFaceAnalyzer:
    return LocalFaceAnalyzer()


def count(db) -> int:
    return int(db.execute("SELECT COUNT(*) FROM coffees")[0][0])


def shape(value: Any) -> Any:
    """The keys of a record at every level (values aside)."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    return type(value).__name__


def database_down(event, context=None):
    raise ConnectionError("(2003, \"Can't connect to MySQL server on '127.0.0.1'\")")


@pytest.fixture
def aws_photos(moto_endpoint, monkeypatch) -> config.LakeSettings:
    monkeypatch.setenv("IOT_LAKE_BACKEND", "aws")
    monkeypatch.setenv("IOT_LAKE_REGION", "us-east-1")
    monkeypatch.setenv("IOT_LAKE_CURATED_URI", f"s3://{BUCKET}/curated")
    monkeypatch.setenv("IOT_LAKE_PHOTOS_URI", f"s3://{BUCKET}/photos")
    config.settings.cache_clear()
    create_bucket(moto_endpoint, BUCKET)
    return config.settings()


def test_a_failed_event_in_the_queue_is_replayed_into_mysql_and_deleted_only_then(
    coffee_db, aws_photos, analyzer
):
    lake = aws_photos
    key = f"photos/coffee-machine-01/{DAY}/081502-lost press.png"
    boto3.client("s3", region_name="us-east-1").put_object(Bucket=BUCKET, Key=key, Body=IMAGE)
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
    event = ph.s3_event(BUCKET, key, "2026-11-20T08:15:02.000Z", "us-east-1")
    record = on_failure_record(event, "OperationalError", "(2013, 'Lost connection')")
    deliver(sqs, url, record)

    def waiting() -> tuple[int, int]:
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        got = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
        return int(got[names[0]]), int(got[names[1]])

    # Visible: the incidents view counts what waits in the queue.
    [incident] = incidents.failed_photo_events()
    assert "1 photo events" in incident["error"] and "replay_failed" in incident["error"]

    # Aurora still down: the record stays, visible again at once for the alarm.
    still = replay_failed.replay(
        replay_failed.get_failure_store(lake), replay_failed.in_process(database_down)
    )
    assert (still.records, still.resolved, len(still.still_failing)) == (1, 0, 1)
    assert "lost press.png" in still.still_failing[0]
    assert waiting() == (1, 0) and count(coffee_db) == 0

    connection = coffee_db.connect()
    handler = ph.PhotoHandler(lake, analyzer, pw.MySqlWriter(connection))
    store = replay_failed.get_failure_store(lake)
    deleted_with_rows: list[int] = []
    delete = store.resolved

    def resolved(item):  # the message goes only once the press is in MySQL
        deleted_with_rows.append(count(coffee_db))
        delete(item)

    store.resolved = resolved  # type: ignore[method-assign]
    try:
        summary = replay_failed.replay(
            store, replay_failed.in_process(lambda e, c: handler(e).as_dict())
        )
    finally:
        connection.close()

    assert (summary.records, summary.resolved, summary.inserted) == (1, 1, 1)
    assert deleted_with_rows == [1]
    assert waiting() == (0, 0)
    [(machine, stored_url)] = coffee_db.execute("SELECT machine_id, photo_url FROM coffees")
    assert machine == "coffee-machine-01"
    base = f"https://{BUCKET}.s3.us-east-1.amazonaws.com"
    assert photo_url.object_key(stored_url, base) == key
    assert incidents.failed_photo_events() == []


def test_a_replayed_press_already_in_mysql_is_a_duplicate_and_its_record_goes(
    coffee_db, aws_photos, analyzer
):
    """Lambda's last attempt may have committed and then timed out: the replay finds the row."""
    key = f"photos/coffee-machine-02/{DAY}/120000-a.png"
    boto3.client("s3", region_name="us-east-1").put_object(Bucket=BUCKET, Key=key, Body=IMAGE)
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
    event = ph.s3_event(BUCKET, key)
    connection = coffee_db.connect()
    try:
        handler = ph.PhotoHandler(aws_photos, analyzer, pw.MySqlWriter(connection))
        handler(event)
        deliver(sqs, url, on_failure_record(event, "Sandbox.Timedout", "Task timed out"))
        summary = replay_failed.replay(
            replay_failed.get_failure_store(aws_photos),
            replay_failed.in_process(lambda e, c: handler(e).as_dict()),
        )
    finally:
        connection.close()
    assert (summary.resolved, summary.inserted, summary.duplicates) == (1, 0, 1)
    assert count(coffee_db) == 1
    assert sqs.receive_message(QueueUrl=url).get("Messages") is None


def test_on_aws_the_replay_invokes_the_function_synchronously_and_reads_its_error():
    client = boto3.client("lambda", region_name="us-east-1")
    event = ph.s3_event(BUCKET, "photos/m/2026-11-20/000000-a.png")
    invoke = replay_failed.lambda_invoke(client, "iot-lake-coffee-photo")
    expected = {
        "FunctionName": "iot-lake-coffee-photo",
        "InvocationType": "RequestResponse",
        "Payload": json.dumps(event).encode(),
    }
    with Stubber(client) as stub:
        body = json.dumps({"inserted": 1, "duplicates": 0, "rejected": []}).encode()
        stub.add_response("invoke", {"StatusCode": 200, "Payload": io.BytesIO(body)}, expected)
        error = {"errorMessage": "Lost connection", "errorType": "OperationalError"}
        stub.add_response(
            "invoke",
            {
                "StatusCode": 200,
                "FunctionError": "Unhandled",
                "Payload": io.BytesIO(json.dumps(error).encode()),
            },
            expected,
        )
        assert invoke(event)["inserted"] == 1
        with pytest.raises(FunctionFailed, match="OperationalError: Lost connection"):
            invoke(event)


def _env(coffee_db, lake_settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        IOT_LAKE_BACKEND="local",
        IOT_LAKE_HOME=lake_settings.home,
        AIRFLOW_CONN_COFFEE_MYSQL=coffee_db.connection_json(),
        PYTHONPATH=f"{PROJECT_ROOT}:{PROJECT_ROOT / 'plugins'}",
    )
    return env


def test_locally_an_event_failing_three_times_is_set_aside_shown_and_replayed(
    coffee_db, lake_settings
):
    first, second = (f"coffee-machine-01/{DAY}/09000{i}-cup {i}.png" for i in range(2))
    notifier.upload_photo(lake_settings, first, IMAGE)
    notifier.upload_photo(lake_settings, second, IMAGE)
    failed_dir = notifier.spool(lake_settings) / "failed"
    now = [1000.0]

    def drain_at(seconds: float) -> notifier.DrainSummary:
        now[0] = seconds
        return notifier.drain(lake_settings, database_down, clock=lambda: now[0])

    # Lambda's spacing: an attempt, one minute, two minutes; a watcher draining every
    # second in between uses up no attempt.
    for moment in (1000, 1001, 1030, 1060, 1100, 1179):
        summary = drain_at(moment)
        assert (summary.set_aside, len(summary.failed)) == (0, 1), moment
    assert not failed_dir.exists()
    summary = drain_at(1180)
    assert summary.set_aside == 1  # the third attempt: set aside; the next one is tried
    assert len(summary.failed) == 2 and "set_aside=1" in summary.line()
    [kept] = failed_dir.glob("*.json")
    record = json.loads(kept.read_text())
    event = record["requestPayload"]
    assert [r["s3"]["object"]["key"] for r in event["Records"]] == [
        "coffee-machine-01/2026-11-20/090000-cup+0.png"
    ]
    fixture = on_failure_record(event, "ConnectionError", "x")
    assert shape(record) == shape(fixture)  # the record Lambda sends, key for key
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorType"] == "ConnectionError"
    assert "Can't connect" in record["responsePayload"]["errorMessage"]
    assert len(list((notifier.spool(lake_settings) / "pending").glob("*.json"))) == 1

    # Visible on the Incidents page, with the command that replays it.
    [incident] = [i for i in incidents.recent() if i["dag_id"] == "coffee_photo"]
    assert (
        first in incident["error"]
        and "python -m iot_lake.coffee.replay_failed" in incident["error"]
    )
    assert (incident["day"], incident["try_number"]) == (DAY, 3)
    from fastapi.testclient import TestClient

    from iot_lake.dashboard.app import create_app

    page = TestClient(create_app()).get("/incidents")
    assert page.status_code == 200 and 'data-task="coffee_photo.handler"' in page.text
    assert "090000-cup 0.png" in page.text and f'data-day="{DAY}"' in page.text

    env = _env(coffee_db, lake_settings)
    command = [sys.executable, "-m", "iot_lake.coffee.replay_failed"]
    listed = subprocess.run([*command, "--list"], env=env, capture_output=True, text=True,
                            timeout=120, check=False)  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    assert first in listed.stdout and "ConnectionError" in listed.stdout
    assert count(coffee_db) == 0 and list(failed_dir.glob("*.json")) == [kept]

    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180,
                          check=False)  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert "resolved=1" in done.stderr and "inserted=1" in done.stderr
    [(stored,)] = coffee_db.execute("SELECT photo_url FROM coffees")
    assert photo_url.object_key(stored, lake_settings.uri("photos")) == first
    assert list(failed_dir.glob("*.json")) == []
    assert [i for i in incidents.recent() if i["dag_id"] == "coffee_photo"] == []
    # The event behind it was never set aside: the notifier handles it as usual.
    rest = subprocess.run([sys.executable, "-m", "iot_lake.coffee.local_notifier"], env=env,
                          capture_output=True, text=True, timeout=180, check=False)  # fmt: skip
    assert rest.returncode == 0, rest.stderr
    assert count(coffee_db) == 2


def test_a_replay_that_fails_again_keeps_the_record_and_says_so(coffee_db, lake_settings):
    notifier.upload_photo(lake_settings, f"coffee-machine-01/{DAY}/100000-a.png", IMAGE)
    for moment in (0, 60, 180):
        notifier.drain(lake_settings, database_down, clock=lambda m=moment: float(m))
    store = replay_failed.SpoolFailures(lake_settings)
    assert store.count() == 1

    summary = replay_failed.replay(store, replay_failed.in_process(database_down))

    assert (summary.resolved, len(summary.still_failing)) == (0, 1)
    assert "ConnectionError" in summary.still_failing[0] and store.count() == 1
    assert count(coffee_db) == 0
