"""Where DuckDB's answer differs from Athena's (Trino's), the local engine answers as Trino.

Two halves, both applied on every local statement: :func:`rewrite` (sqlglot, on the
transpiled tree: :mod:`iot_lake.sql.transpile`) and :data:`MACROS` (registered on every
DuckDB connection of :func:`iot_lake.engine.duckdb.new_duckdb`). Each difference is pinned by a
test in ``tests/sql/test_trino_divergences.py`` giving the input and Trino's answer.

- ``CAST(x AS varchar)`` of a double or real: Trino writes the SQL standard's scientific
  form, ``7.5E1`` for 75.0 (``DecimalFormat("0.0###################E0")``, trinodb/trino
  pull requests #10657 and #21136), DuckDB ``75.0``; of a timestamp: Athena reads
  timestamps as ``timestamp(3)`` (milliseconds: microseconds are cut) and writes them
  with their three decimals, ``2026-11-03 05:59:30.000``, DuckDB ``2026-11-03 05:59:30``.
  Every cast to text goes through ``trino_varchar``, which picks the form by the value's
  type (one macro for all types: the rewrite does not know them).
- ``date_diff(unit, a, b)``: Trino counts whole units elapsed (``date_diff('minute',
  05:59:30, 12:00:00)`` = 360, https://trino.io/docs/current/functions/datetime.html),
  DuckDB's ``date_diff`` the unit boundaries crossed (361); DuckDB's ``date_sub`` counts
  as Trino does.
- ``approx_percentile(x, p)``: Trino's t-digest (airlift ``TDigest.valueAt``) answers,
  while every centroid holds one value (small inputs), the input value of rank
  ``floor(p * n)`` (capped at the largest): approx_percentile(1, 2, 3, 4; 0.5) = 3;
  DuckDB's ``approx_quantile`` interpolates (2.5). Locally the value of that rank is
  taken exactly (the same answer for small inputs, within the t-digest's error for large).

The double's digits are DuckDB's shortest round-trip ones, as Java's ``DecimalFormat``
takes them from the double (a rare double may get one digit more from Java).
"""

from __future__ import annotations

from sqlglot import exp

DIALECT = "duckdb"

_TIMESTAMPS = "('TIMESTAMP', 'TIMESTAMP_S', 'TIMESTAMP_MS', 'TIMESTAMP_NS')"

MACROS: tuple[str, ...] = (
    # s: DuckDB's text of a non-negative finite double ('75.0', '1e-05', '1.5e+300')
    "CREATE OR REPLACE MACRO _trino_mantissa(s) AS split_part(s, 'e', 1)",
    "CREATE OR REPLACE MACRO _trino_digits(s) AS replace(_trino_mantissa(s), '.', '')",
    "CREATE OR REPLACE MACRO _trino_significant(s) AS "
    "rtrim(ltrim(_trino_digits(s), '0'), '0')",
    "CREATE OR REPLACE MACRO _trino_exponent(s) AS "
    "(CASE WHEN contains(s, 'e') THEN CAST(split_part(s, 'e', 2) AS INTEGER) ELSE 0 END)"
    " + strpos(_trino_mantissa(s) || '.', '.') - 2"
    " - (length(_trino_digits(s)) - length(ltrim(_trino_digits(s), '0')))",
    "CREATE OR REPLACE MACRO _trino_scientific(s) AS "
    "CASE WHEN _trino_significant(s) = '' THEN '0E0' "
    "ELSE left(_trino_significant(s), 1) || '.' || "
    "CASE WHEN length(_trino_significant(s)) > 1 THEN substr(_trino_significant(s), 2) "
    "ELSE '0' END || 'E' || CAST(_trino_exponent(s) AS VARCHAR) END",
    # Trino's CAST(double AS varchar), from DuckDB's text of the double
    "CREATE OR REPLACE MACRO trino_approx_text(s) AS "
    "CASE WHEN s IN ('nan', '-nan') THEN 'NaN' WHEN s = 'inf' THEN 'Infinity' "
    "WHEN s = '-inf' THEN '-Infinity' "
    "WHEN starts_with(s, '-') THEN '-' || _trino_scientific(ltrim(s, '-')) "
    "ELSE _trino_scientific(s) END",
    # Athena's timestamp(3) text, from DuckDB's ('2026-11-03 05:59:30[.ffffff]')
    "CREATE OR REPLACE MACRO trino_timestamp_text(s) AS "
    "CASE WHEN length(s) = 19 THEN s || '.000' ELSE rpad(left(s, 23), 23, '0') END",
    # CAST(x AS varchar) as Athena answers it, whatever x's type
    "CREATE OR REPLACE MACRO trino_varchar(x) AS "
    "CASE WHEN typeof(x) IN ('DOUBLE', 'FLOAT') THEN trino_approx_text(CAST(x AS VARCHAR)) "
    f"WHEN typeof(x) IN {_TIMESTAMPS} THEN trino_timestamp_text(CAST(x AS VARCHAR)) "
    "ELSE CAST(x AS VARCHAR) END",
)
"""DuckDB macros the rewritten statements call (``CREATE OR REPLACE``: idempotent)."""


