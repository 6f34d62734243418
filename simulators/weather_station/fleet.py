"""The weather-station fleet: one MQTT client per station replaying ISD observations.

Each station is a real connected thing: client id = thing name, mutual TLS with that
thing's certificate, QoS 1 on ``sensor/weather``, persistent session (clean_session False)
and automatic reconnect with exponential backoff, through awsiotsdk/awscrt, the same code
for AWS IoT Core (ATS endpoint, Amazon root CA) and for the local Mosquitto (local CA).

One thread schedules every station: observations are merged in replay order and each is
published when its own time gap, divided by the speed factor, has elapsed (no pacing at
``speed=None``, i.e. ``--speed max``, where parsing moves to producer processes, see
:class:`Schedule`). A single publishing thread is deliberate: awscrt
does the network I/O on its native event loop, and several Python threads publishing at
once only fight over the GIL (measured: 2.5x slower at full speed).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import heapq
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from pathlib import Path

from simulators.weather_station.isd import ParseStats
from simulators.weather_station.message import WEATHER_TOPIC, encode
from simulators.weather_station.replay import (  # the pieces the producer shares
    BATCH,
    FleetError,
    ReplayOptions,
    Station,
    chunked,
    merged_payloads,
    merged_schedule,
)

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class BrokerTarget:
    """Where and how the stations connect."""

    endpoint: str
    port: int
    certs_dir: Path
    ca_file: Path | None  # None = the system trust store (holds Amazon Root CA 1)
    topic: str = WEATHER_TOPIC
    max_in_flight: int = 1000  # per station; bounds memory when the broker is slow
    connect_attempts: int = 8
    drain_timeout: float = 30.0
    # Publishes per second per station (connection); None = unlimited. AWS IoT Core
    # throttles ~100 publishes/s per connection: see aws_iot_rate_limit().
    max_publish_rate: float | None = None

    @property
    def pacing(self) -> str | None:
        """The line that says the fleet paces itself, or None when it does not."""
        if self.max_publish_rate is None:
            return None
        why = " (AWS IoT Core throttles about 100/s per connection)"
        return (
            f"pacing: at most {self.max_publish_rate:g} publishes/s per station (connection)"
            + (why if is_aws_iot(self.endpoint) else "")
        )


AWS_IOT_PUBLISH_RATE = 100.0
"""AWS IoT Core's per-connection limit on publishes per second (service quotas)."""


def is_aws_iot(endpoint: str) -> bool:
    """An AWS IoT Core data endpoint (``<id>-ats.iot.<region>.amazonaws.com[.cn]``)."""
    host = endpoint.lower().rstrip(".")
    return ".iot." in host and (
        host.endswith(".amazonaws.com") or host.endswith(".amazonaws.com.cn")
    )


def aws_iot_rate_limit(endpoint: str, requested: float | None) -> float | None:
    """The per-station publish rate to use: ``requested`` when given (0 = unlimited),
    else AWS IoT Core's limit for an AWS endpoint, else unlimited."""
    if requested is not None:
        return requested or None
    return AWS_IOT_PUBLISH_RATE if is_aws_iot(endpoint) else None


@dataclasses.dataclass
class StationCounters:
    published: int = 0
    acknowledged: int = 0
    failed: int = 0
    skipped_lines: int = 0


@dataclasses.dataclass
class FleetSummary:
    """What the run did; ``ok`` when every published message was acknowledged."""

    stations: dict[str, StationCounters]
    elapsed: float
    interrupted: bool = False
    errors: list[str] = dataclasses.field(default_factory=list)

    @property
    def published(self) -> int:
        return sum(c.published for c in self.stations.values())

    @property
    def acknowledged(self) -> int:
        return sum(c.acknowledged for c in self.stations.values())

    @property
    def failed(self) -> int:
        return sum(c.failed for c in self.stations.values())

    @property
    def rate(self) -> float:
        return self.acknowledged / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.acknowledged == self.published

    def table(self) -> str:
        rows = [
            f"{'station (thing)':<28}{'published':>11}{'acked':>11}{'failed':>8}{'bad lines':>11}"
        ]
        for name, c in self.stations.items():
            rows.append(
                f"{name:<28}{c.published:>11}{c.acknowledged:>11}{c.failed:>8}{c.skipped_lines:>11}"
            )
        rows.append(
            f"{'total':<28}{self.published:>11}{self.acknowledged:>11}{self.failed:>8}"
            f"{sum(c.skipped_lines for c in self.stations.values()):>11}"
        )
        return "\n".join(rows)

    def line(self) -> str:
        return (
            f"fleet: published={self.published} acknowledged={self.acknowledged} "
            f"failed={self.failed} elapsed_s={self.elapsed:.2f} rate_msgs_per_s={self.rate:.0f}"
            + (" interrupted=1" if self.interrupted else "")
        )


