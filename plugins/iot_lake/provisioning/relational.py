"""The coffee machines' relational source: database and ``coffees`` table, on both backends.

Aurora MySQL (aws) and MariaDB (local) are reached through the same Airflow MySQL
connection (``settings().mysql_conn_id``); its schema names the database. The table is
defined once, in ``include/sql/aurora/coffees.sql``. An existing table keeps its data:
columns the file defines and the table lacks are added, nothing is dropped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from iot_lake.config import SQL_DIR
from iot_lake.provisioning.report import Change, created, unchanged, updated

SCHEMA_FILE = SQL_DIR / "aurora" / "coffees.sql"


def table_definition(schema_file: Path = SCHEMA_FILE) -> tuple[str, list[tuple[str, str]]]:
    """(table name, [(column, column definition SQL)]) parsed from the schema file."""
    import sqlglot
    from sqlglot import exp

    if not schema_file.is_file():
        raise FileNotFoundError(f"schema file {schema_file} is missing")
    statement = sqlglot.parse_one(schema_file.read_text(encoding="utf-8"), read="mysql")
    if not isinstance(statement, exp.Create) or not isinstance(statement.this, exp.Schema):
        raise ValueError(f"{schema_file} must hold one CREATE TABLE statement")
    table = statement.this.this.name
    columns = [
        (column.name, column.sql(dialect="mysql", identify=True))
        for column in statement.this.expressions
        if isinstance(column, exp.ColumnDef)
    ]
    return table, columns


def _hook(conn_id: str, schema: str) -> Any:
    from airflow.providers.mysql.hooks.mysql import MySqlHook

    return MySqlHook(mysql_conn_id=conn_id, schema=schema)


def database_name(conn_id: str) -> str:
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        database = BaseHook.get_connection(conn_id).schema
    except AirflowNotFoundException as exc:
        from iot_lake.errors import ConfigError

        raise ConfigError(
            f"no Airflow connection {conn_id!r} for the coffee machines' database: define it, "
            f"e.g. AIRFLOW_CONN_{conn_id.upper()}=mysql://root@127.0.0.1:3306/iot_lake "
            "(or choose another id with IOT_LAKE_MYSQL_CONN_ID)"
        ) from exc
    if not database:
        from iot_lake.errors import ConfigError

        raise ConfigError(
            f"connection {conn_id!r} names no database (schema): set it, e.g. "
            f"AIRFLOW_CONN_{conn_id.upper()}=mysql://user:pass@host:3306/iot_lake"
        )
    return database


def ensure_coffees(
    conn_id: str, dry_run: bool = False, schema_file: Path = SCHEMA_FILE
) -> list[Change]:
    database = database_name(conn_id)
    admin = _hook(conn_id, "information_schema")
    changes: list[Change] = []
    exists = admin.get_first(
        "SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", parameters=(database,)
    )
    if exists:
        changes.append(unchanged("mysql database", database))
    else:
        if not dry_run:
            # A database name cannot be a bind parameter; quote it as an identifier.
            admin.run(
                f"CREATE DATABASE IF NOT EXISTS `{database.replace('`', '``')}` "
                "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            )
        changes.append(created("mysql database", database))
    table, columns = table_definition(schema_file)
    name = f"{database}.{table}"
    have = {
        row[0]
        for row in admin.get_records(
            "SELECT COLUMN_NAME FROM information_schema.COLUMNS "
            "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
            parameters=(database, table),
        )
    }
    if not have:
        if not dry_run:
            _hook(conn_id, database).run(schema_file.read_text(encoding="utf-8"))
        changes.append(created("mysql table", name))
        return changes
    missing = [(column, definition) for column, definition in columns if column not in have]
    if not missing:
        changes.append(unchanged("mysql table", name))
        return changes
    if not dry_run:
        additions = ", ".join(f"ADD COLUMN {definition}" for _, definition in missing)
        _hook(conn_id, database).run(f"ALTER TABLE `{table}` {additions}")
    changes.append(updated("mysql table", name, *(f"added column {c}" for c, _ in missing)))
    return changes
