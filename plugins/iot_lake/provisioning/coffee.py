"""The coffee path on ``aws``: photo Lambda, its S3 notification, the machines' credentials.

What this step deploys (the roles themselves come from ``include/iam/roles.json`` in the
``permissions`` step: ``<prefix>-coffee-photo-lambda``, ``<prefix>-coffee-machine-device``):

- Lambda ``<prefix>-coffee-photo`` (python3.12): the zip built by
  :mod:`iot_lake.provisioning.lambda_package` (the
  library's :mod:`iot_lake.coffee.photo_handler` and the files it reads), its settings
  as environment variables. Created, or updated only when the code's SHA-256 or the
  configuration differs. It needs the Aurora cluster and its Secrets Manager secret
  (``IOT_LAKE_AURORA_CLUSTER_ARN``, ``IOT_LAKE_AURORA_SECRET_ARN``; database
  ``IOT_LAKE_AURORA_DATABASE``, default ``iot_lake``): without them the Lambda, its
  permission and the notification are reported ``skipped`` with what to set.
- the permission for S3 (this bucket, this account) to invoke it;
- its on-failure destination: S3 invokes it asynchronously, and Lambda discards an event
  after two retries (docs: invocation-async-error-handling.html). The invocation record
  of such an event goes to the SQS queue ``<prefix>-coffee-photo-failed`` (standard
  queue, SSE-SQS encrypted, kept 14 days, SQS's maximum), which only this function's role
  may send to; the alarm ``<prefix>-coffee-photo-failed-events`` fires while it holds a
  message (to the SNS topic ``IOT_LAKE_ALERTS_TOPIC_ARN`` when set), and ``python -m
  iot_lake.coffee.replay_failed`` replays them (``iot_lake.coffee.replay_failed``); the
  queue, the destination and the alarm are :mod:`iot_lake.provisioning.coffee_failures`;
- the photos bucket's notification: ``s3:ObjectCreated:*`` under the photos prefix to
  the Lambda, merged with whatever else the bucket notifies (other areas may share it);
- IoT role alias ``<prefix>-coffee-machine`` -> the device role (one-hour credentials),
  and the IoT policy ``<prefix>-coffee-machine`` that lets a certificate buy them
  (``iot:AssumeRoleWithCertificate`` on that alias only). Attach it to each coffee
  machine's certificate (thing name = machine id).
"""

from __future__ import annotations

import json
import os
from typing import Any

from botocore.exceptions import ClientError

from iot_lake.coffee.photo_events import function_name
from iot_lake.provisioning import documents, iot
from iot_lake.provisioning.coffee_failures import (
    ensure_failure_alarm,
    ensure_failure_destination,
    ensure_failure_queue,
)
from iot_lake.provisioning.context import AwsContext, error_code
from iot_lake.provisioning.lambda_package import code_sha256, lambda_zip
from iot_lake.provisioning.report import Change, created, skipped, unchanged, updated

LAMBDA_ROLE = "coffee-photo-lambda"
DEVICE_ROLE = "coffee-machine-device"
DEVICE_IOT_POLICY = "iam/coffee_machine_iot_policy.json"
RUNTIME = "python3.12"
HANDLER = "lambda_function.handler"
TIMEOUT_SECONDS = 30
MEMORY_MB = 256
CREDENTIAL_SECONDS = 3600
STATEMENT_ID = "s3-photos-invoke"


def device_role_alias(prefix: str | None = None) -> str:
    """The role alias a coffee machine's certificate buys credentials through."""
    if prefix is None:
        from iot_lake.config import settings

        prefix = settings().name_prefix
    return f"{prefix}-coffee-machine"


def aurora_settings() -> dict[str, str]:
    from iot_lake.coffee import photo_handler as ph
    from iot_lake.coffee.photo_writers import DEFAULT_DATABASE

    return {
        ph.CLUSTER_ARN_ENV: os.environ.get(ph.CLUSTER_ARN_ENV, ""),
        ph.SECRET_ARN_ENV: os.environ.get(ph.SECRET_ARN_ENV, ""),
        ph.DATABASE_ENV: os.environ.get(ph.DATABASE_ENV, DEFAULT_DATABASE),
    }


