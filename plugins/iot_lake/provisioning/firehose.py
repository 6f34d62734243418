"""The Firehose delivery stream that buffers the raw weather messages into S3."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from iot_lake.provisioning import documents
from iot_lake.provisioning.context import AwsContext, error_code
from iot_lake.provisioning.report import Change, created, unchanged, updated

KIND = "firehose stream"


def desired_stream(ctx: AwsContext) -> dict[str, Any]:
    values = ctx.deployment.values()
    stream = documents.load("firehose/weather_stream.json", values)
    if ctx.deployment.kms_key_arn:
        kms = documents.load("firehose/weather_stream_kms.json", values)
        stream["ExtendedS3DestinationConfiguration"]["EncryptionConfiguration"] = kms[
            "ExtendedS3DestinationConfiguration"
        ]["EncryptionConfiguration"]
    return stream


def ensure_stream(ctx: AwsContext) -> Change:
    firehose = ctx.client("firehose")
    name = ctx.deployment.settings.firehose_stream
    want = desired_stream(ctx)
    destination = want["ExtendedS3DestinationConfiguration"]
    try:
        description = firehose.describe_delivery_stream(DeliveryStreamName=name)[
            "DeliveryStreamDescription"
        ]
    except ClientError as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise
        if not ctx.dry_run:
            ctx.retry_while_role_propagates(
                lambda: firehose.create_delivery_stream(
                    DeliveryStreamName=name,
                    DeliveryStreamType=want["DeliveryStreamType"],
                    ExtendedS3DestinationConfiguration=destination,
                    Tags=[{"Key": "project", "Value": "iot-lake"}],
                ),
                f"create firehose stream {name}",
            )
        return created(KIND, name)

    if description.get("DeliveryStreamType", "DirectPut") != want["DeliveryStreamType"]:
        raise RuntimeError(
            f"firehose stream {name} is of type {description['DeliveryStreamType']}, not "
            f"{want['DeliveryStreamType']}; delete it or choose another IOT_LAKE_FIREHOSE_STREAM"
        )
    current = description["Destinations"][0]
    have = current.get("ExtendedS3DestinationDescription") or current.get(
        "S3DestinationDescription", {}
    )
    comparable = {key: value for key, value in destination.items() if key != "S3BackupMode"}
    drift = documents.differences(comparable, have)
    if not drift:
        return unchanged(KIND, name)
    if not ctx.dry_run:
        firehose.update_destination(
            DeliveryStreamName=name,
            CurrentDeliveryStreamVersionId=description["VersionId"],
            DestinationId=current["DestinationId"],
            ExtendedS3DestinationUpdate=comparable,
        )
    return updated(KIND, name, *drift)
