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


def test_publish_prefix_swaps_a_partition_and_drops_stale_files(tmp_path: Path) -> None:
    final = tmp_path / "table" / "dt=2024-01-01"
    final.mkdir(parents=True)
    (final / "old-part.parquet").write_bytes(b"old")
    staging = storage.staging_uri(final.as_uri())
    staged = Path(storage.filesystem(staging)[1])
    staged.mkdir(parents=True)
    (staged / "part-0.parquet").write_bytes(b"new")

    storage.publish_prefix(staging, final.as_uri())

    assert sorted(p.name for p in final.iterdir()) == ["part-0.parquet"]
    assert sorted(p.name for p in (tmp_path / "table").iterdir()) == ["dt=2024-01-01"]


def test_staging_prefix_is_beside_the_partition_and_hidden_from_its_glob(tmp_path: Path) -> None:
    final = (tmp_path / "table" / "dt=2024-01-01").as_uri()
    staging = storage.staging_uri(final)
    assert staging.startswith((tmp_path / "table").as_uri() + "/_staging_")
    assert "dt=" not in staging.rsplit("/", 1)[1].split("_staging_")[0]


def test_join_uses_single_slashes() -> None:
    assert storage.join("s3://bucket/", "/raw/", "weather") == "s3://bucket/raw/weather"
