"""Hooks of the lake's SQL engines: DuckDB with catalog views (`local`), Athena (`aws`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from iot_lake import config

if TYPE_CHECKING:
    from airflow.providers.common.sql.hooks.sql import DbApiHook

    from iot_lake.config import LakeSettings


def lake_db_hook(settings: LakeSettings | None = None) -> DbApiHook:
    """The DB-API hook of the configured backend, chosen when a task runs."""
    lake = settings or config.settings()
    if lake.is_local:
        from iot_lake.hooks.lake_duckdb import LakeDuckDBHook

        return LakeDuckDBHook(settings=lake)
    from iot_lake.hooks.lake_athena import LakeAthenaSQLHook

    return LakeAthenaSQLHook(settings=lake)
