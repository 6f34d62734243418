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


def test_delete_tree_removes_a_directory_and_keeps_its_namesake_sibling(tmp_path: Path) -> None:
    (tmp_path / "dt=1" / "run=1" / "sub").mkdir(parents=True)
    (tmp_path / "dt=1" / "run=1" / "sub" / "part.parquet").write_bytes(b"x")
    (tmp_path / "dt=1" / "run=10").mkdir()
    storage.delete_tree(storage.local_uri(tmp_path / "dt=1" / "run=1") + "/")
    assert sorted(p.name for p in (tmp_path / "dt=1").iterdir()) == ["run=10"]
    storage.delete_tree(storage.local_uri(tmp_path / "gone"))  # missing: nothing to do
    storage.delete_tree((tmp_path / "dt=1" / "run=10").as_uri())
    assert list((tmp_path / "dt=1").iterdir()) == []
