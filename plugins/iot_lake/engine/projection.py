"""Partition projection as Athena computes it, for the local engine's views.

Tables with partition projection (``projection.enabled``) have no registered partitions:
their partitions come from the projection parameters and the query's WHERE clause, as on
Athena (an ``injected`` key must be given as literals: ``day = 'x'`` or
``day IN ('x', 'y')``; anything else is refused, as Athena refuses it).
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp

from iot_lake.catalog import projection
from iot_lake.sql.transpile import READ_DIALECT
from iot_lake.storage import filesystem, join


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


def check_injected_conditions(
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


def discovered_partitions(table: dict[str, Any]) -> list[dict[str, Any]]:
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
