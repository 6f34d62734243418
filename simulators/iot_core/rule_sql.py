"""AWS IoT SQL (version 2016-03-23) evaluated locally, parsed by sqlglot.

The rule's statement is parsed once into a tree and compiled into small Python closures,
so evaluating a message costs a few function calls, not a parse. The supported subset is
what the project's rules (and typical IoT rules) use:

- ``SELECT *``, fields, nested fields ``a.b.c``, aliases, ``*`` combined with fields;
- ``FROM 'topic/filter'`` (MQTT wildcards ``+`` and ``#``);
- ``WHERE`` with ``= <> != < <= > >=``, ``AND``/``OR``/``NOT``, ``IS [NOT] NULL``,
  arithmetic, parentheses;
- functions ``topic()``, ``topic(n)``, ``clientid()``, ``timestamp()``, ``newuuid()``,
  ``parse_time(format, millis[, zone])``, ``lower``, ``upper``, ``abs``.

IoT semantics kept: a missing field is *Undefined*; a comparison involving Undefined (or
values of different types) is Undefined, and a WHERE clause that is not true drops the
message; an Undefined field is left out of the SELECT result. Anything outside the subset
is refused when the rule is loaded, with the reason, never silently misread.
"""

from __future__ import annotations

import datetime as dt
import operator
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import sqlglot
from sqlglot import exp, parser
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError

SQL_VERSION = "2016-03-23"


class RuleSqlError(ValueError):
    """The rule SQL cannot be parsed or uses something the local engine does not support."""


class _Undefined:
    """IoT SQL's Undefined: what a missing field or an ill-typed comparison yields."""

    _instance: _Undefined | None = None

    def __new__(cls) -> _Undefined:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "Undefined"

    def __bool__(self) -> bool:
        return False


UNDEFINED = _Undefined()


class IotSqlDialect(Dialect):
    """sqlglot's grammar with every function call left unnamed (``Anonymous``).

    IoT SQL's functions (``topic(2)``, ``parse_time(fmt, ms, zone)``, ``timestamp()``) share
    names with other dialects' functions of different arity; keeping them anonymous lets
    this module decide what each one means.
    """

    class Parser(parser.Parser):
        FUNCTIONS: dict = {}  # noqa: RUF012 - sqlglot's own class-level table
        FUNCTION_PARSERS: dict = {}  # noqa: RUF012
        NO_PAREN_FUNCTIONS: dict = {}  # noqa: RUF012


class MessageContext(NamedTuple):
    """What IoT knows about a message besides its payload (a tuple: one per message)."""

    topic: str
    client_id: str | None = None
    timestamp_ms: int = 0


Evaluator = Callable[[Mapping[str, Any], MessageContext], Any]


@dataclass(frozen=True)
class RuleQuery:
    """A compiled rule statement."""

    sql: str
    topic_filter: str
    select_star: bool
    projections: tuple[tuple[str, Evaluator], ...]
    where: Evaluator | None

    @property
    def is_passthrough(self) -> bool:
        """``SELECT * FROM ...`` with nothing else: the payload goes out byte for byte."""
        return self.select_star and not self.projections

    def matches(self, doc: Mapping[str, Any], ctx: MessageContext) -> bool:
        """Whether the WHERE clause is true for this message (no clause: always)."""
        return self.where is None or self.where(doc, ctx) is True

    def project(self, doc: Mapping[str, Any], ctx: MessageContext) -> dict[str, Any]:
        """The SELECT result; Undefined values are left out as IoT does."""
        out: dict[str, Any] = dict(doc) if self.select_star else {}
        for name, fn in self.projections:
            value = fn(doc, ctx)
            if value is not UNDEFINED:
                out[name] = value
        return out

    def evaluate(self, doc: Mapping[str, Any], ctx: MessageContext) -> dict[str, Any] | None:
        """The SELECT result, or None when the message does not match."""
        if not self.matches(doc, ctx):
            return None
        return self.project(doc, ctx)


