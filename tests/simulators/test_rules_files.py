"""Rule files are valid AWS TopicRulePayloads, deployable unchanged, and load locally."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from botocore.validate import ParamValidator
from moto import mock_aws

from iot_lake.errors import RuleFileError
from simulators.iot_core.rules import (
    PLACEHOLDERS,
    RULES_DIR,
    load_rule_payloads,
    load_rules,
    placeholder_values,
    raw_location,
)

RULE_NAMES = {"weather_to_firehose", "weather_cold_to_dynamodb"}


def test_both_rules_exist_and_carry_an_error_action(lake_settings) -> None:
    payloads = load_rule_payloads()
    assert set(payloads) == RULE_NAMES
    for payload in payloads.values():
        assert payload["awsIotSqlVersion"] == "2016-03-23"
        assert payload["ruleDisabled"] is False
        assert "s3" in payload["errorAction"]


def test_placeholders_resolve_from_settings_and_iot_templates_stay(lake_settings) -> None:
    payloads = load_rule_payloads(overrides={"account_id": "123456789012"})
    firehose = payloads["weather_to_firehose"]["actions"][0]["firehose"]
    assert firehose == {
        "roleArn": "arn:aws:iam::123456789012:role/iot-lake-iot-rules",
        "deliveryStreamName": lake_settings.firehose_stream,
        "separator": "\n",
        "batchMode": False,
    }
    cold = payloads["weather_cold_to_dynamodb"]["actions"][0]["dynamoDBv2"]
    assert cold["putItem"] == {"tableName": lake_settings.cold_readings_table}
    text = json.dumps(payloads)
    for name in PLACEHOLDERS:
        assert "${" + name + "}" not in text
    # Substitution templates are IoT's, evaluated per message.
    assert "${newuuid()}" in payloads["weather_to_firehose"]["errorAction"]["s3"]["key"]


def test_payloads_match_the_create_topic_rule_input_shape(lake_settings) -> None:
    client = boto3.client("iot", region_name="us-east-1")
    shape = client.meta.service_model.operation_model("CreateTopicRule").input_shape
    for name, payload in load_rule_payloads().items():
        report = ParamValidator().validate({"ruleName": name, "topicRulePayload": payload}, shape)
        assert not report.has_errors(), report.generate_report()


@mock_aws
def test_iot_accepts_the_rule_files_unchanged(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("IOT_LAKE_BACKEND", "aws")
    monkeypatch.setenv("IOT_LAKE_RAW_URI", "s3://lake-bucket/raw/")
    from iot_lake import config

    config.settings.cache_clear()
    try:
        client = boto3.client("iot", region_name="us-east-1")
        for name, payload in load_rule_payloads().items():
            client.create_topic_rule(ruleName=name, topicRulePayload=payload)
            stored = client.get_topic_rule(ruleName=name)["rule"]
            assert stored["sql"] == payload["sql"]
            assert stored["errorAction"]["s3"]["bucketName"] == "lake-bucket"
            assert stored["errorAction"]["s3"]["key"].startswith("raw/errors/iot-rule-failed/")
        assert {r["ruleName"] for r in client.list_topic_rules()["rules"]} == RULE_NAMES
    finally:
        config.settings.cache_clear()


def test_raw_location_splits_bucket_and_prefix(lake_settings) -> None:
    from dataclasses import replace

    assert raw_location(replace(lake_settings, raw_uri="s3://b/raw/")) == ("b", "raw/", "s3://b")
    assert raw_location(replace(lake_settings, raw_uri="s3://b")) == ("b", "", "s3://b")
    bucket, prefix, root = raw_location(lake_settings)
    assert (bucket, prefix) == ("raw", "")
    assert root == lake_settings.uri("raw").rstrip("/")


def test_load_rules_compiles_the_sql_for_the_local_engine(lake_settings) -> None:
    rules = {rule.name: rule for rule in load_rules()}
    assert rules["weather_to_firehose"].query.is_passthrough
    assert rules["weather_cold_to_dynamodb"].query.where is not None
    assert all(rule.query.topic_filter == "sensor/weather" for rule in rules.values())


def _write(folder: Path, name: str, payload: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(payload if isinstance(payload, str) else json.dumps(payload))
    return path


GOOD = {
    "sql": "SELECT * FROM 'a/b'",
    "awsIotSqlVersion": "2016-03-23",
    "actions": [{"s3": {"roleArn": "r", "bucketName": "raw", "key": "k"}}],
}


@pytest.mark.parametrize(
    ("name", "payload", "reason"),
    [
        ("ok_name", "{not json", "not valid JSON"),
        ("bad-name", GOOD, "rule name"),
        ("ok_name", {**GOOD, "actions": []}, "non-empty list"),
        ("ok_name", {**GOOD, "sql": "SELECT * FROM a"}, "quoted topic filter"),
        ("ok_name", {**GOOD, "awsIotSqlVersion": "2015-10-08"}, "awsIotSqlVersion"),
        ("ok_name", {**GOOD, "extra": 1}, "not in TopicRulePayload"),
        ("ok_name", {**GOOD, "actions": [{"s3": {}, "sns": {}}]}, "exactly one action"),
        ("ok_name", {**GOOD, "actions": [{"lambda": {"functionArn": "x"}}]}, "no local"),
    ],
)
def test_invalid_rule_files_are_refused_naming_the_file(
    lake_settings, tmp_path, name, payload, reason
) -> None:
    folder = tmp_path / "rules"
    _write(folder, name, payload)
    with pytest.raises(RuleFileError, match=reason):
        load_rules(folder)


def test_disabled_rules_are_not_run_locally(lake_settings, tmp_path) -> None:
    folder = tmp_path / "rules"
    _write(folder, "on", GOOD)
    _write(folder, "off", {**GOOD, "ruleDisabled": True})
    assert [rule.name for rule in load_rules(folder)] == ["on"]


def test_an_empty_rules_folder_is_an_error(lake_settings, tmp_path) -> None:
    with pytest.raises(RuleFileError, match="no rule files"):
        load_rules(tmp_path)


def test_unknown_placeholder_overrides_are_refused(lake_settings) -> None:
    with pytest.raises(RuleFileError, match="unknown rule placeholders"):
        placeholder_values(overrides={"bucket": "x"})


def test_rules_dir_points_into_include() -> None:
    assert RULES_DIR.parts[-3:] == ("include", "iot", "rules")
