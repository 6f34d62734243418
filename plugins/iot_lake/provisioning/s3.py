"""S3 buckets of the lake: private, encrypted, TLS-only, query results expiring.

A bucket's policy, lifecycle configuration and default encryption are each one document
that a PUT replaces whole, and a bucket may already serve other purposes. So on a bucket
that exists, the setup merges its own policy statements (by ``Sid``) and lifecycle rules
(by ``ID``) into what it finds and keeps every other statement and rule as found; an
existing default encryption (SSE-S3, or a customer's KMS key) is never replaced. Only a
bucket the setup creates gets the encryption of the settings.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from iot_lake.provisioning import documents
from iot_lake.provisioning.context import AwsContext, error_code
from iot_lake.provisioning.deployment import LAKE_BUCKETS, Deployment
from iot_lake.provisioning.report import Change, created, unchanged, updated

KIND = "s3 bucket"
# Areas holding the lake's data (staged partitions live under the curated area): no
# expiring lifecycle rule may cover them.
DATA_AREAS = tuple(area for area in LAKE_BUCKETS if area != "query_results")
_EXPIRING = ("Expiration", "NoncurrentVersionExpiration")


def ensure_buckets(ctx: AwsContext) -> list[Change]:
    """Every bucket named by the raw/curated/photos/query_results URIs."""
    wanted = {
        bucket: desired_configuration(ctx, bucket, areas)  # refuses before any call
        for bucket, areas in ctx.deployment.buckets.items()
    }
    return [
        ensure_bucket(ctx, bucket, areas, wanted[bucket])
        for bucket, areas in ctx.deployment.buckets.items()
    ]


def desired_configuration(ctx: AwsContext, bucket: str, areas: list[str]) -> dict[str, Any]:
    """The configuration one bucket must have, rendered from ``include/s3/``."""
    deployment = ctx.deployment
    values = {**deployment.values(), "bucket": bucket}
    encryption = documents.load("s3/encryption.json", values)
    lifecycle = documents.load("s3/lifecycle_rules.json")
    rules = [documents.render(rule, values) for rule in lifecycle.get("every_bucket", [])]
    for area in areas:
        prefix = deployment.location(area).prefix
        area_rules = [
            documents.render(rule, {"prefix": prefix}) for rule in lifecycle.get(area, [])
        ]
        for rule in area_rules:
            refuse_expiry_over_lake_data(deployment, bucket, area, rule)
        rules += area_rules
    return {
        "public_access_block": documents.load("s3/public_access_block.json"),
        "encryption": encryption["kms" if deployment.kms_key_arn else "s3_managed"],
        "lifecycle": sorted(rules, key=lambda rule: rule["ID"]),
        "policy": documents.load("s3/bucket_policy.json", values),
    }


def _rule_prefix(rule: dict[str, Any]) -> str:
    filter_ = rule.get("Filter") or {}
    if "And" in filter_:
        return str(filter_["And"].get("Prefix", ""))
    return str(filter_.get("Prefix", rule.get("Prefix", "")))


def refuse_expiry_over_lake_data(
    deployment: Deployment, bucket: str, area: str, rule: dict[str, Any]
) -> None:
    """An expiring rule of ``area`` must not reach another area's data, nor lie inside it.

    S3 prefixes match by characters: an empty prefix (a bucket root) covers the whole
    bucket, and a rule under the curated prefix would expire part of the curated data.
    """
    if not any(key in rule for key in _EXPIRING):
        return
    prefix = _rule_prefix(rule)
    for other in DATA_AREAS:
        if other == area:
            continue
        location = deployment.location(other)
        if location.bucket != bucket:
            continue
        if location.prefix.startswith(prefix) or prefix.startswith(location.prefix):
            setting = f"IOT_LAKE_{area.upper()}_URI"
            where = f"s3://{bucket}/{prefix}"
            from iot_lake.errors import ConfigError

            raise ConfigError(
                f"setting {setting}={deployment.settings.uri(area)!r} would let lifecycle rule "
                f"{rule['ID']} ({_describe_expiry(rule)}) delete {other} data: its prefix "
                f"{where} overlaps the {other} area {location.uri}. Give the {area} area a "
                f"prefix of its own that no lake area is under (e.g. s3://{bucket}/"
                f"athena-results/) or a bucket of its own"
            )


def _expires_lake_data(deployment: Deployment, bucket: str, rule: dict[str, Any]) -> str:
    """Why a rule found on the bucket would expire lake data, or "" when it would not."""
    if not any(key in rule for key in _EXPIRING):
        return ""
    prefix = _rule_prefix(rule)
    covered = [
        area
        for area in DATA_AREAS
        if deployment.location(area).bucket == bucket
        and deployment.location(area).prefix.startswith(prefix)
    ]
    if not covered:
        return ""
    return f"{_describe_expiry(rule)} under s3://{bucket}/{prefix}: {', '.join(covered)} data"


def _describe_expiry(rule: dict[str, Any]) -> str:
    if "Expiration" in rule:
        days = rule["Expiration"].get("Days")
        return f"expires objects after {days} day{'' if days == 1 else 's'}"
    return "expires noncurrent versions"


def ensure_bucket(
    ctx: AwsContext, bucket: str, areas: list[str], want: dict[str, Any] | None = None
) -> Change:
    s3 = ctx.client("s3")
    want = want or desired_configuration(ctx, bucket, areas)
    name = f"{bucket} ({', '.join(areas)})"
    if not _bucket_exists(s3, bucket):
        if not ctx.dry_run:
            _create_bucket(s3, bucket, ctx.deployment.settings.region)
            _put_public_access_block(s3, bucket, want)
            _put_encryption(s3, bucket, want["encryption"])
            _put_lifecycle(s3, bucket, want["lifecycle"])
            _put_policy(s3, bucket, want["policy"])
        return created(KIND, name)

    changed: list[str] = []
    notes: list[str] = []
    have_pab = _read(s3.get_public_access_block, bucket, "PublicAccessBlockConfiguration")
    if documents.differences(want["public_access_block"], have_pab or {}):
        changed.append("public access block")
        if not ctx.dry_run:
            _put_public_access_block(s3, bucket, want)
    have_enc = _read(s3.get_bucket_encryption, bucket, "ServerSideEncryptionConfiguration")
    if not have_enc:  # only older or non-AWS endpoints answer "none": S3 always has one
        changed.append("default encryption")
        if not ctx.dry_run:
            _put_encryption(s3, bucket, want["encryption"])
    elif documents.differences(want["encryption"], have_enc):
        notes.append(f"default encryption kept as found ({_describe_encryption(have_enc)})")
    have_rules = _read(s3.get_bucket_lifecycle_configuration, bucket, "Rules") or []
    ours = {rule["ID"] for rule in want["lifecycle"]}
    notes += [
        f"lifecycle rule {rule.get('ID')} (not the setup's, kept) {warning}"
        for rule in have_rules
        if rule.get("ID") not in ours and rule.get("Status") == "Enabled"
        for warning in [_expires_lake_data(ctx.deployment, bucket, rule)]
        if warning
    ]
    rules = merge_rules(have_rules, want["lifecycle"])
    if rules is not None:
        changed.append("lifecycle rules")
        if not ctx.dry_run:
            _put_lifecycle(s3, bucket, rules)
    have_policy = _read(s3.get_bucket_policy, bucket, "Policy")
    policy = merge_policy(json.loads(have_policy) if have_policy else None, want["policy"])
    if policy is not None:
        changed.append("bucket policy")
        if not ctx.dry_run:
            _put_policy(s3, bucket, policy)
    if changed:
        return updated(KIND, name, *changed, *notes)
    return unchanged(KIND, name, *notes)


def merge_rules(
    have: list[dict[str, Any]], want: list[dict[str, Any]]
) -> list[dict[str, Any]] | None:
    """``have`` with each rule of ``want`` in place by ``ID``; None when nothing differs."""
    by_id = {rule.get("ID"): rule for rule in have}
    if all(
        rule["ID"] in by_id and not documents.differences(rule, by_id[rule["ID"]]) for rule in want
    ):
        return None
    ours = {rule["ID"]: rule for rule in want}
    merged = [ours.pop(rule["ID"]) if rule.get("ID") in ours else rule for rule in have]
    return merged + list(ours.values())


def merge_policy(have: dict[str, Any] | None, want: dict[str, Any]) -> dict[str, Any] | None:
    """``have`` with each statement of ``want`` in place by ``Sid``; None when all match."""
    current = list((have or {}).get("Statement") or [])
    if isinstance((have or {}).get("Statement"), dict):
        current = [have["Statement"]]  # type: ignore[index]
    by_sid = {s.get("Sid"): s for s in current if s.get("Sid")}
    canon = documents.normalise_policy
    if all(s["Sid"] in by_sid and canon(by_sid[s["Sid"]]) == canon(s) for s in want["Statement"]):
        return None
    ours = {s["Sid"]: s for s in want["Statement"]}
    merged = [ours.pop(s["Sid"]) if s.get("Sid") in ours else s for s in current]
    base = have or {"Version": want["Version"]}
    return {**base, "Statement": merged + list(ours.values())}


def _describe_encryption(configuration: dict[str, Any]) -> str:
    rule = (configuration.get("Rules") or [{}])[0]
    default = rule.get("ApplyServerSideEncryptionByDefault") or {}
    text = str(default.get("SSEAlgorithm", "?"))
    if default.get("KMSMasterKeyID"):
        text += f" {default['KMSMasterKeyID']}"
    return text


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


def _put_encryption(s3: Any, bucket: str, encryption: dict[str, Any]) -> None:
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=encryption)


def _put_lifecycle(s3: Any, bucket: str, rules: list[dict[str, Any]]) -> None:
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})


def _put_policy(s3: Any, bucket: str, policy: dict[str, Any]) -> None:
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
