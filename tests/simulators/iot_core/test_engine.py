"""The rules engine routes logged messages like IoT Core (real dynalite, real files)."""

from __future__ import annotations

import base64
import gzip
import json
import uuid
from decimal import Decimal
from pathlib import Path

import pytest

from simulators.iot_core.delivery import FirehoseStream, StreamConfig
from simulators.iot_core.dynamodb import DynamoDBTableWriter, dynamodb_resource
from simulators.iot_core.engine import RulesEngine, Sinks
from simulators.iot_core.metrics import Metrics
from simulators.iot_core.rules import load_rules, raw_location
from simulators.iot_core.wal import WalRecord
from tests.fixtures.ingest import DynamoDBLocal, dynamodb_local, read_delivered, read_errors

__all__ = ["dynamodb_local"]

ARRIVAL_MS = 1_704_415_200_000  # 2024-01-05T00:40:00Z


def observation(station: str, time: str, temperature: float | None) -> dict:
    return {
        "weather_station": station,
        "latitude": 64.8,
        "longitude": -147.867,
        "elevation": 132.0,
        "time": time,
        "air_temperature": {"value": temperature, "quality": "1"},
        "wind_speed": {"value": 2.1, "quality": "1"},
        "sky_cover_condition": [{"coverage": "BKN", "base_height": 1200.0, "cloud_type": None}],
        "weather_condition": [],
    }


class Harness:
    def __init__(self, lake, endpoint: str) -> None:
        self.lake = lake
        self.raw_dir = Path(lake.home) / "raw"
        self.rules = load_rules(lake=lake)
        self.metrics = Metrics(r.name for r in self.rules)
        self.stream = FirehoseStream(StreamConfig(lake.firehose_stream, lake.uri("raw")))
        resource = dynamodb_resource(lake, endpoint)
        bucket, _, root = raw_location(lake)
        self.engine = RulesEngine(
            self.rules,
            Sinks(
                streams={lake.firehose_stream: self.stream},
                table_writer=lambda table: DynamoDBTableWriter(resource, table),
                bucket_roots={bucket: root},
            ),
            self.metrics,
        )
        self.seq = 0

    def send(self, *payloads: bytes, topic: str = "sensor/weather") -> None:
        records = []
        for payload in payloads:
            records.append(WalRecord(self.seq, ARRIVAL_MS, topic, payload))
            self.seq += 1
        self.engine.process(records)


@pytest.fixture
def harness(request, monkeypatch, dynamodb_local: DynamoDBLocal) -> Harness:
    table = dynamodb_local.fresh_table(f"cold_{uuid.uuid4().hex[:8]}")
    monkeypatch.setenv("IOT_LAKE_COLD_READINGS_TABLE", table)
    monkeypatch.setenv("IOT_LAKE_DYNAMODB_ENDPOINT", dynamodb_local.endpoint)
    lake = request.getfixturevalue("lake_settings")
    return Harness(lake, dynamodb_local.endpoint)


def test_every_message_reaches_firehose_byte_for_byte_one_per_line(harness: Harness) -> None:
    payloads = [
        json.dumps(observation("702610-26411", f"2024-01-05T0{i}:00:00Z", 1.5 + i)).encode()
        for i in range(3)
    ]
    harness.send(*payloads)
    harness.stream.flush()
    assert read_delivered(harness.raw_dir) == payloads
    (obj,) = (harness.raw_dir / "weather").rglob("*.gz")
    assert gzip.decompress(obj.read_bytes()).endswith(b"}\n")
    # Partitioned by the observation's day, then the arrival day; named after the arrival
    # (00:40:00).
    folder, arrived, name = obj.relative_to(harness.raw_dir).parts[1:]
    assert (folder, arrived) == ("day=2024-01-05", "arrived=2024-01-05")
    assert name.startswith("iot-lake-raw-weather-1-2024-01-05-00-40-00-"), name
    counters = harness.metrics.snapshot()
    assert counters["weather_to_firehose"] == {
        "received": 3, "matched": 3, "delivered": 0, "errored": 0
    }  # fmt: skip