def producer_count(stations: int) -> int:
    """Producer processes for a full-speed replay: one per CPU but the publisher's, at most
    one per station (on 2 cores: 1 producer + the publisher)."""
    return max(1, min(stations, (os.cpu_count() or 2) - 1))


class Schedule:
    """(offset, station index, payload) in replay order; ``close()`` releases it early.

    With ``in_process=False`` parsing and encoding run in producer child processes
    (:mod:`.producer`; stations dealt round-robin over ``producer_count``) started at
    construction, so they warm up while the clients connect: at full speed producing a
    message costs more CPU than publishing it, so it must not share the publisher's core.
    """

    def __init__(
        self,
        stations: Sequence[Station],
        options: ReplayOptions,
        stats: dict[str, ParseStats],
        *,
        in_process: bool,
        producers: int | None = None,
    ) -> None:
        from simulators.weather_station.producer import ProducerProcess

        self._stations = list(stations)
        self._options = options
        self._stats = stats
        self._now = dt.datetime.now(dt.UTC)
        self._producers: list[tuple[list[int], ProducerProcess]] = []
        if not in_process:
            count = producers or producer_count(len(self._stations))
            for k in range(count):
                indices = list(range(k, len(self._stations), count))
                group = [self._stations[i] for i in indices]
                self._producers.append((indices, ProducerProcess(group, options, self._now)))

    def __iter__(self) -> Iterator[tuple[float, int, bytes]]:
        for batch in self.batches():
            yield from batch

    def batches(self) -> Iterator[list[tuple[float, int, bytes]]]:
        """The schedule in order, in lists: the publisher loops over plain lists instead of
        resuming a chain of generators for every message."""
        from simulators.weather_station.producer import ProducerError

        if not self._producers:
            merged = merged_payloads(self._stations, self._options, self._stats, self._now)
            yield from chunked(merged, BATCH)
            return
        try:
            if len(self._producers) == 1:  # one producer holds every station, in order
                yield from self._producers[0][1].batches(self._stats)
                return
            streams = [
                _relabel(indices, producer.items(self._stats))
                for indices, producer in self._producers
            ]
            yield from chunked(heapq.merge(*streams), BATCH)
        except ProducerError as exc:
            raise FleetError(str(exc)) from None

    def close(self) -> None:
        """Stop the producer processes, if any, and reap them (idempotent)."""
        for _, producer in self._producers:
            producer.close()
        self._producers = []


def _relabel(
    indices: list[int], items: Iterator[tuple[float, int, bytes]]
) -> Iterator[tuple[float, int, bytes]]:
    """A producer's items with its local station indices turned into the fleet's."""
    for offset, local, payload in items:
        yield offset, indices[local], payload


class _Pacer:
    """Sleeps until an offset (in observation seconds) is due at the given speed."""

    def __init__(self, speed: float | None, stop: threading.Event) -> None:
        self.speed = speed
        self.stop = stop
        self.start = time.monotonic()

    def wait(self, offset: float) -> bool:
        """False when asked to stop while waiting."""
        if self.speed is None:
            return not self.stop.is_set()
        due = self.start + offset / self.speed
        delay = due - time.monotonic()
        if delay > 0:
            return not self.stop.wait(delay)
        return not self.stop.is_set()


# --- dry run ------------------------------------------------------------------------------


def dry_run(
    stations: Sequence[Station],
    options: ReplayOptions,
    write: Callable[[bytes], object],
    stop: threading.Event | None = None,
) -> FleetSummary:
    """Write the messages the fleet would send as JSON lines (paced like the real run)."""
    stop = stop or threading.Event()
    stats = {s.thing: ParseStats() for s in stations}
    counters = {s.thing: StationCounters() for s in stations}
    pacer = _Pacer(options.speed, stop)
    started = time.monotonic()
    interrupted = False
    for offset, index, message in merged_schedule(stations, options, stats):
        if not pacer.wait(offset):
            interrupted = True
            break
        write(encode(message) + b"\n")
        c = counters[stations[index].thing]
        c.published += 1
        c.acknowledged += 1
    for s in stations:
        counters[s.thing].skipped_lines = stats[s.thing].skipped
    return FleetSummary(counters, time.monotonic() - started, interrupted)


# --- MQTT ---------------------------------------------------------------------------------


