"""S3 buckets of the lake: private, encrypted, TLS-only, query results expiring."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from iot_lake.provisioning import documents
from iot_lake.provisioning.context import AwsContext, error_code
from iot_lake.provisioning.report import Change, created, unchanged, updated

KIND = "s3 bucket"


def ensure_buckets(ctx: AwsContext) -> list[Change]:
    """Every bucket named by the raw/curated/photos/query_results URIs."""
    return [ensure_bucket(ctx, bucket, areas) for bucket, areas in ctx.deployment.buckets.items()]


def desired_configuration(ctx: AwsContext, bucket: str, areas: list[str]) -> dict[str, Any]:
    """The configuration one bucket must have, rendered from ``include/s3/``."""
    deployment = ctx.deployment
    values = {**deployment.values(), "bucket": bucket}
    encryption = documents.load("s3/encryption.json", values)
    lifecycle = documents.load("s3/lifecycle_rules.json")
    rules = [documents.render(rule, values) for rule in lifecycle.get("every_bucket", [])]
    for area in areas:
        prefix = deployment.location(area).prefix
        rules += [documents.render(rule, {"prefix": prefix}) for rule in lifecycle.get(area, [])]
    return {
        "public_access_block": documents.load("s3/public_access_block.json"),
        "encryption": encryption["kms" if deployment.kms_key_arn else "s3_managed"],
        "lifecycle": sorted(rules, key=lambda rule: rule["ID"]),
        "policy": documents.load("s3/bucket_policy.json", values),
    }


def ensure_bucket(ctx: AwsContext, bucket: str, areas: list[str]) -> Change:
    s3 = ctx.client("s3")
    want = desired_configuration(ctx, bucket, areas)
    name = f"{bucket} ({', '.join(areas)})"
    if not _bucket_exists(s3, bucket):
        if not ctx.dry_run:
            _create_bucket(s3, bucket, ctx.deployment.settings.region)
            _put_public_access_block(s3, bucket, want)
            _put_encryption(s3, bucket, want)
            _put_lifecycle(s3, bucket, want)
            _put_policy(s3, bucket, want)
        return created(KIND, name)

    changed: list[str] = []
    have_pab = _read(s3.get_public_access_block, bucket, "PublicAccessBlockConfiguration")
    if documents.differences(want["public_access_block"], have_pab or {}):
        changed.append("public access block")
        if not ctx.dry_run:
            _put_public_access_block(s3, bucket, want)
    have_enc = _read(s3.get_bucket_encryption, bucket, "ServerSideEncryptionConfiguration")
    if documents.differences(want["encryption"], have_enc or {}):
        changed.append("default encryption")
        if not ctx.dry_run:
            _put_encryption(s3, bucket, want)
    have_rules = _read(s3.get_bucket_lifecycle_configuration, bucket, "Rules") or []
    have_rules = sorted(have_rules, key=lambda rule: rule.get("ID", ""))
    if documents.differences(want["lifecycle"], have_rules):
        changed.append("lifecycle rules")
        if not ctx.dry_run:
            _put_lifecycle(s3, bucket, want)
    have_policy = _read(s3.get_bucket_policy, bucket, "Policy")
    if not have_policy or documents.normalise_policy(have_policy) != documents.normalise_policy(
        want["policy"]
    ):
        changed.append("bucket policy")
        if not ctx.dry_run:
            _put_policy(s3, bucket, want)
    return updated(KIND, name, *changed) if changed else unchanged(KIND, name)


_MISSING_CONFIGURATION = {
    "NoSuchPublicAccessBlockConfiguration",
    "ServerSideEncryptionConfigurationNotFoundError",
    "NoSuchLifecycleConfiguration",
    "NoSuchBucketPolicy",
}


def _read(getter: Any, bucket: str, key: str) -> Any:
    """One bucket sub-resource, or None when the bucket has none configured."""
    try:
        return getter(Bucket=bucket)[key]
    except ClientError as exc:
        if error_code(exc) in _MISSING_CONFIGURATION:
            return None
        raise


def _bucket_exists(s3: Any, bucket: str) -> bool:
    try:
        s3.head_bucket(Bucket=bucket)
        return True
    except ClientError as exc:
        code = error_code(exc)
        if code in ("404", "NoSuchBucket", "NotFound"):
            return False
        if code in ("403", "AccessDenied"):
            raise PermissionError(
                f"bucket {bucket} exists but this account cannot read it (it belongs to another "
                "account, or the policy lacks s3:ListBucket); choose another name in "
                "IOT_LAKE_*_URI"
            ) from exc
        raise


def _create_bucket(s3: Any, bucket: str, region: str) -> None:
    kwargs: dict[str, Any] = {"Bucket": bucket}
    if region != "us-east-1":  # us-east-1 rejects an explicit LocationConstraint
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    s3.create_bucket(**kwargs)


def _put_public_access_block(s3: Any, bucket: str, want: dict[str, Any]) -> None:
    s3.put_public_access_block(
        Bucket=bucket, PublicAccessBlockConfiguration=want["public_access_block"]
    )


def _put_encryption(s3: Any, bucket: str, want: dict[str, Any]) -> None:
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=want["encryption"])


def _put_lifecycle(s3: Any, bucket: str, want: dict[str, Any]) -> None:
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket, LifecycleConfiguration={"Rules": want["lifecycle"]}
    )


def _put_policy(s3: Any, bucket: str, want: dict[str, Any]) -> None:
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(want["policy"]))
