r"""
### lake_setup: create or update everything the pipeline needs (manual trigger)

```
permissions --> storage --> catalog    --> report
                        \-> query_engine
                        \-> ingestion
                        \-> devices
                        \-> relational  --> report
                        \-> coffee
                        \-> expire_superseded
```

Idempotent provisioning as code; the same steps run from a shell with
`python -m iot_lake.provisioning` (see `docs/aws.md`). Each step reads the current state
of its resources, changes only what differs from the definitions under `include/`, and
returns what it did (created / updated / unchanged / skipped); **report** prints
"no changes" when a run found everything in place.

Steps (`aws` / `local`):
- **permissions**: IAM roles for Firehose, IoT rules, the Glue crawler, the coffee
  Lambda and machines, each under the permissions boundary `iot-lake-boundary` / nothing
- **storage**: S3 buckets (public access block, encryption, TLS-only, lifecycle) /
  lake directories, or buckets on MinIO
- **catalog**: Glue databases, JSON classifier, raw crawler / local catalog databases
- **query_engine**: Athena workgroup (result location, 10 GiB scan cutoff) / nothing
- **ingestion**: Firehose stream, DynamoDB table, IoT rules / table on local DynamoDB
- **devices**: IoT policy, thing type / CA, certificates, Mosquitto config and ACL
- **relational**: database + `coffees` table through `coffee_mysql` (Aurora / MariaDB)
- **coffee**: photo Lambda, its S3 notification and invoke permission, the coffee
  machines' IoT role alias and policy / nothing (the local notifier runs the same handler)
- **expire_superseded**: deletes partition versions that a publish replaced more than
  `superseded_grace_hours` (default 24) ago, and staged versions whose audit failed
  and that a later write of the same day replaced as long ago (`iot_lake.wap`; every
  publish also does this for its own table). Skipped in a dry run.

Trigger with `{"dry_run": true}` to see the plan without changing anything. The
provisioning steps run as the deploy role, through the connection `aws_deploy` (setting
`deploy_conn_id`; `include/iam/lake_setup_policy.json` under the permissions boundary),
never as the DAGs' runtime role (`aws_default`, no IAM write); see `docs/aws.md`, 2.
No schedule and no catchup: setup runs when a person or a deploy pipeline asks for it.
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
