"""Benchmark: weather-station messages/s published to a local Mosquitto, QoS 1, acknowledged.

Starts its own Mosquitto (mutual TLS, generated certificates) on a free loopback port and
measures, for 5 stations replaying the bundled NOAA ISD files at ``--speed max``:

- ``produce``: ISD parsing + JSON encoding alone (no MQTT), the work before a publish;
- ``publish``: the fleet's 5 station clients publishing pre-encoded payloads from one
  thread (the publisher's ceiling, the baseline of this run);
- ``awscrt API``: the same through awscrt's public ``Connection.publish`` (one
  ``concurrent.futures.Future`` per message), which the fleet bypasses;
- ``fleet``: the real fleet runner end to end (parse, encode, publish, every PUBACK back).

The summary figure is the fleet's rate; it is printed against the publish-only baseline
and against the 20,000 msg/s end-to-end ingest target of the project (2 cores).

    uv run --frozen python bench/publish.py [--rounds 3] [--hours H]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulators.things.broker import Broker, start_broker  # noqa: E402
from simulators.things.local import WEATHER_TOPIC, thing_names  # noqa: E402
from simulators.weather_station.fleet import (  # noqa: E402
    BrokerTarget,
    ReplayOptions,
    Station,
    StationCounters,
    _StationClient,
    run_fleet,
)
from simulators.weather_station.isd import ParseStats  # noqa: E402
from simulators.weather_station.message import (  # noqa: E402
    default_files,
    encode,
    messages_from_file,
)
from simulators.weather_station.replay import merged_payloads  # noqa: E402

TARGET_MSGS_PER_S = 20_000
STATIONS = 5


def produce(stations: list[Station], hours: float | None) -> tuple[int, float]:
    started = time.perf_counter()
    count = sum(
        len(encode(m)) > 0 for s in stations for m in messages_from_file(s.file, hours=hours)
    )
    return count, time.perf_counter() - started


def publish_only(broker: Broker, stations: list[Station], hours: float | None) -> tuple[int, float]:
    """Pre-encoded payloads through the fleet's own station clients, one thread."""
    stats = {s.thing: ParseStats() for s in stations}
    schedule = list(merged_payloads(stations, ReplayOptions(speed=None, hours=hours), stats))
    target = BrokerTarget(broker.host, broker.port, broker.certs_dir, broker.ca_file)
    clients = [_StationClient(s, target, StationCounters()) for s in stations]
    stop = threading.Event()
    for client in clients:
        client.connect(stop)
    started = time.perf_counter()
    for _, index, payload in schedule:
        clients[index].publish(payload, stop)
    missing = sum(client.drain(30.0) for client in clients)
    elapsed = time.perf_counter() - started
    for client in clients:
        client.disconnect()
    failed = sum(client.counters.failed for client in clients)
    if missing or failed:
        raise RuntimeError(f"{failed} publishes failed, {missing} unacknowledged")
    return len(schedule), elapsed


def awscrt_api(broker: Broker, stations: list[Station], hours: float | None) -> tuple[int, float]:
    """Pre-encoded payloads, the same awscrt client set-up, the public publish API."""
    from awscrt import mqtt
    from awsiot import mqtt_connection_builder

    payloads = [[encode(m) for m in messages_from_file(s.file, hours=hours)] for s in stations]
    connections = []
    for station in stations:
        cert, key = broker.credentials(station.thing)
        connection = mqtt_connection_builder.mtls_from_path(
            cert_filepath=str(cert),
            pri_key_filepath=str(key),
            ca_filepath=str(broker.ca_file),
            endpoint=broker.host,
            port=broker.port,
            client_id=station.thing,
            clean_session=False,
            enable_metrics_collection=False,
        )
        connection.connect().result(10)
        connections.append(connection)
    total = sum(len(p) for p in payloads)
    done = threading.Semaphore(0)
    window = [threading.BoundedSemaphore(1000) for _ in stations]
    failures = []

    def on_ack(index: int):  # type: ignore[no-untyped-def]
        def callback(future):  # type: ignore[no-untyped-def]
            if future.exception() is not None:
                failures.append(future.exception())
            window[index].release()
            done.release()

        return callback

    started = time.perf_counter()
    cursors = [0] * len(stations)
    remaining = total
    while remaining:  # round-robin like the fleet's merged schedule
        for index, connection in enumerate(connections):
            if cursors[index] < len(payloads[index]):
                window[index].acquire()
                future, _ = connection.publish(
                    WEATHER_TOPIC, payloads[index][cursors[index]], mqtt.QoS.AT_LEAST_ONCE
                )
                future.add_done_callback(on_ack(index))
                cursors[index] += 1
                remaining -= 1
    for _ in range(total):
        done.acquire()
    elapsed = time.perf_counter() - started
    for connection in connections:
        connection.disconnect().result(10)
    if failures:
        raise RuntimeError(f"{len(failures)} publishes failed: {failures[0]}")
    return total, elapsed


