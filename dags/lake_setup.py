r"""
### lake_setup: create or update everything the pipeline needs (manual trigger)

```
permissions --> storage --> catalog      --> report
                        \-> query_engine -/
                        \-> ingestion    -/
                        \-> devices      -/
                        \-> relational   -/
                        \-> coffee       -/
                        \-> expire_superseded
```

Idempotent: a second run reports "no changes". Trigger with `{"dry_run": true}` to see
the plan without changing anything.

What each step creates on `aws` and on `local`, and the deploy role it runs as:
`docs/aws.md` (section "The lake_setup DAG").
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from airflow.sdk import Param, chain, dag, task

from iot_lake.dag_defaults import DEFAULT_ARGS, TEMPLATE_SEARCHPATH


@task
def provision(step: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    from iot_lake.provisioning.tasks import provision_step

    return provision_step(step, dry_run=bool((params or {}).get("dry_run")))


@task
def report(results: list[list[dict[str, Any]]], params: dict[str, Any] | None = None) -> str:
    from iot_lake.provisioning.tasks import report as summarize

    return summarize(results, dry_run=bool((params or {}).get("dry_run")))


@task
def expire_superseded(params: dict[str, Any] | None = None) -> list[str]:
    """Old partition versions past their grace period (queries no longer read them)."""
    if (params or {}).get("dry_run"):
        return []
    from iot_lake.wap.superseded import expire_superseded as expire

    return expire()


@dag(
    dag_id="lake_setup",
    schedule=None,
    start_date=datetime(2026, 11, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["iot-lake", "setup"],
    doc_md=__doc__,
    template_searchpath=TEMPLATE_SEARCHPATH,
    params={"dry_run": Param(False, type="boolean", description="plan only, change nothing")},
)
def lake_setup() -> None:
    permissions = provision.override(task_id="permissions")("permissions")
    storage = provision.override(task_id="storage")("storage")
    steps = [
        provision.override(task_id=step)(step)
        for step in ("catalog", "query_engine", "ingestion", "devices", "relational", "coffee")
    ]
    # The report covers every step: a drifted role or bucket is a change too.
    chain(permissions, storage, steps, report([permissions, storage, *steps]))
    storage >> expire_superseded()


lake_setup()