def _is_text(data_type: exp.DataType) -> bool:
    return data_type.this in exp.DataType.TEXT_TYPES and not data_type.expressions


def _cast_to_text(tree: exp.Expression) -> exp.Expression:
    for node in list(tree.find_all(exp.Cast)):  # TryCast is a Cast
        if not _is_text(node.to) or isinstance(node.this, exp.Literal):
            continue
        # TRY_CAST too: a cast to text cannot fail
        node.replace(exp.Anonymous(this="trino_varchar", expressions=[node.this.copy()]))
    return tree


def _unit(node: exp.DateDiff) -> str:
    unit = node.args.get("unit")
    return (unit.name if unit is not None else "day").lower()


def _date_diff_elapsed(tree: exp.Expression) -> exp.Expression:
    for node in list(tree.find_all(exp.DateDiff)):
        node.replace(
            exp.Anonymous(
                this="date_sub",
                expressions=[
                    exp.Literal.string(_unit(node)),
                    node.expression.copy(),
                    node.this.copy(),
                ],
            )
        )
    return tree


def _percentile_by_rank(tree: exp.Expression) -> exp.Expression:
    for node in list(tree.find_all(exp.ApproxQuantile)):
        quantile = node.args.get("quantile")
        extra = {k for k, v in node.args.items() if v is not None} - {"this", "quantile"}
        if extra or not isinstance(quantile, exp.Literal) or quantile.is_string:
            continue  # weights, accuracy or an array of percentiles: left as they are
        value = node.this.sql(dialect=DIALECT)
        p = quantile.sql(dialect=DIALECT)
        rank = f"least(CAST(floor({p} * count({value})) AS BIGINT), count({value}) - 1) + 1"
        node.replace(
            exp.maybe_parse(
                f"list_sort(list({value}), 'ASC', 'NULLS LAST')[{rank}]", dialect=DIALECT
            )
        )
    return tree


def _count_if_is_a_count(tree: exp.Expression) -> exp.Expression:
    """Trino's ``count_if`` of no rows is 0, DuckDB's NULL: ``COALESCE(COUNT_IF(x), 0)``."""
    for node in list(tree.find_all(exp.CountIf)):
        outer = node.parent if isinstance(node.parent, exp.Window) else node
        if isinstance(outer.parent, exp.Coalesce):
            continue
        outer.replace(exp.Coalesce(this=outer.copy(), expressions=[exp.Literal.number(0)]))
    return tree


def rewrite(tree: exp.Expression) -> exp.Expression:
    """The (already copied) Athena tree, rewritten where DuckDB's answer differs."""
    return _count_if_is_a_count(_percentile_by_rank(_date_diff_elapsed(_cast_to_text(tree))))
