"""The SQL engine seam: Athena on `aws`, in-process DuckDB on `local`, same SQL files.

SQL files are written in Athena's dialect and Jinja-templated like Airflow templates
(``{{ ds }}``, ``{{ params.x }}``). On `local` a statement is transpiled by sqlglot
(athena -> duckdb) and run on a fresh in-process DuckDB in which every catalog table the
statement names is a view (``iot_lake_raw.weather``, ``iot_lake.coffees``) over the
objects of its registered partitions. As on Athena, only registered partitions are
visible, and partitions the statement's WHERE clause excludes are not even listed
(partition pruning), so a day's query reads a day's files. Tables with partition
projection (``projection.enabled``) have no registered partitions: their partitions
come from the projection parameters and the query's WHERE clause, as on Athena (an
``injected`` key must be given as literals: ``day = 'x'`` or ``day IN ('x', 'y')``).
A statement that names the column ``"$path"`` sees, as on Athena, each row's object URI.

Public API:
- :func:`render_sql` / :func:`to_duckdb`: template and transpile a SQL file or text.
- :func:`run_query` / :func:`query_records`: rows of a query on the configured backend.
- :func:`connect`: a DuckDB connection with views for catalog tables (the dashboard's).
- :func:`stage_partition` / :func:`publish_partition`: write a partition's new version
  aside (audited there), then swap it in (:mod:`iot_lake.wap`); :func:`write_partition`
  does both at once for tables without checks.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
import sqlglot
from sqlglot import exp

from iot_lake import as_trino, config, trino_json, wap
from iot_lake.catalog import Catalog, get_catalog, projection, table_format
from iot_lake.config import SQL_DIR, LakeSettings
from iot_lake.glue_types import glue_to_duckdb
from iot_lake.operators.macros import LakeMacros
from iot_lake.storage import filesystem, is_local, join

if TYPE_CHECKING:
    import duckdb

log = logging.getLogger(__name__)

READ_DIALECT = "athena"
LOCAL_DIALECT = "duckdb"
# Rows per Parquet row group written locally (DuckDB's default). DuckDB encodes and
# compresses the row groups of one file in parallel, so row groups much larger than a
# thread's share of the output serialise the write (1M-row groups made a 1.8M-row day
# ~1 s slower on 2 cores and held ~400 MB more memory).
LOCAL_ROW_GROUP_SIZE = 122_880
PATH_COLUMN = "$path"
"""Athena's hidden column holding the URI of the object a row was read from."""
# Errors come from iot_lake.errors (QueryError, QueryDataError), imported where they are
# raised: that module imports Airflow, which importing the engine must not (benchmark
# workers and CLIs would pay ~1 s and ~90 MB; tests/lake/test_engine.py guards it).


# --------------------------------------------------------------------------- rendering


def _is_file_reference(sql: str) -> bool:
    return sql.strip().endswith(".sql") and "\n" not in sql.strip() and " " not in sql.strip()


def render_sql(
    sql: str,
    params: Mapping[str, Any] | None = None,
    ds: str | None = None,
    **context: Any,
) -> str:
    """Render a SQL file (path relative to ``include/sql`` or absolute) or SQL text.

    The context matches Airflow's template context for what SQL files use: ``ds``,
    ``ds_nodash``, ``data_interval_start``/``_end`` (a daily run of ``ds``), the ``ds``
    and ``ds_nodash`` filters, ``params`` and the ``lake`` macro (settings such as
    ``{{ lake.raw_database }}``); extra keyword arguments are passed through. Undefined
    names raise, so a typo fails here rather than as an odd query.
    """
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(SQL_DIR), "/"]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["ds"] = lambda value: value.strftime("%Y-%m-%d")
    env.filters["ds_nodash"] = lambda value: value.strftime("%Y%m%d")
    if _is_file_reference(sql):
        name = sql.strip()
        path = Path(name)
        template = env.get_template(str(path.resolve()) if path.is_absolute() else name)
    else:
        template = env.from_string(sql)
    values: dict[str, Any] = {"params": dict(params or {}), "lake": LakeMacros()}
    if ds is not None:
        start = datetime.fromisoformat(ds).replace(tzinfo=UTC)
        values.update(
            ds=ds,
            ds_nodash=ds.replace("-", ""),
            data_interval_start=start,
            data_interval_end=start + timedelta(days=1),
            logical_date=start,
        )
    values.update(context)
    return template.render(**values)


