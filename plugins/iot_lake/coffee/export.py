"""Export one day of ``coffees`` from MySQL to a GZIP Parquet partition, streamed.

The rows come through a server-side (unbuffered) cursor in batches; each batch becomes
one Arrow record batch and one Parquet row group, written by a second thread while the
next batch is fetched, so memory holds a couple of batches whatever the day's size.

Types are fixed on the way, without string copies in SQL: DATETIMEs are fetched as their
wire text and parsed by Arrow in C++ (MySQLdb's per-value ``datetime`` objects are what
made the original export slow), TINYINT(1) flags become booleans. Rows that the lake
cannot take (a photo_url that is not an object URL, a flag outside 0/1/NULL, an
unparseable DATETIME) go to the ``coffee_rejects`` table with their reason; they are counted, never
dropped silently.

:func:`stage_day` writes the day's partition of ``coffees`` and of ``coffee_rejects`` as
staged versions through the write path's staging (:mod:`iot_lake.wap.staging`): the
DAG's checks read them in the staging database and only then are they published, so a
failed run or a failed check leaves the published day untouched and a rerun replaces it
whole. :func:`publish_day` publishes through the one publish
(:func:`iot_lake.wap.publish.publish`); :func:`export_day` stages and publishes at once
(no audit), for tools and tests.
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
from typing import TYPE_CHECKING, Any

from iot_lake import rejects, storage
from iot_lake.catalog import get_catalog
from iot_lake.coffee import columns, photo_url, source, table
from iot_lake.config import LakeSettings, settings
from iot_lake.wap.publish import publish
from iot_lake.wap.staging import register_staged, staged_version
from iot_lake.wap.superseded import new_run_id

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
REJECTS_FILE = "part-00000.parquet"


@dataclass(frozen=True)
class StreamCounts:
    exported: int
    rejected: int
    batches: int


@dataclass(frozen=True)
class ExportResult:
    """What one day's export did; returned to Airflow as an XCom (plain types only).

    ``staged`` lists the staged versions, rejects first (the publish order);
    ``partition_uri`` / ``rejects_uri`` are where the day's rows and rejects are: the
    staged locations after :func:`stage_day`, the published ones after :func:`export_day`.
    """

    dt: str
    exported: int
    rejected: int
    batches: int
    partition_uri: str
    rejects_uri: str
    seconds: float
    staged: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def table_uri(lake: LakeSettings) -> str:
    """Location of the ``coffees`` table (the parent of its ``dt=`` partitions)."""
    return table.table_uri(lake)


def partition_uri(lake: LakeSettings, dt: str) -> str:
    """The published partition's directory on `local` (on `aws` the catalog says where)."""
    return storage.join(table.table_uri(lake), f"{columns.PARTITION_KEY}={dt}")


def rejects_uri(lake: LakeSettings, dt: str) -> str:
    """The published rejects partition's directory on `local`, beside the table."""
    return storage.join(
        rejects.table_uri(lake, table.REJECTS_TABLE), f"{columns.PARTITION_KEY}={dt}"
    )


def get_valid_photos_uri(lake: LakeSettings) -> str | None:
    """Where photo URLs may point besides S3 objects: the local photos store (a file, or
    ``s3://`` of a local endpoint) on ``local``; None on ``aws`` (S3 object URLs only)."""
    return lake.uri("photos") if lake.is_local else None


