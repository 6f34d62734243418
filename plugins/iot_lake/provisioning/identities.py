"""What an administrator creates once: the permissions boundary, the runtime policy, the
deploy role (step ``identities``, never run by the deploy role itself).

- ``<prefix>-boundary``: the permissions boundary of the deploy role and of every role
  it creates. It allows the actions the lake's roles and the deploy policy use, on the
  lake's resources (its buckets; its account and region for the other services; the
  exact roles, key, cluster and secret), and denies changing or deleting itself, writing
  any role that does not carry it, and removing it from a role
  (``include/iam/permissions_boundary_guards.json``). It is built from the role
  policies, so a role never needs more than its boundary lets through.
- ``<prefix>-airflow``: the runtime policy, what the DAGs need day to day; no IAM write.
- ``<prefix>-deploy``: the role ``lake_setup`` / ``python -m iot_lake.provisioning`` runs
  as, with ``include/iam/lake_setup_policy.json`` and the boundary. It may create and
  change only the lake's service roles (exact names), only with the boundary, and no
  managed policy: so it can never grant more than the boundary, to anyone.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from iot_lake.provisioning import documents, iam
from iot_lake.provisioning.context import AwsContext, error_code
from iot_lake.provisioning.deployment import Deployment
from iot_lake.provisioning.report import Change, created, unchanged, updated

MAX_POLICY_VERSIONS = 5  # IAM keeps at most five versions of a managed policy
# Services whose resources the boundary scopes to this account and region as a whole
# (the role policies name the exact ones); others keep the role policies' own ARNs.
ACCOUNT_SCOPED = ("athena", "dynamodb", "firehose", "glue", "iot", "lambda", "logs")


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def deploy_policy(deployment: Deployment) -> dict[str, Any]:
    spec = iam.definitions()["deploy_role"]
    return documents.policy_document(f"iam/{spec['policy']}", deployment.values())


def permissions_boundary(deployment: Deployment) -> dict[str, Any]:
    """The boundary for this deployment: every allowed action of the lake's roles and of
    the deploy policy, on the lake's resources, plus the guards."""
    values = deployment.values()
    sources = [
        documents.policy_document(f"iam/{spec['policy']}", values)
        for spec in iam.definitions()["roles"].values()
    ]
    sources.append(deploy_policy(deployment))
    actions: dict[str, set[str]] = {}
    resources: dict[str, set[str]] = {}
    anywhere: set[str] = set()  # actions that have no resource type
    for document in sources:
        for statement in document["Statement"]:
            if statement["Effect"] != "Allow":
                continue
            listed = _as_list(statement["Resource"])
            for action in _as_list(statement["Action"]):
                if listed == ["*"]:
                    anywhere.add(action)
                    continue
                service = action.split(":", 1)[0]
                actions.setdefault(service, set()).add(action)
                resources.setdefault(service, set()).update(listed)
    statements = []
    for service in sorted(actions):
        statements.append(
            {
                "Sid": "Lake" + "".join(part.capitalize() for part in service.split("-")),
                "Effect": "Allow",
                "Action": sorted(actions[service]),
                "Resource": _boundary_resources(deployment, service, resources[service]),
            }
        )
    if anywhere:
        statements.append(
            {
                "Sid": "ActionsWithoutResourceType",
                "Effect": "Allow",
                "Action": sorted(anywhere),
                "Resource": "*",
            }
        )
    spec = iam.definitions()["permissions_boundary"]
    guards = documents.load(f"iam/{spec['guards']}", values)
    return {"Version": "2012-10-17", "Statement": statements + guards["Statement"]}


def _boundary_resources(deployment: Deployment, service: str, named: set[str]) -> list[str]:
    arn = f"arn:{deployment.partition}"
    if service == "s3":
        buckets = sorted(deployment.buckets)
        return [f"{arn}:s3:::{b}" for b in buckets] + [f"{arn}:s3:::{b}/*" for b in buckets]
    if service in ACCOUNT_SCOPED:
        region, account = deployment.settings.region, deployment.account_id
        return [f"{arn}:{service}:{region}:{account}:*"]
    return sorted(named)


