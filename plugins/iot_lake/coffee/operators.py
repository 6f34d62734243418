"""coffee_lake's reconciliation as an operator: on `aws` the lake's count is deferred.

The day's rows in MySQL must equal the staged rows plus rejects
(:func:`iot_lake.coffee.reconcile.reconcile_day`). MySQL answers at once; the lake's
count runs on Athena while the task waits in the triggerer
(:class:`iot_lake.operators.deferred_sql.LakeQueryingOperator`); MySQL is counted in
the resumed run that has the lake's answer, so both counts are taken close in time. A
mismatch is a data error (never retried).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from iot_lake.operators.deferred_sql import LakeQueryingOperator


class ReconcileWithMySQLOperator(LakeQueryingOperator):
    """MySQL rows of day ``day`` = staged ``coffees`` rows + ``coffee_rejects`` rows."""

    template_fields: Sequence[str] = ("day", "written")

    def __init__(self, *, written: Any, day: str = "{{ ds }}", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.written = written
        self.day = day

    def work(self, context: Any, run_sql: Callable[[str], list[dict[str, Any]]]) -> dict:
        from iot_lake.coffee.reconcile import reconcile_day
        from iot_lake.config import settings
        from iot_lake.dag_defaults import day_bounds, run_day

        day = run_day(self.day)
        staged = list((self.written or {}).get("staged") or [])
        return reconcile_day(
            day, *day_bounds(day), lake=settings(), staged=staged, run_sql=run_sql).as_dict()
