"""A task that fails for good notifies people through the DAGs' default failure notifier.

Real failing runs (``dag.test()``) of weather_lake (its ``DEFAULT_ARGS`` carry the notifier)
on a day with an impossible temperature, so its range check fails: on
``local`` the incident lands on the dashboard's Incidents page; with an ``aws``
``iot_lake_alerts`` connection it is published to SNS (moto: AWS cannot be reached here),
read back through an SQS subscription.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pytest

DAY = datetime(2026, 11, 6, tzinfo=UTC)
ERROR = "air_temperature"


def _failing_run():
    """weather_lake for a day with an impossible temperature: its range check fails.

    The flatten quarantines such a record itself (a reject, not a failure), so it is let
    through by widening the flatten's bounds: the audit's range check, which reads the
    bounds module, catches it on the staged day.
    """
    from airflow.dag_processing.dagbag import DagBag

    from iot_lake.config import settings
    from iot_lake.weather import bounds, synthetic
    from tests.conftest import ROOT

    # The write lets the impossible value through (its SQL gets widened bounds as params);
    # the range check, which keeps the real bounds, must catch it on the staged day.
    widened = bounds.sql_params()
    for measure in widened["measures"]:
        measure["maximum"] = 1e9

    rng = random.Random(3)
    messages = [synthetic.message("722540-13904", DAY + timedelta(hours=h), rng) for h in range(6)]
    messages[2]["air_temperature"]["value"] = 75.0  # impossible on Earth: the range check
    synthetic.write_raw(settings().uri("raw"), messages)
    bag = DagBag(dag_folder=str(ROOT / "dags" / "weather_lake.py"))
    dag = bag.get_dag("weather_lake")
    dag.get_task("write_observations").params["measures"] = widened["measures"]
    return dag.test(logical_date=DAY)


def test_a_failed_check_becomes_an_incident_on_the_dashboard(
    airflow_db, lake_settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastapi.testclient import TestClient

    from iot_lake import incidents
    from iot_lake.dashboard.app import create_app

    monkeypatch.setenv("AIRFLOW_CONN_IOT_LAKE_ALERTS", '{"conn_type": "generic"}')
    run = _failing_run()
    assert str(run.state) == "failed"

    # The failed check, once (checks do not retry), not its upstream_failed stats.
    [incident] = incidents.recent()
    assert (incident["dag_id"], incident["task_id"]) == (
        "weather_lake",
        "audit_observations.check_keys_and_ranges",
    )
    assert incident["day"] == "2026-11-06"
    assert incident["run_id"] == run.run_id
    assert ERROR in incident["error"], incident  # the failed column check, by name

    page = TestClient(create_app()).get("/incidents")
    assert page.status_code == 200
    assert 'data-task="weather_lake.audit_observations.check_keys_and_ranges"' in page.text
    assert 'data-day="2026-11-06"' in page.text


def test_on_aws_the_failure_is_published_to_sns(
    airflow_db, lake_settings, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    from iot_lake import incidents

    sns = boto3.client("sns", region_name="us-east-1")
    sqs = boto3.client("sqs", region_name="us-east-1")
    topic = sns.create_topic(Name="iot-lake-alerts")["TopicArn"]
    queue = sqs.create_queue(QueueName="alerts-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    monkeypatch.setenv(
        "AIRFLOW_CONN_IOT_LAKE_ALERTS",
        json.dumps(
            {"conn_type": "aws", "extra": {"target_arn": topic, "region_name": "us-east-1"}}
        ),
    )
    assert str(_failing_run().state) == "failed"

    messages = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=5)["Messages"]
    [envelope] = [json.loads(m["Body"]) for m in messages]
    check = "audit_observations.check_keys_and_ranges"
    assert envelope["Subject"] == f"iot-lake: weather_lake.{check} failed"
    body = json.loads(envelope["Message"])
    assert (body["task_id"], body["day"]) == (check, "2026-11-06")
    assert ERROR in body["error"]
    assert incidents.recent() == []  # SNS instead of the local page, not both
