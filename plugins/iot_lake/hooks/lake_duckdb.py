"""A common.sql DB-API hook over an in-process DuckDB that sees the lake's catalog tables.

Statements are Athena SQL (the dialect of the project's SQL files and of the checks that
common.sql operators generate); each one is transpiled to DuckDB and, before it runs,
the catalog tables it names are attached as views over their registered partitions.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.common.sql.hooks.sql import DbApiHook

from iot_lake import config
from iot_lake.config import LakeSettings
from iot_lake.engine.duckdb import DuckDBEngine, new_duckdb


class LakeDuckDBHook(DbApiHook):
    """DuckDB on the `local` backend; needs no Airflow connection (settings come from config)."""

    conn_name_attr = "lake_conn_id"
    default_conn_name = "lake_default"
    conn_type = "duckdb"
    hook_name = "iot-lake DuckDB"
    supports_autocommit = False
    strip_semicolon = True

    def __init__(self, *args: Any, settings: LakeSettings | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.settings = settings or config.settings()

    def get_conn(self) -> Any:
        return new_duckdb()

    def get_uri(self) -> str:
        return "duckdb:///:memory:"

    def get_autocommit(self, conn: Any) -> bool:
        return False

    def _run_command(self, cur: Any, sql_statement: str, parameters: Any) -> None:
        local_sql = DuckDBEngine(self.settings).prepare(cur, sql_statement, self.schema or None)
        if self.log_sql:
            self.log.info("Running statement (DuckDB): %s, parameters: %s", local_sql, parameters)
        if parameters:
            cur.execute(local_sql, parameters)
        else:
            cur.execute(local_sql)

    @property
    def schema(self) -> str | None:
        return getattr(self, "_lake_schema", None)

    @schema.setter
    def schema(self, value: str | None) -> None:
        # BaseSQLOperator sets ``hook.schema = database``: the default database of a query.
        self._lake_schema = value