def parse_one(sql: str) -> exp.Expression:
    """Parse exactly one Athena statement (files hold one statement each)."""
    statements = [s for s in sqlglot.parse(sql, read=READ_DIALECT) if s is not None]
    if len(statements) != 1:
        from iot_lake.errors import QueryError

        raise QueryError(f"expected exactly one SQL statement, got {len(statements)}")
    return statements[0]


def _is_true(condition: exp.Expression | None) -> bool:
    return condition is None or (isinstance(condition, exp.Boolean) and condition.this is True)


def _unnest_rows_as_columns(tree: exp.Expression) -> exp.Expression:
    """Give DuckDB Athena's UNNEST of an array of rows: one column per row field.

    Athena (Trino) expands ``UNNEST(array_of_rows) AS t(a, b, c)`` into the rows' fields;
    DuckDB's UNNEST yields one struct column. The equivalent DuckDB form is a correlated
    ``(SELECT UNNEST(array, max_depth := 2)) AS t(a, b, c)``.

    ``LEFT JOIN UNNEST(array) AS t(a, b, c) ON TRUE`` (an empty or NULL array still gives
    one row of NULLs) becomes ``CROSS JOIN (SELECT UNNEST(CASE WHEN len(array) > 0 THEN
    array ELSE [NULL] END, max_depth := 2)) AS t(a, b, c)``: the same rows, but DuckDB
    plans a CROSS JOIN of an UNNEST as a plain unnest of each row, whereas a LEFT JOIN of
    a correlated subquery becomes a duplicate-eliminating join keyed on every column of
    the outer row (~1.3x the CPU and ~2.4x the memory on a day of weather messages).
    """
    for node in list(tree.find_all(exp.Unnest)):
        alias = node.args.get("alias")
        columns = alias.columns if isinstance(alias, exp.TableAlias) else []
        if len(columns) < 2 or len(node.expressions) != 1 or node.args.get("offset"):
            continue
        array_sql = node.expressions[0].sql(dialect=LOCAL_DIALECT)
        join = node.parent if isinstance(node.parent, exp.Join) else None
        keep_empty = (
            join is not None
            and join.this is node
            and (join.side or "").upper() == "LEFT"
            and _is_true(join.args.get("on"))
            and not join.args.get("using")
        )
        if keep_empty:
            array_sql = f"CASE WHEN len({array_sql}) > 0 THEN {array_sql} ELSE [NULL] END"
        select = sqlglot.parse_one(
            f"SELECT UNNEST({array_sql}, max_depth := 2)", read=LOCAL_DIALECT
        )
        node.replace(exp.Subquery(this=select, alias=alias.copy()))
        if keep_empty and join is not None:
            join.set("side", None)
            join.set("on", None)
            join.set("kind", "CROSS")
    return tree


_DUCKDB_FUNCTION_NAMES = {"IS_FINITE": "ISFINITE"}
"""Athena (Trino) functions that sqlglot passes through unchanged but DuckDB spells otherwise."""


def _rename_functions(tree: exp.Expression) -> exp.Expression:
    for node in list(tree.find_all(exp.Anonymous)):
        name = _DUCKDB_FUNCTION_NAMES.get(str(node.this).upper())
        if name:
            node.set("this", name)
    return tree


def _parse_json_as_cast(tree: exp.Expression) -> exp.Expression:
    """Athena's ``json_parse(text)`` as DuckDB's ``CAST(text AS JSON)``, not ``json(text)``,
    as strict as Trino's (:mod:`iot_lake.trino_json`).

    Both validate with the same parser and fail (NULL under ``try``) on the same texts, but
    ``json()`` also rewrites the value minified, which a later cast to a struct or map then
    parses a second time: ~15% of the weather flatten's typed pass (one pass over every raw
    line) went to that copy. The cast keeps the text as it came, as Athena's JSON value
    does; values taken out of it (``json_format``, map values) are re-serialised as before.
    """
    for node in list(tree.find_all(exp.ParseJSON)):
        argument = node.this.sql(dialect=LOCAL_DIALECT)
        if isinstance(node.parent, exp.Try):  # try(json_parse(x)): a form that never fails
            strict = trino_json.duckdb_try_sql(argument)
            node = node.parent
        else:
            strict = trino_json.duckdb_sql(argument)
        node.replace(exp.Paren(this=sqlglot.parse_one(strict, read=LOCAL_DIALECT)))
    return tree


