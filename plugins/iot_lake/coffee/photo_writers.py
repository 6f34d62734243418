"""Where a press's row goes: Aurora through the RDS Data API, or MySQL through MySQLdb.

Both writers send the same SQL file (``include/sql/aurora/insert_coffee_photo.sql``) with
the same named parameters; the insert is keyed on ``photo_key``, so a second insert of a
photo changes nothing and answers False. Standard library only at load time (the Lambda
zip carries this module): ``sqlparse`` and ``MySQLdb`` are imported where used.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from iot_lake.config import SQL_DIR

INSERT_SQL = SQL_DIR / "aurora" / "insert_coffee_photo.sql"
DEFAULT_DATABASE = "iot_lake"
MYSQL_CONN_ENV = "AIRFLOW_CONN_COFFEE_MYSQL"
DEFAULT_MYSQL_URL = "mysql://root@127.0.0.1:3306/iot_lake"


class Writer(Protocol):
    def insert(self, params: Mapping[str, Any]) -> bool:
        """Insert one row; False when the photo already had its row."""
        ...


def _data_api_value(value: Any) -> dict[str, Any]:
    if value is None:
        return {"isNull": True}
    if isinstance(value, bool | int):
        return {"longValue": int(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, datetime):
        return {"stringValue": value.strftime("%Y-%m-%d %H:%M:%S")}
    return {"stringValue": str(value)}


def data_api_parameters(params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The Data API's typed parameter list (DATETIMEs with the TIMESTAMP type hint)."""
    out = []
    for name, value in params.items():
        item: dict[str, Any] = {"name": name, "value": _data_api_value(value)}
        if isinstance(value, datetime):
            item["typeHint"] = "TIMESTAMP"
        out.append(item)
    return out


@functools.lru_cache(maxsize=16)
def data_api_sql(sql: str) -> str:
    """``sql`` as the RDS Data API gets it: one statement, without its comments.

    The Data API finds the ``:name`` placeholders in the text it is sent; a comment is no
    SQL it needs, and a quote inside one (``API's``) is taken as the start of a string
    literal. sqlparse's lexer tells a comment from a literal holding ``--``, ``#`` or
    ``/*``, which no regular expression does (issue 18 item 10).
    """
    import sqlparse

    statements = [s for s in sqlparse.split(sql) if sqlparse.format(s, strip_comments=True).strip()]
    if len(statements) != 1:
        raise ValueError(f"the Data API takes one statement at a time, got {len(statements)}")
    return str(sqlparse.format(statements[0], strip_comments=True)).strip()


@dataclass
class DataApiWriter:
    """Aurora MySQL through the RDS Data API (``rds-data:ExecuteStatement``)."""

    client: Any
    cluster_arn: str
    secret_arn: str
    database: str = DEFAULT_DATABASE
    sql: str = field(default_factory=lambda: INSERT_SQL.read_text(encoding="utf-8"))

    def execute(self, sql: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """Every statement this writer sends goes through :func:`data_api_sql`."""
        return self.client.execute_statement(
            resourceArn=self.cluster_arn,
            secretArn=self.secret_arn,
            database=self.database,
            sql=data_api_sql(sql),
            parameters=data_api_parameters(params),
        )

    def insert(self, params: Mapping[str, Any]) -> bool:
        response = self.execute(self.sql, params)
        return int(response.get("numberOfRecordsUpdated", 0)) == 1


_NAMED = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")


def pyformat(sql: str) -> str:
    """``:name`` -> ``%(name)s`` for MySQLdb; ``--`` comment lines are left as they are."""
    return "".join(
        escaped if line.lstrip().startswith("--") else _NAMED.sub(r"%(\1)s", escaped)
        for line in sql.splitlines(keepends=True)
        for escaped in (line.replace("%", "%%"),)
    )


@dataclass
class MySqlWriter:
    """MariaDB/MySQL through MySQLdb, binding the same named parameters."""

    connection: Any
    sql: str = field(default_factory=lambda: pyformat(INSERT_SQL.read_text(encoding="utf-8")))

    def insert(self, params: Mapping[str, Any]) -> bool:
        with self.connection.cursor() as cursor:
            cursor.execute(self.sql, dict(params))
            inserted = cursor.rowcount == 1
        self.connection.commit()
        return inserted


def mysql_params(url_or_json: str | None = None) -> dict[str, Any]:
    """MySQLdb.connect() arguments from an Airflow connection (URI or JSON) or a URL.

    Read without Airflow (``AIRFLOW_CONN_COFFEE_MYSQL``, the DAG's connection), so the
    simulator and the local notifier start instantly.
    """
    raw = url_or_json or os.environ.get(MYSQL_CONN_ENV) or DEFAULT_MYSQL_URL
    if raw.lstrip().startswith("{"):
        conn = json.loads(raw)
        host, port = conn.get("host") or "127.0.0.1", int(conn.get("port") or 3306)
        user, password = conn.get("login") or "root", conn.get("password") or ""
        database = conn.get("schema") or ""
    else:
        parts = urlsplit(raw)
        host, port = parts.hostname or "127.0.0.1", parts.port or 3306
        user, password = unquote(parts.username or "root"), unquote(parts.password or "")
        database = parts.path.lstrip("/")
    if not database:
        raise ValueError(f"the MySQL connection names no database: {raw!r}")
    return {"host": host, "port": port, "user": user, "passwd": password, "db": database}
