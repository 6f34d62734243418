"""The Athena workgroup: where results go and how much one query may scan."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from iot_lake.provisioning import documents
from iot_lake.provisioning.context import AwsContext, error_code, error_message
from iot_lake.provisioning.report import Change, created, unchanged, updated

KIND = "athena workgroup"


def desired_workgroup(ctx: AwsContext) -> dict[str, Any]:
    values = ctx.deployment.values()
    workgroup = documents.load("athena/workgroup.json", values)
    if ctx.deployment.kms_key_arn:
        kms = documents.load("athena/workgroup_kms.json", values)
        workgroup["Configuration"]["ResultConfiguration"].update(
            kms["Configuration"]["ResultConfiguration"]
        )
    return workgroup


def ensure_workgroup(ctx: AwsContext) -> Change:
    athena = ctx.client("athena")
    name = ctx.deployment.settings.athena_workgroup
    want = desired_workgroup(ctx)
    have = _get_workgroup(athena, name)
    if have is None:
        if not ctx.dry_run:
            athena.create_work_group(
                Name=name,
                Description=want["Description"],
                Configuration=want["Configuration"],
                Tags=[{"Key": "project", "Value": "iot-lake"}],
            )
        return created(KIND, name)
    drift = documents.differences(
        {"Description": want["Description"], "Configuration": want["Configuration"]}, have
    )
    if not drift:
        return unchanged(KIND, name)
    if not ctx.dry_run:
        config = want["Configuration"]
        athena.update_work_group(
            WorkGroup=name,
            Description=want["Description"],
            ConfigurationUpdates={
                "EnforceWorkGroupConfiguration": config["EnforceWorkGroupConfiguration"],
                "ResultConfigurationUpdates": config["ResultConfiguration"],
                "PublishCloudWatchMetricsEnabled": config["PublishCloudWatchMetricsEnabled"],
                "BytesScannedCutoffPerQuery": config["BytesScannedCutoffPerQuery"],
                "RequesterPaysEnabled": config["RequesterPaysEnabled"],
                "EngineVersion": config["EngineVersion"],
            },
        )
    return updated(KIND, name, *drift)


def _get_workgroup(athena: Any, name: str) -> dict[str, Any] | None:
    try:
        return athena.get_work_group(WorkGroup=name).get("WorkGroup") or None
    except ClientError as exc:
        if (
            error_code(exc) == "InvalidRequestException"
            and "not found" in error_message(exc).lower()
        ):
            return None
        raise
