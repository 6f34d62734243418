"""Catalog tables as DuckDB views, read as Athena reads them.

Every catalog table a statement names (``iot_lake_raw.weather``, ``iot_lake.coffees``)
becomes a view over the objects of its registered partitions. As on Athena, only
registered partitions are visible, and partitions the statement's WHERE clause excludes
are not even listed (partition pruning), so a day's query reads a day's files. Tables
with partition projection take their partitions from the projection parameters
(:mod:`iot_lake.engine.projection`). A statement that names the column ``"$path"`` sees,
as on Athena, each row's object URI.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from iot_lake.catalog import Catalog, projection, table_format
from iot_lake.engine.projection import (
    check_injected_conditions,
    discovered_partitions,
    projected_partitions,
)
from iot_lake.glue_types import glue_to_duckdb
from iot_lake.sql.render import quote_ident, quote_literal
from iot_lake.sql.transpile import LOCAL_DIALECT
from iot_lake.storage import filesystem, is_directory_store

if TYPE_CHECKING:
    import duckdb

log = logging.getLogger(__name__)

PATH_COLUMN = "$path"
"""Athena's hidden column holding the URI of the object a row was read from."""


def _duck_path(uri: str) -> str:
    if uri.startswith("file://"):
        return filesystem(uri)[1]
    return uri


def _data_files(fs: Any, location_path: str) -> list[str]:
    """Objects of a partition, skipping hidden/_-prefixed names as Hive and Athena do."""
    if not fs.exists(location_path):
        return []
    out = []
    base = location_path.rstrip("/")
    for path in fs.find(base):
        relative = path[len(base) :].lstrip("/")
        if any(part.startswith((".", "_")) for part in relative.split("/")):
            continue
        out.append(path)
    return sorted(out)


def referenced_tables(tree: exp.Expression, default_db: str) -> set[tuple[str, str]]:
    """(database, table) of every table a statement reads, CTE names excluded."""
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    out = set()
    for table in tree.find_all(exp.Table):
        if not table.name or isinstance(table.this, exp.Anonymous):
            continue  # table functions such as UNNEST
        if not table.db and table.name.lower() in ctes:
            continue
        out.add(((table.db or default_db).lower(), table.name.lower()))
    return out


def _partition_predicate(
    tree: exp.Expression, db: str, name: str, keys: list[str], default_db: str
) -> exp.Expression | None:
    """The WHERE conjuncts that only involve ``name``'s partition keys, OR-ed over uses.

    None means "cannot prune" (some use of the table has no such predicate).
    """
    lowered = {k.lower() for k in keys}
    per_use = []
    for table in tree.find_all(exp.Table):
        if table.name.lower() != name or (table.db or default_db).lower() != db:
            continue
        select = table.find_ancestor(exp.Select)
        where = select.args.get("where") if select is not None else None
        if where is None:
            return None
        qualifiers = {"", table.alias_or_name.lower(), name}
        conjuncts = []
        for part in where.this.flatten() if isinstance(where.this, exp.And) else [where.this]:
            columns = list(part.find_all(exp.Column))
            if (
                columns
                and part.find(exp.Select) is None
                and all(
                    c.name.lower() in lowered and c.table.lower() in qualifiers for c in columns
                )
            ):
                conjuncts.append(part.copy())
        if not conjuncts:
            return None
        per_use.append(exp.and_(*conjuncts))
    if not per_use:
        return None
    predicate = exp.or_(*per_use) if len(per_use) > 1 else per_use[0]
    for column in predicate.find_all(exp.Column):
        column.set("table", None)
        column.set("db", None)
    return predicate


