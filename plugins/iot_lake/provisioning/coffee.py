"""The coffee path on ``aws``: photo Lambda, its S3 notification, the machines' credentials.

What this step deploys (the roles themselves come from ``include/iam/roles.json`` in the
``permissions`` step: ``<prefix>-coffee-photo-lambda``, ``<prefix>-coffee-machine-device``):

- Lambda ``<prefix>-coffee-photo`` (python3.12): the zip of :func:`lambda_zip` (the
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
  iot_lake.coffee.replay_failed`` replays them (``iot_lake.coffee.replay_failed``);
- the photos bucket's notification: ``s3:ObjectCreated:*`` under the photos prefix to
  the Lambda, merged with whatever else the bucket notifies (other areas may share it);
- IoT role alias ``<prefix>-coffee-machine`` -> the device role (one-hour credentials),
  and the IoT policy ``<prefix>-coffee-machine`` that lets a certificate buy them
  (``iot:AssumeRoleWithCertificate`` on that alias only). Attach it to each coffee
  machine's certificate (thing name = machine id).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import time
import zipfile
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from iot_lake.coffee.photo_events import function_name, queue_name
from iot_lake.config import INCLUDE_DIR
from iot_lake.provisioning import documents, iot
from iot_lake.provisioning.context import AwsContext, error_code
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
# Asynchronous invocation: Lambda's own defaults, set explicitly so drift is seen.
MAX_RETRY_ATTEMPTS = 2
MAX_EVENT_AGE_SECONDS = 6 * 3600
FAILED_RETENTION_SECONDS = 14 * 24 * 3600  # SQS's maximum retention
ALERTS_TOPIC_ENV = "IOT_LAKE_ALERTS_TOPIC_ARN"
# What the zip holds: the entry point, the library modules the handler imports, the
# files it reads. Paths relative to the repository (plugins/..., include/...).
LAMBDA_ENTRY = INCLUDE_DIR / "lambda" / "coffee_photo" / "lambda_function.py"
LAMBDA_MODULES = (
    "__init__.py",
    "config.py",
    "errors.py",
    "coffee/__init__.py",
    "coffee/faces.py",
    "coffee/photo_handler.py",
    "coffee/photo_url.py",
)
LAMBDA_INCLUDE = ("sql/aurora/insert_coffee_photo.sql",)
# Pure-Python libraries the handler imports that the runtime lacks: their sources go under
# plugins/ (on the entry point's sys.path). sqlparse strips comments off Data API SQL.
LAMBDA_VENDORED = ("sqlparse",)
LIBRARY_DIR = Path(__file__).resolve().parents[1]  # the installed iot_lake package
_ZIP_TIME = (2020, 1, 1, 0, 0, 0)  # fixed: the same sources give the same CodeSha256


def device_role_alias(prefix: str | None = None) -> str:
    """The role alias a coffee machine's certificate buys credentials through."""
    if prefix is None:
        from iot_lake.config import settings

        prefix = settings().name_prefix
    return f"{prefix}-coffee-machine"


def lambda_zip() -> bytes:
    """The function's code, byte for byte the same for the same sources."""
    files: list[tuple[str, Path]] = [("lambda_function.py", LAMBDA_ENTRY)]
    files += [(f"plugins/iot_lake/{name}", LIBRARY_DIR / name) for name in LAMBDA_MODULES]
    files += [(f"include/{name}", INCLUDE_DIR / name) for name in LAMBDA_INCLUDE]
    files += [item for package in LAMBDA_VENDORED for item in _vendored(package)]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, path in sorted(files):
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def _vendored(package: str) -> list[tuple[str, Path]]:
    """(name in the zip, source) of an installed pure-Python package, with its licence."""
    import importlib
    from importlib import metadata

    root = Path(importlib.import_module(package).__file__ or "").parent
    files = [
        (f"plugins/{package}/{path.relative_to(root).as_posix()}", path)
        for path in root.rglob("*.py")
        if "__pycache__" not in path.parts
    ]
    for item in metadata.files(package) or []:
        if item.name.upper().startswith(("LICENSE", "COPYING")):
            files.append((f"plugins/{package}.LICENSE", Path(str(item.locate()))))
    return files


def code_sha256(code: bytes) -> str:
    """As Lambda reports it: base64 of the SHA-256 digest."""
    return base64.b64encode(hashlib.sha256(code).digest()).decode()