def fleet(broker: Broker, stations: list[Station], hours: float | None) -> tuple[int, float]:
    target = BrokerTarget(broker.host, broker.port, broker.certs_dir, broker.ca_file)
    summary = run_fleet(stations, ReplayOptions(speed=None, hours=hours), target)
    if not summary.ok:
        raise RuntimeError(f"fleet run lost messages: {summary.line()}")
    return summary.acknowledged, summary.elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="runs per row (median kept)")
    parser.add_argument("--hours", type=float, default=None, help="replay only N hours")
    args = parser.parse_args()
    stations = [
        Station(thing, path)
        for thing, path in zip(thing_names(STATIONS), default_files(STATIONS), strict=True)
    ]
    rows: dict[str, tuple[int, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-publish-") as tmp:
        broker = start_broker(Path(tmp), [s.thing for s in stations])
        try:
            for name, run in (
                ("produce (parse+encode, no MQTT)", lambda: produce(stations, args.hours)),
                (
                    "publish (fleet clients, encoded)",
                    lambda: publish_only(broker, stations, args.hours),
                ),
                (
                    "awscrt API (Future per publish)",
                    lambda: awscrt_api(broker, stations, args.hours),
                ),
                ("fleet (end to end, acked)", lambda: fleet(broker, stations, args.hours)),
            ):
                results = [run() for _ in range(args.rounds)]
                count = results[0][0]
                rows[name] = (count, statistics.median(r[1] for r in results))
        finally:
            broker.stop()

    print(f"{'row':<34}{'messages':>10}{'seconds':>10}{'msgs/s':>10}")
    for name, (count, seconds) in rows.items():
        print(f"{name:<34}{count:>10}{seconds:>10.2f}{count / seconds:>10.0f}")
    fleet_rate = rows["fleet (end to end, acked)"][0] / rows["fleet (end to end, acked)"][1]
    publish_rate = (
        rows["publish (fleet clients, encoded)"][0] / rows["publish (fleet clients, encoded)"][1]
    )
    api_rate = (
        rows["awscrt API (Future per publish)"][0] / rows["awscrt API (Future per publish)"][1]
    )
    print(f"fleet vs publish-only baseline: {fleet_rate / publish_rate:.2f}x")
    print(f"fleet vs {TARGET_MSGS_PER_S} msg/s target:     {fleet_rate / TARGET_MSGS_PER_S:.2f}x")
    load = os.getloadavg()[0]
    print(f"cpus={os.cpu_count()} load_average_1m={load:.2f} (other load slows every row)")
    print(
        f"bench publish: msgs_per_s={fleet_rate:.0f} publish_only_msgs_per_s={publish_rate:.0f} "
        f"vs_baseline={fleet_rate / publish_rate:.2f} "
        f"vs_target={fleet_rate / TARGET_MSGS_PER_S:.2f} stations={STATIONS} qos=1 "
        f"awscrt_api_msgs_per_s={api_rate:.0f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
