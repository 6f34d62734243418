"""Export one day of ``coffees`` from MySQL to a GZIP Parquet partition, streamed.

The rows come through a server-side (unbuffered) cursor in batches; each batch becomes
one Arrow record batch and one Parquet row group, written by a second thread while the
next batch is fetched, so memory holds a couple of batches whatever the day's size.

Types are fixed on the way, without string copies in SQL: DATETIMEs are fetched as their
wire text and parsed by Arrow in C++ (MySQLdb's per-value ``datetime`` objects are what
made the original export slow), TINYINT(1) flags become booleans. Rows that the lake
cannot take (a photo_url that is not an object URL, a flag outside 0/1/NULL, an
unparseable DATETIME) go to a rejects file with their reason; they are counted, never
dropped silently.

A run writes the partition and its rejects to staging prefixes and swaps them in, so a
failed run leaves the previous partition untouched and a rerun replaces it whole.
"""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import IO, TYPE_CHECKING, Any

from iot_lake import storage
from iot_lake.coffee import columns, photo_url, source
from iot_lake.config import LakeSettings, settings

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 10_000
"""Rows per fetch, per Arrow batch and per Parquet row group. The peak grows by ~2.5 KiB
per row of batch (the fetched Python tuples, their Arrow copy, the batches queued for the
writer): 50,000-row batches peaked at ~360 MiB for a 1M-row day, 10,000-row ones at
~260 MiB, of which ~205 MiB is the interpreter with Airflow, pyarrow and pandas imported;
no slower (bench/export.py, VmHWM of the worker, 2026-12-01)."""

MAX_BATCHES_IN_FLIGHT = 2
"""Batches converted but not yet written; bounds memory when the writer is slower."""

COMPRESSION_LEVELS = {"GZIP": 6, "ZSTD": 3}
"""zlib's own default: pyarrow's GZIP default (9) is ~4x slower for files ~5 % smaller."""

DICTIONARY_COLUMNS = ("machine_id",)
"""Only low-cardinality columns: dictionaries of unique ids and URLs cost time, save nothing."""

PARQUET_FILE = "part-00000.parquet"
REJECTS_FILE = "rejects.jsonl"


@dataclass(frozen=True)
class StreamCounts:
    exported: int
    rejected: int
    batches: int


@dataclass(frozen=True)
class ExportResult:
    """What one day's export did; returned to Airflow as an XCom (plain types only)."""

    dt: str
    exported: int
    rejected: int
    batches: int
    partition_uri: str
    rejects_uri: str
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def table_uri(lake: LakeSettings) -> str:
    """Location of the ``coffees`` table (the parent of its ``dt=`` partitions)."""
    return storage.join(lake.uri("curated"), columns.TABLE)


def partition_uri(lake: LakeSettings, dt: str) -> str:
    return storage.join(table_uri(lake), f"{columns.PARTITION_KEY}={dt}")


def rejects_uri(lake: LakeSettings, dt: str) -> str:
    """Where the day's rejected rows go: beside the table, never inside its location."""
    return storage.join(
        lake.uri("curated"), f"{columns.TABLE}_rejects", f"{columns.PARTITION_KEY}={dt}"
    )


def valid_photos_uri(lake: LakeSettings) -> str | None:
    """The ``file://`` photos store accepted on ``local``; None on ``aws`` (S3 URLs only)."""
    return lake.uri("photos") if lake.is_local else None