def aurora_settings() -> dict[str, str]:
    from iot_lake.coffee import photo_handler as ph

    return {
        ph.CLUSTER_ARN_ENV: os.environ.get(ph.CLUSTER_ARN_ENV, ""),
        ph.SECRET_ARN_ENV: os.environ.get(ph.SECRET_ARN_ENV, ""),
        ph.DATABASE_ENV: os.environ.get(ph.DATABASE_ENV, ph.DEFAULT_DATABASE),
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


def failure_queue_arn(ctx: AwsContext) -> str:
    d = ctx.deployment
    name = queue_name(d.name_prefix)
    return f"arn:{d.partition}:sqs:{d.settings.region}:{d.account_id}:{name}"


def ensure_failure_queue(ctx: AwsContext) -> Change:
    """The photo function's on-failure destination: a standard queue (Lambda accepts no
    FIFO queue there), encrypted at rest with SSE-SQS (no key policy for Lambda to need),
    records kept the 14 days SQS allows at most."""
    sqs = ctx.client("sqs")
    name = queue_name(ctx.deployment.name_prefix)
    want = {
        "MessageRetentionPeriod": str(FAILED_RETENTION_SECONDS),
        "SqsManagedSseEnabled": "true",
    }
    try:
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    except ClientError as exc:
        if error_code(exc) not in ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"):
            raise
        if not ctx.dry_run:
            sqs.create_queue(QueueName=name, Attributes=want, tags={"project": "iot-lake"})
        return created("sqs queue", name)
    have = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(want))["Attributes"]
    drift = [f"{key} -> {value}" for key, value in want.items() if have.get(key) != value]
    if not drift:
        return unchanged("sqs queue", name)
    if not ctx.dry_run:
        sqs.set_queue_attributes(QueueUrl=url, Attributes=want)
    return updated("sqs queue", name, *drift)


def ensure_failure_destination(ctx: AwsContext) -> Change:
    """Two retries (Lambda's default), then the invocation record goes to the queue."""
    client = ctx.client("lambda")
    name = function_name(ctx.deployment.name_prefix)
    want = {
        "MaximumRetryAttempts": MAX_RETRY_ATTEMPTS,
        "MaximumEventAgeInSeconds": MAX_EVENT_AGE_SECONDS,
        "DestinationConfig": {"OnFailure": {"Destination": failure_queue_arn(ctx)}},
    }
    label = f"{name} on-failure -> {queue_name(ctx.deployment.name_prefix)}"
    try:
        have = client.get_function_event_invoke_config(FunctionName=name)
    except ClientError as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise
        have = None
    drift = documents.differences(want, have) if have is not None else []
    if have is not None and not drift:
        return unchanged("lambda event invoke config", label)
    if not ctx.dry_run:
        _while_the_role_policy_propagates(
            ctx, lambda: client.put_function_event_invoke_config(FunctionName=name, **want)
        )
    return (created if have is None else updated)("lambda event invoke config", label, *drift)


def _while_the_role_policy_propagates(ctx: AwsContext, call: Any) -> Any:
    """Lambda checks that the function's role may send to the destination; a role policy
    written moments ago by the ``permissions`` step may not be visible to it yet."""
    for delay in (*ctx.propagation_delays, None):
        try:
            return call()
        except ClientError as exc:
            message = str(exc).lower()
            if delay is None or not ("role" in message and "permission" in message):
                raise
            time.sleep(delay)
    return None  # pragma: no cover


def failure_alarm_name(prefix: str) -> str:
    return f"{prefix}-coffee-photo-failed-events"


def ensure_failure_alarm(ctx: AwsContext) -> Change:
    """In alarm while a failed photo event waits in the queue (its visible messages)."""
    cloudwatch = ctx.client("cloudwatch")
    prefix = ctx.deployment.name_prefix
    name = failure_alarm_name(prefix)
    topic = os.environ.get(ALERTS_TOPIC_ENV, "")
    want: dict[str, Any] = {
        "AlarmName": name,
        "AlarmDescription": (
            "Coffee photo events the Lambda failed on after its retries: presses missing "
            "from Aurora. Replay: python -m iot_lake.coffee.replay_failed (docs/coffee.md)"
        ),
        "Namespace": "AWS/SQS",
        "MetricName": "ApproximateNumberOfMessagesVisible",
        "Dimensions": [{"Name": "QueueName", "Value": queue_name(prefix)}],
        "Statistic": "Maximum",
        "Period": 300,
        "EvaluationPeriods": 1,
        "Threshold": 0.0,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching",
        "AlarmActions": [topic] if topic else [],
    }
    found = cloudwatch.describe_alarms(AlarmNames=[name], AlarmTypes=["MetricAlarm"])
    have = next(iter(found.get("MetricAlarms") or []), None)
    drift = documents.differences(want, have) if have is not None else []
    if have is not None and not drift:
        return unchanged("cloudwatch alarm", name)
    if not ctx.dry_run:
        tags = [{"Key": "project", "Value": "iot-lake"}] if have is None else []
        cloudwatch.put_metric_alarm(**want, **({"Tags": tags} if tags else {}))
    return (created if have is None else updated)("cloudwatch alarm", name, *drift)


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
