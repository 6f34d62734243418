"""IAM roles the services assume, and the managed policy for Airflow, from ``include/iam/``."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from botocore.exceptions import ClientError

from iot_lake.provisioning import documents
from iot_lake.provisioning.context import AwsContext, error_code
from iot_lake.provisioning.report import Change, created, unchanged, updated

ROLES_FILE = "iam/roles.json"
MAX_POLICY_VERSIONS = 5  # IAM keeps at most five versions of a managed policy


def definitions() -> dict[str, Any]:
    return documents.load(ROLES_FILE)


def ensure_roles(ctx: AwsContext) -> list[Change]:
    return [ensure_role(ctx, purpose, spec) for purpose, spec in definitions()["roles"].items()]


def ensure_managed_policies(ctx: AwsContext) -> list[Change]:
    return [
        ensure_managed_policy(ctx, purpose, spec)
        for purpose, spec in definitions()["managed_policies"].items()
    ]


def _document(value: Any) -> Any:
    """IAM returns documents URL-encoded when boto3 does not decode them already."""
    if isinstance(value, str):
        return json.loads(unquote(value))
    return value


def ensure_role(ctx: AwsContext, purpose: str, spec: dict[str, Any]) -> Change:
    iam = ctx.client("iam")
    values = ctx.deployment.values()
    name = ctx.deployment.role_name(purpose)
    trust = documents.policy_document(f"iam/{spec['trust']}", values)
    policy = documents.policy_document(f"iam/{spec['policy']}", values)
    policy_name = f"{name}-policy"
    try:
        role = iam.get_role(RoleName=name)["Role"]
    except ClientError as exc:
        if error_code(exc) != "NoSuchEntity":
            raise
        if not ctx.dry_run:
            iam.create_role(
                RoleName=name,
                AssumeRolePolicyDocument=json.dumps(trust),
                Description=spec["description"],
                Tags=[{"Key": "project", "Value": "iot-lake"}],
            )
            iam.put_role_policy(
                RoleName=name, PolicyName=policy_name, PolicyDocument=json.dumps(policy)
            )
        return created("iam role", name)

    changed: list[str] = []
    canon = documents.normalise_policy
    if canon(_document(role["AssumeRolePolicyDocument"])) != canon(trust):
        changed.append("trust policy")
        if not ctx.dry_run:
            iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(trust))
    if role.get("Description", "") != spec["description"]:
        changed.append("description")
        if not ctx.dry_run:
            iam.update_role(RoleName=name, Description=spec["description"])
    try:
        have = _document(
            iam.get_role_policy(RoleName=name, PolicyName=policy_name)["PolicyDocument"]
        )
    except ClientError as exc:
        if error_code(exc) != "NoSuchEntity":
            raise
        have = None
    if have is None or canon(have) != canon(policy):
        changed.append("inline policy")
        if not ctx.dry_run:
            iam.put_role_policy(
                RoleName=name, PolicyName=policy_name, PolicyDocument=json.dumps(policy)
            )
    return updated("iam role", name, *changed) if changed else unchanged("iam role", name)


def ensure_managed_policy(ctx: AwsContext, purpose: str, spec: dict[str, Any]) -> Change:
    """A customer-managed policy; a changed document becomes its new default version."""
    iam = ctx.client("iam")
    deployment = ctx.deployment
    name = f"{deployment.name_prefix}-{purpose}"
    arn = f"arn:{deployment.partition}:iam::{deployment.account_id}:policy/{name}"
    document = documents.policy_document(f"iam/{spec['policy']}", deployment.values())
    try:
        policy = iam.get_policy(PolicyArn=arn)["Policy"]
    except ClientError as exc:
        if error_code(exc) != "NoSuchEntity":
            raise
        if not ctx.dry_run:
            iam.create_policy(
                PolicyName=name,
                PolicyDocument=json.dumps(document),
                Description=spec["description"],
                Tags=[{"Key": "project", "Value": "iot-lake"}],
            )
        return created("iam policy", name)
    version = iam.get_policy_version(PolicyArn=arn, VersionId=policy["DefaultVersionId"])
    have = _document(version["PolicyVersion"]["Document"])
    if documents.normalise_policy(have) == documents.normalise_policy(document):
        return unchanged("iam policy", name)
    if not ctx.dry_run:
        versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
        if len(versions) >= MAX_POLICY_VERSIONS:
            oldest = min(
                (v for v in versions if not v["IsDefaultVersion"]), key=lambda v: v["CreateDate"]
            )
            iam.delete_policy_version(PolicyArn=arn, VersionId=oldest["VersionId"])
        iam.create_policy_version(
            PolicyArn=arn, PolicyDocument=json.dumps(document), SetAsDefault=True
        )
    return updated("iam policy", name, "new default version")