def parse_rule_sql(sql: str) -> RuleQuery:
    """Parse and compile one rule statement; raise :class:`RuleSqlError` with the reason."""
    try:
        tree = sqlglot.parse_one(sql, dialect=IotSqlDialect)
    except ParseError as err:
        raise RuleSqlError(f"cannot parse rule SQL {sql!r}: {err}") from err
    if not isinstance(tree, exp.Select):
        raise RuleSqlError(f"rule SQL must be one SELECT statement, got: {sql!r}")
    for unsupported in ("joins", "group", "having", "order", "limit", "with"):
        if tree.args.get(unsupported):
            raise RuleSqlError(f"IoT rule SQL does not support {unsupported.upper()}: {sql!r}")
    source = tree.args.get("from") or tree.args.get("from_")
    if source is None or not isinstance(source.this, exp.Table):
        raise RuleSqlError(f"rule SQL needs FROM 'topic/filter': {sql!r}")
    table = source.this
    if not (isinstance(table.this, exp.Identifier) and table.this.quoted) or table.args.get("db"):
        raise RuleSqlError(f"the FROM clause must be one quoted topic filter: {sql!r}")
    topic_filter = table.this.name
    select_star = False
    projections: list[tuple[str, Evaluator]] = []
    for item in tree.expressions:
        if isinstance(item, exp.Star):
            select_star = True
            continue
        if isinstance(item, exp.Column) and isinstance(item.this, exp.Star):
            raise RuleSqlError(f"only a bare * is supported in SELECT: {sql!r}")
        projections.append((_output_name(item), compile_expression(item.unalias())))
    where_node = tree.args.get("where")
    where = compile_expression(where_node.this) if where_node is not None else None
    return RuleQuery(
        sql=sql,
        topic_filter=topic_filter,
        select_star=select_star,
        projections=tuple(projections),
        where=where,
    )


def compile_expression(node: exp.Expression) -> Evaluator:
    """Compile one expression node into a closure ``(doc, ctx) -> value``."""
    compiler = _COMPILERS.get(type(node))
    if compiler is None:
        raise RuleSqlError(f"unsupported expression in rule SQL: {node.sql()!r}")
    return compiler(node)


def evaluate_template(template: str, doc: Mapping[str, Any], ctx: MessageContext) -> str:
    """Resolve IoT substitution templates ``${expression}`` in an action field."""
    out: list[str] = []
    pos = 0
    while True:
        start = template.find("${", pos)
        if start < 0:
            out.append(template[pos:])
            return "".join(out)
        end = _closing_brace(template, start + 2)
        out.append(template[pos:start])
        expression = template[start + 2 : end]
        try:
            node = sqlglot.parse_one(expression, dialect=IotSqlDialect)
        except ParseError as err:
            raise RuleSqlError(f"cannot parse substitution template ${{{expression}}}") from err
        value = compile_expression(node)(doc, ctx)
        out.append("" if value is UNDEFINED or value is None else _to_text(value))
        pos = end + 1


def _closing_brace(text: str, pos: int) -> int:
    depth = 1
    quote: str | None = None
    for index in range(pos, len(text)):
        char = text[index]
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return index
    raise RuleSqlError(f"unterminated substitution template in {text!r}")


def _to_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _output_name(item: exp.Expression) -> str:
    if isinstance(item, exp.Alias):
        return item.alias
    if isinstance(item, exp.Column | exp.Dot):
        return _path(item)[-1]
    if isinstance(item, exp.Anonymous):
        return str(item.this).lower()
    raise RuleSqlError(f"give the expression {item.sql()!r} a name with AS")


# --- paths ---------------------------------------------------------------------------


def _path(node: exp.Expression) -> list[str]:
    if isinstance(node, exp.Column):
        return [part.name for part in node.parts]
    if isinstance(node, exp.Dot):
        return [*_path(node.this), node.expression.name]
    if isinstance(node, exp.Identifier):
        return [node.name]
    raise RuleSqlError(f"not a field reference: {node.sql()!r}")


def _compile_path(node: exp.Expression) -> Evaluator:
    path = tuple(_path(node))
    if len(path) == 1:
        key = path[0]

        def single(doc: Mapping[str, Any], ctx: MessageContext) -> Any:
            return doc.get(key, UNDEFINED)

        return single

    def nested(doc: Mapping[str, Any], ctx: MessageContext) -> Any:
        value: Any = doc
        for key in path:
            if not isinstance(value, Mapping):
                return UNDEFINED
            value = value.get(key, UNDEFINED)
            if value is UNDEFINED:
                return UNDEFINED
        return value

    return nested


# --- literals ------------------------------------------------------------------------


def _compile_literal(node: exp.Expression) -> Evaluator:
    assert isinstance(node, exp.Literal)
    if node.is_string:
        value: Any = node.this
    else:
        text = node.this
        value = float(text) if any(c in text for c in ".eE") else int(text)
    return lambda doc, ctx: value


def _compile_boolean(node: exp.Expression) -> Evaluator:
    value = bool(node.this)
    return lambda doc, ctx: value


