"""Idempotent provisioning of everything the pipeline needs, on ``aws`` or ``local``.

One entry point for the ``lake_setup`` DAG and the CLI (``python -m iot_lake.provisioning``).
The same steps exist on both backends; each reads the current state of its resources,
changes only what differs from the definitions under ``include/`` and returns
:class:`~iot_lake.provisioning.report.Change` records, so a second run reports
"no changes".

=============  ===============================================  ==============================
step           aws                                              local
=============  ===============================================  ==============================
identities     (administrator, once) permissions boundary,      (nothing: one machine)
               runtime policy, deploy role; not in STEPS
permissions    service roles (Firehose, IoT rules, Glue         (nothing: one machine)
               crawler, Lambda, coffee machines), each under
               the permissions boundary
storage        S3 buckets: public access block, encryption,     lake directories (or buckets
               TLS-only policy, lifecycle of query results      on an S3 endpoint: MinIO)
catalog        Glue databases, crawler from include/glue/       local catalog databases
query_engine   Athena workgroup (result location, scan cutoff)  (nothing: DuckDB in-process)
ingestion      Firehose stream, DynamoDB table, IoT rules       table on the local DynamoDB
devices        IoT policy, thing type                           CA, certificates, broker conf
relational     database + coffees table through the MySQL connection (Aurora or MariaDB)
coffee         photo Lambda + S3 notification, machines'       (nothing: the local notifier
               role alias + IoT policy (provisioning.coffee)    runs the same handler)
=============  ===============================================  ==============================
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from iot_lake.config import LakeSettings, settings
from iot_lake.provisioning.report import Change, has_mutations, summary

STEPS: tuple[str, ...] = (
    "permissions",
    "storage",
    "catalog",
    "query_engine",
    "ingestion",
    "devices",
    "relational",
    "coffee",
)

# Run by an administrator, not by the deploy role: the boundary, the runtime policy and
# the deploy role itself (iot_lake.provisioning.identities). ``run`` puts them first.
ADMIN_STEPS: tuple[str, ...] = ("identities",)

__all__ = ["ADMIN_STEPS", "STEPS", "Change", "has_mutations", "run", "run_step", "summary"]


def run_step(
    step: str,
    lake: LakeSettings | None = None,
    *,
    session: Any = None,
    dry_run: bool = False,
) -> list[Change]:
    """Run one step on the configured backend; ``session`` is a boto3 session (aws only)."""
    if step not in (*ADMIN_STEPS, *STEPS):
        raise ValueError(f"unknown step {step!r}; steps: {', '.join((*ADMIN_STEPS, *STEPS))}")
    lake = lake or settings()
    if step == "relational":
        from iot_lake.provisioning.relational import ensure_coffees

        return ensure_coffees(lake.mysql_conn_id, dry_run)
    return get_step(step, lake, session, dry_run)()


def get_step(
    step: str, lake: LakeSettings, session: Any, dry_run: bool
) -> Callable[[], list[Change]]:
    """The step of the backend, bound to its context: ``provisioning.local``'s (a step it
    has no part in does nothing) or ``provisioning.aws``'s with ``session`` (or the default
    credential chain's)."""
    if lake.is_local:
        from iot_lake.provisioning import local

        function = getattr(local, step, None)
        if function is None:
            return list
        return functools.partial(function, local.LocalContext(lake, dry_run))
    from iot_lake.provisioning import aws

    if session is None:
        session = default_session(lake)
    return functools.partial(getattr(aws, step), aws.context(lake, session, dry_run))


def run(
    steps: Sequence[str] = STEPS,
    lake: LakeSettings | None = None,
    *,
    session: Any = None,
    dry_run: bool = False,
) -> list[Change]:
    """Run ``steps`` in the documented order (roles before what assumes them)."""
    lake = lake or settings()
    if session is None:
        session = get_session(lake)
    changes: list[Change] = []
    for step in (*ADMIN_STEPS, *STEPS):
        if step in steps:
            changes += run_step(step, lake, session=session, dry_run=dry_run)
    return changes


def default_session(lake: LakeSettings) -> Any:
    """A boto3 session from the standard credential chain (env, profile, instance role)."""
    import boto3

    return boto3.session.Session(region_name=lake.region)


def get_session(lake: LakeSettings) -> Any:
    """The boto3 session of a run: none on ``local``, the default chain's on ``aws``."""
    return None if lake.is_local else default_session(lake)


def get_deploy_session(lake: LakeSettings) -> Any:
    """The session of a ``lake_setup`` task: none on ``local``, the deploy role's on ``aws``."""
    return None if lake.is_local else airflow_session(lake)


def airflow_session(lake: LakeSettings) -> Any:
    """The boto3 session of the deploy role's Airflow connection (``deploy_conn_id``).

    Not the DAGs' connection (``aws_conn_id``): the runtime role has no IAM write.
    """
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    return AwsBaseHook(aws_conn_id=lake.deploy_conn_id, region_name=lake.region).get_session()
