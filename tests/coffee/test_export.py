"""The day's export against the real MariaDB: types, rejects, empty days, reruns."""

from __future__ import annotations

import json
import os
from datetime import datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from iot_lake.coffee import export
from iot_lake.storage import filesystem
from tests.coffee.conftest import DAY, END, START


def _path(uri: str) -> str:
    return filesystem(uri)[1]


def _photo(lake, name: str = "a.jpg") -> str:
    return f"{lake.uri('photos')}/coffee-machine-01/{DAY}/{name}"


def _read(lake) -> pa.Table:
    return pq.read_table(_path(f"{export.partition_uri(lake, DAY)}/{export.PARQUET_FILE}"))


def _rejects(lake) -> list[dict]:
    """The day's coffee_rejects rows: the raw source row, with the reason beside it."""
    rows = pq.read_table(_path(f"{export.rejects_uri(lake, DAY)}/{export.REJECTS_FILE}"))
    out = []
    for row in rows.to_pylist():
        assert row["source"] == f"coffees id={json.loads(row['raw'])['id']}"
        assert row["line_number"] is None and row["rejected_at"] is None
        out.append({**json.loads(row["raw"]), "reason": row["reason"]})
    return out


def test_a_day_lands_as_gzip_parquet_with_timestamps_and_booleans(coffee_db, lake_settings):
    ids = coffee_db.insert(
        [
            {
                "photo_url": _photo(lake_settings),
                "coffee_hour": datetime(2026, 11, 20, 8, 15, 42),
                "has_face": 1,
                "has_face_confidence": 99.5,
                "smile": 0,
                "glasses": 1,
            },
            {
                "machine_id": "coffee-machine-02",
                "photo_url": "s3://iot-lake-photos/photos/x.jpg",
                "coffee_hour": datetime(2026, 11, 20, 23, 59, 59),
                "has_face": 0,
            },
        ]
    )
    result = export.export_day(DAY, START, END, lake=lake_settings)

    assert (result.exported, result.rejected) == (2, 0)
    table = _read(lake_settings)
    assert table.schema.field("coffee_hour").type == pa.timestamp("ms")
    assert table.schema.field("created_at").type == pa.timestamp("ms")
    for flag in ("has_face", "smile", "beard", "mustache", "glasses"):
        assert table.schema.field(flag).type == pa.bool_()
    rows = sorted(table.to_pylist(), key=lambda r: r["id"])
    assert [r["id"] for r in rows] == ids
    assert rows[0]["coffee_hour"] == datetime(2026, 11, 20, 8, 15, 42)
    assert (rows[0]["has_face"], rows[0]["smile"], rows[0]["glasses"]) == (True, False, True)
    assert rows[0]["beard"] is None and rows[0]["mustache"] is None
    assert rows[0]["has_face_confidence"] == pytest.approx(99.5)
    assert rows[1]["has_face"] is False and rows[1]["machine_id"] == "coffee-machine-02"
    assert isinstance(rows[0]["created_at"], datetime)
    metadata = pq.ParquetFile(_path(f"{result.partition_uri}/{export.PARQUET_FILE}")).metadata
    assert metadata.row_group(0).column(0).compression == "GZIP"


def test_rows_outside_the_data_interval_stay_out(coffee_db, lake_settings):
    photo = _photo(lake_settings)
    coffee_db.insert(
        [
            {"photo_url": photo, "coffee_hour": datetime(2026, 11, 19, 23, 59, 59)},
            {"photo_url": photo, "coffee_hour": datetime(2026, 11, 20, 0, 0, 0)},
            {"photo_url": photo, "coffee_hour": datetime(2026, 11, 21, 0, 0, 0)},
        ]
    )
    export.export_day(DAY, START, END, lake=lake_settings)
    assert _read(lake_settings).column("coffee_hour").to_pylist() == [datetime(2026, 11, 20)]


def test_a_null_photo_url_goes_to_the_rejects_file_with_its_reason(coffee_db, lake_settings):
    good, null_url, http_url = coffee_db.insert(
        [
            {"photo_url": _photo(lake_settings), "coffee_hour": datetime(2026, 11, 20, 9)},
            {"photo_url": None, "coffee_hour": datetime(2026, 11, 20, 10), "has_face": 1},
            {"photo_url": "http://cam.local/1.jpg", "coffee_hour": datetime(2026, 11, 20, 11)},
        ]
    )
    result = export.export_day(DAY, START, END, lake=lake_settings)

    assert (result.exported, result.rejected) == (1, 2)
    assert _read(lake_settings).column("id").to_pylist() == [good]
    rejects = {r["id"]: r for r in _rejects(lake_settings)}
    assert rejects[null_url]["reason"] == "photo_url is NULL"
    assert rejects[null_url]["has_face"] == 1  # the source row is kept whole
    assert rejects[null_url]["coffee_hour"] == "2026-11-20 10:00:00"
    assert "scheme 'http'" in rejects[http_url]["reason"]