def test_cold_readings_become_dynamodb_items_keyed_by_station_and_time(
    harness: Harness, dynamodb_local: DynamoDBLocal
) -> None:
    harness.send(
        json.dumps(observation("702610-26411", "2024-01-05T00:00:00Z", -12.5)).encode(),
        json.dumps(observation("702610-26411", "2024-01-05T01:00:00Z", -5.0)).encode(),
        json.dumps(observation("702610-26411", "2024-01-05T02:00:00Z", None)).encode(),
        json.dumps(observation("725300-94846", "2024-01-05T00:00:00Z", -6.1)).encode(),
    )
    items = dynamodb_local.items(harness.lake.cold_readings_table)
    by_key = {(i["weather_station"]["S"], i["time"]["S"]): i for i in items}
    assert set(by_key) == {
        ("702610-26411", "2024-01-05T00:00:00Z"),
        ("725300-94846", "2024-01-05T00:00:00Z"),
    }
    item = by_key[("702610-26411", "2024-01-05T00:00:00Z")]
    assert item["air_temperature_value"] == {"N": "-12.5"}
    assert item["air_temperature_quality"] == {"S": "1"}
    assert item["wind_speed_value"] == {"N": "2.1"}
    assert item["weather_condition"] == {"L": []}
    assert item["sky_cover_condition"]["L"][0]["M"]["cloud_type"] == {"NULL": True}
    assert "dew_point" not in item
    counters = harness.metrics.snapshot()["weather_cold_to_dynamodb"]
    assert counters == {"received": 4, "matched": 2, "delivered": 2, "errored": 0}
    # The same reading again overwrites its item: duplicates collapse on the key.
    harness.send(json.dumps(observation("725300-94846", "2024-01-05T00:00:00Z", -6.1)).encode())
    assert len(dynamodb_local.items(harness.lake.cold_readings_table)) == 2
    assert isinstance(Decimal(item["latitude"]["N"]), Decimal)


def test_invalid_json_goes_to_each_rules_error_action_with_reason_and_payload(
    harness: Harness,
) -> None:
    bad = b'{"weather_station": "x", "time": '
    harness.send(bad, b"[1, 2]")
    harness.stream.flush()
    assert read_delivered(harness.raw_dir) == []
    errors = read_errors(harness.raw_dir)
    assert len(errors) == 4  # two messages x two rules on the topic
    paths = sorted((harness.raw_dir / "errors").rglob("*.json"))
    assert all(
        p.relative_to(harness.raw_dir).parts[:6]
        == ("errors", "iot-rule-failed", "2024", "01", "05", "00")
        for p in paths
    )
    first = next(
        e
        for e in errors
        if e["ruleName"] == "weather_to_firehose"
        and base64.b64decode(e["base64OriginalPayload"]) == bad
    )
    assert first["topic"] == "sensor/weather"
    assert first["failures"][0]["errorMessage"].startswith("payload is not valid JSON")
    assert any(e["failures"][0]["errorMessage"] == "payload is not a JSON object" for e in errors)
    for rule in ("weather_to_firehose", "weather_cold_to_dynamodb"):
        counters = harness.metrics.snapshot()[rule]
        assert counters["errored"] == 2 and counters["matched"] == 0


def test_a_cold_reading_without_its_key_goes_to_the_error_action(harness: Harness) -> None:
    message = observation("702610-26411", "2024-01-05T00:00:00Z", -20.0)
    del message["time"]
    harness.send(json.dumps(message).encode())
    (error,) = [e for e in read_errors(harness.raw_dir)]
    assert error["ruleName"] == "weather_cold_to_dynamodb"
    assert error["failures"][0]["failedAction"] == "DynamoDBv2Action"
    assert "'time'" in error["failures"][0]["errorMessage"]


def test_an_unreachable_table_sends_the_batch_to_the_error_action(
    harness: Harness, dynamodb_local: DynamoDBLocal
) -> None:
    dynamodb_local.client().delete_table(TableName=harness.lake.cold_readings_table)
    harness.send(json.dumps(observation("702610-26411", "2024-01-05T00:00:00Z", -9.0)).encode())
    (error,) = read_errors(harness.raw_dir)
    assert error["failures"][0]["failedResource"] == harness.lake.cold_readings_table
    assert harness.metrics.snapshot()["weather_cold_to_dynamodb"]["errored"] == 1


def test_pretty_printed_json_is_delivered_as_one_line(harness: Harness) -> None:
    message = observation("702610-26411", "2024-01-05T00:00:00Z", 3.0)
    harness.send(json.dumps(message, indent=2).encode())
    harness.stream.flush()
    (line,) = read_delivered(harness.raw_dir)
    assert json.loads(line) == message


def test_messages_on_other_topics_are_ignored(harness: Harness) -> None:
    harness.send(b"not even json", topic="sensor/other")
    harness.stream.flush()
    assert read_delivered(harness.raw_dir) == [] and read_errors(harness.raw_dir) == []
    assert harness.metrics.snapshot()["weather_to_firehose"]["received"] == 0
