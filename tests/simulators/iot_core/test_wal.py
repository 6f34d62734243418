"""The broker's write-ahead log: the C plugin's framing, and the engine's reader of it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from simulators.iot_core.wal import (
    WalTail,
    encode,
    end_seq,
    read_segment,
    segment_name,
    segments,
)
from simulators.things.broker import start_broker


def _segment(directory: Path, first: int, records: list[bytes], torn: bytes = b"") -> Path:
    path = directory / segment_name(first)
    path.write_bytes(b"".join(encode(1000 + i, "sensor/weather", r) for i, r in enumerate(records))
                     + torn)  # fmt: skip
    return path


@pytest.mark.services  # Mosquitto loads the WAL plugin; mosquitto_pub publishes to it
def test_the_plugin_writes_what_the_reader_reads_and_continues_after_a_kill(tmp_path) -> None:
    broker = start_broker(tmp_path / "certs", ["weather-station-01"])
    try:
        cert, key = broker.credentials("weather-station-01")

        def pub(topic: str, message: str) -> None:
            subprocess.run(
                ["mosquitto_pub", "-h", broker.host, "-p", str(broker.port), "--cafile",
                 str(broker.ca_file), "--cert", str(cert), "--key", str(key), "-q", "1",
                 "-t", topic, "-m", message],
                check=True, timeout=10,
            )  # fmt: skip

        pub("sensor/weather", '{"n":1}')
        pub("sensor/other", '{"n":"denied by the ACL: never logged"}')
        pub("sensor/weather", "")
        broker.kill()
        broker.start()
        pub("sensor/weather", '{"n":3}')
        found = segments(broker.wal_dir)
        records = [r for first, path in found for r in read_segment(path, first)[0]]
        assert [(r.seq, r.topic, r.payload) for r in records] == [
            (0, "sensor/weather", b'{"n":1}'),
            (1, "sensor/weather", b""),
            (2, "sensor/weather", b'{"n":3}'),
        ]
        assert [first for first, _ in found] == [0, 2]  # a restart starts a new segment
    finally:
        broker.stop()


def test_the_tail_reads_in_order_and_releases_only_complete_delivered_segments(tmp_path) -> None:
    _segment(tmp_path, 0, [b"a", b"b"])
    tail = WalTail(tmp_path)
    assert [r.payload for r in tail.poll()] == [b"a", b"b"]
    assert tail.poll() == []
    # The newest segment may still grow: it is never released.
    assert tail.release(10**9) == 0
    with open(tmp_path / segment_name(0), "ab") as handle:
        handle.write(encode(5, "t", b"c"))
    assert [(r.seq, r.payload) for r in tail.poll()] == [(2, b"c")]
    _segment(tmp_path, 3, [b"d"])
    assert [(r.seq, r.payload) for r in tail.poll()] == [(3, b"d")]
    assert tail.release(2) == 0  # record 2 not delivered yet
    assert tail.release(3) == 1
    assert [first for first, _ in segments(tmp_path)] == [3]


def test_a_record_being_written_is_waited_for_and_a_torn_one_skipped(tmp_path) -> None:
    whole = encode(7, "t", b"late")
    _segment(tmp_path, 0, [b"a"], torn=whole[:5])
    tail = WalTail(tmp_path)
    assert [r.payload for r in tail.poll()] == [b"a"]
    with open(tmp_path / segment_name(0), "ab") as handle:
        handle.write(whole[5:])  # the writer finished it
    assert [r.payload for r in tail.poll()] == [b"late"]
    with open(tmp_path / segment_name(0), "ab") as handle:
        handle.write(whole[:9])  # then died in the middle of the next one
    _segment(tmp_path, 2, [b"after restart"])
    assert [r.payload for r in tail.poll()] == [b"after restart"]
    assert tail.torn == 1
    assert tail.release(3) == 1


def test_a_clean_stop_resumes_after_what_it_delivered_and_a_crash_replays(tmp_path) -> None:
    _segment(tmp_path, 0, [b"a", b"b"])
    first = WalTail(tmp_path)
    assert len(first.poll()) == 2
    first.save_checkpoint()
    first.close()
    with open(tmp_path / segment_name(0), "ab") as handle:
        handle.write(encode(5, "t", b"c"))
    second = WalTail(tmp_path)
    assert [r.payload for r in second.poll()] == [b"c"]  # a and b were delivered
    second.close()  # crash: no checkpoint saved
    third = WalTail(tmp_path)
    assert [r.payload for r in third.poll()] == [b"c"]


def test_workers_split_segments_between_them(tmp_path) -> None:
    for first in range(0, 40, 2):
        _segment(tmp_path, first, [b"x%d" % first, b"y%d" % first])
    tails = [WalTail(tmp_path, worker, 2) for worker in range(2)]
    seen = [[r.seq for r in tail.poll(10_000)] for tail in tails]
    assert all(seen)
    assert sorted(seen[0] + seen[1]) == list(range(40))


def test_poll_returns_at_most_the_batch_size_and_keeps_its_place(tmp_path) -> None:
    _segment(tmp_path, 0, [b"%d" % i for i in range(25)])
    _segment(tmp_path, 25, [b"last"])
    tail = WalTail(tmp_path)
    got = []
    while batch := tail.poll(10):
        assert len(batch) <= 10
        got += [r.seq for r in batch]
    assert got == list(range(26))


def test_a_clean_stop_in_the_middle_of_a_replay_leaves_the_unread_rest_for_the_restart(
    tmp_path,
) -> None:
    """A SIGTERM after one batch of a long replay (the service stops after the batch it
    read): its checkpoint covers only what was read, and the restart reads all the rest."""
    _segment(tmp_path, 0, [b"%d" % i for i in range(1500)])
    _segment(tmp_path, 1500, [b"%d" % i for i in range(1500, 3000)])
    _segment(tmp_path, 3000, [b"%d" % i for i in range(3000, 4000)])
    assert end_seq(tmp_path) == 4000
    first = WalTail(tmp_path)
    read = [r.seq for r in first.poll(2000)]
    assert read == list(range(2000)) and first.read_to == 2000
    first.release(2000)  # everything read is delivered: the first segment goes
    first.save_checkpoint()
    first.close()
    second = WalTail(tmp_path)
    rest = []
    while batch := second.poll(2000):
        rest += [r.seq for r in batch]
    assert rest == list(range(2000, 4000)) and second.read_to == end_seq(tmp_path)