def desired_configuration(ctx: AwsContext) -> dict[str, Any]:
    deployment = ctx.deployment
    s = deployment.settings
    environment = {
        "IOT_LAKE_BACKEND": "aws",
        "IOT_LAKE_REGION": s.region,
        "IOT_LAKE_PHOTOS_URI": deployment.location("photos").uri,
        **aurora_settings(),
    }
    return {
        "Role": deployment.role_arn(LAMBDA_ROLE),
        "Handler": HANDLER,
        "Runtime": RUNTIME,
        "Timeout": TIMEOUT_SECONDS,
        "MemorySize": MEMORY_MB,
        "Description": "iot-lake coffee photo: Rekognition DetectFaces -> Aurora (RDS Data API)",
        "Environment": {"Variables": environment},
    }


def ensure_function(ctx: AwsContext, code: bytes | None = None) -> Change:
    client = ctx.client("lambda")
    name = function_name(ctx.deployment.name_prefix)
    code = lambda_zip() if code is None else code
    want = desired_configuration(ctx)
    try:
        have = client.get_function_configuration(FunctionName=name)
    except ClientError as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise
        if not ctx.dry_run:
            ctx.retry_while_role_propagates(
                lambda: client.create_function(
                    FunctionName=name,
                    Code={"ZipFile": code},
                    Tags={"project": "iot-lake"},
                    **want,
                ),
                f"create function {name}",
            )
            client.get_waiter("function_active_v2").wait(FunctionName=name)
        return created("lambda function", name)
    changed = []
    if have.get("CodeSha256") != code_sha256(code):
        changed.append("code")
        if not ctx.dry_run:
            client.update_function_code(FunctionName=name, ZipFile=code)
            client.get_waiter("function_updated_v2").wait(FunctionName=name)
    drift = documents.differences(want, have)
    if drift:
        changed += drift
        if not ctx.dry_run:
            client.update_function_configuration(FunctionName=name, **want)
            client.get_waiter("function_updated_v2").wait(FunctionName=name)
    if not changed:
        return unchanged("lambda function", name)
    return updated("lambda function", name, *changed)


def ensure_invoke_permission(ctx: AwsContext) -> Change:
    """S3 may invoke the function for the photos bucket of this account, nothing else."""
    client = ctx.client("lambda")
    deployment = ctx.deployment
    name = function_name(deployment.name_prefix)
    bucket = deployment.location("photos").bucket
    want = {
        "Action": "lambda:InvokeFunction",
        "Principal": "s3.amazonaws.com",
        "SourceArn": f"arn:{deployment.partition}:s3:::{bucket}",
        "SourceAccount": deployment.account_id,
    }
    label = f"{name} ({STATEMENT_ID})"
    try:
        policy = json.loads(client.get_policy(FunctionName=name)["Policy"])
    except ClientError as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise
        policy = {"Statement": []}
    statement = next((s for s in policy["Statement"] if s.get("Sid") == STATEMENT_ID), None)
    if statement is not None and _permission_matches(statement, want):
        return unchanged("lambda permission", label)
    if not ctx.dry_run:
        if statement is not None:
            client.remove_permission(FunctionName=name, StatementId=STATEMENT_ID)
        client.add_permission(FunctionName=name, StatementId=STATEMENT_ID, **want)
    return (created if statement is None else updated)("lambda permission", label)


def _permission_matches(statement: dict[str, Any], want: dict[str, str]) -> bool:
    principal = statement.get("Principal")
    service = principal.get("Service") if isinstance(principal, dict) else principal
    condition = statement.get("Condition") or {}
    source_arn = (condition.get("ArnLike") or {}).get("AWS:SourceArn")
    source_account = (condition.get("StringEquals") or {}).get("AWS:SourceAccount")
    return (
        statement.get("Action") == want["Action"]
        and service == want["Principal"]
        and source_arn == want["SourceArn"]
        and source_account == want["SourceAccount"]
    )


def notification_id(prefix: str) -> str:
    return f"{prefix}-coffee-photo"


