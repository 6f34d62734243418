"""Data-quality checks: common.sql's check operators on the lake's engine of the day.

The operators are common.sql's own (``SQLColumnCheckOperator``, ``SQLTableCheckOperator``,
``SQLCheckOperator``); the only change is where the hook comes from: DuckDB with catalog
views on `local`, Athena on `aws`, chosen from :func:`iot_lake.config.settings` when the
task runs, so DAG files carry no connection and never branch on the backend. Check SQL
is Athena dialect on both backends. A failed check raises, failing the task and blocking
everything downstream.
"""

from __future__ import annotations

from airflow.providers.common.sql.hooks.sql import DbApiHook
from airflow.providers.common.sql.operators.sql import (
    SQLCheckOperator,
    SQLColumnCheckOperator,
    SQLTableCheckOperator,
)

from iot_lake.hooks import lake_db_hook


class _LakeHook:
    database: str | None

    def get_db_hook(self) -> DbApiHook:
        hook = lake_db_hook()
        if self.database:
            hook.schema = self.database
        return hook


class LakeColumnCheckOperator(_LakeHook, SQLColumnCheckOperator):
    """``SQLColumnCheckOperator`` on the lake (null, distinct, unique, min, max per column)."""


class LakeTableCheckOperator(_LakeHook, SQLTableCheckOperator):
    """``SQLTableCheckOperator`` on the lake (boolean statements over a table)."""


class LakeSQLCheckOperator(_LakeHook, SQLCheckOperator):
    """``SQLCheckOperator`` on the lake: every value of the first row of a query must be true.

    For checks that need more than one table, e.g. raw-versus-curated reconciliation,
    kept as a SQL file under ``include/sql/``.
    """