def _try_strptime(tree: exp.Expression) -> exp.Expression:
    """``try(date_parse(x, f))`` as DuckDB's ``TRY_STRPTIME(x, f)``: the same NULL where the
    text does not parse, without ``TRY``'s cost (a vector with one failing row is evaluated
    again row by row: one hostile time in a vector of raw lines slowed all 2048)."""
    for node in list(tree.find_all(exp.Try)):
        if not isinstance(node.this, exp.StrToTime):
            continue
        text = node.this.sql(dialect=LOCAL_DIALECT)
        if text.upper().startswith("STRPTIME("):
            node.replace(sqlglot.parse_one(f"TRY_{text}", read=LOCAL_DIALECT))
    return tree


def to_duckdb(sql: str) -> str:
    """Transpile one Athena statement to DuckDB's dialect."""
    return duckdb_tree(parse_one(sql)).sql(dialect=LOCAL_DIALECT)


def duckdb_tree(tree: exp.Expression) -> exp.Expression:
    """The parsed Athena statement, rewritten where DuckDB's semantics differ (and where
    its answers differ: :mod:`iot_lake.as_trino`)."""
    return as_trino.rewrite(
        _try_strptime(
            _parse_json_as_cast(_rename_functions(_unnest_rows_as_columns(tree.copy())))
        )
    )


# --------------------------------------------------------------------------- views


