"""The write-ahead log: durable group commits, torn-tail recovery, release of segments."""

from __future__ import annotations

import pytest

from simulators.iot_core.wal import WriteAheadLog, encode


def _fill(wal: WriteAheadLog, count: int, start: int = 0) -> list[int]:
    seqs = [
        wal.append(1000 + i, "sensor/weather", f'{{"n":{i}}}'.encode())
        for i in range(start, start + count)
    ]
    wal.commit()
    return seqs


def test_committed_records_are_recovered_in_order_with_their_data(tmp_path) -> None:
    wal = WriteAheadLog(tmp_path)
    list(wal.recover())
    assert _fill(wal, 3) == [0, 1, 2]
    # The process dies here: no close(), no release().
    again = WriteAheadLog(tmp_path)
    records = list(again.recover())
    assert [(r.seq, r.arrival_ms, r.topic, r.payload) for r in records] == [
        (0, 1000, "sensor/weather", b'{"n":0}'),
        (1, 1001, "sensor/weather", b'{"n":1}'),
        (2, 1002, "sensor/weather", b'{"n":2}'),
    ]
    assert again.next_seq == 3


def test_uncommitted_appends_are_not_on_disk(tmp_path) -> None:
    wal = WriteAheadLog(tmp_path)
    list(wal.recover())
    _fill(wal, 1)
    wal.append(5, "t", b"not committed")
    assert len(list(WriteAheadLog(tmp_path).recover())) == 1


def test_a_torn_last_record_is_dropped_and_earlier_ones_kept(tmp_path) -> None:
    wal = WriteAheadLog(tmp_path)
    list(wal.recover())
    _fill(wal, 2)
    (segment,) = tmp_path.glob("wal-*.log")
    with open(segment, "ab") as handle:
        handle.write(encode(9, "sensor/weather", b'{"half":"written"}')[:-5])
    records = list(WriteAheadLog(tmp_path).recover())
    assert [r.payload for r in records] == [b'{"n":0}', b'{"n":1}']


def test_a_corrupted_record_stops_the_segment_at_the_last_good_one(tmp_path) -> None:
    wal = WriteAheadLog(tmp_path)
    list(wal.recover())
    _fill(wal, 3)
    (segment,) = tmp_path.glob("wal-*.log")
    data = bytearray(segment.read_bytes())
    data[-2] ^= 0xFF  # flip a payload byte of the last record: CRC mismatch
    segment.write_bytes(bytes(data))
    assert len(list(WriteAheadLog(tmp_path).recover())) == 2


def test_sequence_numbers_continue_after_a_restart(tmp_path) -> None:
    wal = WriteAheadLog(tmp_path)
    list(wal.recover())
    _fill(wal, 2)
    again = WriteAheadLog(tmp_path)
    list(again.recover())
    assert _fill(again, 2) == [2, 3]
    assert [r.seq for r in WriteAheadLog(tmp_path).recover()] == [0, 1, 2, 3]


def test_release_deletes_only_segments_that_are_fully_delivered(tmp_path) -> None:
    wal = WriteAheadLog(tmp_path, segment_bytes=1)  # every commit opens a new segment
    list(wal.recover())
    _fill(wal, 2)  # seq 0-1, segment A
    _fill(wal, 2)  # seq 2-3, segment B (A is closed)
    _fill(wal, 2)  # seq 4-5, segment C (B is closed)
    assert len(list(tmp_path.glob("wal-*.log"))) == 3
    assert wal.release(3) == 1  # B still holds seq 3
    assert [r.seq for r in WriteAheadLog(tmp_path).recover()] == [2, 3, 4, 5]
    wal.rotate()
    assert wal.release(6) == 2
    assert not list(tmp_path.glob("wal-*.log"))


def test_recovered_segments_are_kept_until_released(tmp_path) -> None:
    wal = WriteAheadLog(tmp_path)
    list(wal.recover())
    _fill(wal, 2)
    again = WriteAheadLog(tmp_path)
    assert len(list(again.recover())) == 2
    # A second crash during replay still finds the records.
    assert len(list(WriteAheadLog(tmp_path).recover())) == 2
    again.release(again.next_seq)
    assert not list(WriteAheadLog(tmp_path).recover())


def test_appending_before_recovering_old_segments_is_refused(tmp_path) -> None:
    wal = WriteAheadLog(tmp_path)
    list(wal.recover())
    _fill(wal, 1)
    with pytest.raises(RuntimeError, match="recover"):
        WriteAheadLog(tmp_path).append(1, "t", b"x")
