"""The rules engine service end to end: real Mosquitto (mTLS), real dynalite, real files.

Includes the no-loss proof: the service is SIGKILLed while messages stream in, restarted,
and every published message is found in the delivered objects (duplicates allowed).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path

import pytest

from tests.fixtures.ingest import (
    DynamoDBLocal,
    dynamodb_local,
    engine_process,
    publish,
    read_delivered,
    read_errors,
    weather_payloads,
)
from tests.fixtures.mqtt import fresh_mqtt_broker

__all__ = ["dynamodb_local", "fresh_mqtt_broker"]

pytestmark = pytest.mark.timeout(180)


def _wait_until(predicate, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


@pytest.fixture
def table(dynamodb_local: DynamoDBLocal) -> str:
    return dynamodb_local.fresh_table(f"cold_{uuid.uuid4().hex[:8]}")


def test_messages_flow_to_objects_dynamodb_and_errors_and_sigterm_flushes(
    fresh_mqtt_broker, dynamodb_local: DynamoDBLocal, table: str, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    engine = engine_process(
        fresh_mqtt_broker, lake, dynamodb_local.endpoint, tmp_path / "engine.log",
        ["--buffer-interval", "900"], table=table,
    ).start()  # fmt: skip
    try:
        engine.wait_for_log("subscribed to sensor/weather")
        payloads = weather_payloads(300)
        cold = [json.loads(p) for p in payloads]
        cold = [m for m in cold if (m["air_temperature"]["value"] or 0) < -5]
        assert cold, "the sample must hold cold readings for this test to mean anything"
        assert publish(fresh_mqtt_broker, "weather-station-01", payloads) == 300
        assert publish(fresh_mqtt_broker, "weather-station-02", [b"definitely not json"]) == 1
        _wait_until(lambda: len(read_errors(lake / "raw")) == 2, 20, "two error documents")
        # Interval 900 s: nothing is written yet; SIGTERM must flush it all.
        assert read_delivered(lake / "raw") == []
        assert engine.terminate() == 0
        delivered = read_delivered(lake / "raw")
        assert sorted(delivered) == sorted(payloads)
        items = dynamodb_local.items(table)
        assert {(i["weather_station"]["S"], i["time"]["S"]) for i in items} == {
            (m["weather_station"], m["time"]) for m in cold
        }
        log = engine.log()
        assert (
            "final metrics rule=weather_to_firehose received=301 matched=300 "
            "delivered=300 errored=1" in log
        )
        assert (
            f"rule=weather_cold_to_dynamodb received=301 matched={len(cold)} "
            f"delivered={len(cold)} errored=1" in log
        )
        assert not list((lake / "iot_core" / "wal").rglob("wal-*.log")), "WAL not released"
    finally:
        engine.stop_quietly()


def test_a_short_buffer_interval_delivers_while_running(
    fresh_mqtt_broker, dynamodb_local: DynamoDBLocal, table: str, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    engine = engine_process(
        fresh_mqtt_broker, lake, dynamodb_local.endpoint, tmp_path / "engine.log",
        ["--buffer-interval", "1"], table=table,
    ).start()  # fmt: skip
    try:
        engine.wait_for_log("subscribed to sensor/weather")
        payloads = weather_payloads(50)
        publish(fresh_mqtt_broker, "weather-station-03", payloads)
        _wait_until(lambda: len(read_delivered(lake / "raw")) == 50, 15, "interval flush")
        assert sorted(read_delivered(lake / "raw")) == sorted(payloads)
    finally:
        engine.stop_quietly()


def test_no_message_is_lost_when_the_engine_is_killed_mid_stream(
    fresh_mqtt_broker, dynamodb_local: DynamoDBLocal, table: str, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    wal_dir = lake / "iot_core" / "wal"

    def engine():
        return engine_process(
            fresh_mqtt_broker, lake, dynamodb_local.endpoint, tmp_path / "engine.log",
            ["--buffer-interval", "900"], table=table,
        )  # fmt: skip

    first = engine().start()
    second = None
    try:
        first.wait_for_log("subscribed to sensor/weather")
        payloads = weather_payloads(4000)
        halves = [payloads[0::2], payloads[1::2]]
        acked = [0, 0]

        def run(i: int) -> None:
            acked[i] = publish(fresh_mqtt_broker, f"weather-station-0{i + 4}", halves[i])

        publishers = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for thread in publishers:
            thread.start()
        # Kill once a good part is logged and acknowledged but nothing is delivered yet.
        _wait_until(
            lambda: sum(p.stat().st_size for p in wal_dir.rglob("wal-*.log")) > 300_000,
            60, "the WAL to fill",
        )  # fmt: skip
        first.kill()
        assert read_delivered(lake / "raw") == []
        time.sleep(0.5)  # publishing goes on while the engine is down: the broker queues
        second = engine().start()
        for thread in publishers:
            thread.join(timeout=90)
        assert acked == [2000, 2000]
        second.wait_for_log("recovered ", after=0)
        recovered = int(second.log().split("recovered ")[1].split()[0])
        assert recovered > 0  # acknowledged, never delivered: only the WAL had them
        _wait_quiet(second, at_least=len(payloads))
        assert second.terminate() == 0
        delivered = read_delivered(lake / "raw")
        missing = set(payloads) - set(delivered)
        assert not missing, f"{len(missing)} of {len(payloads)} messages lost"
        assert len(delivered) >= len(payloads)  # duplicates are allowed
    finally:
        first.stop_quietly()
        if second is not None:
            second.stop_quietly()


def _wait_quiet(engine, at_least: int, timeout_s: float = 60.0) -> None:
    """Until the engine has received ``at_least`` messages and 1 s passed with no more."""
    deadline = time.monotonic() + timeout_s
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        count = _count(engine)
        if count != last:
            last, since = count, time.monotonic()
        elif count >= at_least and time.monotonic() - since >= 1.0:
            return
        time.sleep(0.2)
    raise AssertionError(f"engine received {last} of at least {at_least} messages")


def _count(engine) -> int:
    """Highest `received` of the firehose rule logged by the engine (periodic metrics)."""
    best = 0
    for line in engine.log().splitlines():
        if "rule=weather_to_firehose received=" in line:
            best = max(best, int(line.split("received=")[1].split()[0]))
    return best


def test_workers_share_the_subscription_and_deliver_everything(
    fresh_mqtt_broker, dynamodb_local: DynamoDBLocal, table: str, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    engine = engine_process(
        fresh_mqtt_broker, lake, dynamodb_local.endpoint, tmp_path / "engine.log",
        ["--workers", "2", "--buffer-interval", "900"], table=table,
    ).start()  # fmt: skip
    try:
        _wait_until(lambda: engine.log().count("subscribed to $share/") == 2, 60, "2 workers")
        payloads = weather_payloads(600)
        assert publish(fresh_mqtt_broker, "weather-station-05", payloads) == 600
        _wait_quiet(engine, at_least=0, timeout_s=30)
        assert engine.terminate() == 0
        assert sorted(read_delivered(lake / "raw")) == sorted(payloads)
        log = engine.log()
        for worker in (0, 1):
            assert f"as iot-rules-engine-{worker} " in log
        workers_with_data = {
            p.parent.name for p in (lake / "iot_core" / "wal").rglob("*") if p.is_file()
        }
        assert not workers_with_data, "every worker released its WAL at shutdown"
        per_worker = [
            int(line.split("received=")[1].split()[0])
            for line in log.splitlines()
            if "final metrics rule=weather_to_firehose" in line
        ]
        assert len(per_worker) == 2 and sum(per_worker) == 600 and min(per_worker) > 0
    finally:
        engine.stop_quietly()


def test_the_engine_reconnects_after_a_broker_restart_and_loses_nothing(
    fresh_mqtt_broker, dynamodb_local: DynamoDBLocal, table: str, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    engine = engine_process(
        fresh_mqtt_broker, lake, dynamodb_local.endpoint, tmp_path / "engine.log",
        ["--buffer-interval", "900"], table=table,
    ).start()  # fmt: skip
    try:
        engine.wait_for_log("subscribed to sensor/weather")
        before, after = weather_payloads(400)[:200], weather_payloads(400)[200:]
        assert publish(fresh_mqtt_broker, "weather-station-06", before) == 200
        _wait_quiet(engine, at_least=200, timeout_s=30)
        fresh_mqtt_broker.restart()
        engine.wait_for_log("disconnected from the broker")
        assert publish(fresh_mqtt_broker, "weather-station-06", after) == 200
        _wait_until(lambda: engine.log().count("(session present: True)") >= 1, 30, "reconnect")
        _wait_quiet(engine, at_least=400, timeout_s=30)
        assert engine.terminate() == 0
        assert set(read_delivered(lake / "raw")) == set(before + after)
    finally:
        engine.stop_quietly()
