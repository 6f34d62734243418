"""Objects and partitions appear whole or not at all."""

from __future__ import annotations

from pathlib import Path

import pytest

from iot_lake import storage


def test_atomic_open_leaves_nothing_behind_when_the_writer_fails(tmp_path: Path) -> None:
    target = tmp_path / "a" / "object.gz"
    with pytest.raises(RuntimeError), storage.atomic_open(target.as_uri()) as handle:
        handle.write(b"half")
        raise RuntimeError("writer died")
    assert not target.exists()
    assert list((tmp_path / "a").iterdir()) == []


def test_atomic_open_replaces_the_object_whole(tmp_path: Path) -> None:
    target = tmp_path / "object.txt"
    target.write_bytes(b"old")
    with storage.atomic_open(target.as_uri()) as handle:
        handle.write(b"new")
    assert target.read_bytes() == b"new"


def test_join_uses_single_slashes() -> None:
    assert storage.join("s3://bucket/", "/raw/", "weather") == "s3://bucket/raw/weather"
