"""DuckDB (`local`): each statement on a fresh in-process database, as Athena would run it.

A statement is transpiled (:mod:`iot_lake.sql.transpile`) and run on a new in-memory
DuckDB in which every catalog table it names is a view over the objects of its
partitions (:mod:`iot_lake.engine.views`), with the macros that make DuckDB's answers
Trino's (:mod:`iot_lake.sql.as_trino`, :mod:`iot_lake.sql.trino_json`). Writes are
DuckDB's ``COPY ... TO`` Parquet, which counts the rows it writes.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from iot_lake.catalog import get_catalog
from iot_lake.engine import Engine, Result
from iot_lake.engine.views import attach_views, referenced_tables, register_filesystem
from iot_lake.sql import as_trino, trino_json
from iot_lake.sql.render import quote_ident, quote_literal
from iot_lake.sql.transpile import LOCAL_DIALECT, duckdb_tree, parse_one
from iot_lake.storage import delete_tree, filesystem, is_directory_store, join

if TYPE_CHECKING:
    import duckdb

# Rows per Parquet row group written locally (DuckDB's default). DuckDB encodes and
# compresses the row groups of one file in parallel, so row groups much larger than a
# thread's share of the output serialise the write (1M-row groups made a 1.8M-row day
# ~1 s slower on 2 cores and held ~400 MB more memory). A row group is also capped in
# bytes: the writer holds one per thread, so wide rows (the flatten's typed records keep
# each line's raw text and four arrays) would otherwise set the process's peak memory
# (985 -> 512 MiB at 1M records, same CPU time). Needs preserve_insertion_order off.
LOCAL_ROW_GROUP_SIZE = 122_880
LOCAL_ROW_GROUP_BYTES = "64MB"
JOIN_FILTER_KEYS = 5_000


def new_duckdb(threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """A fresh in-memory DuckDB, bounded to this machine's cores, with the macros that
    make its answers Athena's (:mod:`iot_lake.sql.as_trino`)."""
    import duckdb

    con = duckdb.connect(":memory:")
    con.execute(f"SET threads = {threads or os.cpu_count() or 1}")
    con.execute("SET preserve_insertion_order = false")
    # A hash join whose build side has up to this many distinct keys filters the probe
    # side's scan with them (DuckDB's default: 50). The flatten joins a day's typed
    # records with the few keys that repeat (~1,000 at 1M records), so the Parquet scan
    # skips the rest: 0.25 s of 2.8 at 1M records.
    con.execute(f"SET dynamic_or_filter_threshold = {JOIN_FILTER_KEYS}")
    for macro in as_trino.MACROS:
        con.execute(macro)
    trino_json.register(con)
    return con


class DuckDBEngine(Engine):
    """In-process DuckDB over the lake's directory (or S3-compatible store)."""

    defers_waits = False

    def prepare(
        self, con: duckdb.DuckDBPyConnection, sql: str, database: str | None = None
    ) -> str:
        """Attach the views ``sql`` (rendered, Athena dialect) needs to ``con``; its DuckDB
        text. Only the partitions its WHERE clause can match are listed (pruning)."""
        default_db = (database or self.settings.curated_database).lower()
        tree = parse_one(sql)
        attach_views(
            con, get_catalog(self.settings), referenced_tables(tree, default_db), tree,
            default_db,
        )
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(default_db)}")
        con.execute(f"USE {quote_ident(default_db)}")
        return duckdb_tree(tree).sql(dialect=LOCAL_DIALECT)

    def connect(self, databases: Iterable[str] | None = None) -> duckdb.DuckDBPyConnection:
        """A connection where every table of the lake's databases is a view.

        For interactive readers (the dashboard): all registered partitions are visible.
        Queries must be DuckDB SQL here; :meth:`query` runs Athena-dialect files.
        """
        catalog = get_catalog(self.settings)
        con = new_duckdb()
        dbs = (
            list(databases)
            if databases is not None
            else [self.settings.raw_database, self.settings.curated_database]
        )
        attach_views(con, catalog, [(db, t) for db in dbs for t in catalog.list_tables(db)])
        return con

    def _run(self, text: str, database: str | None, label: str) -> Result:
        con = new_duckdb()
        try:
            cursor = con.execute(self.prepare(con, text, database))
            rows = cursor.fetchall()
            return Result([column[0] for column in cursor.description or []], rows)
        except Exception as err:
            from iot_lake.errors import CatalogError, QueryError, query_error

            if isinstance(err, CatalogError | QueryError):
                raise
            raise query_error(f"local query {label} failed: {err}", err) from err
        finally:
            con.close()

    def write_parquet(
        self, select_sql: str, location: str, *, compression: str, database: str | None = None
    ) -> int:
        """COPY the SELECT's rows to one Parquet file under ``location``; the rows written.
        On any failure ``location`` is deleted."""
        fs, path = filesystem(location)
        con = new_duckdb()
        try:
            local_sql = self.prepare(con, select_sql, database)
            return copy_to_parquet(con, local_sql, fs, path, compression)
        except Exception as err:
            delete_tree(location)
            from iot_lake.errors import query_error

            raise query_error(f"writing {location} failed: {err}", err) from err
        finally:
            con.close()


def copy_to_parquet(
    con: duckdb.DuckDBPyConnection, local_sql: str, fs: Any, path: str, codec: str
) -> int:
    """One Parquet file of the query's rows under ``path``; the number of rows written.

    COPY answers the count itself: no second read to count them.
    """
    fs.makedirs(path, exist_ok=True)
    target = join(path, f"part-{uuid.uuid4().hex}.parquet")
    if not is_directory_store(fs):
        register_filesystem(con, fs)
        target = f"{fs.protocol[0]}://{target}"
    [rows] = con.execute(
        f"COPY ({local_sql}) TO {quote_literal(target)} (FORMAT parquet, "
        f"COMPRESSION {codec.lower()}, ROW_GROUP_SIZE {LOCAL_ROW_GROUP_SIZE}, "
        f"ROW_GROUP_SIZE_BYTES {quote_literal(LOCAL_ROW_GROUP_BYTES)})"
    ).fetchone()
    return int(rows)