def _select_partitions(
    con: duckdb.DuckDBPyConnection,
    partitions: list[dict[str, Any]],
    keys: list[dict[str, str]],
    predicate: exp.Expression | None,
) -> list[dict[str, Any]]:
    if predicate is None or not partitions:
        return partitions
    columns = ", ".join(
        f"CAST(v{i} AS {glue_to_duckdb(k['Type'])}) AS {quote_ident(k['Name'])}"
        for i, k in enumerate(keys)
    )
    rows = ", ".join(
        "(" + ", ".join([str(n)] + [quote_literal(v) for v in p["Values"]]) + ")"
        for n, p in enumerate(partitions)
    )
    names = ", ".join(["n"] + [f"v{i}" for i in range(len(keys))])
    query = (
        f"SELECT n FROM (SELECT n, {columns} FROM (VALUES {rows}) AS t({names})) "
        f"WHERE {predicate.sql(dialect=LOCAL_DIALECT)}"
    )
    try:
        chosen = {row[0] for row in con.execute(query).fetchall()}
    except Exception as err:  # a predicate DuckDB cannot evaluate alone: read everything
        log.debug("no partition pruning (%s): %s", err, query)
        return partitions
    return [p for n, p in enumerate(partitions) if n in chosen]


def _empty_select(columns: list[dict[str, str]], with_path: bool = False) -> str:
    cols = ", ".join(
        f"CAST(NULL AS {glue_to_duckdb(c['Type'])}) AS {quote_ident(c['Name'])}" for c in columns
    )
    if with_path:
        cols += f", CAST(NULL AS VARCHAR) AS {quote_ident(PATH_COLUMN)}"
    return f"SELECT {cols} WHERE false"


def _reader(table: dict[str, Any], files: list[str]) -> str:
    file_list = "[" + ", ".join(quote_literal(_duck_path(f)) for f in files) + "]"
    columns = table["StorageDescriptor"]["Columns"]
    if table_format(table) == "text":
        # Hive's LazySimpleSerDe over TextInputFormat: one row per line, split on the
        # field delimiter (never present in JSON text), every line kept, blank ones too.
        [column] = columns
        delimiter = (
            (table["StorageDescriptor"].get("SerdeInfo") or {}).get("Parameters") or {}
        ).get("field.delim", "\x01")
        return (
            f"read_csv({file_list}, columns={{{quote_literal(column['Name'])}: 'VARCHAR'}}, "
            f"delim={quote_literal(delimiter)}, quote='', escape='', header=false, "
            "auto_detect=false, strict_mode=false, max_line_size=100000000, "
            "filename=true, compression='auto')"
        )
    if table_format(table) == "json":
        spec = ", ".join(
            f"{quote_literal(c['Name'])}: {quote_literal(glue_to_duckdb(c['Type']))}"
            for c in columns
        )
        # newline_delimited, as Athena's JSON SerDe: a missing record separator is an
        # error here instead of a silently merged row.
        return (
            f"read_json({file_list}, format='newline_delimited', columns={{{spec}}}, "
            "filename=true, compression='auto')"
        )
    return f"read_parquet({file_list}, filename=true, union_by_name=true)"


