"""Trino's rules for one statement, checked without a Trino: what Athena would refuse.

DuckDB runs the same SQL locally and forgives more than Trino (a UNION of bigint and
boolean, a boolean compared with a number), so a statement can pass every local test and
fail on Athena. :func:`problems` lists what Trino would refuse in a rendered statement:

1. **grammar**: Trino's own ANTLR grammar (``SqlBase.g4`` of Trino 405, compiled for
   Python by the ``trino-query-parser`` package) must parse it as one statement;
2. **function names**: every function call the grammar finds must name a function of
   Trino's list (``trino_functions.txt``, taken from Trino's documentation);
3. **types**: sqlglot's optimizer types every expression against the declared table
   schemas (the Glue definitions the catalog holds); then the branches of a UNION /
   INTERSECT / EXCEPT must agree column by column, so must the results of CASE / IF /
   COALESCE; the two sides of a comparison (``=``, ``<``, ``BETWEEN``, ``IN`` ...) must be
   comparable; arithmetic and sum/avg/stddev take numbers. Trino converts implicitly
   between numeric types, and between date and timestamp, but never between boolean,
   number and text ("Trino will not convert between character and numeric types",
   https://trino.io/docs/current/functions/conversion.html; a boolean is no number:
   https://trino.io/docs/current/language/types.html#boolean). Expressions the typer cannot
   type (unknown) are not judged: the check may miss, never invent, a mismatch.

The messages follow Trino's (``column 3 in UNION query has incompatible types: bigint,
boolean``; ``'=' cannot be applied to boolean, integer``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path

import sqlglot
from sqlglot import exp
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify
from sqlglot.schema import MappingSchema

FUNCTIONS_FILE = Path(__file__).with_name("trino_functions.txt")
DIALECT = "athena"

Schema = Mapping[str, Mapping[str, Mapping[str, str]]]
"""``{database: {table: {column: type}}}``, types as Trino writes them."""


@cache
def trino_functions() -> frozenset[str]:
    lines = FUNCTIONS_FILE.read_text().splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


# --------------------------------------------------------------------------- grammar


def _parse_tree(sql: str):
    """Trino's parse tree of ``sql`` (raises ``TrinoSyntaxError``)."""
    from antlr4 import CommonTokenStream, InputStream
    from antlr4.error.ErrorListener import ConsoleErrorListener
    from trino_query_parser.error import TrinoErrorListener
    from trino_query_parser.SqlBaseLexer import SqlBaseLexer
    from trino_query_parser.SqlBaseParser import SqlBaseParser

    # Trino's lexer reads an upper-cased stream (its keywords are upper case); so does
    # trino_query_parser.parse_statement. Literals change case, which the grammar ignores.
    lexer = SqlBaseLexer(InputStream(sql.upper()))
    lexer.removeErrorListener(ConsoleErrorListener.INSTANCE)
    lexer.addErrorListener(TrinoErrorListener())
    parser = SqlBaseParser(CommonTokenStream(lexer))
    parser.removeErrorListener(ConsoleErrorListener.INSTANCE)
    parser.addErrorListener(TrinoErrorListener())
    return parser.singleStatement()


def called_functions(sql: str) -> set[str]:
    """Names of the functions ``sql`` calls, as Trino's grammar sees them (lower case)."""
    from trino_query_parser.SqlBaseParser import SqlBaseParser

    names: set[str] = set()
    stack = [_parse_tree(sql)]
    while stack:
        node = stack.pop()
        if isinstance(node, SqlBaseParser.FunctionCallContext):
            names.add(node.qualifiedName().getText().lower())
        stack.extend(getattr(node, "children", None) or [])
    return names


def grammar_problems(sql: str) -> list[str]:
    from trino_query_parser import TrinoSyntaxError

    try:
        names = called_functions(sql)
    except TrinoSyntaxError as err:
        return [f"Trino's grammar rejects it: line {err}"]
    unknown = sorted(names - trino_functions())
    return [f"Function '{name}' not registered (not in Trino's function list)" for name in unknown]


# --------------------------------------------------------------------------- types