def _raw_publish(
    connection: object, qos: object, on_puback: Callable[[int, int], None]
) -> Callable[[str, bytes], None] | None:
    """A QoS 1 publish that calls ``on_puback(packet_id, error_code)``, or None.

    ``awscrt.mqtt.Connection.publish`` wraps every call in a ``concurrent.futures.Future``
    (a Condition and a lock per message, an import statement, callbacks run under the
    Future's lock) and the PUBACK path then needs the GIL for all of it: profiled, that is
    most of the publishing thread's and of the event loop's Python time, and publish-only
    went from ~20k to ~34k msg/s without it. So call the native binding
    ``Connection.publish`` itself calls (awscrt is pinned in uv.lock), with a plain
    callback; when this awscrt does not have it, the caller falls back on the public API.
    """
    try:
        import _awscrt

        native = _awscrt.mqtt_client_connection_publish
        binding = connection._binding  # type: ignore[attr-defined]
        value = qos.value  # type: ignore[attr-defined]
    except (ImportError, AttributeError):
        return None

    def send(topic: str, payload: bytes) -> None:
        native(binding, topic, payload, value, False, on_puback)

    return send


class _StationClient:
    """One station's awscrt MQTT 3.1.1 connection with bounded in-flight QoS 1 publishes."""

    def __init__(self, station: Station, target: BrokerTarget, counters: StationCounters):
        from awscrt import mqtt
        from awsiot import mqtt_connection_builder

        self.station = station
        self.target = target
        self.counters = counters
        self._qos = mqtt.QoS.AT_LEAST_ONCE
        self._lock = threading.Lock()
        self._max_in_flight = target.max_in_flight
        self._interval = 1.0 / target.max_publish_rate if target.max_publish_rate else 0.0
        self._next_slot = 0.0
        self._waiting = False  # the publisher sleeps on a full window
        # Acknowledged + failed. Only the publishing thread writes counters.published and
        # only _settle (under the lock) writes this, so in flight = published - settled.
        self._settled = 0
        self._abandoned = False  # set once the drain gave up: late callbacks are not counted
        self._idle = threading.Condition(self._lock)
        self.errors: list[str] = []
        cert = target.certs_dir / station.thing / "certificate.pem.crt"
        key = target.certs_dir / station.thing / "private.pem.key"
        if not (cert.is_file() and key.is_file()):
            raise FleetError(
                f"no certificate for thing {station.thing!r} under {target.certs_dir}: run "
                "`python -m simulators.things create --count N` first"
            )
        self.connection = mqtt_connection_builder.mtls_from_path(
            cert_filepath=str(cert),
            pri_key_filepath=str(key),
            ca_filepath=str(target.ca_file) if target.ca_file else None,
            endpoint=target.endpoint,
            port=target.port,
            client_id=station.thing,
            clean_session=False,
            keep_alive_secs=30,
            reconnect_min_timeout_secs=1,
            reconnect_max_timeout_secs=32,
            enable_metrics_collection=False,
            on_connection_interrupted=self._interrupted,
            on_connection_resumed=self._resumed,
        )
        self._topic = target.topic
        self._send = (
            _raw_publish(self.connection, self._qos, self._on_puback) or self._send_with_future
        )

    def _interrupted(self, connection: object, error: Exception, **_: object) -> None:
        log.warning("%s: connection interrupted (%s); reconnecting", self.station.thing, error)

    def _resumed(
        self, connection: object, return_code: object, session_present: bool, **_: object
    ) -> None:
        log.info(
            "%s: connection resumed (session present: %s)", self.station.thing, session_present
        )

    def connect(self, stop: threading.Event) -> None:
        """Connect, retrying with exponential backoff (1 s, 2 s, 4 s ... 30 s)."""
        delay = 1.0
        for attempt in range(1, self.target.connect_attempts + 1):
            try:
                result = self.connection.connect().result(timeout=15)
                log.info(
                    "%s connected (session present: %s)",
                    self.station.thing,
                    result.get("session_present"),
                )
                return
            except Exception as exc:
                if attempt == self.target.connect_attempts or stop.is_set():
                    raise FleetError(
                        f"{self.station.thing} could not connect to "
                        f"{self.target.endpoint}:{self.target.port} after {attempt} attempts: "
                        f"{exc}"
                    ) from exc
                log.warning(
                    "%s: connect attempt %d failed (%s); retrying in %.0f s",
                    self.station.thing,
                    attempt,
                    exc,
                    delay,
                )
                if stop.wait(delay):
                    raise FleetError(f"{self.station.thing}: stopped while connecting") from exc
                delay = min(delay * 2, 30.0)

    def publish(self, payload: bytes, stop: threading.Event) -> bool:
        """Queue one QoS 1 publish; blocks while the station's window is full.

        The hot path at full speed takes no lock: the window is read from two counters
        that each have a single writer.
        """
        if (
            self.counters.published - self._settled >= self._max_in_flight
            and not self._wait_for_room(stop)
        ):
            return False
        if self._interval:  # paced: the broker would throttle (and fail) a faster station
            now = time.monotonic()
            if self._next_slot > now and stop.wait(self._next_slot - now):
                return False
            self._next_slot = max(now, self._next_slot) + self._interval
        self.counters.published += 1
        try:
            self._send(self._topic, payload)
        except Exception as exc:
            self._settle(str(exc))
        return True

    def _wait_for_room(self, stop: threading.Event) -> bool:
        """Sleep until an acknowledgement frees the window; False when stopped first."""
        with self._lock:
            while self.counters.published - self._settled >= self._max_in_flight:
                if stop.is_set():
                    return False
                self._waiting = True  # under the lock: _settle cannot miss it
                self._idle.wait(0.5)
                self._waiting = False
        return True

    def _send_with_future(self, topic: str, payload: bytes) -> None:
        future, _ = self.connection.publish(topic, payload, self._qos)
        future.add_done_callback(self._on_future)

    def _on_future(self, future: Future[object]) -> None:
        error = future.exception()
        self._settle(None if error is None else str(error))

    def _on_puback(self, packet_id: int, error_code: int) -> None:
        if error_code:
            from awscrt.exceptions import from_code

            self._settle(str(from_code(error_code)))
        else:
            self._settle(None)

    def _settle(self, error: str | None) -> None:
        with self._lock:
            if self._abandoned:
                return
            self._settled += 1
            if error is None:
                self.counters.acknowledged += 1
            else:
                self.counters.failed += 1
                if len(self.errors) < 5:
                    self.errors.append(f"{self.station.thing}: publish failed: {error}")
            if self._waiting or self._settled == self.counters.published:
                self._idle.notify_all()

    def drain(self, timeout: float) -> int:
        """Wait for outstanding acknowledgements; return how many never came."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self.counters.published > self._settled:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._idle.wait(remaining)
            missing = self.counters.published - self._settled
            if missing:
                self._abandoned = True
                self.counters.failed += missing
        return missing

    def disconnect(self) -> None:
        try:
            self.connection.disconnect().result(timeout=10)
        except Exception as exc:
            log.warning("%s: disconnect failed: %s", self.station.thing, exc)


def _publish_schedule(
    schedule: Schedule, clients: list[_StationClient], pacer: _Pacer, stop: threading.Event
) -> bool:
    """Publish every scheduled payload, paced; False when stopped first."""
    publish = [client.publish for client in clients]
    for batch in schedule.batches():
        for offset, index, payload in batch:
            if not pacer.wait(offset) or not publish[index](payload, stop):
                return False
    return True


def run_fleet(
    stations: Sequence[Station],
    options: ReplayOptions,
    target: BrokerTarget,
    *,
    stop: threading.Event | None = None,
    progress: Callable[[FleetSummary], None] | None = None,
    progress_interval: float = 1.0,
) -> FleetSummary:
    """Replay every station over MQTT; return once all is acknowledged, failed or stopped.

    Setting ``stop`` (the CLI does on Ctrl-C) ends publishing; what is in flight is then
    given ``target.drain_timeout`` seconds to be acknowledged, and whatever is still
    unacknowledged is counted as failed and reported, never silently dropped.
    """
    if len({s.thing for s in stations}) != len(stations):
        raise FleetError("each station needs its own thing (client ids must be unique)")
    stop = stop or threading.Event()
    counters = {s.thing: StationCounters() for s in stations}
    stats = {s.thing: ParseStats() for s in stations}
    clients = [_StationClient(s, target, counters[s.thing]) for s in stations]
    schedule = Schedule(stations, options, stats, in_process=options.speed is not None)
    connected: list[_StationClient] = []
    summary = FleetSummary(counters, 0.0)
    started = time.monotonic()
    reporter_stop = threading.Event()

    def report() -> None:
        while not reporter_stop.wait(progress_interval):
            summary.elapsed = time.monotonic() - started
            if progress is not None:
                progress(summary)

    reporter = threading.Thread(target=report, name="fleet-progress", daemon=True)
    try:
        for client in clients:
            client.connect(stop)
            connected.append(client)
        started = time.monotonic()
        reporter.start()
        pacer = _Pacer(options.speed, stop)
        try:
            summary.interrupted = not _publish_schedule(schedule, clients, pacer, stop)
        except KeyboardInterrupt:
            summary.interrupted = True
        finally:
            schedule.close()  # stops the producer process early on interruption
        for client in connected:
            missing = client.drain(
                target.drain_timeout if not stop.is_set() else min(target.drain_timeout, 10.0)
            )
            if missing:
                client.errors.append(
                    f"{client.station.thing}: {missing} message(s) not acknowledged within "
                    f"{target.drain_timeout:.0f} s"
                )
    finally:
        schedule.close()
        reporter_stop.set()
        for client in connected:
            client.disconnect()
    summary.elapsed = time.monotonic() - started
    for s, client in zip(stations, clients, strict=True):
        counters[s.thing].skipped_lines = stats[s.thing].skipped
        summary.errors.extend(client.errors)
    summary.interrupted = summary.interrupted or stop.is_set()
    return summary
