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

import pytest

from iot_lake import engine, trino_json
from iot_lake.errors import QueryError


def _parsed(lake_settings, text: str) -> tuple:
    """(parse failed, a.value read by a row cast, a.value read by json_extract_scalar)."""
    [row] = engine.run_query(
        "SELECT try(json_parse(line)) IS NULL,"
        " try_cast(try(json_parse(line)) AS row(a double)).a,"
        " json_extract_scalar(try(json_parse(line)), '$.a')"
        " FROM (VALUES (CAST('" + text.replace("'", "''") + "' AS varchar))) AS t(line)",
        settings=lake_settings,
    )
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
        engine.run_query("SELECT json_parse('{\"a\": NaN}')", settings=lake_settings)


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