_NUMERIC = exp.DataType.NUMERIC_TYPES
_TEXT = exp.DataType.TEXT_TYPES | {exp.DataType.Type.CHAR, exp.DataType.Type.NCHAR}
_DATETIME = {
    exp.DataType.Type.DATE,
    exp.DataType.Type.DATETIME,
    exp.DataType.Type.TIMESTAMP,
    exp.DataType.Type.TIMESTAMPTZ,
    exp.DataType.Type.TIMESTAMPLTZ,
    exp.DataType.Type.TIMESTAMP_S,
    exp.DataType.Type.TIMESTAMP_MS,
    exp.DataType.Type.TIMESTAMP_NS,
}
_UNKNOWN = {exp.DataType.Type.UNKNOWN, exp.DataType.Type.NULL}


def family(data_type: exp.DataType | None) -> str | None:
    """The group of types Trino converts between implicitly; None when unknown."""
    if data_type is None or data_type.this in _UNKNOWN:
        return None
    kind = data_type.this
    if kind == exp.DataType.Type.BOOLEAN:
        return "boolean"
    if kind in _NUMERIC:
        return "number"
    if kind in _TEXT:
        return "text"
    if kind in _DATETIME:
        return "datetime"
    return kind.value.lower()  # json, array, map, struct, varbinary, interval, time ...


def _trino_type(data_type: exp.DataType | None) -> str:
    return "unknown" if data_type is None else data_type.sql("trino").lower()


def _branches(node: exp.Expression) -> list[exp.Select]:
    """The SELECTs a chain of set operations glues together, left to right."""
    while isinstance(node, exp.Subquery):
        node = node.this
    if isinstance(node, exp.SetOperation):
        return _branches(node.left) + _branches(node.right)
    return [node] if isinstance(node, exp.Select) else []


def _set_operation_problems(tree: exp.Expression) -> list[str]:
    out = []
    for node in tree.find_all(exp.SetOperation):
        if isinstance(node.parent, exp.SetOperation):
            continue  # judged with the whole chain
        branches = _branches(node)
        if len(branches) < 2:
            continue
        kind = type(node).__name__.upper()
        width = len(branches[0].selects)
        for position in range(width):
            types = [b.selects[position].type for b in branches if len(b.selects) > position]
            seen: dict[str, exp.DataType] = {}
            for data_type in types:
                group = family(data_type)
                if group is not None:
                    seen.setdefault(group, data_type)
            if len(seen) > 1:
                names = ", ".join(_trino_type(t) for t in seen.values())
                out.append(
                    f"column {position + 1} in {kind} query has incompatible types: {names}"
                )
    return out


_COMPARISONS: dict[type[exp.Expression], str] = {
    exp.EQ: "=",
    exp.NEQ: "<>",
    exp.GT: ">",
    exp.GTE: ">=",
    exp.LT: "<",
    exp.LTE: "<=",
    exp.NullSafeEQ: "IS NOT DISTINCT FROM",
    exp.NullSafeNEQ: "IS DISTINCT FROM",
}


def _operand_type(node: exp.Expression) -> exp.DataType | None:
    if isinstance(node, exp.Subquery | exp.Select):
        selects = node.unnest().selects if isinstance(node, exp.Subquery) else node.selects
        return selects[0].type if len(selects) == 1 else None
    return node.type


def _mismatch(op: str, left: exp.Expression, right: exp.Expression) -> str | None:
    left_type, right_type = _operand_type(left), _operand_type(right)
    a, b = family(left_type), family(right_type)
    if a is None or b is None or a == b:
        return None
    return (
        f"'{op}' cannot be applied to {_trino_type(left_type)}, {_trino_type(right_type)} "
        f"(in {left.sql(DIALECT)} {op} {right.sql(DIALECT)})"
    )


def _comparison_problems(tree: exp.Expression) -> list[str]:
    out: list[str | None] = []
    for node in tree.find_all(*_COMPARISONS, exp.Between, exp.In):
        if isinstance(node, exp.Between):
            out.append(_mismatch("BETWEEN", node.this, node.args["low"]))
            out.append(_mismatch("BETWEEN", node.this, node.args["high"]))
        elif isinstance(node, exp.In):
            values = list(node.expressions)
            if node.args.get("query") is not None:
                values.append(node.args["query"])
            out += [_mismatch("IN", node.this, value) for value in values]
        else:
            out.append(_mismatch(_COMPARISONS[type(node)], node.this, node.expression))
    return [problem for problem in out if problem]


