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


def test_small_json_documents_round_trip_and_list_in_order(tmp_path: Path) -> None:
    ledger = storage.local_uri(tmp_path / "_superseded")
    assert storage.list_dir(ledger) == []  # missing: nothing listed
    storage.write_json(storage.join(ledger, "b.json"), {"n": 2})
    storage.write_json(storage.join(ledger, "a.json"), {"n": 1, "at": "x"})
    (tmp_path / "_superseded" / "run=1").mkdir()
    assert storage.list_dir(ledger) == [
        storage.join(ledger, name) for name in ("a.json", "b.json", "run=1")
    ]
    assert storage.read_json(storage.join(ledger, "a.json")) == {"n": 1, "at": "x"}
    assert storage.exists(storage.join(ledger, "b.json"))
    assert not storage.exists(storage.join(ledger, "c.json"))


def test_a_directory_moves_whole_and_leaves_no_empty_folders(tmp_path: Path) -> None:
    staged = tmp_path / "t" / "_staging" / "dt=1" / "run=a"
    staged.mkdir(parents=True)
    (staged / "part.parquet").write_bytes(b"x")
    final = tmp_path / "t" / "dt=1"
    storage.move_directory(storage.local_uri(staged), storage.local_uri(final))
    assert (final / "part.parquet").read_bytes() == b"x"
    storage.remove_empty_parents(storage.local_uri(staged), stop="_staging")
    assert sorted(p.name for p in (tmp_path / "t").iterdir()) == ["dt=1"]


def test_only_a_directory_store_swaps_by_renaming() -> None:
    assert storage.in_directory_store("file:///lake/curated/t")
    assert storage.in_directory_store("/lake/curated/t")
    assert not storage.in_directory_store("s3://lake-curated/t/")
    with pytest.raises(ValueError, match="object store"):
        storage.move_directory("s3://lake-curated/a/", "s3://lake-curated/b/")