def test_a_flag_outside_0_1_null_is_rejected_not_coerced(coffee_db, lake_settings):
    (row_id,) = coffee_db.insert(
        [{"photo_url": _photo(lake_settings), "coffee_hour": datetime(2026, 11, 20, 7)}]
    )
    coffee_db.execute("UPDATE coffees SET smile = 2 WHERE id = %s", (row_id,))
    result = export.export_day(DAY, START, END, lake=lake_settings)
    assert (result.exported, result.rejected) == (0, 1)
    assert _rejects(lake_settings)[0]["reason"] == "smile=2 is not a boolean (0, 1 or NULL)"


def test_a_day_without_rows_gets_an_empty_typed_partition(coffee_db, lake_settings):
    result = export.export_day(DAY, START, END, lake=lake_settings)
    assert (result.exported, result.rejected, result.batches) == (0, 0, 0)
    table = _read(lake_settings)
    assert table.num_rows == 0
    assert table.schema.field("coffee_hour").type == pa.timestamp("ms")
    assert _rejects(lake_settings) == []


def test_rerun_of_a_day_replaces_its_partition_and_rejects(coffee_db, lake_settings):
    first = coffee_db.insert(
        [
            {"photo_url": _photo(lake_settings), "coffee_hour": datetime(2026, 11, 20, 8)},
            {"photo_url": None, "coffee_hour": datetime(2026, 11, 20, 9)},
        ]
    )
    export.export_day(DAY, START, END, lake=lake_settings)
    export.export_day(DAY, START, END, lake=lake_settings)  # plain rerun: no duplicates
    assert _read(lake_settings).column("id").to_pylist() == [first[0]]
    assert len(_rejects(lake_settings)) == 1

    fixed = _photo(lake_settings, "b.jpg")
    coffee_db.execute("UPDATE coffees SET photo_url = %s WHERE id = %s", (fixed, first[1]))
    (late,) = coffee_db.insert(
        [{"photo_url": _photo(lake_settings), "coffee_hour": datetime(2026, 11, 20, 23)}]
    )
    result = export.export_day(DAY, START, END, lake=lake_settings)

    assert (result.exported, result.rejected) == (3, 0)
    assert sorted(_read(lake_settings).column("id").to_pylist()) == [*first, late]
    assert _rejects(lake_settings) == []
    table_dir = _path(export.table_uri(lake_settings))
    # nothing staged is left behind; the replaced versions wait out their grace period
    assert sorted(os.listdir(table_dir)) == ["_superseded", f"dt={DAY}"]
    assert os.listdir(os.path.join(table_dir, f"dt={DAY}")) == [export.PARQUET_FILE]


def test_a_failed_export_keeps_the_previous_partition(coffee_db, lake_settings):
    (row_id,) = coffee_db.insert(
        [{"photo_url": _photo(lake_settings), "coffee_hour": datetime(2026, 11, 20, 8)}]
    )
    export.export_day(DAY, START, END, lake=lake_settings)
    coffee_db.execute("ALTER TABLE coffees RENAME COLUMN photo_url TO photo")
    try:
        with pytest.raises(Exception, match="photo_url"):
            export.export_day(DAY, START, END, lake=lake_settings)
    finally:
        coffee_db.execute("ALTER TABLE coffees RENAME COLUMN photo TO photo_url")
    assert _read(lake_settings).column("id").to_pylist() == [row_id]
    assert os.listdir(_path(export.table_uri(lake_settings))) == [f"dt={DAY}"]


def test_rows_stream_in_batches_one_row_group_each(coffee_db, lake_settings):
    photo = _photo(lake_settings)
    coffee_db.insert(
        [{"photo_url": photo, "coffee_hour": datetime(2026, 11, 20, 6, 0, s)} for s in range(10)]
    )
    result = export.export_day(DAY, START, END, lake=lake_settings, batch_size=3)
    assert (result.exported, result.batches) == (10, 4)
    metadata = pq.ParquetFile(_path(f"{result.partition_uri}/{export.PARQUET_FILE}")).metadata
    assert [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)] == [3, 3, 3, 1]
