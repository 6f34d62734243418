"""Where a coffee photo event goes when the Lambda fails on it for good, on ``aws``.

S3 invokes the function asynchronously; after Lambda's retries the event would be
discarded, so the function gets an on-failure destination (an SQS queue only its role
may send to) and an alarm fires while the queue holds a record; ``python -m
iot_lake.coffee.replay_failed`` replays them. Part of the ``coffee`` step
(:mod:`iot_lake.provisioning.coffee`).
"""

from __future__ import annotations

import os
import time
from typing import Any

from botocore.exceptions import ClientError

from iot_lake.coffee.photo_events import function_name, queue_name
from iot_lake.provisioning import documents
from iot_lake.provisioning.context import AwsContext, error_code
from iot_lake.provisioning.report import Change, created, unchanged, updated

# Asynchronous invocation: Lambda's own defaults, set explicitly so drift is seen.
MAX_RETRY_ATTEMPTS = 2
MAX_EVENT_AGE_SECONDS = 6 * 3600
FAILED_RETENTION_SECONDS = 14 * 24 * 3600  # SQS's maximum retention
ALERTS_TOPIC_ENV = "IOT_LAKE_ALERTS_TOPIC_ARN"


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