def ensure_bucket_notification(ctx: AwsContext, function_arn: str) -> Change:
    """ObjectCreated under the photos prefix -> the Lambda; other notifications are kept."""
    s3 = ctx.client("s3")
    deployment = ctx.deployment
    photos = deployment.location("photos")
    ident = notification_id(deployment.name_prefix)
    want: dict[str, Any] = {
        "Id": ident,
        "LambdaFunctionArn": function_arn,
        "Events": ["s3:ObjectCreated:*"],
    }
    if photos.prefix:
        want["Filter"] = {"Key": {"FilterRules": [{"Name": "prefix", "Value": photos.prefix}]}}
    current = s3.get_bucket_notification_configuration(Bucket=photos.bucket)
    current.pop("ResponseMetadata", None)
    lambdas = list(current.get("LambdaFunctionConfigurations") or [])
    have = next((c for c in lambdas if c.get("Id") == ident), None)
    if have is not None and not documents.differences(want, _canonical_filter(have)):
        return unchanged("s3 notification", f"{photos.bucket} {ident}")
    if not ctx.dry_run:
        others = [c for c in lambdas if c.get("Id") != ident]
        configuration = {**current, "LambdaFunctionConfigurations": [*others, want]}
        s3.put_bucket_notification_configuration(
            Bucket=photos.bucket, NotificationConfiguration=configuration
        )
    action = created if have is None else updated
    return action("s3 notification", f"{photos.bucket} {ident}")


def _canonical_filter(configuration: dict[str, Any]) -> dict[str, Any]:
    """S3 answers filter rule names capitalised ("Prefix"); the API takes "prefix"."""
    rules = (configuration.get("Filter") or {}).get("Key", {}).get("FilterRules")
    if not rules:
        return configuration
    canonical = [{**r, "Name": str(r.get("Name", "")).lower()} for r in rules]
    return {**configuration, "Filter": {"Key": {"FilterRules": canonical}}}


def ensure_role_alias(ctx: AwsContext) -> Change:
    client = ctx.client("iot")
    deployment = ctx.deployment
    alias = device_role_alias(deployment.name_prefix)
    role_arn = deployment.role_arn(DEVICE_ROLE)
    try:
        have = client.describe_role_alias(roleAlias=alias)["roleAliasDescription"]
    except ClientError as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise
        if not ctx.dry_run:
            client.create_role_alias(
                roleAlias=alias,
                roleArn=role_arn,
                credentialDurationSeconds=CREDENTIAL_SECONDS,
                tags=[{"Key": "project", "Value": "iot-lake"}],
            )
        return created("iot role alias", alias)
    drift = []
    if have.get("roleArn") != role_arn:
        drift.append(f"roleArn -> {role_arn}")
    if int(have.get("credentialDurationSeconds", 0)) != CREDENTIAL_SECONDS:
        drift.append(f"credentialDurationSeconds -> {CREDENTIAL_SECONDS}")
    if not drift:
        return unchanged("iot role alias", alias)
    if not ctx.dry_run:
        client.update_role_alias(
            roleAlias=alias, roleArn=role_arn, credentialDurationSeconds=CREDENTIAL_SECONDS
        )
    return updated("iot role alias", alias, *drift)


def ensure_device_iot_policy(ctx: AwsContext) -> Change:
    name = device_role_alias(ctx.deployment.name_prefix)
    document = documents.load(DEVICE_IOT_POLICY, ctx.deployment.values())
    return iot.ensure_policy(ctx, name, document)


def provision(ctx: AwsContext) -> list[Change]:
    """The ``coffee`` step: device credentials always, the Lambda once Aurora is set."""
    changes = [ensure_role_alias(ctx), ensure_device_iot_policy(ctx)]
    name = function_name(ctx.deployment.name_prefix)
    missing = [key for key, value in aurora_settings().items() if not value]
    if missing:
        reason = f"set {' and '.join(missing)} (the Aurora cluster the Lambda writes to)"
        return [
            *changes,
            skipped("lambda function", name, reason),
            skipped("lambda permission", f"{name} ({STATEMENT_ID})", reason),
            skipped("s3 notification", notification_id(ctx.deployment.name_prefix), reason),
        ]
    changes.append(ensure_failure_queue(ctx))
    changes.append(ensure_failure_alarm(ctx))
    changes.append(ensure_function(ctx))
    deployment = ctx.deployment
    arn = (
        f"arn:{deployment.partition}:lambda:{deployment.settings.region}:"
        f"{deployment.account_id}:function:{name}"
    )
    if ctx.dry_run and changes[-1].action == "created":
        # Nothing to attach to yet: the plan is to create both.
        return [
            *changes,
            created("lambda event invoke config", f"{name} on-failure"),
            created("lambda permission", f"{name} ({STATEMENT_ID})"),
            created("s3 notification", notification_id(deployment.name_prefix)),
        ]
    changes.append(ensure_failure_destination(ctx))
    changes.append(ensure_invoke_permission(ctx))
    changes.append(ensure_bucket_notification(ctx, arn))
    return changes
