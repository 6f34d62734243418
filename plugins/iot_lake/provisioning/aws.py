"""The ``aws`` backend's steps: each returns what it did to its resources."""

from __future__ import annotations

from typing import Any

from iot_lake.config import LakeSettings
from iot_lake.provisioning import athena, dynamodb, firehose, glue, iam, iot, logs, s3
from iot_lake.provisioning import coffee as coffee_path
from iot_lake.provisioning import identities as administrator
from iot_lake.provisioning.context import AwsContext
from iot_lake.provisioning.deployment import Deployment
from iot_lake.provisioning.report import Change


def context(lake: LakeSettings, session: Any, dry_run: bool = False) -> AwsContext:
    """Resolve the account (STS needs no permission) and build the clients' context."""
    identity = session.client("sts", region_name=lake.region).get_caller_identity()
    partition = identity["Arn"].split(":")[1]
    deployment = Deployment.for_account(lake, identity["Account"], partition)
    return AwsContext(session=session, deployment=deployment, dry_run=dry_run)


def identities(ctx: AwsContext) -> list[Change]:
    return administrator.ensure(ctx)


def permissions(ctx: AwsContext) -> list[Change]:
    if not ctx.dry_run:
        administrator.require_current_boundary(ctx)
    return iam.ensure_roles(ctx)


def storage(ctx: AwsContext) -> list[Change]:
    return s3.ensure_buckets(ctx)


def catalog(ctx: AwsContext) -> list[Change]:
    return [*glue.ensure_databases(ctx), *glue.ensure_classifiers(ctx), *glue.ensure_crawlers(ctx)]


def query_engine(ctx: AwsContext) -> list[Change]:
    return [athena.ensure_workgroup(ctx)]


def ingestion(ctx: AwsContext) -> list[Change]:
    table = dynamodb.desired_table(ctx.deployment.values())
    return [
        logs.ensure_firehose_log_group(ctx),
        firehose.ensure_stream(ctx),
        dynamodb.ensure_table(ctx.client("dynamodb"), table, ctx.dry_run),
        *iot.ensure_rules(ctx),
    ]


def devices(ctx: AwsContext) -> list[Change]:
    return [*iot.ensure_policies(ctx), iot.ensure_thing_type(ctx)]


def coffee(ctx: AwsContext) -> list[Change]:
    return coffee_path.provision(ctx)
