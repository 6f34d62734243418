"""The MySQL side of the coffees: connections, SQL files and counts (Aurora MySQL, MariaDB).

Connections come from the Airflow connection ``settings().mysql_conn_id`` (default
``coffee_mysql``) through the MySQL provider's ``MySqlHook``; the SQL lives in
``include/sql/aurora/`` (MySQL dialect, DB-API ``%(name)s`` parameters). The schema
(``coffees.sql``) is applied by the setup path, ``iot_lake.provisioning.relational``.
"""

from __future__ import annotations

from contextlib import closing
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from iot_lake.config import SQL_DIR, settings

if TYPE_CHECKING:
    from airflow.providers.mysql.hooks.mysql import MySqlHook

AURORA_SQL_DIR = SQL_DIR / "aurora"


@cache
def aurora_sql(name: str) -> str:
    """The text of ``include/sql/aurora/<name>.sql``."""
    return (AURORA_SQL_DIR / f"{name}.sql").read_text()


def mysql_hook(conn_id: str | None = None) -> MySqlHook:
    """The hook of the coffee database (``settings().mysql_conn_id`` by default)."""
    from airflow.providers.mysql.hooks.mysql import MySqlHook

    return MySqlHook(mysql_conn_id=conn_id or settings().mysql_conn_id)


def naive_utc(moment: datetime) -> datetime:
    """MySQL DATETIME has no zone: the coffee table stores naive UTC."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def interval_params(start: datetime, end: datetime) -> dict[str, Any]:
    """Parameters of the day's queries: ``start <= coffee_hour < end``."""
    if end <= start:
        raise ValueError(f"empty data interval: start {start} is not before end {end}")
    return {"start": naive_utc(start), "end": naive_utc(end)}


def count_source_rows(start: datetime, end: datetime, conn_id: str | None = None) -> int:
    """Rows of the interval in MySQL, counted by MySQL."""
    with closing(mysql_hook(conn_id).get_conn()) as connection, closing(connection.cursor()) as cur:
        cur.execute(aurora_sql("count_coffees"), interval_params(start, end))
        (count,) = cur.fetchone()
    return int(count)
