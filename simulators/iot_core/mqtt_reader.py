"""A paho-mqtt client whose read path decodes many packets per socket read.

paho's ``_packet_read`` handles one packet per call and reads it in three or more
``recv`` calls on the TLS socket (command byte, each remaining-length byte, the body),
then builds an ``MQTTMessage`` and walks the topic-callback matcher: about half of the
engine's CPU per message went there. :class:`BulkReadClient` replaces that one method:

- it reads what the TLS socket has (up to ``READ_SIZE`` per ``recv``, until it would
  block) into a buffer and splits every complete packet out of it;
- a QoS 1 PUBLISH on an MQTT 3.1.1 session (what the rules engine subscribes to) goes
  straight to ``on_publish_batch(messages)`` as ``(mid, topic, payload)`` tuples, one call
  per read, with no ``MQTTMessage`` and no per-message callback;
- every other packet (CONNACK, SUBACK, PINGRESP, QoS 0/2 PUBLISH, ...) is handed to paho's
  own ``_packet_handle`` exactly as paho would have, so connection handling, keepalive and
  the callbacks the service uses are paho's.

Acknowledgement is unchanged: the caller sends PUBACKs itself after the WAL fsync
(``manual_ack``), so nothing is acknowledged earlier than before.

This relies on paho 2.x internals (``_in_packet``, ``_packet_handle``, ``_sock_recv``);
:func:`bulk_read_supported` checks them, and the service falls back to paho's own read
path (and ``on_message``) when they are missing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.exception import MalformedPacket

READ_SIZE = 256 * 1024
"""Most bytes asked of the socket per ``recv`` (a TLS socket returns one record, <= 16 KiB)."""
MAX_READ_BYTES = 1024 * 1024
"""Most bytes taken in one ``_packet_read`` call before returning to the loop."""

_now = getattr(mqtt, "time_func", time.monotonic)  # the clock paho's keepalive uses
_PUBLISH_QOS1 = 0x32  # PUBLISH, QoS 1, retain 0 (dup may be set)
_TOPIC_CACHE_LIMIT = 10_000

PublishBatch = list[tuple[int, str, bytes]]


def bulk_read_supported() -> bool:
    """Whether the installed paho has the internals :class:`BulkReadClient` builds on."""
    return all(
        hasattr(mqtt.Client, name)
        for name in ("_packet_read", "_packet_handle", "_sock_recv", "reconnect")
    )


def _fresh_in_packet() -> dict[str, Any]:
    return {
        "command": 0,
        "have_remaining": 0,
        "remaining_count": [],
        "remaining_mult": 1,
        "remaining_length": 0,
        "packet": bytearray(b""),
        "to_process": 0,
        "pos": 0,
    }


class BulkReadClient(mqtt.Client):
    """paho's client with a buffered, many-packets-per-read ``_packet_read``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._rbuf = bytearray()
        self._topics: dict[bytes, str] = {}
        self.on_publish_batch: Callable[[PublishBatch], None] | None = None

    def reconnect(self) -> MQTTErrorCode:
        self._rbuf = bytearray()  # bytes of a lost connection mean nothing on the next
        return super().reconnect()

    def _topic(self, raw: bytes) -> str:
        topic = self._topics.get(raw)
        if topic is None:
            topic = raw.decode("utf-8", errors="replace")  # the broker checked UTF-8
            if len(self._topics) < _TOPIC_CACHE_LIMIT:
                self._topics[raw] = topic
        return topic

    def _packet_read(self) -> MQTTErrorCode:
        buf = self._rbuf
        taken = 0
        closed = False
        while taken < MAX_READ_BYTES:
            try:
                data = self._sock_recv(READ_SIZE)
            except BlockingIOError:
                break
            except OSError as err:
                self._easy_log(mqtt.MQTT_LOG_ERR, "failed to receive on socket: %s", err)
                return MQTTErrorCode.MQTT_ERR_CONN_LOST
            if not data:
                closed = True
                break
            buf += data
            taken += len(data)
        if taken:
            with self._msgtime_mutex:
                self._last_bytes_received = _now()
        rc = self._handle_buffer()
        if closed and rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
            return MQTTErrorCode.MQTT_ERR_CONN_LOST
        if not taken and rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
            return MQTTErrorCode.MQTT_ERR_AGAIN
        return rc

    def _handle_buffer(self) -> MQTTErrorCode:
        """Handle every complete packet in the buffer; keep an incomplete tail."""
        buf = self._rbuf
        end_of_data = len(buf)
        fast = self.on_publish_batch is not None and self._protocol != MQTTProtocolVersion.MQTTv5
        batch: PublishBatch = []
        pos = 0
        rc = MQTTErrorCode.MQTT_ERR_SUCCESS
        try:
            while end_of_data - pos >= 2:
                command = buf[pos]
                # remaining length: 1-4 bytes, 7 bits each, least significant first
                length = 0
                shift = 0
                head = pos + 1
                while True:
                    if head >= end_of_data:
                        return rc
                    byte = buf[head]
                    head += 1
                    length |= (byte & 0x7F) << shift
                    if not byte & 0x80:
                        break
                    shift += 7
                    if shift > 21:
                        return MQTTErrorCode.MQTT_ERR_PROTOCOL
                end = head + length
                if end > end_of_data:
                    return rc
                if fast and command & 0xF7 == _PUBLISH_QOS1 and length >= 4:
                    topic_end = head + 2 + ((buf[head] << 8) | buf[head + 1])
                    if topic_end < head + 3 or topic_end + 2 > end:
                        return MQTTErrorCode.MQTT_ERR_PROTOCOL  # empty topic or no packet id
                    batch.append(
                        (
                            (buf[topic_end] << 8) | buf[topic_end + 1],
                            self._topic(bytes(buf[head + 2 : topic_end])),
                            bytes(buf[topic_end + 2 : end]),
                        )
                    )
                    pos = end
                    continue
                if batch:  # keep the order of what came before this packet
                    self.on_publish_batch(batch)  # type: ignore[misc]
                    batch = []
                rc = self._handle_one(command, buf[pos + 1 : head], bytes(buf[head:end]), length)
                pos = end
                if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    return rc
            return rc
        finally:
            if batch:
                self.on_publish_batch(batch)  # type: ignore[misc]
            del buf[:pos]

    def _handle_one(
        self, command: int, remaining: bytearray, body: bytes, length: int
    ) -> MQTTErrorCode:
        """Hand one packet to paho's own handler, set up as its ``_packet_read`` would."""
        self._in_packet = {
            "command": command,
            "have_remaining": 1,
            "remaining_count": list(remaining),
            "remaining_mult": 1,
            "remaining_length": length,
            "packet": bytearray(body),
            "to_process": 0,
            "pos": 0,
        }
        try:
            rc = self._packet_handle()
        except MalformedPacket as exc:
            self._easy_log(mqtt.MQTT_LOG_DEBUG, "Received malformed packet: %s", exc)
            rc = MQTTErrorCode.MQTT_ERR_PROTOCOL
        self._in_packet = _fresh_in_packet()
        return rc
