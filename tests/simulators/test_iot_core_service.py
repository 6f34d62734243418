"""The rules engine service end to end: real Mosquitto (mTLS) with its WAL plugin, real
dynalite, real files.

Includes the no-loss proofs: the service, the broker, or both one after the other are
SIGKILLed while messages stream in, restarted, and every acknowledged message is found in
the delivered objects (duplicates allowed); a poison payload goes to the errors prefix.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path

import pytest

from simulators.iot_core.wal import end_seq
from simulators.things.broker import start_broker
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
        engine.wait_for_log("reading the write-ahead log")
        payloads = weather_payloads(300)
        cold = [json.loads(p) for p in payloads]
        cold = [m for m in cold if (m["air_temperature"]["value"] or 0) < -5]
        assert cold, "the sample must hold cold readings for this test to mean anything"
        assert publish(fresh_mqtt_broker, "weather-station-01", payloads) == 300
        assert publish(fresh_mqtt_broker, "weather-station-02", [b"definitely not json"]) == 1
        _wait_until(lambda: len(read_errors(lake / "raw")) == 2, 20, "two error documents")
        _wait_read_to_end(engine, fresh_mqtt_broker.wal_dir)
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
        # A clean stop recorded how far it delivered: a restart repeats nothing.
        again = engine_process(
            fresh_mqtt_broker, lake, dynamodb_local.endpoint, tmp_path / "engine2.log",
            ["--buffer-interval", "900"], table=table,
        ).start()  # fmt: skip
        again.wait_for_log("reading the write-ahead log")
        time.sleep(0.5)
        assert again.terminate() == 0
        assert sorted(read_delivered(lake / "raw")) == sorted(payloads)
        assert "final metrics rule=weather_to_firehose received=0 " in again.log()
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
        engine.wait_for_log("reading the write-ahead log")
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
    wal_dir = fresh_mqtt_broker.wal_dir

    def engine(name: str):
        return engine_process(
            fresh_mqtt_broker, lake, dynamodb_local.endpoint, tmp_path / f"{name}.log",
            ["--buffer-interval", "900"], table=table,
        )  # fmt: skip

    first = engine("engine-1").start()
    second = None
    try:
        first.wait_for_log("reading the write-ahead log")
        payloads = weather_payloads(4000)
        halves = [payloads[0::2], payloads[1::2]]
        acked = [0, 0]

        def run(i: int) -> None:
            acked[i] = publish(fresh_mqtt_broker, f"weather-station-0{i + 4}", halves[i])

        publishers = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for thread in publishers:
            thread.start()
        # Kill once a good part is acknowledged and routed but nothing is delivered yet.
        _wait_until(lambda: _count(first) > 500, 60, "the engine to route messages")
        first.kill()
        assert read_delivered(lake / "raw") == []
        time.sleep(0.5)  # publishing goes on while the engine is down: the WAL grows
        second = engine("engine-2").start()
        for thread in publishers:
            thread.join(timeout=90)
        assert acked == [2000, 2000]
        # Every acknowledged message is in the WAL now: wait until the second engine, by its
        # own log, has read all of it (it replays from the start: the first one was killed).
        _wait_read_to_end(second, wal_dir)
        assert list(wal_dir.glob("wal-*.log")), "nothing delivered yet: the WAL holds it all"
        assert second.terminate() == 0
        delivered = read_delivered(lake / "raw")
        missing = set(payloads) - set(delivered)
        assert not missing, f"{len(missing)} of {len(payloads)} messages lost"
        assert len(delivered) >= len(payloads)  # duplicates are allowed
    finally:
        first.stop_quietly()
        if second is not None:
            second.stop_quietly()


def _positions(engine) -> dict[int, tuple[int, int]]:
    """``{worker: (next seq read, records read)}`` as last logged by this engine's workers."""
    found: dict[int, tuple[int, int]] = {}
    for line in engine.log().splitlines():
        if " read the write-ahead log up to seq " in line:
            words = line.split(" read the write-ahead log up to seq ")
            worker = int(words[0].rsplit("worker ", 1)[1])
            seq, records = words[1].split()[0], words[1].split("(")[1].split()[0]
            found[worker] = (int(seq), int(records))
    return found


def _wait_read_to_end(engine, wal_dir: Path, timeout_s: float = 90.0) -> None:
    """Until this (single-worker) engine has read the WAL up to its last record.

    Exact, not a guess from quiet: the broker has written every acknowledged message, and
    the engine logs the seq it has read up to (each metrics interval).
    """
    end = end_seq(wal_dir)
    deadline = time.monotonic() + timeout_s
    while (read_to := _positions(engine).get(0, (-1, 0))[0]) < end:
        assert time.monotonic() < deadline, f"engine read the WAL up to seq {read_to} of {end}"
        time.sleep(0.1)


def _count(engine) -> int:
    """Highest `received` of the firehose rule logged by the engine (periodic metrics)."""
    best = 0
    for line in engine.log().splitlines():
        if "rule=weather_to_firehose received=" in line:
            best = max(best, int(line.split("received=")[1].split()[0]))
    return best