def table_view_sql(
    con: duckdb.DuckDBPyConnection,
    table: dict[str, Any],
    partitions: list[dict[str, Any]] | None,
    predicate: exp.Expression | None = None,
    with_path: bool = False,
) -> str:
    """The SELECT that exposes a catalog table (its registered partitions) to DuckDB.

    ``with_path`` adds Athena's hidden ``"$path"`` column (the object's URI).
    """
    sd = table["StorageDescriptor"]
    columns = sd["Columns"]
    keys = table.get("PartitionKeys") or []
    location = sd["Location"]
    fs, _ = filesystem(location)
    if not is_directory_store(fs):
        register_filesystem(con, fs)
    data_cols = ", ".join(
        f"CAST(t.{quote_ident(c['Name'])} AS {glue_to_duckdb(c['Type'])}) "
        f"AS {quote_ident(c['Name'])}"
        if table_format(table) == "parquet"
        else f"t.{quote_ident(c['Name'])}"
        for c in columns
    )
    if not keys:
        files = _data_files(fs, filesystem(location)[1])
        if not files:
            return _empty_select(columns, with_path)
        path_col = (
            f", {quote_literal(_uri_prefix(fs))} || t.filename AS {quote_ident(PATH_COLUMN)}"
            if with_path
            else ""
        )
        return f"SELECT {data_cols}{path_col} FROM {_reader(table, files)} AS t"
    chosen = _select_partitions(con, partitions or [], keys, predicate)
    mapping: list[tuple[str, list[str]]] = []
    for partition in chosen:
        part_location = partition["StorageDescriptor"]["Location"]
        part_fs, part_path = filesystem(part_location)
        for path in _data_files(part_fs, part_path):
            uri = path if is_directory_store(part_fs) else f"{part_fs.protocol[0]}://{path}"
            mapping.append((uri, partition["Values"]))
    if not mapping:
        return _empty_select(columns + keys, with_path)
    files = [uri for uri, _ in mapping]
    rows = ", ".join(
        "("
        + ", ".join(
            [quote_literal(_duck_path(uri)), quote_literal(_object_uri(uri))]
            + [quote_literal(v) for v in values]
        )
        + ")"
        for uri, values in mapping
    )
    key_names = ", ".join(f"k{i}" for i in range(len(keys)))
    key_cols = ", ".join(
        f"CAST(m.k{i} AS {glue_to_duckdb(k['Type'])}) AS {quote_ident(k['Name'])}"
        for i, k in enumerate(keys)
    )
    path_col = f", m.object_uri AS {quote_ident(PATH_COLUMN)}" if with_path else ""
    return (
        f"SELECT {data_cols}, {key_cols}{path_col} FROM {_reader(table, files)} AS t "
        f"JOIN (VALUES {rows}) AS m(filename, object_uri, {key_names}) "
        "ON t.filename = m.filename"
    )


def register_filesystem(con: duckdb.DuckDBPyConnection, fs: Any) -> None:
    """Let DuckDB read and write ``fs``'s URIs (an fsspec S3 filesystem), once per
    connection: registering a protocol twice is an error, and a query of two tables in
    one bucket (or a COPY into the bucket it reads) would do that."""
    name = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    if not con.filesystem_is_registered(name):
        con.register_filesystem(fs)


def _uri_prefix(fs: Any) -> str:
    return "file://" if is_directory_store(fs) else f"{fs.protocol[0]}://"


def _object_uri(path_or_uri: str) -> str:
    """What Athena's ``"$path"`` says for an object: its full URI (``s3://b/k``, ``file:///p``)."""
    return path_or_uri if "://" in path_or_uri else "file://" + path_or_uri


def attach_views(
    con: duckdb.DuckDBPyConnection,
    catalog: Catalog,
    tables: Iterable[tuple[str, str]],
    tree: exp.Expression | None = None,
    default_db: str = "",
) -> list[str]:
    """Create ``db.table`` views on ``con`` for the given catalog tables.

    With ``tree`` (the parsed statement), partitions its WHERE clause excludes are left
    out. Tables the catalog does not know are skipped (the query then fails naming them).
    """
    created = []
    for db, name in sorted(tables):
        table = catalog.get_table(db, name)
        if table is None:
            continue
        keys = [k["Name"] for k in table.get("PartitionKeys") or []]
        predicate = (
            _partition_predicate(tree, db, name, keys, default_db)
            if tree is not None and keys
            else None
        )
        if keys and projection(table) is not None:
            params = projection(table) or {}
            injected = [k for k in keys if params.get(f"projection.{k}.type") == "injected"]
            if tree is not None and injected:
                check_injected_conditions(tree, db, name, injected, default_db)
            partitions = (
                projected_partitions(table, predicate)
                if tree is not None
                else discovered_partitions(table)
            )
        else:
            partitions = catalog.get_partitions(db, name) if keys else None
        with_path = tree is not None and any(
            c.name == PATH_COLUMN for c in tree.find_all(exp.Column)
        )
        body = table_view_sql(con, table, partitions, predicate, with_path)
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(db)}")
        con.execute(f"CREATE OR REPLACE VIEW {quote_ident(db)}.{quote_ident(name)} AS {body}")
        created.append(f"{db}.{name}")
    return created