def export_day(
    dt: date | str,
    start: datetime,
    end: datetime,
    *,
    lake: LakeSettings | None = None,
    conn_id: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> ExportResult:
    """Replace partition ``dt`` of the coffees table with rows ``start <= coffee_hour < end``."""
    lake = lake or settings()
    dt = str(dt)
    began = time.perf_counter()
    final_data, final_rejects = partition_uri(lake, dt), rejects_uri(lake, dt)
    staged_data = storage.staging_uri(final_data)
    staged_rejects = storage.staging_uri(final_rejects)
    try:
        with closing(source.mysql_hook(conn_id).get_conn()) as connection:
            counts = stream_to_files(
                connection,
                source.interval_params(start, end),
                data_uri=storage.join(staged_data, PARQUET_FILE),
                rejects_uri=storage.join(staged_rejects, REJECTS_FILE),
                photos_uri=valid_photos_uri(lake),
                compression=lake.parquet_compression,
                batch_size=batch_size,
            )
        # Rejects first: a crash between the two swaps leaves a partition whose rejects
        # are already current, and the rerun (the only way out) rewrites both.
        storage.publish_prefix(staged_rejects, final_rejects)
        storage.publish_prefix(staged_data, final_data)
    finally:
        _remove_quietly(staged_data)
        _remove_quietly(staged_rejects)
    result = ExportResult(
        dt=dt,
        exported=counts.exported,
        rejected=counts.rejected,
        batches=counts.batches,
        partition_uri=final_data,
        rejects_uri=storage.join(final_rejects, REJECTS_FILE),
        seconds=round(time.perf_counter() - began, 3),
    )
    log.info(
        "coffees dt=%s: %d rows exported to %s, %d rejected (%s), %.1fs",
        dt,
        result.exported,
        final_data,
        result.rejected,
        result.rejects_uri,
        result.seconds,
    )
    return result


def stream_to_files(
    connection: Any,
    params: dict[str, Any],
    *,
    data_uri: str,
    rejects_uri: str,
    photos_uri: str | None,
    compression: str = "GZIP",
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> StreamCounts:
    """Stream the export query on a MySQLdb ``connection`` into a Parquet and a rejects file.

    Both files are always written (possibly empty), so publishing them replaces a stale
    partition even when the day now has no rows.
    """
    import pyarrow.parquet as pq

    schema = columns.arrow_schema()
    data_fs, data_path = storage.filesystem(data_uri)
    rejects_fs, rejects_path = storage.filesystem(rejects_uri)
    data_fs.makedirs(data_path.rpartition("/")[0], exist_ok=True)
    rejects_fs.makedirs(rejects_path.rpartition("/")[0], exist_ok=True)
    exported = rejected = batches = 0
    with (
        data_fs.open(data_path, "wb") as data_handle,
        rejects_fs.open(rejects_path, "wb") as rejects_handle,
        pq.ParquetWriter(
            data_handle,
            schema,
            compression=compression.lower(),
            compression_level=COMPRESSION_LEVELS.get(compression.upper()),
            use_dictionary=list(DICTIONARY_COLUMNS),
            write_statistics=True,
        ) as writer,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="parquet-writer") as pool,
    ):
        in_flight: deque[Future[None]] = deque()
        for rows in fetch_batches(connection, params, batch_size):
            good, bad = split_batch(rows, schema, photos_uri)
            if good.num_rows:
                in_flight.append(pool.submit(writer.write_table, good))
            write_rejects(rejects_handle, bad)
            exported += good.num_rows
            rejected += len(bad)
            batches += 1
            while len(in_flight) > MAX_BATCHES_IN_FLIGHT:
                in_flight.popleft().result()
        for pending in in_flight:
            pending.result()
    return StreamCounts(exported=exported, rejected=rejected, batches=batches)


def fetch_batches(
    connection: Any, params: dict[str, Any], batch_size: int
) -> Iterator[Sequence[tuple[Any, ...]]]:
    """Row tuples of the export query, ``batch_size`` at a time, from a server-side cursor.

    DATETIME values arrive as their wire bytes (``b"2026-11-20 08:15:00"``): the
    connection's converter for them is removed for the life of the query.
    """
    import MySQLdb.cursors
    from MySQLdb.constants import FIELD_TYPE

    converter = connection.converter
    connection.converter = {
        key: value
        for key, value in converter.items()
        if key not in (FIELD_TYPE.DATETIME, FIELD_TYPE.TIMESTAMP)
    }
    try:
        with closing(connection.cursor(MySQLdb.cursors.SSCursor)) as cursor:
            cursor.execute(source.aurora_sql("export_coffees"), params)
            names = tuple(d[0] for d in cursor.description)
            if names != columns.COLUMN_NAMES:
                raise RuntimeError(
                    f"include/sql/aurora/export_coffees.sql returns columns {names}; the lake "
                    f"schema (iot_lake.coffee.columns) expects {columns.COLUMN_NAMES}"
                )
            while rows := cursor.fetchmany(batch_size):
                yield rows
    finally:
        connection.converter = converter


def _raw_struct_type() -> pa.StructType:
    """The batch as it comes off the wire: timestamps as text, flags as small ints."""
    import pyarrow as pa

    raw = {"timestamp": pa.string(), "boolean": pa.int16()}
    schema = columns.arrow_schema()
    kinds = [kind for _, kind, _ in columns.COLUMNS]
    return pa.struct(
        [pa.field(f.name, raw.get(kind, f.type)) for f, kind in zip(schema, kinds, strict=True)]
    )


def split_batch(
    rows: Sequence[tuple[Any, ...]], schema: pa.Schema, photos_uri: str | None
) -> tuple[pa.Table, list[dict[str, Any]]]:
    """Typed valid rows as an Arrow table, and the rejected rows with their reason."""
    import pyarrow as pa
    import pyarrow.compute as pc

    raw = pa.array(rows, type=_raw_struct_type())
    fields = {name: raw.field(name) for name in columns.COLUMN_NAMES}
    typed = dict(fields)
    problems: list[pa.Array] = [photo_url.valid_mask(fields["photo_url"], photos_uri)]
    for name in columns.FLAG_COLUMNS:
        value = fields[name]
        problems.append(pc.or_(pc.is_null(value), pc.is_in(value, pa.array([0, 1], pa.int16()))))
        typed[name] = pc.cast(value, pa.bool_())
    for name in columns.TIMESTAMP_COLUMNS:
        parsed = _parse_datetimes(fields[name])
        problems.append(pc.or_(pc.is_null(fields[name]), pc.is_valid(parsed)))
        typed[name] = parsed
    ok = problems[0]
    for mask in problems[1:]:
        ok = pc.and_(ok, mask)
    table = pa.Table.from_arrays([typed[f.name] for f in schema], schema=schema)
    good = table.filter(ok)
    if good.num_rows == len(rows):
        return good, []
    bad = pa.Table.from_arrays(list(fields.values()), names=list(fields)).filter(pc.invert(ok))
    return good, [reject_record(row, photos_uri) for row in bad.to_pylist()]


def _parse_datetimes(text: pa.Array) -> pa.Array:
    """MySQL DATETIME text to ``timestamp[ms]``; unparseable values (zero dates) become NULL."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        return pc.cast(text, pa.timestamp("ms"))
    except pa.ArrowInvalid:
        return pa.array([_parse_one(v) for v in text.to_pylist()], pa.timestamp("ms"))


def _parse_one(value: str | None) -> datetime | None:
    try:
        return None if value is None else datetime.fromisoformat(value)
    except ValueError:
        return None


def reject_reasons(row: dict[str, Any], photos_uri: str | None) -> list[str]:
    """Every reason why ``row`` (raw values) cannot go to the lake."""
    reasons = []
    if problem := photo_url.photo_url_problem(row["photo_url"], photos_uri):
        reasons.append(problem)
    for name in columns.FLAG_COLUMNS:
        if row[name] not in (None, 0, 1):
            reasons.append(f"{name}={row[name]} is not a boolean (0, 1 or NULL)")
    for name in columns.TIMESTAMP_COLUMNS:
        if row[name] is not None and _parse_one(row[name]) is None:
            reasons.append(f"{name}={row[name]!r} is not a valid DATETIME")
    return reasons


def reject_record(row: dict[str, Any], photos_uri: str | None) -> dict[str, Any]:
    reasons = reject_reasons(row, photos_uri)
    if not reasons:  # the vectorised and the explaining rules disagree: a bug, say so
        raise AssertionError(f"row id={row['id']} was rejected without a reason: {row}")
    return {**row, "reason": "; ".join(reasons)}


def write_rejects(handle: IO[bytes], records: list[dict[str, Any]]) -> None:
    """Append rejected rows as JSON Lines (raw source values plus ``reason``)."""
    for record in records:
        handle.write(json.dumps(record, sort_keys=False).encode() + b"\n")


def _remove_quietly(uri: str) -> None:
    fs, path = storage.filesystem(uri)
    if fs.exists(path):
        fs.rm(path, recursive=True)