_ARITHMETIC: dict[type[exp.Expression], str] = {
    exp.Add: "+", exp.Sub: "-", exp.Mul: "*", exp.Div: "/", exp.Mod: "%",
}
_NUMERIC_AGGREGATES: dict[type[exp.Expression], str] = {
    exp.Sum: "sum", exp.Avg: "avg", exp.Stddev: "stddev", exp.StddevSamp: "stddev_samp",
    exp.StddevPop: "stddev_pop", exp.Variance: "variance", exp.ApproxQuantile: "approx_percentile",
}


def _arithmetic_problems(tree: exp.Expression) -> list[str]:
    """Arithmetic and numeric aggregates take numbers (and date/time +/- interval), never a
    boolean or text: DuckDB casts a boolean to 0/1, Trino has no such operator."""
    out = []
    for node in tree.find_all(*_ARITHMETIC, *_NUMERIC_AGGREGATES):
        if isinstance(node, tuple(_NUMERIC_AGGREGATES)):
            if family(node.this.type) in ("boolean", "text"):
                out.append(
                    f"Unexpected parameters ({_trino_type(node.this.type)}) for function "
                    f"{_NUMERIC_AGGREGATES[type(node)]}"
                )
            continue
        left, right = node.this.type, node.expression.type
        if {family(left), family(right)} & {"boolean", "text"}:
            out.append(
                f"'{_ARITHMETIC[type(node)]}' cannot be applied to {_trino_type(left)}, "
                f"{_trino_type(right)} (in {node.sql(DIALECT)})"
            )
    return out


def _branch_problems(tree: exp.Expression) -> list[str]:
    """The results of CASE / IF / COALESCE must share a type (Trino: "All CASE results
    must be the same type or coercible to a common type")."""
    out = []
    for node in tree.find_all(exp.Case, exp.If, exp.Coalesce):
        if isinstance(node, exp.Case):
            values = [w.args.get("true") for w in node.args.get("ifs") or []]
            values.append(node.args.get("default"))
            name = "CASE"
        elif isinstance(node, exp.If):
            values = [node.args.get("true"), node.args.get("false")]
            name = "IF"
        else:
            values = [node.this, *node.expressions]
            name = "COALESCE"
        seen: dict[str, exp.DataType] = {}
        for value in values:
            if value is not None and (group := family(value.type)) is not None:
                seen.setdefault(group, value.type)
        if len(seen) > 1:
            names = ", ".join(_trino_type(t) for t in seen.values())
            out.append(f"All {name} results must be the same type or coercible: {names}")
    return out


def typed_tree(sql: str, schema: Schema, database: str) -> exp.Expression:
    """The statement, qualified and typed against ``schema`` (``database`` by default)."""
    mapping = MappingSchema(
        {db: {t: dict(cols) for t, cols in tables.items()} for db, tables in schema.items()},
        dialect="trino",
    )
    tree = sqlglot.parse_one(sql, read=DIALECT)
    tree = qualify(
        tree,
        db=database,
        schema=mapping,
        dialect=DIALECT,
        validate_qualify_columns=False,
        identify=False,
    )
    return annotate_types(tree, schema=mapping, dialect=DIALECT)


def type_problems(sql: str, schema: Schema, database: str) -> list[str]:
    tree = typed_tree(sql, schema, database)
    return (
        _set_operation_problems(tree)
        + _comparison_problems(tree)
        + _arithmetic_problems(tree)
        + _branch_problems(tree)
    )


def problems(sql: str, schema: Schema, database: str) -> list[str]:
    """Everything Trino would refuse in one rendered statement (empty: none found)."""
    found = grammar_problems(sql)
    if any(p.startswith("Trino's grammar") for p in found):
        return found
    return found + type_problems(sql, schema, database)


def glue_schema(tables: Iterable[tuple[str, dict]]) -> dict[str, dict[str, dict[str, str]]]:
    """``{db: {table: {column: trino type}}}`` of Glue ``TableInput`` s (keys included).

    Raw JSON/text tables also get Athena's hidden ``"$path"`` column (varchar).
    """
    out: dict[str, dict[str, dict[str, str]]] = {}
    for database, table in tables:
        sd = table["StorageDescriptor"]
        columns = list(sd["Columns"]) + list(table.get("PartitionKeys") or [])
        types = {
            c["Name"]: exp.DataType.build(c["Type"], dialect="hive").sql("trino")
            for c in columns
        }
        types["$path"] = "VARCHAR"
        out.setdefault(database, {})[table["Name"]] = types
    return out
