"""The local IoT Core rules service: Mosquitto (mTLS) -> WAL -> rules -> delivery.

One process runs one MQTT session (``iot-rules-engine-<n>``, QoS 1, persistent session,
manual acknowledgement) in a single-threaded receive loop:

1. received messages are appended to the write-ahead log;
2. every few milliseconds (or every ``commit_batch`` messages) the log is fsynced once
   and only then are the whole group's PUBACKs sent (group commit);
3. the group goes through the rules engine into the delivery buffers; a background
   thread writes full or due buffers as GZIP objects;
4. log segments whose records are all in written objects (or DynamoDB) are deleted.

A crash at any point loses nothing: what was acknowledged is in the log and replayed at
start; what was not is redelivered by the broker (so duplicates are possible and removed
downstream by ``(weather_station, time)``). SIGTERM/SIGINT flush every buffer and exit.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import struct
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from iot_lake.config import LakeSettings, settings
from simulators.iot_core.delivery import BufferingHints, FirehoseStream, Flushed, StreamConfig
from simulators.iot_core.dynamodb import DynamoDBTableWriter, dynamodb_resource
from simulators.iot_core.engine import RulesEngine, Sinks
from simulators.iot_core.metrics import Metrics
from simulators.iot_core.mqtt_reader import BulkReadClient, PublishBatch, bulk_read_supported
from simulators.iot_core.rules import RULES_DIR, Rule, load_rules, raw_location
from simulators.iot_core.wal import WalRecord, WriteAheadLog

log = logging.getLogger(__name__)

_PUBACK = struct.Struct("!BBH")  # MQTT PUBACK: type 4, remaining length 2, packet id
CLIENT_ID_PREFIX = "iot-rules-engine"
SHARE_GROUP = "iot-rules-engine"


@dataclass
class ServiceOptions:
    """Everything the service needs; :meth:`from_settings` fills in the defaults."""

    host: str
    port: int
    ca_file: Path
    cert_file: Path
    key_file: Path
    wal_dir: Path
    raw_uri: str
    rules_dir: Path = RULES_DIR
    worker: int = 0
    workers: int = 1
    hints: BufferingHints = field(default_factory=BufferingHints)
    gzip_level: int = 6
    commit_batch: int = 500
    commit_interval_s: float = 0.01
    metrics_interval_s: float = 60.0
    dynamodb_endpoint: str | None = None
    wal_segment_bytes: int = 16 * 1024 * 1024
    parent_pid: int | None = None  # a worker stops (flushing) when its parent is gone

    @classmethod
    def from_settings(cls, lake: LakeSettings | None = None, **overrides: Any) -> ServiceOptions:
        from simulators.things.local import RULES_ENGINE, LocalPki

        lake = lake or settings()
        given = {k: v for k, v in overrides.items() if v is not None}
        pki = LocalPki(Path(lake.certs_dir))
        if "cert_file" not in given or "key_file" not in given:
            given.setdefault("cert_file", pki.credentials(RULES_ENGINE)[0])
            given.setdefault("key_file", pki.credentials(RULES_ENGINE)[1])
        values: dict[str, Any] = {
            "host": lake.mqtt_host,
            "port": lake.mqtt_port,
            "ca_file": pki.ca_file,
            "wal_dir": Path(lake.home) / "iot_core" / "wal",
            "raw_uri": lake.uri("raw"),
            "dynamodb_endpoint": lake.dynamodb_endpoint if lake.is_local else None,
        }
        values.update(given)
        return cls(**values)

    @property
    def client_id(self) -> str:
        return f"{CLIENT_ID_PREFIX}-{self.worker}"


class RulesService:
    """One worker: an MQTT session, its WAL, the rules engine and its delivery streams."""

    def __init__(self, options: ServiceOptions, lake: LakeSettings | None = None) -> None:
        self.options = options
        # --raw-uri wins over the settings everywhere (rule placeholders, error objects).
        self.lake = dataclasses.replace(lake or settings(), raw_uri=options.raw_uri)
        self.rules: list[Rule] = load_rules(options.rules_dir, self.lake)
        self.metrics = Metrics(rule.name for rule in self.rules)
        bucket, _, root = raw_location(self.lake)
        self.streams = {
            self.lake.firehose_stream: FirehoseStream(
                StreamConfig(
                    name=self.lake.firehose_stream,
                    destination_uri=options.raw_uri,
                    hints=options.hints,
                    gzip_level=options.gzip_level,
                ),
                on_flush=self._flushed,
            )
        }
        self._writers: dict[str, DynamoDBTableWriter] = {}
        self.engine = RulesEngine(
            self.rules,
            Sinks(
                streams=self.streams,
                table_writer=self._table_writer,
                bucket_roots={bucket: root},
                on_stream_full=self._schedule_flush,
            ),
            self.metrics,
        )
        self._prepare_tables()
        worker_dir = options.wal_dir / f"worker-{options.worker}"
        self.wal = WriteAheadLog(worker_dir, segment_bytes=options.wal_segment_bytes)
        self._flusher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="flush")
        self._flushing: dict[str, Future[Any]] = {}
        self._pending: list[tuple[int, str, bytes]] = []  # (arrival ms, topic, payload)
        self._pending_mids: list[int] = []
        self._first_pending = 0.0
        self._stop = threading.Event()
        self._connected = False
        self.client = self._make_client()

    # --- wiring ------------------------------------------------------------------------

    def _table_writer(self, table: str) -> DynamoDBTableWriter:
        writer = self._writers.get(table)
        if writer is None:
            resource = dynamodb_resource(self.lake, self.options.dynamodb_endpoint)
            writer = self._writers[table] = DynamoDBTableWriter(resource, table)
        return writer

    def _prepare_tables(self) -> None:
        """Open the rules' tables now: the first cold reading should not pay for boto3."""
        for rule in self.rules:
            for action in rule.actions:
                if "dynamoDBv2" in action:
                    table = action["dynamoDBv2"]["putItem"]["tableName"]
                    try:
                        self._table_writer(table)
                    except Exception as err:  # reported again per message, as errors
                        log.warning("DynamoDB table %s is not usable yet: %s", table, err)

    def _flushed(self, flushed: Flushed) -> None:
        for rule, count in flushed.by_rule.items():
            self.metrics.add(rule, "delivered", count)

    def _schedule_flush(self, stream: FirehoseStream) -> None:
        running = self._flushing.get(stream.config.name)
        if running is not None and not running.done():
            return
        self._flushing[stream.config.name] = self._flusher.submit(self._flush_quietly, stream)

    def _flush_quietly(self, stream: FirehoseStream) -> None:
        try:
            stream.flush()
        except Exception:  # the records stay buffered and logged; retried on the next tick
            log.exception("stream %s: writing an object failed; will retry", stream.config.name)
            time.sleep(1.0)

    def _topic_filters(self) -> list[str]:
        filters = sorted({rule.query.topic_filter for rule in self.rules})
        if self.options.workers > 1:
            return [f"$share/{SHARE_GROUP}/{f}" for f in filters]
        return filters

    def _make_client(self) -> mqtt.Client:
        # MQTT 3.1.1: persistent session via clean_session=False; Mosquitto also serves
        # $share/ subscriptions to 3.1.1 clients, and paho parses no v5 properties per message.
        # BulkReadClient: paho with a read path that decodes every packet of a socket read
        # and hands QoS 1 PUBLISHes over as one batch (see mqtt_reader).
        client_class = BulkReadClient if bulk_read_supported() else mqtt.Client
        client = client_class(
            CallbackAPIVersion.VERSION2,
            client_id=self.options.client_id,
            protocol=mqtt.MQTTv311,
            clean_session=False,
            manual_ack=True,
        )
        client.tls_set(
            ca_certs=str(self.options.ca_file),
            certfile=str(self.options.cert_file),
            keyfile=str(self.options.key_file),
        )
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message  # what the bulk reader does not take
        if isinstance(client, BulkReadClient):
            client.on_publish_batch = self._on_publish_batch
        client.on_subscribe = self._on_subscribe
        return client

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        if reason.is_failure:
            log.error("MQTT connect refused: %s", reason)
            return
        self._connected = True
        log.info(
            "connected to %s:%d as %s (session present: %s)",
            self.options.host,
            self.options.port,
            self.options.client_id,
            flags.session_present,
        )
        client.subscribe([(topic, 1) for topic in self._topic_filters()])

    def _on_subscribe(
        self, client: mqtt.Client, userdata: Any, mid: int, reasons: Any, properties: Any
    ) -> None:
        refused = [str(r) for r in reasons if r.is_failure]  # 0x80: the ACL said no
        if refused:
            log.error("subscription refused by the broker: %s", ", ".join(refused))
            self.stop()
            return
        log.info("subscribed to %s", ", ".join(self._topic_filters()))

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        self._connected = False
        if not self._stop.is_set():
            log.warning("disconnected from the broker: %s", reason)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if not self._pending:
            self._first_pending = time.monotonic()
        self._pending.append((time.time_ns() // 1_000_000, message.topic, message.payload))
        self._pending_mids.append(message.mid)

    def _on_publish_batch(self, batch: PublishBatch) -> None:
        """QoS 1 messages of one socket read: ``(mid, topic, payload)``, one arrival time."""
        if not self._pending:
            self._first_pending = time.monotonic()
        arrival = time.time_ns() // 1_000_000
        self._pending.extend([(arrival, topic, payload) for _, topic, payload in batch])
        self._pending_mids.extend([mid for mid, _, _ in batch])

    # --- the loop ----------------------------------------------------------------------

    def recover(self) -> int:
        """Replay the WAL left by a previous run into delivery, flush, and drop it."""
        batch: list[WalRecord] = []
        count = 0
        for record in self.wal.recover():
            batch.append(record)
            if len(batch) >= 5000:
                self.engine.process(batch)
                count += len(batch)
                batch = []
        if batch:
            self.engine.process(batch)
            count += len(batch)
        if count:
            self.flush_all()
            log.info("recovered %d messages from the write-ahead log", count)
        self.wal.release(self.wal.next_seq)
        return count

    def connect(self) -> None:
        self.client.connect(self.options.host, self.options.port, keepalive=30)

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        """Recover, connect, then receive until :meth:`stop` (SIGTERM/SIGINT)."""
        self.recover()
        self._connect_with_backoff()
        next_tick = time.monotonic()
        next_metrics = time.monotonic() + self.options.metrics_interval_s
        try:
            while not self._stop.is_set():
                rc = self.client.loop(timeout=0.001 if self._pending else 0.05)
                rc = self._drain(rc)
                if self._pending and (
                    len(self._pending) >= self.options.commit_batch
                    or time.monotonic() - self._first_pending >= self.options.commit_interval_s
                ):
                    self._commit(ack=True)
                if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    self._commit(ack=False)  # mids of a lost connection mean nothing now
                    self._connect_with_backoff()
                now = time.monotonic()
                if now >= next_tick:
                    next_tick = now + 0.1
                    self._tick()
                if now >= next_metrics:
                    next_metrics = now + self.options.metrics_interval_s
                    self.metrics.log()
        finally:
            self.shutdown()

    def _drain(self, rc: MQTTErrorCode) -> MQTTErrorCode:
        """Read on while messages keep coming, without a select() and timers per read.

        The socket is non-blocking, so ``loop_read()`` returns at once when nothing is
        left and the drain stops; it also stops once a commit group is full.
        """
        batch = self.options.commit_batch
        while rc == MQTTErrorCode.MQTT_ERR_SUCCESS and len(self._pending) < batch:
            before = len(self._pending)
            rc = self.client.loop_read()
            if len(self._pending) == before:
                break
        return rc

    def _connect_with_backoff(self) -> None:
        delay = 0.2
        while not self._stop.is_set():
            try:
                self.connect()
                return
            except OSError as err:
                log.warning(
                    "cannot reach the broker at %s:%d (%s); retrying in %.1fs",
                    self.options.host,
                    self.options.port,
                    err,
                    delay,
                )
                self._stop.wait(delay)
                delay = min(delay * 2, 10.0)

    def _commit(self, ack: bool) -> None:
        """Group commit: log + fsync the pending messages, then ack them, then route them."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        mids, self._pending_mids = self._pending_mids, []
        records = self.wal.append_many(pending)
        self.wal.commit()
        if ack:
            self._ack(mids)
        self.engine.process(records)

    def _ack(self, mids: list[int]) -> None:
        """Send the PUBACKs of a committed group in one TLS write.

        paho's ``ack()`` writes one packet per call (a TLS record and a syscall each);
        a PUBACK is four fixed bytes, so the group goes out as one buffer when paho has
        nothing of its own half-written (otherwise paho sends them one by one).
        """
        sock = self.client.socket()
        if sock is None or self.client.want_write():
            for mid in mids:
                self.client.ack(mid, 1)
            return
        data = b"".join([_PUBACK.pack(0x40, 2, mid) for mid in mids])
        sock.setblocking(True)
        try:
            sock.sendall(data)
        finally:
            sock.setblocking(False)

    def _tick(self) -> None:
        if self.options.parent_pid is not None and os.getppid() != self.options.parent_pid:
            log.warning("parent process %d is gone: flushing and stopping", self.options.parent_pid)
            self.stop()
        for stream in self.streams.values():
            if stream.due() or stream.full:
                self._schedule_flush(stream)
        self._release_wal()

    def _release_wal(self) -> None:
        pending = [s.oldest_pending_seq for s in self.streams.values()]
        pending = [seq for seq in pending if seq is not None]
        watermark = min(pending) if pending else self.wal.next_seq
        if not pending:
            self.wal.rotate()  # everything is delivered: let the segment go
        self.wal.release(watermark)

    def flush_all(self) -> list[Flushed]:
        """Write every buffer now (waits for a flush already running)."""
        for future in list(self._flushing.values()):
            future.result()
        flushed = [f for f in (s.flush() for s in self.streams.values()) if f is not None]
        return flushed

    def shutdown(self) -> None:
        """Log and ack what is pending, write every buffer, drop the delivered WAL."""
        try:
            self._commit(ack=self._connected)
            self.client.loop_write()
            self.flush_all()
            self._release_wal()
        finally:
            self.wal.close()
            self._flusher.shutdown(wait=True)
            if self._connected:
                self.client.disconnect()
            self.metrics.log("final metrics")


def install_signal_handlers(services: Sequence[RulesService]) -> None:
    def handle(signum: int, frame: Any) -> None:
        log.info("signal %s: flushing and stopping", signal.Signals(signum).name)
        for service in services:
            service.stop()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
