"""Firehose-faithful delivery: buffering hints, key layout, GZIP, atomic objects."""

from __future__ import annotations

import datetime as dt
import gzip
import os
import re
from pathlib import Path

import boto3
import fsspec
import pytest
from botocore.validate import ParamValidator

from simulators.iot_core.delivery import (
    BufferingHints,
    DeliveryConfigError,
    FirehoseStream,
    StreamConfig,
    object_key,
    render_prefix,
)

KEY = re.compile(
    r"^weather/day=(\d{4}-\d{2}-\d{2}|undated)/arrived=\d{4}-\d{2}-\d{2}/iot-lake-raw-weather-1-"
    r"(\d{4})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-"
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.gz$"
)
ARRIVAL_MS = int(dt.datetime(2024, 1, 5, 23, 59, 58, tzinfo=dt.UTC).timestamp() * 1000)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _stream(root: str, clock: FakeClock | None = None, **hints: int) -> FirehoseStream:
    config = StreamConfig("iot-lake-raw-weather", root, hints=BufferingHints(**hints))
    return FirehoseStream(config, clock=clock or FakeClock())


def _objects(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_buffering_hints_have_firehose_defaults_and_ranges() -> None:
    assert BufferingHints() == BufferingHints(size_mib=5, interval_s=300)
    BufferingHints(1, 0)
    BufferingHints(128, 900)
    for size, interval in [(0, 300), (129, 300), (5, -1), (5, 901)]:
        with pytest.raises(DeliveryConfigError, match="outside Firehose's range"):
            BufferingHints(size, interval)


def test_records_are_concatenated_gzipped_and_named_by_first_arrival(tmp_path) -> None:
    stream = _stream(tmp_path.as_uri())
    records = [b'{"n":1}\n', b'{"n":2}\n', b'{"n":3}\n']
    for seq, record in enumerate(records):
        assert stream.put(record, ARRIVAL_MS + seq * 5000, seq, "rule_a", "2023-12-31") is False
    flushed = stream.flush()
    assert flushed is not None and flushed.records == 3 and flushed.by_rule == {"rule_a": 3}
    (obj,) = _objects(tmp_path)
    key = obj.relative_to(tmp_path).as_posix()
    match = KEY.match(key)
    assert match, key
    assert match.group(1) == "2023-12-31"  # the records' day, not the arrival's
    assert match.groups()[1:] == ("2024", "01", "05", "23", "59", "58")
    assert gzip.decompress(obj.read_bytes()) == b"".join(records)
    assert stream.flush() is None  # nothing left: no empty object


def test_size_hint_triggers_a_flush_at_one_mebibyte(tmp_path) -> None:
    stream = _stream(tmp_path.as_uri(), size_mib=1)
    record = b"x" * 1023 + b"\n"
    for seq in range(1023):
        assert stream.put(record, ARRIVAL_MS, seq, "r") is False
    assert stream.put(record, ARRIVAL_MS, 1023, "r") is True  # 1024 KiB reached
    assert stream.full
    stream.flush()
    (obj,) = _objects(tmp_path)
    assert len(gzip.decompress(obj.read_bytes())) == 1024 * 1024


def test_interval_hint_counts_from_the_first_record_of_a_buffer(tmp_path) -> None:
    clock = FakeClock()
    stream = _stream(tmp_path.as_uri(), clock, interval_s=60)
    assert not stream.due()  # empty buffers are never due
    stream.put(b"a\n", ARRIVAL_MS, 0, "r")
    clock.now += 59
    stream.put(b"b\n", ARRIVAL_MS, 1, "r")
    assert not stream.due()
    clock.now += 1
    assert stream.due()
    stream.flush()
    assert not stream.due()


def test_zero_interval_delivers_every_buffer_at_once(tmp_path) -> None:
    stream = _stream(tmp_path.as_uri(), interval_s=0)
    stream.put(b"a\n", ARRIVAL_MS, 0, "r")
    assert stream.due()


def test_a_failed_write_keeps_every_record_and_leaves_no_partial_object(tmp_path) -> None:
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the destination directory should be")
    stream = _stream(blocked.as_uri())
    stream.put(b"1\n", ARRIVAL_MS, 7, "r")
    with pytest.raises(OSError):
        stream.flush()
    assert stream.oldest_pending_seq == 7
    stream.put(b"2\n", ARRIVAL_MS, 8, "r")
    blocked.unlink()
    flushed = stream.flush()
    assert flushed is not None and flushed.records == 2
    (obj,) = _objects(blocked)
    assert gzip.decompress(obj.read_bytes()) == b"1\n2\n"
    assert not [p for p in blocked.rglob(".*")]  # no temporary file left behind


def test_oldest_pending_sequence_tracks_undelivered_records(tmp_path) -> None:
    stream = _stream(tmp_path.as_uri())
    assert stream.oldest_pending_seq is None
    stream.put(b"a\n", ARRIVAL_MS, 41, "r")
    stream.put(b"b\n", ARRIVAL_MS, 42, "r")
    assert stream.oldest_pending_seq == 41
    stream.flush()
    assert stream.oldest_pending_seq is None


def test_put_many_buffers_like_put_in_order(tmp_path) -> None:
    stream = _stream(tmp_path.as_uri())
    stream.put(b"a\n", ARRIVAL_MS, 40, "r1")
    assert not stream.put_many(
        [(b"b\n", ARRIVAL_MS + 1, 41, "r1", "undated"), (b"c\n", ARRIVAL_MS, 42, "r2", "undated")]
    )
    assert stream.oldest_pending_seq == 40 and stream.buffered_bytes == 6
    flushed = stream.flush()
    assert flushed is not None and flushed.by_rule == {"r1": 2, "r2": 1}
    assert stream.put_many([]) is False and stream.oldest_pending_seq is None
    stream.put_many([(b"d\n", ARRIVAL_MS, 43, "r1", "undated")])
    assert stream.oldest_pending_seq == 43
    (path, *_) = sorted(tmp_path.rglob("*.gz"))
    assert gzip.decompress(path.read_bytes()) == b"a\nb\nc\n"


def test_writes_go_through_fsspec_to_non_directory_destinations() -> None:
    root = "memory://lake-test/raw"
    stream = _stream(root)
    stream.put(b'{"a":1}\n', ARRIVAL_MS, 0, "r")
    flushed = stream.flush()
    assert flushed is not None and flushed.uri.startswith(root + "/weather/day=undated/")
    fs = fsspec.filesystem("memory")
    with fs.open(flushed.uri.removeprefix("memory://"), "rb") as handle:
        assert gzip.decompress(handle.read()) == b'{"a":1}\n'


def test_objects_appear_whole_under_their_final_name_only(tmp_path, monkeypatch) -> None:
    seen: list[str] = []
    real_replace = os.replace

    def spy(src, dst):  # the final name appears in one rename of a complete file
        seen.append(Path(src).name)
        assert Path(src).name.startswith(".") and gzip.decompress(Path(src).read_bytes())
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    stream = _stream(tmp_path.as_uri())
    stream.put(b"x\n", ARRIVAL_MS, 0, "r")
    stream.flush()
    assert len(seen) == 1


def test_prefix_expressions_are_evaluated_like_firehose() -> None:
    arrival = dt.datetime(2024, 2, 29, 7, 0, tzinfo=dt.UTC)
    assert render_prefix("weather/", arrival) == "weather/2024/02/29/07/"
    assert render_prefix("weather/!{timestamp:yyyy/MM/dd/HH}/", arrival) == "weather/2024/02/29/07/"
    assert (
        render_prefix(
            "errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH}/",
            arrival,
            "processing-failed",
        )
        == "errors/processing-failed/2024/02/29/07/"
    )
    with pytest.raises(DeliveryConfigError, match="error prefixes"):
        render_prefix("x/!{firehose:error-output-type}/", arrival)
    config = StreamConfig("s", "file:///tmp")
    assert object_key(config, arrival, "processing-failed").startswith(
        "errors/processing-failed/2024/02/29/07/s-1-2024-02-29-07-00-00-"
    )


def test_every_day_has_its_own_buffer_and_object(tmp_path) -> None:
    clock = FakeClock()
    stream = _stream(tmp_path.as_uri(), clock, interval_s=60)
    stream.put(b"a\n", ARRIVAL_MS, 0, "r", "2024-01-01")
    clock.now += 30
    stream.put(b"b\n", ARRIVAL_MS, 1, "r", "2024-01-02")
    stream.put(b"c\n", ARRIVAL_MS, 2, "r", "2024-01-01")
    assert stream.oldest_pending_seq == 0
    clock.now += 30  # the 2024-01-01 buffer is 60 s old, the other one 30 s
    flushed = stream.flush(ready_only=True)
    assert flushed is not None and flushed.records == 2 and "/day=2024-01-01/" in flushed.uri
    assert stream.oldest_pending_seq == 1
    assert stream.flush().records == 1
    days = sorted(p.parent.parent.name for p in tmp_path.rglob("*.gz"))
    assert days == ["day=2024-01-01", "day=2024-01-02"]


def test_prefix_with_a_partition_key_needs_the_key() -> None:
    arrival = dt.datetime(2024, 2, 29, 7, 0, tzinfo=dt.UTC)
    prefix = "weather/day=!{partitionKeyFromQuery:day}/"
    assert render_prefix(prefix, arrival, partition_keys={"day": "2024-02-28"}) == (
        "weather/day=2024-02-28/"
    )
    with pytest.raises(DeliveryConfigError, match="partition key"):
        render_prefix(prefix, arrival)


def test_stream_config_maps_to_a_valid_firehose_s3_destination() -> None:
    config = StreamConfig("iot-lake-raw-weather", "s3://b/raw", hints=BufferingHints(64, 60))
    destination = config.s3_destination_configuration("arn:aws:s3:::b", "arn:aws:iam::1:role/f")
    client = boto3.client("firehose", region_name="us-east-1")
    shape = client.meta.service_model.operation_model("CreateDeliveryStream").input_shape
    params = {
        "DeliveryStreamName": config.name,
        "ExtendedS3DestinationConfiguration": destination,
    }
    report = ParamValidator().validate(params, shape)
    assert not report.has_errors(), report.generate_report()
    assert destination["BufferingHints"] == {"SizeInMBs": 64, "IntervalInSeconds": 60}
    assert destination["DynamicPartitioningConfiguration"]["Enabled"] is True
    assert destination["CompressionFormat"] == "GZIP"


def test_objects_are_filed_by_their_arrival_day_as_the_aws_stream_files_them() -> None:
    """``day=<day>/arrived=<UTC day of the oldest record>/``: a run reads only the undated
    objects that arrived on its day. The same Prefix as the AWS stream's."""
    import json

    from simulators.iot_core.delivery import DEFAULT_PREFIX, STREAM_FILE

    stream = json.loads(STREAM_FILE.read_text())["ExtendedS3DestinationConfiguration"]
    assert stream["Prefix"] == "${raw_prefix}" + DEFAULT_PREFIX
    config = StreamConfig("iot-lake-raw-weather", "file:///lake")
    at = dt.datetime.fromtimestamp(ARRIVAL_MS / 1000, dt.UTC)  # 2024-01-05 23:59:58
    key = object_key(config, at, partition="undated")
    assert key.startswith(
        "weather/day=undated/arrived=2024-01-05/iot-lake-raw-weather-1-2024-01-05-23-59-58-")
    assert KEY.match(key)
    later = object_key(config, at + dt.timedelta(seconds=3), partition="2024-01-05")
    assert later.startswith("weather/day=2024-01-05/arrived=2024-01-06/")  # a late arrival
