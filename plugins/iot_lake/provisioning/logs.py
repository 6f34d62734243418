"""The CloudWatch log group where Firehose reports delivery errors.

Firehose logs S3 delivery failures (permissions, a missing bucket, a bad prefix...) only
when ``CloudWatchLoggingOptions`` is enabled *and* the group and stream exist: the console
creates them, the API does not. Without them a failing stream is silent until someone
notices the missing data.
"""

from __future__ import annotations

from iot_lake.provisioning.context import AwsContext
from iot_lake.provisioning.report import Change, created, unchanged, updated

RETENTION_DAYS = 30
"""Days CloudWatch keeps the delivery errors (enough to investigate a month's gap)."""


def ensure_firehose_log_group(ctx: AwsContext) -> Change:
    logs = ctx.client("logs")
    values = ctx.deployment.values()
    group, stream = values["firehose_log_group"], values["firehose_log_stream"]
    found = [
        g
        for g in logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
        if g["logGroupName"] == group
    ]
    if not found:
        if not ctx.dry_run:
            logs.create_log_group(logGroupName=group, tags={"project": "iot-lake"})
            logs.put_retention_policy(logGroupName=group, retentionInDays=RETENTION_DAYS)
            logs.create_log_stream(logGroupName=group, logStreamName=stream)
        return created("log group", group, f"stream {stream}, {RETENTION_DAYS} days")
    drift = []
    if found[0].get("retentionInDays") != RETENTION_DAYS:
        drift.append(f"retention {found[0].get('retentionInDays')} -> {RETENTION_DAYS} days")
        if not ctx.dry_run:
            logs.put_retention_policy(logGroupName=group, retentionInDays=RETENTION_DAYS)
    streams = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=stream)
    if not any(s["logStreamName"] == stream for s in streams["logStreams"]):
        drift.append(f"stream {stream} created")
        if not ctx.dry_run:
            logs.create_log_stream(logGroupName=group, logStreamName=stream)
    return updated("log group", group, *drift) if drift else unchanged("log group", group)
