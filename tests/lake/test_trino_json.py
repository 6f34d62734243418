"""The local engine's json_parse answers as Athena's (Trino's) does.

Trino's documentation (functions/json.md, ``json_parse``): "json_parse expects a JSON
text conforming to RFC 7159"; RFC 7159 has no trailing comma (section 2: ``value-separator``
only between values) and no NaN/Infinity (section 6: "Numeric values that cannot be
represented in the grammar below (such as Infinity and NaN) are not permitted"). Trino
reads the text into a Java map with Jackson (``JsonTypeUtil.jsonParse``), so a repeated
key keeps its last value; RFC 7159 section 4 leaves the choice to the implementation.
DuckDB's own parser accepts the first two and keeps the first value of a repeated key.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from iot_lake.engine import get_engine
from iot_lake.engine.duckdb import new_duckdb
from iot_lake.errors import QueryError
from iot_lake.sql import trino_json
from iot_lake.sql.transpile import to_duckdb


def _parsed(lake_settings, text: str) -> tuple:
    """(parse failed, a.value read by a row cast, a.value read by json_extract_scalar)."""
    [row] = get_engine(lake_settings).query(
        "SELECT try(json_parse(line)) IS NULL,"
        " try_cast(try(json_parse(line)) AS row(a double)).a,"
        " json_extract_scalar(try(json_parse(line)), '$.a')"
        " FROM (VALUES (CAST('" + text.replace("'", "''") + "' AS varchar))) AS t(line)").rows
    return row


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1,}',  # trailing comma in an object
        '{"a": 1, "b": [1, 2,]}',  # trailing comma in an array
        '{"a": 1 , }',
        '{"a": NaN}',
        '{"a": Infinity}',
        '{"a": -Infinity}',
        '{"a": nan}',  # DuckDB's parser also takes these spellings
        '{"a": inf}',
        '{"a": {"value": NaN, "quality": "5"}}',
    ],
)
def test_json_parse_refuses_what_rfc_7159_does_not_allow(lake_settings, text) -> None:
    """Trino: json_parse fails ("Cannot convert value to JSON"); under try, NULL."""
    assert _parsed(lake_settings, text) == (True, None, None)


def test_json_parse_without_try_fails_the_query_as_trino_does(lake_settings) -> None:
    with pytest.raises(QueryError, match="Cannot convert value to JSON"):
        get_engine(lake_settings).query("SELECT json_parse('{\"a\": NaN}')")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('{"a": 1.5}', "1.5"),
        ('{"a": 2, "b": "NaN, Infinity, inf,]"}', "2"),  # the tokens inside a string
        ('{"a": 3, "note": "information"}', "3"),
    ],
)
def test_json_parse_reads_valid_text_as_before(lake_settings, text, value) -> None:
    assert _parsed(lake_settings, text) == (False, float(value), value)


def test_trinos_parse_keeps_the_last_value_of_a_repeated_key() -> None:
    """Trino: json_parse('{"a": 1, "a": 2}') is JSON '{"a":2}' (Jackson into a sorted map)."""
    assert trino_json.parse('{"b": {"x": 1, "x": 5}, "a": 7, "a": 8}') == '{"a":8,"b":{"x":5}}'


def test_a_repeated_key_with_a_lenient_token_keeps_its_last_value(lake_settings) -> None:
    """The lines the strict parser reads keep Trino's value (last); see trino_json's gap."""
    assert _parsed(lake_settings, '{"a": 1, "a": 2, "note": "info"}') == (False, 2.0, "2")


# ----------------------------------------------------------------- try() without DuckDB's TRY
# The local engine writes try(json_parse(x)) and try(date_parse(x, f)) in forms that never
# raise (trino_json.duckdb_try_sql, TRY_STRPTIME) instead of DuckDB's TRY(...), which
# re-evaluates a whole vector row by row once one row fails. The answers must not change:
# each form is compared with TRY(<the old form>) on the same vector of texts, where hostile
# texts sit among clean ones as in a day of raw lines.

_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner,
                                                                max_size=4),
    max_leaves=12,
)


@st.composite
def _raw_lines(draw) -> str:
    """Texts a raw line may hold: JSON as a careless producer writes it (NaN, Infinity,
    1e999), then maybe damaged: a trailing comma, a repeated key, a cut, a stray token."""
    text = json.dumps(draw(_JSON_VALUES), separators=draw(st.sampled_from([
        (",", ":"), (", ", ": "), (" , ", " : ")])))
    damage = draw(st.sampled_from(["none", "comma", "repeat", "cut", "token", "free"]))
    if damage == "comma" and text[-1:] in "}]":
        text = text[:-1] + draw(st.sampled_from([",", ", ", ",\n", ",\t"])) + text[-1]
    elif damage == "repeat" and text.startswith("{") and len(text) > 2:
        text = '{"k": 1, "k": ' + draw(st.sampled_from(["2", "NaN", '"x"'])) + ", " + text[1:]
    elif damage == "cut" and text:
        text = text[: draw(st.integers(0, len(text) - 1))]
    elif damage == "token":
        text = text + draw(st.sampled_from(["x", " ", "\n", "}", "nan", "1e999"]))
    elif damage == "free":
        text = draw(st.text(max_size=40))
    return text


def _vector(con, expressions: dict[str, str], texts: list[str | None]) -> list[tuple]:
    columns = ", ".join(f"{sql} AS {name}" for name, sql in expressions.items())
    con.execute("CREATE OR REPLACE TEMP TABLE lines (n INTEGER, line VARCHAR)")
    con.executemany("INSERT INTO lines VALUES (?, ?)", list(enumerate(texts)))
    return con.execute(f"SELECT n, {columns} FROM lines ORDER BY n").fetchall()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=st.lists(st.one_of(st.none(), _raw_lines()), min_size=1, max_size=40),
       clean=st.integers(0, 3000))
@example(texts=['{"a": 1}', "not json", "", '{"a": NaN}', '{"a": 1,}', "[1, 2, 3]",
                '{"a": 1e999}', '{"a": "\\ud800"}', "[" * 5000, '{"a": 1, "a": 2, "n": "nan"}'],
         clean=2100)
def test_try_json_parse_never_raising_answers_as_try_did(texts, clean) -> None:
    """``duckdb_try_sql`` = ``TRY(duckdb_sql)``, text for text, in vectors of either kind
    (``clean`` valid lines first: a hostile line then shares a 2048-row vector with them)."""
    con = new_duckdb(threads=1)
    try:
        rows = _vector(con, {
            "guarded": f"CAST(({trino_json.duckdb_try_sql('line')}) AS VARCHAR)",
            "tried": f"CAST(TRY({trino_json.duckdb_sql('line')}) AS VARCHAR)",
        }, ['{"ok": true}'] * clean + texts)
    finally:
        con.close()
    assert [(n, guarded) for n, guarded, _ in rows] == [(n, tried) for n, _, tried in rows]


@settings(max_examples=100, deadline=None)
@given(texts=st.lists(st.one_of(
    st.none(), st.text(max_size=25),
    st.datetimes().map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ")),
    st.from_regex(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z?\Z"),
), min_size=1, max_size=40))
def test_try_date_parse_as_try_strptime_answers_as_try_did(texts) -> None:
    """Athena's ``try(date_parse(x, f))`` runs locally as ``TRY_STRPTIME``: same values."""
    local = to_duckdb("SELECT try(date_parse(line, '%Y-%m-%dT%H:%i:%sZ')) FROM lines")
    assert "TRY_STRPTIME(" in local
    con = new_duckdb(threads=1)
    try:
        rows = _vector(con, {
            "guarded": local[len("SELECT "):local.index(" FROM lines")],
            "tried": "TRY(STRPTIME(line, '%Y-%m-%dT%H:%M:%SZ'))",
        }, texts)
    finally:
        con.close()
    assert [(n, guarded) for n, guarded, _ in rows] == [(n, tried) for n, _, tried in rows]
