"""Athena's ``json_parse`` on the local engine: the texts Trino refuses, refused here too.

Trino's ``json_parse`` "expects a JSON text conforming to RFC 7159" (Trino documentation,
functions/json.md, ``json_parse``): no trailing comma, no ``NaN`` or ``Infinity``
literal. It reads the text with Jackson into a map (``JsonTypeUtil.jsonParse``: an
``ObjectMapper`` without duplicate detection), so a key repeated in one object keeps its
**last** value, at any depth; RFC 7159 (section 4) allows repeated names and leaves the
choice to the reader. DuckDB's reader (yyjson) accepts trailing commas and
``NaN``/``Infinity``/``inf`` in any case, and its casts keep the **first** value of a
repeated key, so a record published locally could be a reject on Athena, with another
reason, or publish another value.

Locally ``json_parse(x)`` therefore becomes ``CAST(x AS JSON)`` for the texts yyjson and
Jackson read alike, and :func:`parse` (Python's ``json``, as strict as Jackson here) for
the texts that might differ: the ones holding one of :data:`LENIENT_TOKENS` (a cheap
scan; a match only routes, it never rejects). :func:`parse` returns Trino's JSON value
(keys sorted, last value of a repeated key, as ``SORTED_MAPPER`` writes it) or fails as
``json_parse`` does.

Known gap: a repeated key in a text without any of those tokens still keeps its first
value here (finding repeated keys costs a second parse of every line, ~25% of the
flatten); :func:`parse` itself keeps the last, as Trino.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb

FUNCTION = "trino_json_parse"
"""Name of :func:`parse` on every local DuckDB connection."""

TRY_FUNCTION = "trino_json_try_parse"
"""Name of :func:`try_parse` on every local DuckDB connection."""

LENIENT_TOKENS = (",}", ",]", "NaN", "nan", "NAN", "inf", "Inf", "INF")
"""Substrings of the texts yyjson might accept where Jackson does not: a comma before a
closing bracket, a NaN or Infinity literal (yyjson takes them in any case; these are the
spellings ``float()`` and producers write). Found with ``contains`` (a ``memmem``), which
costs a fraction of a regular expression over every raw line; a match only routes."""

SPACED_TRAILING_COMMA = r",\s*[}\]]"
"""A comma, whitespace, then a closing bracket: looked for only in texts with whitespace
before a closing bracket (pretty-printed), which compact producers never write."""


class NotJson(ValueError):
    """What Trino's json_parse raises: ``Cannot convert value to JSON``."""


def _no_constants(token: str) -> Any:
    raise NotJson(f"{token} is not a JSON value (RFC 7159)")


def parse(text: str | None) -> str | None:
    """Trino's ``json_parse(text)``, serialised: sorted keys, the last of a repeated key."""
    if text is None:
        return None
    try:
        value = json.loads(text, parse_constant=_no_constants)
    except (ValueError, RecursionError) as err:
        raise NotJson(f"Cannot convert value to JSON: {text[:200]!r}") from err
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def try_parse(text: str | None) -> str | None:
    """``try(json_parse(text))``: :func:`parse`, or None wherever it fails."""
    try:
        return parse(text)
    except Exception:  # whatever parse raises, try() answers NULL (as DuckDB's TRY did)
        return None


def register(con: duckdb.DuckDBPyConnection) -> None:
    """Make :func:`parse` and :func:`try_parse` callable on ``con``."""
    con.create_function(FUNCTION, parse, ["VARCHAR"], "VARCHAR", side_effects=False)
    con.create_function(
        TRY_FUNCTION, try_parse, ["VARCHAR"], "VARCHAR",
        side_effects=False, null_handling="special",
    )


def _suspicious(x: str) -> str:
    spaced = " OR ".join(f"contains({x}, '{ws}{b}')" for ws in (" ", "\t", "\n") for b in "}]")
    suspicious = " OR ".join(
        [*(f"contains({x}, '{token}')" for token in LENIENT_TOKENS),
         f"(({spaced}) AND regexp_matches({x}, '{SPACED_TRAILING_COMMA}'))"]
    )
    return suspicious


def duckdb_sql(argument_sql: str) -> str:
    """DuckDB's text of Athena's ``json_parse(<argument>)``."""
    x = argument_sql
    return (
        f"CASE WHEN {_suspicious(x)} THEN CAST({FUNCTION}({x}) AS JSON) "
        f"ELSE CAST({x} AS JSON) END"
    )


def duckdb_try_sql(argument_sql: str) -> str:
    """DuckDB's text of Athena's ``try(json_parse(<argument>))``, which never raises.

    Same value as ``TRY(<duckdb_sql>)``, without its cost: DuckDB's ``TRY`` evaluates a
    whole vector (2048 lines) again row by row as soon as one row fails, so one line in
    200 that is not JSON made every vector of a day's raw lines take that slow path
    (~20% of the weather flatten's typed pass). Here no row fails: ``TRY_CAST`` to JSON
    answers NULL for the one row whose text the cast refuses (the cast itself reports
    the error per row; the vector is not evaluated again), and :func:`try_parse` answers
    NULL where :func:`parse` raises. (Before: a ``json_valid`` guard, then the cast: two
    reads of every line by the same yyjson reader and flags, ``JSONCommon::READ_FLAG``;
    ``TRY_CAST`` alone reads it once: 0.26 instead of 0.55 CPU-s per 200k raw lines.)
    The ``TRY`` left in the strict branch keeps any case the guard missed a NULL, never
    a failed query.
    """
    x = argument_sql
    return (
        f"CASE WHEN {_suspicious(x)} THEN TRY(CAST({TRY_FUNCTION}({x}) AS JSON)) "
        f"ELSE TRY_CAST({x} AS JSON) END"
    )