def stage_day(
    dt: date | str,
    start: datetime,
    end: datetime,
    *,
    lake: LakeSettings | None = None,
    conn_id: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> ExportResult:
    """Write rows ``start <= coffee_hour < end`` (and their rejects) as staged partition ``dt``."""
    lake = lake or settings()
    dt = str(dt)
    began = time.perf_counter()
    table.ensure_tables(lake)
    catalog = get_catalog(lake)
    database = lake.curated_database
    data_table = catalog.require_table(database, columns.TABLE)
    rejects_table = catalog.require_table(database, table.REJECTS_TABLE)
    run_id = new_run_id()
    with (
        staged_version(data_table, [dt], run_id) as data_at,
        staged_version(rejects_table, [dt], run_id) as rejects_at,
        closing(source.mysql_hook(conn_id).get_conn()) as connection,
    ):
        counts = stream_to_files(
            connection,
            source.interval_params(start, end),
            data_uri=storage.join(data_at, PARQUET_FILE),
            rejects_uri=storage.join(rejects_at, REJECTS_FILE),
            photos_uri=get_valid_photos_uri(lake),
            compression=lake.parquet_compression,
            batch_size=batch_size,
        )
    staged = [
        register_staged(lake, database, rejects_table, [dt], rejects_at,
                        rows=counts.rejected, catalog=catalog),
        register_staged(lake, database, data_table, [dt], data_at,
                        rows=counts.exported, catalog=catalog),
    ]
    result = ExportResult(
        dt=dt,
        exported=counts.exported,
        rejected=counts.rejected,
        batches=counts.batches,
        partition_uri=data_at,
        rejects_uri=storage.join(rejects_at, REJECTS_FILE),
        seconds=round(time.perf_counter() - began, 3),
        staged=[s.as_dict() for s in staged],
    )
    log.info(
        "coffees dt=%s: %d rows staged at %s, %d rejected (%s), %.1fs",
        dt, result.exported, data_at, result.rejected, result.rejects_uri, result.seconds,
    )
    return result


def publish_day(result: ExportResult, lake: LakeSettings | None = None) -> ExportResult:
    """Publish a staged day (rejects first, then rows); the result with published places."""
    rejects_done, data_done = publish(result.as_dict(), lake or settings())
    return ExportResult(
        **{
            **result.as_dict(),
            "partition_uri": data_done["location"].rstrip("/"),
            "rejects_uri": storage.join(rejects_done["location"], REJECTS_FILE),
        }
    )


def export_day(
    dt: date | str,
    start: datetime,
    end: datetime,
    *,
    lake: LakeSettings | None = None,
    conn_id: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> ExportResult:
    """Replace partition ``dt`` with rows ``start <= coffee_hour < end``, unaudited."""
    lake = lake or settings()
    staged = stage_day(dt, start, end, lake=lake, conn_id=conn_id, batch_size=batch_size)
    return publish_day(staged, lake)


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
    """Stream the export query on a MySQLdb ``connection`` into two Parquet files: rows and rejects.

    Both files are always written (possibly empty), so publishing them replaces a stale
    partition even when the day now has no rows. Rejects are few (bad rows of one day)
    and are kept in memory until the end.
    """
    import pyarrow.parquet as pq

    schema = columns.arrow_schema()
    data_fs, data_path = storage.filesystem(data_uri)
    data_fs.makedirs(data_path.rpartition("/")[0], exist_ok=True)
    exported = batches = 0
    rejected_rows: list[dict[str, Any]] = []
    with (
        data_fs.open(data_path, "wb") as data_handle,
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
            rejected_rows += [reject_row(record) for record in bad]
            exported += good.num_rows
            batches += 1
            while len(in_flight) > MAX_BATCHES_IN_FLIGHT:
                in_flight.popleft().result()
        for pending in in_flight:
            pending.result()
    rejects.write_parquet(rejects_uri, rejected_rows, compression)
    return StreamCounts(exported=exported, rejected=len(rejected_rows), batches=batches)


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


def reject_row(record: dict[str, Any]) -> dict[str, Any]:
    """A rejected source row as a ``coffee_rejects`` row: source id, reason, raw row as JSON."""
    raw = {k: v for k, v in record.items() if k != "reason"}
    return rejects.record(
        source=f"{columns.TABLE} id={raw['id']}",
        reason=record["reason"],
        raw=json.dumps(raw, sort_keys=False, default=str),
    )