def test_workers_split_the_log_and_deliver_everything(
    dynamodb_local: DynamoDBLocal, table: str, tmp_path: Path
) -> None:
    broker = start_broker(tmp_path / "certs", ["weather-station-05"])
    broker.wal_options = {"segment_ms": 20}  # many segments, so that both workers get some
    broker.restart()
    lake = tmp_path / "lake"
    engine = engine_process(
        broker, lake, dynamodb_local.endpoint, tmp_path / "engine.log",
        ["--workers", "2", "--buffer-interval", "900"], table=table,
    ).start()  # fmt: skip
    try:
        _wait_until(lambda: engine.log().count("reading the write-ahead log") == 2, 60, "workers")
        payloads = weather_payloads(600)
        for chunk in range(6):
            assert publish(broker, "weather-station-05", payloads[chunk::6]) == 100
            time.sleep(0.05)
        _wait_until(
            lambda: (
                sorted(_positions(engine)) == [0, 1]
                and sum(records for _, records in _positions(engine).values()) == len(payloads)
            ),
            60,
            "both workers to read all 600 records",
        )
        assert engine.terminate() == 0
        assert sorted(read_delivered(lake / "raw")) == sorted(payloads)
        per_worker = [
            int(line.split("received=")[1].split()[0])
            for line in engine.log().splitlines()
            if "final metrics rule=weather_to_firehose" in line
        ]
        assert len(per_worker) == 2 and sum(per_worker) == 600 and min(per_worker) > 0
        # Only the newest segment (the broker may still append to it) is left.
        assert len(list(broker.wal_dir.glob("wal-*.log"))) == 1
    finally:
        engine.stop_quietly()
        broker.stop()


def _publish_in_background(broker, things: list[str], payloads: list[bytes]):
    """Threads publishing ``payloads`` split over ``things``; returns (threads, acked)."""
    acked = [0] * len(things)
    shares = [payloads[i :: len(things)] for i in range(len(things))]

    def run(i: int) -> None:
        acked[i] = publish(broker, things[i], shares[i], timeout_s=120)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(things))]
    for thread in threads:
        thread.start()
    return threads, acked


def _assert_nothing_lost(lake: Path, payloads: list[bytes]) -> None:
    delivered = read_delivered(lake / "raw")
    missing = set(payloads) - set(delivered)
    assert not missing, f"{len(missing)} of {len(payloads)} acknowledged messages lost"


@pytest.mark.parametrize("victims", [["broker"], ["engine", "broker"]])
def test_no_acknowledged_message_is_lost_when_the_broker_is_killed(
    victims: list[str], dynamodb_local: DynamoDBLocal, table: str, tmp_path: Path
) -> None:
    """SIGKILL of Mosquitto (alone, or after the engine) mid-stream: the WAL has it all."""
    things = ["weather-station-01", "weather-station-02", "weather-station-03"]
    broker = start_broker(tmp_path / "certs", things)
    lake = tmp_path / "lake"

    def engine(name: str):
        return engine_process(
            broker, lake, dynamodb_local.endpoint, tmp_path / f"{name}.log",
            ["--buffer-interval", "900"], table=table,
        ).start()  # fmt: skip

    engines = [engine("engine-1")]
    try:
        engines[0].wait_for_log("reading the write-ahead log")
        payloads = weather_payloads(6000)
        threads, acked = _publish_in_background(broker, things, payloads)
        _wait_until(lambda: _count(engines[0]) > 1000, 60, "messages to flow")
        if "engine" in victims:
            engines[0].kill()
        broker.kill()  # no autosave, no goodbye: whatever it held in memory is gone
        time.sleep(1.0)
        broker.start()
        if "engine" in victims:
            engines.append(engine("engine-2"))
        for thread in threads:
            thread.join(timeout=150)
        assert sum(acked) == len(payloads)
        _wait_read_to_end(engines[-1], broker.wal_dir)
        assert engines[-1].terminate() == 0
        _assert_nothing_lost(lake, payloads)
    finally:
        for process in engines:
            process.stop_quietly()
        broker.stop()


def test_a_poison_payload_goes_to_errors_and_the_service_goes_on(
    fresh_mqtt_broker, dynamodb_local: DynamoDBLocal, table: str, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    engine = engine_process(
        fresh_mqtt_broker, lake, dynamodb_local.endpoint, tmp_path / "engine.log",
        ["--buffer-interval", "900"], table=table,
    ).start()  # fmt: skip
    try:
        engine.wait_for_log("reading the write-ahead log")
        good = weather_payloads(600)
        poison = [b"[" * 100_000 + b"]" * 100_000, b'{"a": NaN}', b'{"a": -Infinity}', b"\xff\xfe"]
        payloads = good[:300] + poison + good[300:]
        assert publish(fresh_mqtt_broker, "weather-station-01", payloads) == len(payloads)
        _wait_until(lambda: len(read_errors(lake / "raw")) == 2 * len(poison), 30, "errors")
        # The good messages after the poison too: the errors alone do not say they are read.
        _wait_read_to_end(engine, fresh_mqtt_broker.wal_dir)
        assert engine.process is not None and engine.process.poll() is None, "service died"
        assert engine.terminate() == 0
        assert sorted(read_delivered(lake / "raw")) == sorted(good)
        reasons = {doc["failures"][0]["errorMessage"] for doc in read_errors(lake / "raw")}
        assert any("depth limit" in r for r in reasons), reasons
        assert any("not valid UTF-8" in r for r in reasons), reasons
    finally:
        engine.stop_quietly()
