"""Triggers whose external work dies with their task, and never with a move.

The provider's :class:`~airflow.providers.amazon.aws.triggers.athena.AthenaTrigger` waits
for a query; when a user marks the deferred task failed or clears it, the triggerer
cancels the wait but the query would go on (billing, writing a prefix nobody registers).
:class:`LakeAthenaTrigger` stops it, and every other query of the task's step still
running, from ``on_kill``.

Airflow 3.3.2's triggerer cancels through the same path a trigger that merely moves to
another triggerer (``TriggerRunnerSupervisor.update_triggers`` puts every trigger that
left its assignment in ``cancelling_triggers``, which ``cancel_triggers`` cancels with the
user-action message that makes ``run_trigger`` call ``on_kill``; apache/airflow#73454).
Only the metadata DB tells the two apart: a task instance still ``deferred`` is waited
for by another triggerer, so ``on_kill`` leaves its queries alone, and when it cannot
ask it leaves them too (a query that runs on finishes; stopping one a live task waits
for fails a good day). A trigger never deletes anything: every UNLOAD prefix is in the
superseded ledger from its submission (:func:`iot_lake.wap.staging.record_unload_prefix`), and
:func:`iot_lake.wap.superseded.expire_superseded` removes it unless it was staged.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.providers.amazon.aws.triggers.athena import AthenaTrigger

log = logging.getLogger(__name__)

DEFERRED = "deferred"


class LakeAthenaTrigger(AthenaTrigger):
    """``AthenaTrigger`` that stops its step's queries when its task left the deferred state.

    ``also_running``: the other queries the task started with this one (a write step's
    UNLOADs run together), stopped with it.
    """

    def __init__(
        self,
        query_execution_id: str,
        waiter_delay: int,
        waiter_max_attempts: int,
        aws_conn_id: str | None,
        also_running: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            query_execution_id=query_execution_id,
            waiter_delay=waiter_delay,
            waiter_max_attempts=waiter_max_attempts,
            aws_conn_id=aws_conn_id,
            **kwargs,
        )
        self.query_execution_id = query_execution_id
        self.also_running = list(also_running or [])
        self.serialized_fields["also_running"] = self.also_running

    @property
    def queries(self) -> list[str]:
        """Every query this trigger answers for: the one it waits on, then the others."""
        return [self.query_execution_id, *self.also_running]

    async def on_kill(self) -> None:
        from asgiref.sync import sync_to_async

        from iot_lake import config
        from iot_lake.engine.athena import AthenaEngine

        state = await sync_to_async(self.task_state)()
        if state is None or state == DEFERRED:
            log.warning(
                "trigger of %s cancelled while its task is %s: it moved to another triggerer "
                "(or the state is unknown); queries %s left running",
                self._task_label(), state or "of unknown state", self.queries,
            )
            return
        engine = AthenaEngine(config.settings())
        for execution_id in self.queries:
            await sync_to_async(engine.stop)(execution_id)

    def task_state(self) -> str | None:
        """The state of this trigger's task instance in the metadata DB (through the
        triggerer's supervisor, as any trigger asks it in Airflow 3), or None when unknown.

        ``deferred``: it still waits on a trigger (this one, moved to another triggerer).
        """
        ti = self.task_instance
        if ti is None:
            return None
        try:
            from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

            states = RuntimeTaskInstance.get_task_states(
                dag_id=ti.dag_id, task_ids=[ti.task_id], run_ids=[ti.run_id],
                map_index=getattr(ti, "map_index", None),
            )
        except Exception:
            log.exception("could not read the state of %s", self._task_label())
            return None
        found = list((states or {}).get(ti.run_id, {}).values())
        if not found:
            return None
        return DEFERRED if DEFERRED in found else str(found[0] or "none")

    def _task_label(self) -> str:
        ti = self.task_instance
        return f"{ti.dag_id}/{ti.run_id}/{ti.task_id}" if ti is not None else "an unknown task"
