"""Column profile of one day of a table; on `aws` the task defers while Athena runs.

:func:`iot_lake.profiles.profile_day` reads two queries' rows, then writes the day's
profile to ``column_profiles``. On `aws` each query is waited for in the triggerer
(:class:`iot_lake.operators.deferred_sql.LakeQueryingOperator`); the profile is written
only by the run that has every result, so an earlier run leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from iot_lake.operators.deferred_sql import LakeQueryingOperator


class LakeProfileOperator(LakeQueryingOperator):
    """Profile partition ``dt = day`` of a curated table into ``column_profiles``."""

    template_fields: Sequence[str] = ("day",)
    ui_color = "#f3e8fd"

    def __init__(self, *, table: str, day: str = "{{ ds }}", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.table = table
        self.day = day

    def work(self, context: Any, run_sql: Callable[[str], list[dict[str, Any]]]) -> str:
        from iot_lake.dag_defaults import run_day
        from iot_lake.profiles import profile_day

        return profile_day(
            self.table, run_day(self.day), str(context["run_id"]), run_sql=run_sql)
