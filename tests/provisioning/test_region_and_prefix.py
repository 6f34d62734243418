"""Region and name prefix come from the lake settings, for every resource and document.

Provisioning and thing registration run with ``IOT_LAKE_NAME_PREFIX=acme`` and
``IOT_LAKE_REGION=eu-west-3`` and *no* ``AWS_DEFAULT_REGION``: nothing may fall back to
boto3's default region (``NoRegionError``) or to an unprefixed name.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from iot_lake.config import INCLUDE_DIR
from iot_lake.provisioning import run, summary
from iot_lake.provisioning.deployment import Deployment
from iot_lake.provisioning.documents import load_path
from tests.fixtures.aws_answers import GlueClassifiers, ServerDefaults

REGION = "eu-west-3"
AWS_STEPS = (
    "identities", "permissions", "storage", "catalog", "query_engine", "ingestion", "devices",
)


@pytest.fixture
def acme(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    from moto import mock_aws

    from iot_lake import config

    for name in ("AWS_DEFAULT_REGION", "AWS_REGION", "IOT_LAKE_KMS_KEY_ARN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("IOT_LAKE_BACKEND", "aws")
    monkeypatch.setenv("IOT_LAKE_REGION", REGION)
    monkeypatch.setenv("IOT_LAKE_NAME_PREFIX", "acme")
    monkeypatch.setenv("IOT_LAKE_RAW_URI", "s3://acme-raw/")
    monkeypatch.setenv("IOT_LAKE_CURATED_URI", "s3://acme-lake/curated/")
    monkeypatch.setenv("IOT_LAKE_PHOTOS_URI", "s3://acme-lake/photos/")
    monkeypatch.setenv("IOT_LAKE_QUERY_RESULTS_URI", "s3://acme-lake/athena-results/")
    monkeypatch.setenv("IOT_LAKE_CERTS_DIR", str(tmp_path / "certs"))
    config.settings.cache_clear()
    with mock_aws():
        import boto3

        session = boto3.session.Session()  # no region: everything must pass the setting
        assert session.region_name is None
        GlueClassifiers().register(session)
        ServerDefaults().register(session.events)
        yield config.settings(), session
    config.settings.cache_clear()


def test_every_name_carries_the_prefix_and_every_resource_the_region(acme) -> None:
    lake, session = acme
    assert (lake.raw_database, lake.curated_database, lake.athena_workgroup) == (
        "acme_raw",
        "acme",
        "acme",
    )
    assert (lake.firehose_stream, lake.crawler_name, lake.cold_readings_table) == (
        "acme-raw-weather",
        "acme_raw_weather",
        "acme_weather_cold_readings",
    )
    changes = run(AWS_STEPS, lake, session=session)
    assert {c.action for c in changes} == {"created"}
    unprefixed = [
        f"{c.kind} {c.name}"
        for c in changes
        if not re.match(r"^(/aws/kinesisfirehose/)?acme[-_]|^acme$", c.name)
    ]
    assert unprefixed == []
    assert summary(run(AWS_STEPS, lake, session=session)).startswith("no changes")

    def client(service: str) -> Any:
        return session.client(service, region_name=REGION)

    stream = client("firehose").describe_delivery_stream(DeliveryStreamName="acme-raw-weather")
    assert f":{REGION}:" in stream["DeliveryStreamDescription"]["DeliveryStreamARN"]
    rule = client("iot").get_topic_rule(ruleName="acme_weather_to_firehose")
    action = rule["rule"]["actions"][0]["firehose"]
    assert action["roleArn"].endswith(":role/acme-iot-rules")
    policy = client("iot").get_policy(policyName="acme-weather-station")["policyDocument"]
    assert f"arn:aws:iot:{REGION}:" in policy and "iot-lake" not in policy
    assert client("glue").get_crawler(Name="acme_raw_weather")["Crawler"]["Classifiers"] == [
        "acme_json_records"
    ]
    for service in ("firehose", "glue", "iot"):  # nothing went to another region
        other = session.client(service, region_name="us-east-1")
        listed = {
            "firehose": lambda c: c.list_delivery_streams()["DeliveryStreamNames"],
            "glue": lambda c: c.get_databases()["DatabaseList"],
            "iot": lambda c: c.list_topic_rules()["rules"],
        }[service](other)
        assert listed == [], service


def test_thing_registration_uses_the_region_and_prefix_of_the_settings(acme) -> None:
    from simulators.things.aws import register_things

    lake, session = acme
    run(("devices",), lake, session=session)  # the policy and type, as lake_setup makes them
    [registration] = register_things(["weather-station-01"], Path(lake.certs_dir) / "aws")
    assert f":{REGION}:" in registration.certificate_arn
    iot = session.client("iot", region_name=REGION)
    thing = iot.describe_thing(thingName="weather-station-01")
    assert thing["thingTypeName"] == "acme-weather-station"
    assert f":{REGION}:" in thing["thingArn"]
    attached = iot.list_attached_policies(target=registration.certificate_arn)["policies"]
    assert [p["policyName"] for p in attached] == ["acme-weather-station"]
    groups = iot.list_thing_groups_for_thing(thingName="weather-station-01")["thingGroups"]
    assert [g["groupName"] for g in groups] == ["acme-weather-stations"]


@pytest.mark.parametrize(
    "path", sorted(p for p in INCLUDE_DIR.rglob("*.json") if "schemas" not in p.parts)
)
def test_no_document_hard_codes_the_partition_or_an_unprefixed_name(path: Path) -> None:
    text = path.read_text()
    assert "arn:aws:" not in text, f"{path}: use arn:${{partition}}:"
    for name in ("iot-lake-", "iot_lake_json", "rule/weather_"):
        assert name not in text, f"{path}: {name}... must come from a ${{...}} placeholder"


def test_documents_render_for_another_partition(acme) -> None:
    lake, _ = acme
    deployment = Deployment.for_account(lake, "123456789012", partition="aws-cn")
    for path in sorted((INCLUDE_DIR / "iam").rglob("*.json")) + sorted(
        (INCLUDE_DIR / "iot" / "policies").glob("*.json")
    ):
        rendered = json.dumps(load_path(path, deployment.values()))
        arns = re.findall(r'"(arn:[^"]*)"', rendered)
        assert all(arn.startswith("arn:aws-cn:") for arn in arns), (path, arns)
