"""Failure notifications through Airflow's notifier mechanism, configured by a connection.

``DEFAULT_ARGS["on_failure_callback"]`` (``iot_lake.dag_defaults``) holds one
:class:`FailureNotifier`; where its message goes is the connection ``iot_lake_alerts``:

* ``conn_type`` ``aws`` with extra ``{"target_arn": "<SNS topic ARN>", "region_name": ...}``:
  the Amazon provider's ``SnsNotifier`` publishes it (the connection also carries the AWS
  credentials/role, like any ``aws`` connection);
* anything else (the ``local`` backend sets a ``generic`` one in ``config/local.env``),
  or no such connection on ``local``: an incident in the lake home, shown on the
  dashboard's Incidents page (``iot_lake.incidents``). On ``aws`` without the
  connection the failure is logged as an error (a worker's local disk reaches no one).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseNotifier

if TYPE_CHECKING:
    from iot_lake.config import LakeSettings

log = logging.getLogger(__name__)

CONN_ID = "iot_lake_alerts"


def incident_from(context: Any) -> dict[str, Any]:
    """What a person needs to act: which task of which day failed, why, and its log."""
    ti = context["ti"]
    error = context.get("exception")
    return {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "dag_id": ti.dag_id,
        "task_id": ti.task_id,
        "run_id": ti.run_id,
        "day": context.get("ds"),
        "try_number": ti.try_number,
        "error": f"{type(error).__name__}: {error}" if error else "failed",
        "log_url": getattr(ti, "log_url", None),
    }


def get_unrouted(lake: LakeSettings) -> Callable[[str, dict[str, Any]], None]:
    """What becomes of an incident when the alerts connection is missing: on ``local`` the
    Incidents page; on ``aws`` an error in the log (a worker's disk reaches no one)."""
    if lake.is_local:
        return _to_the_dashboard
    return _logged_only


def _to_the_dashboard(conn_id: str, incident: dict[str, Any]) -> None:
    from iot_lake import incidents

    log.warning("no connection %s: the incident goes to the dashboard", conn_id)
    incidents.record(incident)


def _logged_only(conn_id: str, incident: dict[str, Any]) -> None:
    log.error("no connection %s: nobody is told of %s", conn_id, incident)


class FailureNotifier(BaseNotifier):
    """Tell people that a task failed: SNS on ``aws``, the Incidents page on ``local``."""

    template_fields = ("conn_id",)

    def __init__(self, conn_id: str = CONN_ID) -> None:
        super().__init__()
        self.conn_id = conn_id

    def notify(self, context: Any) -> None:
        from airflow.sdk import Connection
        from airflow.sdk.exceptions import AirflowNotFoundException

        incident = incident_from(context)
        from iot_lake.config import settings

        try:
            conn = Connection.get(self.conn_id)
        except AirflowNotFoundException:
            get_unrouted(settings())(self.conn_id, incident)
            return
        if conn.conn_type == "aws":
            from airflow.providers.amazon.aws.notifications.sns import SnsNotifier

            extra = conn.extra_dejson
            subject = f"iot-lake: {incident['dag_id']}.{incident['task_id']} failed"
            SnsNotifier(
                aws_conn_id=self.conn_id,
                target_arn=extra["target_arn"],
                subject=subject[:100],  # SNS subjects are at most 100 characters
                message=json.dumps(incident, indent=2),
                region_name=extra.get("region_name"),
            ).notify(context)
            return
        from iot_lake import incidents

        incidents.record(incident)