def require_current_boundary(ctx: AwsContext) -> None:
    """Before the deploy role writes a role: the boundary exists and fits these settings.

    IAM refuses a role whose boundary does not exist; a boundary made for other settings
    (say, before the KMS key or Aurora was set) would silently cut what a role needs.
    Either way only an administrator can fix it, so say so instead of half-provisioning.
    """
    client = ctx.client("iam")
    arn = ctx.deployment.policy_arn("boundary")
    rerun = (
        "an administrator runs `python -m iot_lake.provisioning --step identities` with "
        "these settings (docs/aws.md, 'The deploy role and the runtime role')"
    )
    try:
        policy = client.get_policy(PolicyArn=arn)["Policy"]
    except ClientError as exc:
        if error_code(exc) != "NoSuchEntity":
            raise
        raise RuntimeError(f"the permissions boundary {arn} does not exist: {rerun}") from exc
    version = client.get_policy_version(PolicyArn=arn, VersionId=policy["DefaultVersionId"])
    have = iam.decoded(version["PolicyVersion"]["Document"])
    want = permissions_boundary(ctx.deployment)
    if documents.normalise_policy(have) != documents.normalise_policy(want):
        raise RuntimeError(
            f"the permissions boundary {arn} is not the one these settings and this version "
            f"need (a role would lose permissions it needs): {rerun}"
        )


def ensure(ctx: AwsContext) -> list[Change]:
    """The ``identities`` step: boundary first (the deploy role is created under it)."""
    deployment = ctx.deployment
    definitions = iam.definitions()
    boundary = definitions["permissions_boundary"]
    changes = [
        ensure_managed_policy(
            ctx, boundary["name"], permissions_boundary(deployment), boundary["description"]
        )
    ]
    for purpose, spec in definitions["managed_policies"].items():
        document = documents.policy_document(f"iam/{spec['policy']}", deployment.values())
        changes.append(ensure_managed_policy(ctx, purpose, document, spec["description"]))
    deploy = definitions["deploy_role"]
    changes.append(iam.ensure_role(ctx, deploy["name"], deploy))
    return changes


def ensure_managed_policy(
    ctx: AwsContext, purpose: str, document: dict[str, Any], description: str
) -> Change:
    """A customer-managed policy; a changed document becomes its new default version."""
    client = ctx.client("iam")
    deployment = ctx.deployment
    name = f"{deployment.name_prefix}-{purpose}"
    arn = deployment.policy_arn(purpose)
    try:
        policy = client.get_policy(PolicyArn=arn)["Policy"]
    except ClientError as exc:
        if error_code(exc) != "NoSuchEntity":
            raise
        if not ctx.dry_run:
            client.create_policy(
                PolicyName=name,
                PolicyDocument=json.dumps(document),
                Description=description,
                Tags=[{"Key": "project", "Value": "iot-lake"}],
            )
        return created("iam policy", name)
    version = client.get_policy_version(PolicyArn=arn, VersionId=policy["DefaultVersionId"])
    have = iam.decoded(version["PolicyVersion"]["Document"])
    if documents.normalise_policy(have) == documents.normalise_policy(document):
        return unchanged("iam policy", name)
    if not ctx.dry_run:
        versions = client.list_policy_versions(PolicyArn=arn)["Versions"]
        if len(versions) >= MAX_POLICY_VERSIONS:
            oldest = min(
                (v for v in versions if not v["IsDefaultVersion"]), key=lambda v: v["CreateDate"]
            )
            client.delete_policy_version(PolicyArn=arn, VersionId=oldest["VersionId"])
        client.create_policy_version(
            PolicyArn=arn, PolicyDocument=json.dumps(document), SetAsDefault=True
        )
    return updated("iam policy", name, "new default version")