def _duck_path(uri: str) -> str:
    if uri.startswith("file://"):
        return filesystem(uri)[1]
    return uri


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


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
        f"CAST(v{i} AS {glue_to_duckdb(k['Type'])}) AS {_ident(k['Name'])}"
        for i, k in enumerate(keys)
    )
    rows = ", ".join(
        "(" + ", ".join([str(n)] + [_sql_str(v) for v in p["Values"]]) + ")"
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


def _literal_values(predicate: exp.Expression, key: str) -> list[str] | None:
    """The literal values ``key`` is restricted to (``key = 'x'``, ``key IN (...)``)."""
    values: list[str] = []
    found = False
    for node in predicate.find_all(exp.EQ, exp.In):
        column, literals = None, []
        if isinstance(node, exp.EQ):
            left, right = node.this, node.expression
            if isinstance(right, exp.Column) and isinstance(left, exp.Literal):
                left, right = right, left
            if isinstance(left, exp.Column) and isinstance(right, exp.Literal):
                column, literals = left, [right]
        elif isinstance(node.this, exp.Column) and not node.args.get("query"):
            column, literals = node.this, list(node.expressions)
        if column is None or column.name.lower() != key.lower():
            continue
        if not all(isinstance(v, exp.Literal) for v in literals):
            continue
        found = True
        values += [v.this for v in literals if v.this not in values]
    return values if found else None


def _check_injected_conditions(
    tree: exp.Expression, db: str, name: str, keys: list[str], default_db: str
) -> None:
    """Refuse what Athena refuses: an injected key in a WHERE condition that is not a
    static equality (``key = 'x'``, ``key IN ('x', 'y')``), e.g. ``key > 'x'`` or
    ``key = other_column``, anywhere a WHERE clause reads this table's key."""
    lowered = {k.lower() for k in keys}
    qualifiers = {""}
    for table in tree.find_all(exp.Table):
        if table.name.lower() == name and (table.db or default_db).lower() == db:
            qualifiers |= {table.alias_or_name.lower(), name}
    for where in tree.find_all(exp.Where):
        for column in where.find_all(exp.Column):
            if column.name.lower() not in lowered or column.table.lower() not in qualifiers:
                continue
            parent = column.parent
            while isinstance(parent, exp.Paren):
                parent = parent.parent
            static = (
                isinstance(parent, exp.EQ)
                and any(isinstance(side, exp.Literal) for side in (parent.this, parent.expression))
            ) or (
                isinstance(parent, exp.In)
                and parent.this is column
                and parent.expressions
                and all(isinstance(v, exp.Literal) for v in parent.expressions)
            )
            if not static:
                from iot_lake.errors import QueryError

                raise QueryError(
                    f"CONSTRAINT_VIOLATION: For the injected projected partition column "
                    f"{column.name} of table {name}, the WHERE clause must contain only static "
                    f"equality conditions (as on Athena); got {parent.sql(dialect=READ_DIALECT)}"
                )


def projected_partitions(
    table: dict[str, Any], predicate: exp.Expression | None
) -> list[dict[str, Any]]:
    """Partitions of a projected table for a query, as Athena computes them.

    ``injected`` keys take the literals of the WHERE clause (Athena refuses a query
    without them; so does this), ``enum`` keys their listed values. Each partition's
    location is ``storage.location.template`` with the values filled in.
    """
    params = projection(table) or {}
    keys = [k["Name"] for k in table.get("PartitionKeys") or []]
    template = params.get("storage.location.template") or (
        table["StorageDescriptor"]["Location"].rstrip("/")
        + "".join(f"/{k}=${{{k}}}" for k in keys)
        + "/"
    )
    choices: list[list[str]] = []
    for key in keys:
        kind = params.get(f"projection.{key}.type", "")
        if kind == "injected":
            values = _literal_values(predicate, key) if predicate is not None else None
            if not values:
                from iot_lake.errors import QueryError

                raise QueryError(
                    f"CONSTRAINT_VIOLATION: For the injected projected partition column "
                    f"{key} of table {table.get('Name')}, the WHERE clause must contain only "
                    "static equality conditions, and at least one such condition must be "
                    "present (as on Athena)"
                )
        elif kind == "enum":
            values = [v.strip() for v in params.get(f"projection.{key}.values", "").split(",")]
        else:
            from iot_lake.errors import QueryError

            raise QueryError(
                f"table {table.get('Name')}: projection type {kind!r} of {key} is not "
                "supported by the local engine (injected, enum)"
            )
        choices.append(values)
    out: list[dict[str, Any]] = [{"Values": []}]
    for values in choices:
        out = [{"Values": [*p["Values"], v]} for p in out for v in values]
    for partition in out:
        location = template
        for key, value in zip(keys, partition["Values"], strict=True):
            location = location.replace("${" + key + "}", value)
        partition["StorageDescriptor"] = {"Location": location}
    return out


def _discovered_partitions(table: dict[str, Any]) -> list[dict[str, Any]]:
    """Every ``k=v`` folder of a projected table (for interactive readers only)."""
    keys = [k["Name"] for k in table.get("PartitionKeys") or []]
    location = table["StorageDescriptor"]["Location"]
    fs, root = filesystem(location)
    if len(keys) != 1 or not fs.exists(root):
        return []
    prefix = f"{keys[0]}="
    out = []
    for path in sorted(fs.ls(root, detail=False)):
        name = path.rstrip("/").rsplit("/", 1)[-1]
        if name.startswith(prefix):
            out.append(
                {"Values": [name[len(prefix) :]],
                 "StorageDescriptor": {"Location": join(location, name)}}
            )
    return out


def _empty_select(columns: list[dict[str, str]], with_path: bool = False) -> str:
    cols = ", ".join(
        f"CAST(NULL AS {glue_to_duckdb(c['Type'])}) AS {_ident(c['Name'])}" for c in columns
    )
    if with_path:
        cols += f", CAST(NULL AS VARCHAR) AS {_ident(PATH_COLUMN)}"
    return f"SELECT {cols} WHERE false"


def _reader(table: dict[str, Any], files: list[str]) -> str:
    file_list = "[" + ", ".join(_sql_str(_duck_path(f)) for f in files) + "]"
    columns = table["StorageDescriptor"]["Columns"]
    if table_format(table) == "text":
        # Hive's LazySimpleSerDe over TextInputFormat: one row per line, split on the
        # field delimiter (never present in JSON text), every line kept, blank ones too.
        [column] = columns
        delimiter = (
            (table["StorageDescriptor"].get("SerdeInfo") or {}).get("Parameters") or {}
        ).get("field.delim", "\x01")
        return (
            f"read_csv({file_list}, columns={{{_sql_str(column['Name'])}: 'VARCHAR'}}, "
            f"delim={_sql_str(delimiter)}, quote='', escape='', header=false, "
            "auto_detect=false, strict_mode=false, max_line_size=100000000, "
            "filename=true, compression='auto')"
        )
    if table_format(table) == "json":
        spec = ", ".join(
            f"{_sql_str(c['Name'])}: {_sql_str(glue_to_duckdb(c['Type']))}" for c in columns
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
    if not is_local(fs):
        register_filesystem(con, fs)
    data_cols = ", ".join(
        f"CAST(t.{_ident(c['Name'])} AS {glue_to_duckdb(c['Type'])}) AS {_ident(c['Name'])}"
        if table_format(table) == "parquet"
        else f"t.{_ident(c['Name'])}"
        for c in columns
    )
    if not keys:
        files = _data_files(fs, filesystem(location)[1])
        if not files:
            return _empty_select(columns, with_path)
        path_col = (
            f", {_sql_str(_uri_prefix(fs))} || t.filename AS {_ident(PATH_COLUMN)}"
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
            uri = path if is_local(part_fs) else f"{part_fs.protocol[0]}://{path}"
            mapping.append((uri, partition["Values"]))
    if not mapping:
        return _empty_select(columns + keys, with_path)
    files = [uri for uri, _ in mapping]
    rows = ", ".join(
        "("
        + ", ".join(
            [_sql_str(_duck_path(uri)), _sql_str(_object_uri(uri))]
            + [_sql_str(v) for v in values]
        )
        + ")"
        for uri, values in mapping
    )
    key_names = ", ".join(f"k{i}" for i in range(len(keys)))
    key_cols = ", ".join(
        f"CAST(m.k{i} AS {glue_to_duckdb(k['Type'])}) AS {_ident(k['Name'])}"
        for i, k in enumerate(keys)
    )
    path_col = f", m.object_uri AS {_ident(PATH_COLUMN)}" if with_path else ""
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
    return "file://" if is_local(fs) else f"{fs.protocol[0]}://"


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
                _check_injected_conditions(tree, db, name, injected, default_db)
            partitions = (
                projected_partitions(table, predicate)
                if tree is not None
                else _discovered_partitions(table)
            )
        else:
            partitions = catalog.get_partitions(db, name) if keys else None
        with_path = tree is not None and any(
            c.name == PATH_COLUMN for c in tree.find_all(exp.Column)
        )
        body = table_view_sql(con, table, partitions, predicate, with_path)
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {_ident(db)}")
        con.execute(f"CREATE OR REPLACE VIEW {_ident(db)}.{_ident(name)} AS {body}")
        created.append(f"{db}.{name}")
    return created


def new_duckdb(threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """A fresh in-memory DuckDB, bounded to this machine's cores, with the macros that
    make its answers Athena's (:mod:`iot_lake.as_trino`)."""
    import duckdb

    con = duckdb.connect(":memory:")
    con.execute(f"SET threads = {threads or os.cpu_count() or 1}")
    con.execute("SET preserve_insertion_order = false")
    for macro in as_trino.MACROS:
        con.execute(macro)
    trino_json.register(con)
    return con


def connect(
    settings: LakeSettings | None = None,
    databases: Iterable[str] | None = None,
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection where every table of the lake's databases is a view.

    For interactive readers (the dashboard): all registered partitions are visible.
    Queries must be DuckDB SQL here; use :func:`run_query` for Athena-dialect files.
    """
    lake = settings or config.settings()
    catalog = get_catalog(lake)
    con = new_duckdb()
    dbs = list(databases) if databases is not None else [lake.raw_database, lake.curated_database]
    attach_views(con, catalog, [(db, t) for db in dbs for t in catalog.list_tables(db)])
    return con


def prepare_local(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    settings: LakeSettings | None = None,
    database: str | None = None,
) -> str:
    """Attach the views ``sql`` (Athena dialect) needs to ``con``; return its DuckDB text."""
    lake = settings or config.settings()
    default_db = (database or lake.curated_database).lower()
    tree = parse_one(sql)
    attach_views(
        con, get_catalog(lake), referenced_tables(tree, default_db), tree, default_db
    )
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {_ident(default_db)}")
    con.execute(f"USE {_ident(default_db)}")
    return duckdb_tree(tree).sql(dialect=LOCAL_DIALECT)


# --------------------------------------------------------------------------- running


def run_query(
    sql: str,
    params: Mapping[str, Any] | None = None,
    settings: LakeSettings | None = None,
    ds: str | None = None,
    database: str | None = None,
) -> list[tuple[Any, ...]]:
    """Rows of one Athena-dialect query (file or text) on the configured backend, typed
    alike on both (as :func:`records`)."""
    lake = settings or config.settings()
    text = render_sql(sql, params=params, ds=ds, lake=LakeMacros(lake))
    return _result(text, lake, database, label=sql)[1]


def query_records(
    sql: str,
    params: Mapping[str, Any] | None = None,
    settings: LakeSettings | None = None,
    ds: str | None = None,
    database: str | None = None,
) -> list[dict[str, Any]]:
    """Rows of one query (file or text, templated) as ``{column: value}``: :func:`records`."""
    lake = settings or config.settings()
    text = render_sql(sql, params=params, ds=ds, lake=LakeMacros(lake))
    return records(text, lake, database, label=sql)


def records(
    text: str,
    settings: LakeSettings | None = None,
    database: str | None = None,
    label: str | None = None,
) -> list[dict[str, Any]]:
    """Rows of one rendered statement as ``{column: value}``, typed alike on both backends.

    Athena returns every value as text; its result metadata types them here (pyathena's
    converter), so a count is an ``int`` whichever backend ran it.
    """
    names, rows = _result(text, settings or config.settings(), database, label)
    return [dict(zip(names, row, strict=True)) for row in rows]


def _result(
    text: str, lake: LakeSettings, database: str | None, label: str | None
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Column names and rows of one rendered statement on the configured backend."""
    if lake.is_local:
        return _run_local(label or text, text, lake, database)
    return athena_result(athena_execute(text, lake, database=database), lake)


def _run_local(
    sql: str, text: str, lake: LakeSettings, database: str | None
) -> tuple[list[str], list[tuple[Any, ...]]]:
    con = new_duckdb()
    try:
        cursor = con.execute(prepare_local(con, text, lake, database))
        rows = cursor.fetchall()
        return [column[0] for column in cursor.description or []], rows
    except Exception as err:
        from iot_lake.errors import CatalogError, QueryError, query_error

        if isinstance(err, CatalogError | QueryError):
            raise
        raise query_error(f"local query {_label(sql)} failed: {err}", err) from err
    finally:
        con.close()


def _label(sql: str) -> str:
    return sql.strip() if _is_file_reference(sql) else repr(sql.strip()[:80])


def athena_hook(settings: LakeSettings) -> Any:
    from airflow.providers.amazon.aws.hooks.athena import AthenaHook

    return AthenaHook(aws_conn_id=settings.aws_conn_id, region_name=settings.region)


ATHENA_MAX_POLLS = 720
"""Polls of a synchronous Athena wait (x ``sleep_time``: one hour at 5 s) before it stops."""


def athena_execute(
    sql: str,
    settings: LakeSettings,
    database: str | None = None,
    sleep_time: int = 5,
    max_polls: int = ATHENA_MAX_POLLS,
) -> str:
    """Run one statement on Athena in the lake's workgroup; wait; return its execution id.

    The query never outlives the wait: when the wait times out, or the task is killed or
    hits its ``execution_timeout`` while waiting (Airflow raises inside the task), the
    query is stopped (``StopQueryExecution``) before the error propagates. For tools,
    tests and ``lake_setup``; DAG tasks give their worker slot back instead and wait in
    the triggerer (:mod:`iot_lake.operators.write`, :mod:`iot_lake.operators.deferred_sql`).
    """
    hook = athena_hook(settings)
    execution_id = athena_start(sql, settings, database, hook=hook)
    try:
        state = hook.poll_query_status(
            execution_id, max_polling_attempts=max_polls, sleep_time=sleep_time
        )
    except BaseException:
        stop_query(execution_id, settings, hook=hook)
        raise
    if state in hook.INTERMEDIATE_STATES or state is None:
        stop_query(execution_id, settings, hook=hook)
        from iot_lake.errors import QueryError

        raise QueryError(
            f"Athena query {execution_id} still {state} after {max_polls * sleep_time}s: stopped"
        )
    if state != "SUCCEEDED":
        reason = hook.get_state_change_reason(execution_id)
        from iot_lake.errors import QueryDataError, QueryError, is_athena_data_error

        error = QueryDataError if is_athena_data_error(reason) else QueryError
        raise error(f"Athena query {execution_id} ended {state}: {reason}")
    return execution_id


def athena_start(
    sql: str, settings: LakeSettings, database: str | None = None, hook: Any = None
) -> str:
    """Submit one statement in the lake's workgroup; its execution id (no wait)."""
    hook = hook or athena_hook(settings)
    return hook.run_query(
        query=sql,
        query_context={"Database": database or settings.curated_database},
        result_configuration={"OutputLocation": settings.uri("query_results")},
        client_request_token=str(uuid.uuid4()),
        workgroup=settings.athena_workgroup,
    )


def stop_query(execution_id: str, settings: LakeSettings, hook: Any = None) -> None:
    """``StopQueryExecution`` of a query that may still run; never raises (best effort)."""
    try:
        (hook or athena_hook(settings)).stop_query(execution_id)
        log.warning("stopped Athena query %s", execution_id)
    except Exception:  # the original error matters more than a failed stop
        log.exception("could not stop Athena query %s", execution_id)


def abandon_query(query: Mapping[str, Any], settings: LakeSettings) -> None:
    """Stop a query that may still run and delete what it may have half written.

    ``query`` is ``{"id": ..., "location": ...}`` (location: an UNLOAD's fresh prefix, or
    None). Best effort, never raises: it runs on the way out of a failure.
    """
    stop_query(query["id"], settings)
    if query.get("location"):
        try:
            delete_prefix(query["location"], settings)
        except Exception:
            log.exception("could not delete %s", query["location"])


def athena_records(execution_id: str, settings: LakeSettings) -> list[dict[str, Any]]:
    """Result rows of a finished Athena query as ``{column: value}``, typed by its metadata."""
    names, rows = athena_result(execution_id, settings)
    return [dict(zip(names, row, strict=True)) for row in rows]


def athena_result(
    execution_id: str, settings: LakeSettings
) -> tuple[list[str], list[tuple[Any, ...]]]:  # names, rows
    """Column names and rows of a finished query (a SELECT's header row dropped), each
    value typed from the column's Athena type (GetQueryResults returns text)."""
    from pyathena.converter import DefaultTypeConverter

    convert = DefaultTypeConverter().convert
    columns: list[dict[str, Any]] = []
    cells: list[list[dict[str, Any]]] = []
    for page in athena_hook(settings).get_query_results_paginator(execution_id) or []:
        result = page["ResultSet"]
        columns = columns or list(result.get("ResultSetMetadata", {}).get("ColumnInfo", []))
        cells += [row["Data"] for row in result["Rows"]]
    names = [column["Name"] for column in columns]
    if cells and [cell.get("VarCharValue") for cell in cells[0]] == names:
        cells = cells[1:]  # a SELECT's first row holds the column labels
    rows = [
        tuple(convert(c["Type"], cell.get("VarCharValue")) for c, cell in zip(columns, row,
                                                                             strict=True))
        for row in cells
    ]
    return names, rows


# --------------------------------------------------------------------------- writing


def target_table(
    catalog: Catalog, db: str, table_name: str, values: list[str]
) -> dict[str, Any]:
    table = catalog.require_table(db, table_name)
    if table_format(table) != "parquet":
        from iot_lake.errors import CatalogError

        raise CatalogError(f"{db}.{table_name} is not a Parquet table")
    keys = [k["Name"] for k in table.get("PartitionKeys") or []]
    if len(keys) != len(values):
        from iot_lake.errors import CatalogError

        raise CatalogError(f"{db}.{table_name} is partitioned by {keys}; got {values}")
    return table


def compression_of(table: dict[str, Any], lake: LakeSettings) -> str:
    return (
        (table.get("Parameters") or {}).get("parquet.compression") or lake.parquet_compression
    ).upper()


def stage_partition(
    select_sql: str,
    db: str,
    table_name: str,
    values: list[str],
    settings: LakeSettings | None = None,
    database: str | None = None,
    run_id: str | None = None,
) -> wap.StagedPartition:
    """Write the rows of an Athena SELECT as a new, unpublished version of a partition.

    The SELECT yields the table's data columns (not its partition keys). The version is
    registered in the staging database (``lake.staging_database``) where the audit reads
    it; readers of ``db.table_name`` still see the published version (see
    :mod:`iot_lake.wap`). A failed write leaves nothing staged.
    """
    lake = settings or config.settings()
    catalog = get_catalog(lake)
    table = target_table(catalog, db, table_name, values)
    location = wap.stage_location(lake, table, values, run_id or wap.new_run_id())
    compression = compression_of(table, lake)
    if lake.is_local:
        rows = _write_local(select_sql, db, table, values, location, compression, lake, database)
    else:
        rows = None
        _unload(select_sql, location, compression, lake, database or db)
    return wap.register_staged(lake, db, table, values, location, rows=rows, catalog=catalog)


def publish_partition(
    staged: wap.StagedPartition, settings: LakeSettings | None = None
) -> dict[str, Any]:
    """Swap a staged version in (directory swap on `local`, Glue partition swap on `aws`)."""
    return wap.publish(staged, settings or config.settings())


def write_partition(
    select_sql: str,
    db: str,
    table_name: str,
    values: list[str],
    settings: LakeSettings | None = None,
    database: str | None = None,
) -> dict[str, Any]:
    """Replace one partition of a Parquet table by the rows of an Athena SELECT, unaudited.

    :func:`stage_partition` then :func:`publish_partition` at once, for derived tables
    without checks of their own (the daily stats). Whatever fails, readers see the old
    partition or the new one, never a mix, and a rerun replaces rather than adds.
    """
    lake = settings or config.settings()
    started = time.perf_counter()
    staged = stage_partition(select_sql, db, table_name, values, lake, database)
    published = publish_partition(staged, lake)
    seconds = time.perf_counter() - started
    log.info("published %s.%s %s: %s rows in %.2fs", db, table_name, values, staged.rows, seconds)
    return {
        "location": published["location"],
        "previous": published["superseded"],
        "rows": staged.rows,
        "seconds": round(seconds, 3),
    }


def _copy_to_parquet(
    con: duckdb.DuckDBPyConnection, local_sql: str, fs: Any, path: str, codec: str
) -> int:
    """One Parquet file of the query's rows under ``path``; the number of rows written.

    COPY answers the count itself: no second read to count them.
    """
    fs.makedirs(path, exist_ok=True)
    target = join(path, f"part-{uuid.uuid4().hex}.parquet")
    if not is_local(fs):
        register_filesystem(con, fs)
        target = f"{fs.protocol[0]}://{target}"
    [rows] = con.execute(
        f"COPY ({local_sql}) TO {_sql_str(target)} (FORMAT parquet, "
        f"COMPRESSION {codec.lower()}, ROW_GROUP_SIZE {LOCAL_ROW_GROUP_SIZE})"
    ).fetchone()
    return int(rows)


def _write_local(
    select_sql: str,
    db: str,
    table: dict[str, Any],
    values: list[str],
    location: str,
    compression: str,
    lake: LakeSettings,
    database: str | None,
) -> int:
    fs, staging_path = filesystem(location)
    con = new_duckdb()
    try:
        local_sql = prepare_local(con, select_sql, lake, database)
        rows = _copy_to_parquet(con, local_sql, fs, staging_path, compression)
    except Exception as err:
        if fs.exists(staging_path):
            fs.rm(staging_path, recursive=True)
        if is_local(fs):
            wap.remove_empty_parents(staging_path, stop=wap.STAGING_DIR)
        from iot_lake.errors import query_error

        raise query_error(
            f"writing {db}.{table['Name']} partition {values} failed; the published "
            f"partition is unchanged: {err}",
            err,
        ) from err
    finally:
        con.close()
    return int(rows)


def unload_sql(select_sql: str, location: str, compression: str) -> str:
    """Athena UNLOAD of a SELECT to Parquet at a fresh prefix (engine plumbing)."""
    return (
        f"UNLOAD ({select_sql.strip().rstrip(';')}) TO {_sql_str(location)} "
        f"WITH (format = 'PARQUET', compression = {_sql_str(compression)})"
    )


def _unload(
    select_sql: str, location: str, compression: str, lake: LakeSettings, database: str
) -> None:
    parse_one(select_sql)  # fail before touching anything on a malformed statement
    try:
        athena_execute(unload_sql(select_sql, location, compression), lake, database=database)
    except BaseException:
        delete_prefix(location, lake)
        raise


def delete_prefix(uri: str, settings: LakeSettings) -> None:
    """Delete every object under an S3 prefix (through the Airflow AWS connection)."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    s3 = S3Hook(aws_conn_id=settings.aws_conn_id, region_name=settings.region)
    bucket, prefix = S3Hook.parse_s3_url(uri)
    keys = s3.list_keys(bucket_name=bucket, prefix=prefix.rstrip("/") + "/")
    if keys:
        s3.delete_objects(bucket=bucket, keys=keys)
