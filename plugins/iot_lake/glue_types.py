"""Glue/Hive column types <-> DuckDB types, so one table description serves both engines.

Glue writes types as Hive type strings (``struct<value:double,quality:string>``,
``array<struct<...>>``); the local engine needs DuckDB types to read JSON strictly and
the local crawler turns the types DuckDB infers back into Glue strings.
"""

from __future__ import annotations

import re
from typing import Any

_PRIMITIVE_TO_DUCKDB = {
    "string": "VARCHAR",
    "varchar": "VARCHAR",
    "char": "VARCHAR",
    "boolean": "BOOLEAN",
    "tinyint": "TINYINT",
    "smallint": "SMALLINT",
    "int": "INTEGER",
    "integer": "INTEGER",
    "bigint": "BIGINT",
    "float": "FLOAT",
    "double": "DOUBLE",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "binary": "BLOB",
}

_DUCKDB_TO_GLUE = {
    "varchar": "string",
    "boolean": "boolean",
    "tinyint": "tinyint",
    "smallint": "smallint",
    "integer": "int",
    "bigint": "bigint",
    "hugeint": "bigint",
    "ubigint": "bigint",
    "uinteger": "bigint",
    "usmallint": "int",
    "utinyint": "smallint",
    "float": "float",
    "double": "double",
    "date": "date",
    "timestamp": "timestamp",
    "timestamp with time zone": "timestamp",
    "timestamp_ns": "timestamp",
    "timestamp_ms": "timestamp",
    "timestamp_s": "timestamp",
    "blob": "binary",
    "uuid": "string",
    "time": "string",
    "interval": "string",
}

UNKNOWN = "?"
"""Placeholder for a JSON value whose type the sample cannot tell (always null, empty array)."""


def _split_top_level(text: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        if char in "<(":
            depth += 1
        elif char in ">)":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def glue_to_duckdb(glue_type: str) -> str:
    """``struct<value:double,quality:string>`` -> ``STRUCT("value" DOUBLE, "quality" VARCHAR)``."""
    text = glue_type.strip()
    lower = text.lower()
    if lower.startswith("struct<") and lower.endswith(">"):
        fields = []
        for part in _split_top_level(text[7:-1]):
            name, sep, inner = part.partition(":")
            if not sep:
                from iot_lake.errors import GlueTypeError

                raise GlueTypeError(f"struct field without a type in {glue_type!r}")
            fields.append(f"{_quote(name.strip())} {glue_to_duckdb(inner)}")
        return f"STRUCT({', '.join(fields)})"
    if lower.startswith("array<") and lower.endswith(">"):
        return f"{glue_to_duckdb(text[6:-1])}[]"
    if lower.startswith("map<") and lower.endswith(">"):
        key, value = _split_top_level(text[4:-1])
        return f"MAP({glue_to_duckdb(key)}, {glue_to_duckdb(value)})"
    match = re.fullmatch(r"(decimal)\s*\((\d+)\s*,\s*(\d+)\)", lower)
    if match:
        return f"DECIMAL({match.group(2)},{match.group(3)})"
    base = re.sub(r"\(.*\)$", "", lower).strip()
    if base in _PRIMITIVE_TO_DUCKDB:
        return _PRIMITIVE_TO_DUCKDB[base]
    from iot_lake.errors import GlueTypeError

    raise GlueTypeError(f"unsupported Glue type {glue_type!r}")


def duckdb_to_glue(duck_type: Any, unknown: str = "string") -> str:
    """A DuckDB type (``DuckDBPyType``) -> a Glue type string, as Glue's crawler writes it.

    Values the sample cannot type (all null, empty arrays) become ``unknown``: ``string``
    like Glue's crawler, or :data:`UNKNOWN` so that :func:`merge_types` lets a known type win.
    """
    name = str(duck_type).lower()
    if name in ("null", '"null"', "json"):
        return unknown
    type_id = duck_type.id
    if type_id == "struct":
        inner = ",".join(
            f"{field}:{duckdb_to_glue(child, unknown)}" for field, child in duck_type.children
        )
        return f"struct<{inner}>"
    if type_id == "list":
        return f"array<{duckdb_to_glue(duck_type.children[0][1], unknown)}>"
    if type_id == "map":
        key, value = (child for _, child in duck_type.children)
        return f"map<{duckdb_to_glue(key, unknown)},{duckdb_to_glue(value, unknown)}>"
    if type_id == "decimal":
        # JSON numbers with a fraction: Glue's JSON classifier calls them double.
        return "double"
    if name in _DUCKDB_TO_GLUE:
        return _DUCKDB_TO_GLUE[name]
    if type_id in _DUCKDB_TO_GLUE:
        return _DUCKDB_TO_GLUE[type_id]
    from iot_lake.errors import GlueTypeError

    raise GlueTypeError(f"no Glue type for DuckDB type {duck_type}")


def parse_struct(glue_type: str) -> list[tuple[str, str]] | None:
    """The (name, type) fields of a ``struct<...>`` type, or None for any other type."""
    text = glue_type.strip()
    if not (text.lower().startswith("struct<") and text.endswith(">")):
        return None
    out = []
    for part in _split_top_level(text[7:-1]):
        name, _, inner = part.partition(":")
        out.append((name.strip(), inner.strip()))
    return out


def array_element(glue_type: str) -> str | None:
    text = glue_type.strip()
    if text.lower().startswith("array<") and text.endswith(">"):
        return text[6:-1].strip()
    return None


_NUMERIC_RANK = {"tinyint": 0, "smallint": 1, "int": 2, "integer": 2, "bigint": 3, "float": 4,
                 "double": 5}


def merge_types(existing: str, new: str) -> tuple[str, list[str]]:
    """Merge a newly inferred type into an existing one, as a crawler updating a table does.

    Struct fields are unioned (nothing dropped), integers widen to bigint/double, and
    an unknown type (an all-null value inferred as string) never overrides a known one.
    On a real conflict the existing type is kept and the conflict is reported, so old
    partitions keep reading (Glue's ``InheritFromTable``).
    """
    a, b = existing.strip(), new.strip()
    if a.lower() == b.lower() or b == UNKNOWN:
        return a, []
    if a == UNKNOWN:
        return b, []
    a_fields, b_fields = parse_struct(a), parse_struct(b)
    if a_fields is not None and b_fields is not None:
        merged: list[tuple[str, str]] = []
        conflicts: list[str] = []
        b_map = {n.lower(): (n, t) for n, t in b_fields}
        for name, t in a_fields:
            if name.lower() in b_map:
                mt, c = merge_types(t, b_map.pop(name.lower())[1])
                merged.append((name, mt))
                conflicts += [f"{name}.{x}" if not x.startswith(name) else x for x in c]
            else:
                merged.append((name, t))
        merged += list(b_map.values())
        return "struct<" + ",".join(f"{n}:{t}" for n, t in merged) + ">", conflicts
    a_el, b_el = array_element(a), array_element(b)
    if a_el is not None and b_el is not None:
        mt, c = merge_types(a_el, b_el)
        return f"array<{mt}>", c
    if a.lower() in _NUMERIC_RANK and b.lower() in _NUMERIC_RANK:
        wider = a if _NUMERIC_RANK[a.lower()] >= _NUMERIC_RANK[b.lower()] else b
        return wider, []
    return a, [f"{existing} vs {new}"]


def resolve_unknown(glue_type: str) -> str:
    """Replace :data:`UNKNOWN` placeholders left after merging by ``string`` (Glue's choice)."""
    return re.sub(r"(?<=[<:,])\?(?=[>,])|^\?$", "string", glue_type)