def _compile_null(node: exp.Expression) -> Evaluator:
    return lambda doc, ctx: None


def _compile_paren(node: exp.Expression) -> Evaluator:
    return compile_expression(node.this)


# --- operators -----------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _comparable(left: Any, right: Any) -> bool:
    if _is_number(left) and _is_number(right):
        return True
    return type(left) is type(right) and isinstance(left, str | bool)


def _make_comparison(op: Callable[[Any, Any], bool], equality: bool) -> Callable[..., Evaluator]:
    def compile_(node: exp.Expression) -> Evaluator:
        left_fn = compile_expression(node.this)
        right_fn = compile_expression(node.expression)

        def compare(doc: Mapping[str, Any], ctx: MessageContext) -> Any:
            left = left_fn(doc, ctx)
            right = right_fn(doc, ctx)
            if left is UNDEFINED or right is UNDEFINED:
                return UNDEFINED
            if _comparable(left, right):
                return op(left, right)
            if equality and left is not None and right is not None:
                # IoT: values of different types are never equal.
                return op is operator.ne
            return UNDEFINED

        return compare

    return compile_


def _compile_arithmetic(op: Callable[[Any, Any], Any]) -> Callable[..., Evaluator]:
    def compile_(node: exp.Expression) -> Evaluator:
        left_fn = compile_expression(node.this)
        right_fn = compile_expression(node.expression)

        def arithmetic(doc: Mapping[str, Any], ctx: MessageContext) -> Any:
            left = left_fn(doc, ctx)
            right = right_fn(doc, ctx)
            if not (_is_number(left) and _is_number(right)):
                return UNDEFINED
            try:
                return op(left, right)
            except ZeroDivisionError:
                return UNDEFINED

        return arithmetic

    return compile_


def _compile_neg(node: exp.Expression) -> Evaluator:
    inner = compile_expression(node.this)

    def neg(doc: Mapping[str, Any], ctx: MessageContext) -> Any:
        value = inner(doc, ctx)
        return -value if _is_number(value) else UNDEFINED

    return neg


def _compile_and(node: exp.Expression) -> Evaluator:
    left_fn = compile_expression(node.this)
    right_fn = compile_expression(node.expression)

    def and_(doc: Mapping[str, Any], ctx: MessageContext) -> Any:
        left = left_fn(doc, ctx)
        if left is False:
            return False
        right = right_fn(doc, ctx)
        if right is False:
            return False
        if left is True and right is True:
            return True
        return UNDEFINED

    return and_


def _compile_or(node: exp.Expression) -> Evaluator:
    left_fn = compile_expression(node.this)
    right_fn = compile_expression(node.expression)

    def or_(doc: Mapping[str, Any], ctx: MessageContext) -> Any:
        left = left_fn(doc, ctx)
        if left is True:
            return True
        right = right_fn(doc, ctx)
        if right is True:
            return True
        if left is False and right is False:
            return False
        return UNDEFINED

    return or_


def _compile_not(node: exp.Expression) -> Evaluator:
    inner = compile_expression(node.this)

    def not_(doc: Mapping[str, Any], ctx: MessageContext) -> Any:
        value = inner(doc, ctx)
        if isinstance(value, bool):
            return not value
        return UNDEFINED

    return not_


def _compile_is(node: exp.Expression) -> Evaluator:
    if not isinstance(node.expression, exp.Null):
        raise RuleSqlError(f"only IS [NOT] NULL is supported: {node.sql()!r}")
    inner = compile_expression(node.this)
    return lambda doc, ctx: inner(doc, ctx) is None


# --- functions -----------------------------------------------------------------------


def _topic(ctx: MessageContext, level: Any = UNDEFINED) -> Any:
    if level is UNDEFINED:
        return ctx.topic
    if not _is_number(level) or int(level) < 1:
        return UNDEFINED
    parts = ctx.topic.split("/")
    return parts[int(level) - 1] if int(level) <= len(parts) else UNDEFINED


def _parse_time(fmt: Any, millis: Any, zone: Any = "UTC") -> Any:
    """Format epoch milliseconds with a Joda/Java pattern (IoT's parse_time)."""
    if not isinstance(fmt, str) or not _is_number(millis) or not isinstance(zone, str):
        return UNDEFINED
    moment = dt.datetime.fromtimestamp(millis / 1000, tz=ZoneInfo(zone))
    return format_java_time(fmt, moment)


