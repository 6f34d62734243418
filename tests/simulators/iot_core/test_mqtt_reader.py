"""The bulk MQTT read path splits packets like paho and hands QoS 1 PUBLISHes over in order."""

from __future__ import annotations

import struct

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from simulators.iot_core.mqtt_reader import BulkReadClient, bulk_read_supported
from simulators.iot_core.wal import WriteAheadLog, encode, read_segment


def _remaining(length: int) -> bytes:
    out = bytearray()
    while True:
        byte, length = length % 128, length // 128
        out.append(byte | (0x80 if length else 0))
        if not length:
            return bytes(out)


def publish(topic: str, payload: bytes, mid: int = 0, qos: int = 1, dup: bool = False) -> bytes:
    body = struct.pack("!H", len(topic.encode())) + topic.encode()
    if qos:
        body += struct.pack("!H", mid)
    body += payload
    header = 0x30 | (qos << 1) | (0x08 if dup else 0)
    return bytes([header]) + _remaining(len(body)) + body


class FakeSocket:
    """Returns the given chunks from recv, then would block."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = list(chunks)

    def recv(self, size: int) -> bytes:
        if not self.chunks:
            raise BlockingIOError
        return self.chunks.pop(0)

    def close(self) -> None:
        pass


def make_client() -> tuple[BulkReadClient, list[tuple[int, str, bytes]], list[mqtt.MQTTMessage]]:
    client = BulkReadClient(
        CallbackAPIVersion.VERSION2, client_id="t", protocol=mqtt.MQTTv311, manual_ack=True
    )
    batches: list[tuple[int, str, bytes]] = []
    others: list[mqtt.MQTTMessage] = []
    client.on_publish_batch = batches.extend
    client.on_message = lambda c, u, m: others.append(m)
    return client, batches, others


def test_paho_has_what_the_bulk_reader_builds_on() -> None:
    assert bulk_read_supported()


def test_packets_split_across_reads_come_out_whole_and_in_order() -> None:
    client, batches, _ = make_client()
    payloads = [b'{"n":%d,"pad":"%s"}' % (i, b"x" * (i * 37)) for i in range(300)]
    stream = b"".join(publish("sensor/weather", p, mid=i + 1) for i, p in enumerate(payloads))
    # a long message too, whose remaining length takes 2 bytes, and a dup redelivery
    stream += publish("sensor/weather", b"y" * 20_000, mid=301)
    stream += publish("sensor/weather", b"{}", mid=302, dup=True)
    chunks = [stream[i : i + 997] for i in range(0, len(stream), 997)]  # cuts headers too
    client._sock = FakeSocket(chunks)  # type: ignore[assignment]

    calls = 0
    while client._packet_read() == MQTTErrorCode.MQTT_ERR_SUCCESS:  # at most 1 MiB a call
        calls += 1
    assert calls == 2  # then MQTT_ERR_AGAIN: nothing left to read

    assert [mid for mid, _, _ in batches] == list(range(1, 303))
    assert [p for _, _, p in batches] == [*payloads, b"y" * 20_000, b"{}"]
    assert {topic for _, topic, _ in batches} == {"sensor/weather"}
    assert not client._rbuf


def test_an_incomplete_packet_waits_for_the_rest() -> None:
    client, batches, _ = make_client()
    packet = publish("a/b", b"payload", mid=7)
    client._sock = FakeSocket([packet[:5]])  # type: ignore[assignment]
    client._packet_read()
    assert batches == [] and bytes(client._rbuf) == packet[:5]
    client._sock = FakeSocket([packet[5:]])  # type: ignore[assignment]
    client._packet_read()
    assert batches == [(7, "a/b", b"payload")]


def test_other_packets_go_to_paho_in_stream_order() -> None:
    client, _, _ = make_client()
    order: list[str] = []
    client.on_publish_batch = lambda batch: order.extend(f"q1:{mid}" for mid, _, _ in batch)
    client.on_message = lambda c, u, m: order.append(f"q0:{m.payload.decode()}")
    stream = (
        publish("t", b"1", mid=1)
        + publish("t", b"zero", qos=0)  # QoS 0: paho's own path, on_message
        + bytes([0xD0, 0x00])  # PINGRESP: paho clears its ping timer
        + publish("t", b"2", mid=2)
    )
    client._ping_t = 123.0
    client._sock = FakeSocket([stream])  # type: ignore[assignment]
    assert client._packet_read() == MQTTErrorCode.MQTT_ERR_SUCCESS
    assert order == ["q1:1", "q0:zero", "q1:2"]
    assert client._ping_t == 0


def test_a_closed_connection_is_reported_after_what_was_read() -> None:
    client, batches, _ = make_client()
    client._sock = FakeSocket([publish("t", b"last", mid=9), b""])  # type: ignore[assignment]
    assert client._packet_read() == MQTTErrorCode.MQTT_ERR_CONN_LOST
    assert batches == [(9, "t", b"last")]


def test_append_and_append_many_frame_records_like_encode(tmp_path) -> None:
    wal = WriteAheadLog(tmp_path)
    list(wal.recover())
    first = wal.append(1, "t/one", b"a")
    records = wal.append_many([(2, "t/two", b"bb"), (3, "t/one", b"")])
    wal.commit()
    wal.close()
    assert first == 0 and [r.seq for r in records] == [1, 2]
    (segment,) = tmp_path.glob("wal-*.log")
    # The inlined framing of the hot path is byte for byte the reference encode().
    assert segment.read_bytes() == (
        encode(1, "t/one", b"a") + encode(2, "t/two", b"bb") + encode(3, "t/one", b"")
    )
    recovered, clean = read_segment(segment, 0)
    assert clean
    assert [(r.seq, r.arrival_ms, r.topic, r.payload) for r in recovered] == [
        (0, 1, "t/one", b"a"),
        (1, 2, "t/two", b"bb"),
        (2, 3, "t/one", b""),
    ]
