"""Airflow hooks of the lake: :class:`~iot_lake.hooks.lake_duckdb.LakeDuckDBHook`, the
common.sql DB-API hook the check operators use in the task on the local engine.

On Athena the same operators replay on finished query results while the task is
deferred (:mod:`iot_lake.operators.deferred_sql`): no DB-API hook of Athena is needed.
"""
