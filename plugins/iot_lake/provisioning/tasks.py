"""The lake_setup DAG's task bodies: one provisioning step, logged like the CLI prints it."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from iot_lake.config import settings
from iot_lake.provisioning import get_deploy_session, run_step
from iot_lake.provisioning.report import Change, summary

log = logging.getLogger(__name__)


def provision_step(step: str, dry_run: bool = False) -> list[dict[str, Any]]:
    """Run ``step`` with the Airflow AWS connection's credentials; changes as XCom."""
    lake = settings()
    changes = run_step(step, lake, session=get_deploy_session(lake), dry_run=dry_run)
    for change in changes:
        log.info("%s", change.line(dry_run))
    log.info("%s: %s", step, summary(changes, dry_run))
    return [change.as_dict() for change in changes]


def report(results: Iterable[list[dict[str, Any]]], dry_run: bool = False) -> str:
    """One line for the whole run: "no changes (...)" when everything was in place."""
    changes = [Change.from_dict(item) for step in results for item in step]
    for change in changes:
        if change.action != "unchanged":
            log.info("%s", change.line(dry_run))
    line = summary(changes, dry_run)
    log.info("lake_setup: %s", line)
    return line
