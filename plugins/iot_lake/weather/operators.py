"""weather_lake's write step: the staged write, over exactly the raw objects it listed.

Before its SQL is rendered the task lists the day's raw window
(:func:`iot_lake.weather.reconcile.raw_snapshot`: key, size, ETag) and the day's
ingestion error objects (:mod:`iot_lake.weather.ingest_errors`), and gives the raw list
to the SQL as ``raw_objects`` (``typed_records.sql`` reads those objects and no
others). When the write is done the error objects' records join the staged rejects, and
the task returns both lists with its figures: the audit reconciles against them. An
object landing after the listing is read by the day's next run, never half-counted.

On `aws` the task resumes after each Athena wait and Airflow renders its templates again:
the lists are kept in XCom (key ``raw_objects``, kept across resumes, cleared for a new
try), so every resume renders the same statements as the first run.
"""

from __future__ import annotations

from typing import Any

from iot_lake.operators.write import LakeStagedWriteOperator

READ_XCOM_KEY = "raw_objects"


class RawDayWriteOperator(LakeStagedWriteOperator):
    """:class:`LakeStagedWriteOperator` whose SQL reads the raw objects listed at its start."""

    read: dict[str, list[dict[str, Any]]] | None = None

    def render_template_fields(self, context: Any, jinja_env: Any = None) -> None:
        self.read = self._recorded(context)
        context["raw_objects"] = self.read["raw_objects"]
        super().render_template_fields(context, jinja_env)

    def _recorded(self, context: Any) -> dict[str, list[dict[str, Any]]]:
        """The lists this try already took (a resume), or new listings, kept in XCom."""
        from iot_lake.dag_defaults import run_day
        from iot_lake.weather import ingest_errors
        from iot_lake.weather.reconcile import raw_snapshot

        ti = context.get("ti")
        kept = ti.xcom_pull(task_ids=self.task_id, key=READ_XCOM_KEY) if ti else None
        if kept is not None:
            return dict(kept)
        day = run_day(context["ds"])
        read = {
            "raw_objects": raw_snapshot(day),
            "ingest_error_objects": ingest_errors.error_objects(day),
        }
        if ti:
            ti.xcom_push(key=READ_XCOM_KEY, value=read)
        self.log.info("day %s: reading %d raw objects and %d ingestion error objects", day,
                      len(read["raw_objects"]), len(read["ingest_error_objects"]))
        return read

    def finish(self, result: dict[str, Any], lake: Any) -> dict[str, Any]:
        from iot_lake.weather import ingest_errors

        read = self.read or {"raw_objects": [], "ingest_error_objects": []}
        written = {**super().finish(result, lake), "raw_objects": list(read["raw_objects"])}
        return ingest_errors.add_to_staged_rejects(
            written, list(read["ingest_error_objects"]), lake)