_JAVA_FIELDS: dict[str, Callable[[dt.datetime, int], str]] = {
    "y": lambda t, n: f"{t.year % 100:02d}" if n == 2 else f"{t.year:0{n}d}",
    "M": lambda t, n: f"{t.month:0{n}d}",
    "d": lambda t, n: f"{t.day:0{n}d}",
    "H": lambda t, n: f"{t.hour:0{n}d}",
    "m": lambda t, n: f"{t.minute:0{n}d}",
    "s": lambda t, n: f"{t.second:0{n}d}",
    "S": lambda t, n: f"{t.microsecond // 1000:03d}"[:n],
}


def format_java_time(pattern: str, moment: dt.datetime) -> str:
    """Render ``moment`` with a Java date pattern (y M d H m s S and quoted literals)."""
    out: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "'":
            end = pattern.find("'", index + 1)
            if end < 0:
                raise RuleSqlError(f"unterminated quote in time pattern {pattern!r}")
            out.append(pattern[index + 1 : end] or "'")
            index = end + 1
            continue
        run = index
        while run < len(pattern) and pattern[run] == char:
            run += 1
        count = run - index
        if char in _JAVA_FIELDS:
            out.append(_JAVA_FIELDS[char](moment, count))
        elif char.isalpha():
            raise RuleSqlError(f"time pattern letter {char!r} is not supported in {pattern!r}")
        else:
            out.append(char * count)
        index = run
    return "".join(out)


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "topic": lambda ctx, *args: _topic(ctx, *args),
    "clientid": lambda ctx: ctx.client_id if ctx.client_id is not None else UNDEFINED,
    "timestamp": lambda ctx: ctx.timestamp_ms,
    "newuuid": lambda ctx: str(uuid.uuid4()),
    "parse_time": lambda ctx, *args: _parse_time(*args),
    "lower": lambda ctx, value: value.lower() if isinstance(value, str) else UNDEFINED,
    "upper": lambda ctx, value: value.upper() if isinstance(value, str) else UNDEFINED,
    "abs": lambda ctx, value: abs(value) if _is_number(value) else UNDEFINED,
}
_ARITY: dict[str, tuple[int, int]] = {
    "topic": (0, 1),
    "clientid": (0, 0),
    "timestamp": (0, 0),
    "newuuid": (0, 0),
    "parse_time": (2, 3),
    "lower": (1, 1),
    "upper": (1, 1),
    "abs": (1, 1),
}


def _compile_function(name: str, args: list[exp.Expression]) -> Evaluator:
    name = name.lower()
    if name not in _FUNCTIONS:
        raise RuleSqlError(f"function {name}() is not supported by the local rules engine")
    low, high = _ARITY[name]
    if not low <= len(args) <= high:
        raise RuleSqlError(f"{name}() takes {low} to {high} arguments, got {len(args)}")
    fn = _FUNCTIONS[name]
    arg_fns = [compile_expression(arg) for arg in args]

    def call(doc: Mapping[str, Any], ctx: MessageContext) -> Any:
        values = [arg_fn(doc, ctx) for arg_fn in arg_fns]
        return fn(ctx, *values)

    return call


def _compile_anonymous(node: exp.Expression) -> Evaluator:
    return _compile_function(str(node.this), list(node.expressions))


_COMPILERS: dict[type[exp.Expression], Callable[[exp.Expression], Evaluator]] = {
    exp.Column: _compile_path,
    exp.Dot: _compile_path,
    exp.Literal: _compile_literal,
    exp.Boolean: _compile_boolean,
    exp.Null: _compile_null,
    exp.Paren: _compile_paren,
    exp.Neg: _compile_neg,
    exp.And: _compile_and,
    exp.Or: _compile_or,
    exp.Not: _compile_not,
    exp.Is: _compile_is,
    exp.EQ: _make_comparison(operator.eq, equality=True),
    exp.NEQ: _make_comparison(operator.ne, equality=True),
    exp.LT: _make_comparison(operator.lt, equality=False),
    exp.LTE: _make_comparison(operator.le, equality=False),
    exp.GT: _make_comparison(operator.gt, equality=False),
    exp.GTE: _make_comparison(operator.ge, equality=False),
    exp.Add: _compile_arithmetic(operator.add),
    exp.Sub: _compile_arithmetic(operator.sub),
    exp.Mul: _compile_arithmetic(operator.mul),
    exp.Div: _compile_arithmetic(operator.truediv),
    exp.Mod: _compile_arithmetic(operator.mod),
    exp.Anonymous: _compile_anonymous,
}
