"""The fleet runner against a real Mosquitto with mutual TLS (and its dry run)."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import jsonschema
import paho.mqtt.client as paho
import pytest

from simulators.things.broker import Broker, free_port
from simulators.things.local import RULES_ENGINE
from simulators.weather_station import __main__ as fleet_cli
from simulators.weather_station import fleet as fleet_module
from simulators.weather_station.fleet import (
    BrokerTarget,
    FleetError,
    ReplayOptions,
    Schedule,
    Station,
    StationCounters,
    dry_run,
    run_fleet,
)
from simulators.weather_station.isd import ParseStats
from simulators.weather_station.message import DATA_DIR, encode, messages_from_file
from tests.simulators.conftest import mqtt_client

AUSTIN = DATA_DIR / "722540-13904-2014.gz"
LA_CROSSE = DATA_DIR / "726430-14920-2015.gz"
SVALBARD = DATA_DIR / "010060-99999-2014.gz"


def _target(broker: Broker, **overrides: object) -> BrokerTarget:
    values: dict[str, object] = {
        "endpoint": broker.host,
        "port": broker.port,
        "certs_dir": broker.certs_dir,
        "ca_file": broker.ca_file,
        "drain_timeout": 10.0,
    }
    values.update(overrides)
    return BrokerTarget(**values)  # type: ignore[arg-type]


def _drain(received: queue.Queue[paho.MQTTMessage], expected: int) -> list[paho.MQTTMessage]:
    messages = []
    deadline = time.monotonic() + 15
    while len(messages) < expected and time.monotonic() < deadline:
        try:
            messages.append(received.get(timeout=0.5))
        except queue.Empty:
            continue
    return messages


def test_messages_arrive_intact_and_in_order_per_station(
    mqtt_broker: Broker, engine_reader: queue.Queue[paho.MQTTMessage]
) -> None:
    stations = [
        Station("weather-station-01", AUSTIN),
        Station("weather-station-02", LA_CROSSE),
        Station("weather-station-03", SVALBARD),
    ]
    expected = {s.file: [encode(m) for m in messages_from_file(s.file, hours=36)] for s in stations}
    total = sum(len(v) for v in expected.values())

    summary = run_fleet(stations, ReplayOptions(speed=None, hours=36), _target(mqtt_broker))

    assert summary.ok and not summary.interrupted
    assert summary.published == summary.acknowledged == total
    received = _drain(engine_reader, total)
    by_station: dict[str, list[bytes]] = defaultdict(list)
    for message in received:
        assert message.topic == "sensor/weather"
        by_station[json.loads(message.payload)["weather_station"]].append(message.payload)
    assert by_station == {path.name[:12]: payloads for path, payloads in expected.items()}


def test_paced_replay_follows_the_observation_gaps(
    mqtt_broker: Broker, engine_reader: queue.Queue[paho.MQTTMessage]
) -> None:
    station = Station("weather-station-04", LA_CROSSE)
    times = [dt.datetime.fromisoformat(m["time"]) for m in messages_from_file(LA_CROSSE, hours=3)]
    span = (times[-1] - times[0]).total_seconds()  # 2 h of hourly observations
    speed = span / 1.5  # -> 1.5 s of wall-clock time

    started = time.monotonic()
    summary = run_fleet([station], ReplayOptions(speed=speed, hours=3), _target(mqtt_broker))
    elapsed = time.monotonic() - started

    assert summary.ok and summary.published == len(times)
    received = _drain(engine_reader, len(times))
    arrivals = [m.timestamp for m in received]
    assert 1.2 <= arrivals[-1] - arrivals[0] <= 3.0
    assert elapsed < 6


def test_stop_ends_the_replay_with_everything_published_acknowledged(
    mqtt_broker: Broker,
) -> None:
    stations = [Station("weather-station-05", AUSTIN), Station("weather-station-06", SVALBARD)]
    stop = threading.Event()
    threading.Timer(1.0, stop.set).start()

    started = time.monotonic()
    summary = run_fleet(stations, ReplayOptions(speed=1800.0), _target(mqtt_broker), stop=stop)

    assert time.monotonic() - started < 5
    assert summary.interrupted
    assert 0 < summary.published < 100
    assert summary.acknowledged == summary.published
    assert summary.failed == 0


def test_replay_continues_across_a_broker_restart(
    fresh_mqtt_broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    broker = fresh_mqtt_broker
    stations = [Station("weather-station-01", AUSTIN), Station("weather-station-02", LA_CROSSE)]
    expected = sum(len(list(messages_from_file(s.file, hours=8))) for s in stations)

    def bounce() -> None:
        broker.stop()
        time.sleep(0.5)
        broker.start()

    threading.Timer(0.8, bounce).start()
    with caplog.at_level(logging.INFO, logger="simulators.weather_station.fleet"):
        summary = run_fleet(
            stations,
            ReplayOptions(speed=8 * 3600 / 2.5, hours=8),
            _target(broker, drain_timeout=20),
        )

    assert summary.published == expected
    assert summary.acknowledged == expected
    assert summary.ok
    assert "connection interrupted" in caplog.text
    assert "connection resumed" in caplog.text


def test_persistent_subscriber_gets_messages_queued_across_a_broker_restart(
    fresh_mqtt_broker: Broker,
) -> None:
    broker = fresh_mqtt_broker
    engine = mqtt_client(broker, RULES_ENGINE, clean_session=False)
    engine.subscribe("sensor/weather", qos=1)
    time.sleep(0.3)
    engine.disconnect()
    engine.loop_stop()
    station = Station("weather-station-03", AUSTIN)

    summary = run_fleet([station], ReplayOptions(speed=None, hours=48), _target(broker))
    broker.restart()
    received: queue.Queue[paho.MQTTMessage] = queue.Queue()
    engine = mqtt_client(broker, RULES_ENGINE, received, clean_session=False)
    try:
        messages = _drain(received, summary.published)
    finally:
        engine.disconnect()
        engine.loop_stop()

    assert summary.ok and summary.published > 40
    assert [m.payload for m in messages] == [
        encode(m) for m in messages_from_file(AUSTIN, hours=48)
    ]


def test_unreachable_broker_is_a_clear_error(mqtt_broker: Broker) -> None:
    target = _target(mqtt_broker, port=free_port(), connect_attempts=2)

    with pytest.raises(FleetError, match=r"could not connect to 127\.0\.0\.1:\d+ after 2"):
        run_fleet([Station("weather-station-01", AUSTIN)], ReplayOptions(), target)


def test_missing_certificate_is_reported_before_connecting(
    mqtt_broker: Broker, tmp_path: Path
) -> None:
    target = _target(mqtt_broker, certs_dir=tmp_path)

    with pytest.raises(FleetError, match="no certificate for thing 'weather-station-01'"):
        run_fleet([Station("weather-station-01", AUSTIN)], ReplayOptions(), target)


def test_rebase_end_moves_the_replayed_window_to_the_last_day_by_whole_days() -> None:
    lines: list[bytes] = []

    summary = dry_run(
        [Station("weather-station-01", LA_CROSSE)],
        ReplayOptions(speed=None, hours=24, rebase="end"),
        lines.append,
    )

    times = [dt.datetime.fromisoformat(json.loads(line)["time"]) for line in lines]
    originals = [
        dt.datetime.fromisoformat(m["time"]) for m in messages_from_file(LA_CROSSE, hours=24)
    ]
    assert summary.published == len(originals)
    assert dt.timedelta(0) <= dt.datetime.now(dt.UTC) - times[-1] < dt.timedelta(days=1)
    shift = times[-1] - originals[-1]
    assert shift.seconds == 0 and shift.microseconds == 0  # whole days: time of day kept
    assert [b - a for a, b in itertools.pairwise(times)] == [
        b - a for a, b in itertools.pairwise(originals)
    ]
    again: list[bytes] = []
    dry_run(
        [Station("weather-station-01", LA_CROSSE)],
        ReplayOptions(speed=None, hours=24, rebase="end"),
        again.append,
    )
    assert again == lines  # a replay run again the same day publishes the same readings


def test_dry_run_cli_prints_one_valid_json_object_per_observation(
    capsysbinary: pytest.CaptureFixture[bytes], message_schema: jsonschema.protocols.Validator
) -> None:
    code = fleet_cli.main(["--dry-run", "--speed", "max", "--files", str(LA_CROSSE)])

    out = capsysbinary.readouterr().out.splitlines()
    assert code == 0
    assert len(out) == 154
    for line in out:
        message_schema.validate(json.loads(line))


def test_cli_refuses_more_stations_than_files(caplog: pytest.LogCaptureFixture) -> None:
    assert fleet_cli.main(["--dry-run", "--stations", "7"]) == 2
    assert "--stations 7 needs 7 ISD files" in caplog.text


def test_a_failing_producer_is_reported_with_its_error(mqtt_broker: Broker, tmp_path: Path) -> None:
    missing = tmp_path / "999999-99999-2014.gz"

    with pytest.raises(FleetError, match=r"producer process ended early(.|\n)*No such file"):
        run_fleet(
            [Station("weather-station-01", missing)],
            ReplayOptions(speed=None),
            _target(mqtt_broker),
        )


def test_ctrl_c_stops_the_cli_with_everything_in_flight_acknowledged(
    mqtt_broker: Broker,
) -> None:
    env = dict(
        os.environ,
        IOT_LAKE_CERTS_DIR=str(mqtt_broker.certs_dir),
        IOT_LAKE_MQTT_PORT=str(mqtt_broker.port),
        PYTHONPATH=str(Path(__file__).resolve().parents[2]),
    )
    cli = subprocess.Popen(
        [sys.executable, "-m", "simulators.weather_station", "--stations", "2", "--speed", "7200"],
        env=env,
        stderr=subprocess.PIPE,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 20
    assert cli.stderr is not None
    for line in cli.stderr:  # wait until both stations are connected, then press Ctrl-C
        if b"weather-station-02 connected" in line or time.monotonic() > deadline:
            break
    time.sleep(1.0)
    os.killpg(cli.pid, signal.SIGINT)
    rest = cli.stderr.read().decode()
    code = cli.wait(timeout=30)

    summary = rest.strip().splitlines()[-1]
    assert code == 1
    assert "interrupted=1" in summary and "failed=0" in summary
    published = int(summary.split("published=")[1].split()[0])
    acknowledged = int(summary.split("acknowledged=")[1].split()[0])
    assert published == acknowledged > 0


def test_producer_processes_yield_the_same_schedule_as_in_process() -> None:
    stations = [
        Station("weather-station-01", AUSTIN),
        Station("weather-station-02", LA_CROSSE),
        Station("weather-station-03", SVALBARD),
    ]
    options = ReplayOptions(speed=None, hours=30)

    def run(**kwargs: object) -> tuple[list[tuple[float, int, bytes]], dict[str, int]]:
        stats = {s.thing: ParseStats() for s in stations}
        schedule = Schedule(stations, options, stats, **kwargs)  # type: ignore[arg-type]
        try:
            items = list(schedule)
        finally:
            schedule.close()
        return items, {name: st.observations for name, st in stats.items()}

    in_process, in_process_counts = run(in_process=True)
    two_producers, producer_counts = run(in_process=False, producers=2)
    one_producer, _ = run(in_process=False, producers=1)

    assert two_producers == in_process
    assert one_producer == in_process
    assert [offset for offset, _, _ in in_process] == sorted(o for o, _, _ in in_process)
    assert producer_counts == in_process_counts  # parse stats come back from the children
    assert {i for _, i, _ in in_process} == {0, 1, 2}


def test_the_public_awscrt_publish_api_is_a_working_fallback(
    mqtt_broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fleet_module, "_raw_publish", lambda *args: None)
    station = Station("weather-station-02", LA_CROSSE)

    summary = run_fleet([station], ReplayOptions(speed=None, hours=12), _target(mqtt_broker))

    assert summary.ok and summary.published == len(list(messages_from_file(LA_CROSSE, hours=12)))


def test_the_pinned_awscrt_takes_the_direct_publish_path(mqtt_broker: Broker) -> None:
    station = Station("weather-station-01", AUSTIN)
    client = fleet_module._StationClient(station, _target(mqtt_broker), StationCounters())

    assert client._send != client._send_with_future  # else the ~1.7x faster path is lost


def test_a_full_window_waits_for_acknowledgements(mqtt_broker: Broker) -> None:
    stations = [Station("weather-station-03", AUSTIN), Station("weather-station-04", SVALBARD)]

    summary = run_fleet(
        stations, ReplayOptions(speed=None, hours=72), _target(mqtt_broker, max_in_flight=2)
    )

    assert summary.ok and summary.failed == 0
    assert summary.published == sum(
        len(list(messages_from_file(s.file, hours=72))) for s in stations
    )


def test_max_speed_is_paced_per_station_and_every_message_acknowledged(
    mqtt_broker: Broker, engine_reader: queue.Queue[paho.MQTTMessage]
) -> None:
    """--speed max against a per-connection publish limit (AWS IoT Core: ~100/s): each
    station stays under the rate instead of being throttled, and nothing fails."""
    stations = [Station("weather-station-01", AUSTIN), Station("weather-station-02", SVALBARD)]
    hours = 480
    per_station = {s.thing: len(list(messages_from_file(s.file, hours=hours))) for s in stations}
    assert min(per_station.values()) > 150  # enough for a 1 s window to mean something
    target = _target(mqtt_broker, max_publish_rate=100.0)
    assert target.pacing == "pacing: at most 100 publishes/s per station (connection)"

    started = time.monotonic()
    summary = run_fleet(stations, ReplayOptions(speed=None, hours=hours), target)
    elapsed = time.monotonic() - started

    assert summary.ok and summary.acknowledged == sum(per_station.values())
    slowest = max(per_station.values())
    assert elapsed >= (slowest - 1) / 100.0  # no station went faster than 100/s
    received = _drain(engine_reader, summary.acknowledged)
    arrivals: dict[str, list[float]] = defaultdict(list)
    for message in received:
        station = json.loads(message.payload)["weather_station"]
        arrivals[station].append(message.timestamp)
    for times in arrivals.values():  # any 1 s window holds at most ~100 of a station's
        window = [t for t in times if times[0] <= t < times[0] + 1.0]
        assert len(window) <= 102, len(window)


def test_aws_iot_endpoints_get_the_per_connection_limit_and_say_so() -> None:
    endpoint = "a1b2c3-ats.iot.eu-west-1.amazonaws.com"
    assert fleet_module.aws_iot_rate_limit(endpoint, None) == 100.0
    assert fleet_module.aws_iot_rate_limit(endpoint, 50.0) == 50.0
    assert fleet_module.aws_iot_rate_limit(endpoint, 0.0) is None  # explicitly unlimited
    assert fleet_module.aws_iot_rate_limit("127.0.0.1", None) is None
    target = BrokerTarget(endpoint, 8883, Path("certs"), None, max_publish_rate=100.0)
    assert target.pacing is not None and "AWS IoT Core throttles about 100/s" in target.pacing
