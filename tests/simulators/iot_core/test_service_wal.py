"""The service never deletes WAL data it has not delivered: not on a crash, not on a stop.

In-process RulesService over a WAL written with the plugin's framing, real dynalite (the
cold rule), real files.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path

import pytest

from simulators.iot_core.service import RulesService, ServiceOptions
from simulators.iot_core.wal import encode, segment_name, segments
from tests.fixtures.ingest import DynamoDBLocal, dynamodb_local, read_delivered

__all__ = ["dynamodb_local"]


def _observation(i: int) -> bytes:
    doc = {"weather_station": "s", "time": f"2024-01-0{1 + i % 3}T00:{i % 60:02d}:00Z",
           "air_temperature": {"value": 1.0}}  # fmt: skip
    return json.dumps(doc).encode()


def _write_wal(wal: Path) -> list[bytes]:
    wal.mkdir(parents=True)
    payloads = [_observation(i) for i in range(30)]
    (wal / segment_name(0)).write_bytes(
        b"".join(encode(1_704_067_200_000, "sensor/weather", p) for p in payloads[:20])
    )
    (wal / segment_name(20)).write_bytes(
        b"".join(encode(1_704_067_200_000, "sensor/weather", p) for p in payloads[20:])
    )
    return payloads


@pytest.fixture
def service_factory(lake_settings, monkeypatch, dynamodb_local: DynamoDBLocal):
    table = dynamodb_local.fresh_table(f"cold_{uuid.uuid4().hex[:8]}")
    monkeypatch.setenv("IOT_LAKE_COLD_READINGS_TABLE", table)
    from iot_lake import config

    config.settings.cache_clear()

    def make(wal: Path) -> RulesService:
        lake = config.settings()
        options = ServiceOptions.from_settings(
            lake, wal_dir=wal, dynamodb_endpoint=dynamodb_local.endpoint
        )
        return RulesService(options, lake)

    return make


def test_a_failure_while_routing_keeps_every_segment_and_a_restart_delivers_them(
    service_factory, tmp_path: Path
) -> None:
    wal = tmp_path / "wal"
    payloads = _write_wal(wal)
    broken = service_factory(wal)

    def explode(records):
        raise MemoryError("simulated crash in the middle of a batch")

    broken.engine.process = explode  # type: ignore[method-assign]
    with pytest.raises(MemoryError):
        broken.run()
    assert [first for first, _ in segments(wal)] == [0, 20], "a crash path deleted WAL data"
    assert not (wal / "reader-0.pos").exists()

    healthy = service_factory(wal)
    thread = threading.Thread(target=healthy.run)
    thread.start()
    deadline = time.monotonic() + 30
    while healthy.processed < len(payloads) and time.monotonic() < deadline:
        time.sleep(0.05)
    healthy.stop()
    thread.join(30)
    raw = Path(healthy.lake.home) / "raw"
    assert sorted(read_delivered(raw)) == sorted(payloads)
    # Delivered and complete: released; the newest may still grow: kept, with the position.
    assert [first for first, _ in segments(wal)] == [20]
    assert json.loads((wal / "reader-0.pos").read_text()) == {"20": [_segment_size(wal), 10]}


def _segment_size(wal: Path) -> int:
    return (wal / segment_name(20)).stat().st_size
