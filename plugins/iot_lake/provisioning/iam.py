"""The service roles, each under the permissions boundary, from ``include/iam/``.

This is what the deploy role does (the ``permissions`` step): create or update the roles
the services assume (Firehose, IoT rules, the Glue crawler, the coffee photo Lambda, the
coffee machines' credentials), every one with the permissions boundary
``<prefix>-boundary``, which the deploy role's policy requires of any role it writes. The
boundary, the runtime policy and the deploy role itself are an administrator's
(:mod:`iot_lake.provisioning.identities`, step ``identities``).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from botocore.exceptions import ClientError

from iot_lake.provisioning import documents
from iot_lake.provisioning.context import AwsContext, error_code
from iot_lake.provisioning.report import Change, created, unchanged, updated

ROLES_FILE = "iam/roles.json"


def definitions() -> dict[str, Any]:
    return documents.load(ROLES_FILE)


def ensure_roles(ctx: AwsContext) -> list[Change]:
    return [ensure_role(ctx, purpose, spec) for purpose, spec in definitions()["roles"].items()]


def decoded(value: Any) -> Any:
    """IAM returns documents URL-encoded when boto3 does not decode them already."""
    if isinstance(value, str):
        return json.loads(unquote(value))
    return value


def ensure_role(ctx: AwsContext, purpose: str, spec: dict[str, Any]) -> Change:
    """One role with its trust policy, inline policy and the permissions boundary.

    On a role that lacks the boundary (made by an earlier setup), the boundary is put
    first: the deploy role may change only roles that carry it.
    """
    iam = ctx.client("iam")
    values = ctx.deployment.values()
    name = ctx.deployment.role_name(purpose)
    boundary = ctx.deployment.policy_arn("boundary")
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
                PermissionsBoundary=boundary,
                Tags=[{"Key": "project", "Value": "iot-lake"}],
            )
            iam.put_role_policy(
                RoleName=name, PolicyName=policy_name, PolicyDocument=json.dumps(policy)
            )
        return created("iam role", name)

    changed: list[str] = []
    if (role.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn") != boundary:
        changed.append("permissions boundary")
        if not ctx.dry_run:
            iam.put_role_permissions_boundary(RoleName=name, PermissionsBoundary=boundary)
    canon = documents.normalise_policy
    if canon(decoded(role["AssumeRolePolicyDocument"])) != canon(trust):
        changed.append("trust policy")
        if not ctx.dry_run:
            iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(trust))
    if role.get("Description", "") != spec["description"]:
        changed.append("description")
        if not ctx.dry_run:
            iam.update_role(RoleName=name, Description=spec["description"])
    try:
        have = decoded(iam.get_role_policy(RoleName=name, PolicyName=policy_name)["PolicyDocument"])
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
