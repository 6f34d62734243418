"""One Athena statement, parsed and rewritten so DuckDB runs it as Athena (Trino) would.

SQL files are Athena dialect; the local engine parses each statement with sqlglot
(``athena``), rewrites the tree where DuckDB's semantics differ (UNNEST of rows, function
names, strict JSON parsing, ``try`` forms that never raise) and where its answers differ
(:mod:`iot_lake.sql.as_trino`), then writes it in DuckDB's dialect.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp

from iot_lake.sql import as_trino, trino_json

READ_DIALECT = "athena"
LOCAL_DIALECT = "duckdb"


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
    as strict as Trino's (:mod:`iot_lake.sql.trino_json`).

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
    its answers differ: :mod:`iot_lake.sql.as_trino`)."""
    return as_trino.rewrite(
        _try_strptime(
            _parse_json_as_cast(_rename_functions(_unnest_rows_as_columns(tree.copy())))
        )
    )
