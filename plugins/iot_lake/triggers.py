"""Triggers whose external work dies with their task.

The provider's :class:`~airflow.providers.amazon.aws.triggers.athena.AthenaTrigger` waits
for a query; when a user marks the deferred task failed or clears it, the triggerer
cancels the wait but the query would go on, writing a partition nobody will register
(and billing for it). :class:`LakeAthenaTrigger` stops it there (``on_kill``, called by
the triggerer on user action only, never on its own restart or redistribution) and
deletes what it may have half written. A trigger timeout reaches the task as a
``__fail__`` resume, which stops the query on the worker side.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.amazon.aws.triggers.athena import AthenaTrigger


class LakeAthenaTrigger(AthenaTrigger):
    """``AthenaTrigger`` that stops its query (and deletes ``location``) on a user's kill."""

    def __init__(
        self,
        query_execution_id: str,
        waiter_delay: int,
        waiter_max_attempts: int,
        aws_conn_id: str | None,
        location: str | None = None,
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
        self.location = location
        self.serialized_fields["location"] = location

    async def on_kill(self) -> None:
        from asgiref.sync import sync_to_async

        from iot_lake import config, engine

        query = {"id": self.query_execution_id, "location": self.location}
        await sync_to_async(engine.abandon_query)(query, config.settings())
