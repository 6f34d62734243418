"""The deploy role vs the runtime role: no path from either to more than the lake needs.

The deploy role (``lake_setup`` / ``python -m iot_lake.provisioning``) carries the
permissions boundary ``<prefix>-boundary`` and may create or change only the lake's own
roles, only when they carry that boundary, and never the boundary itself; the runtime
policy (what the DAGs use every day) has no IAM write at all. An administrator creates
the three once (``--step identities``); every role the setup creates carries the boundary.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from iot_lake.provisioning import ADMIN_STEPS, STEPS, iam, identities, run
from iot_lake.provisioning.deployment import Deployment
from iot_lake.provisioning.documents import policy_document
from iot_lake.provisioning.iam_check import is_allowed
from iot_lake.provisioning.report import has_mutations

ACCOUNT = "123456789012"
KMS_KEY = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
PREFIX = "iot-lake"
BOUNDARY = f"arn:aws:iam::{ACCOUNT}:policy/{PREFIX}-boundary"
RUNTIME_POLICY = f"arn:aws:iam::{ACCOUNT}:policy/{PREFIX}-airflow"
SERVICE_ROLES = [
    "firehose-delivery",
    "iot-rules",
    "glue-crawler",
    "coffee-photo-lambda",
    "coffee-machine-device",
]
ROLE_WRITES = [
    "iam:CreateRole",
    "iam:PutRolePolicy",
    "iam:UpdateAssumeRolePolicy",
    "iam:UpdateRole",
    "iam:PutRolePermissionsBoundary",
]
BOUNDARY_CHANGES = [
    "iam:CreatePolicyVersion",
    "iam:DeletePolicy",
    "iam:DeletePolicyVersion",
    "iam:SetDefaultPolicyVersion",
]


@pytest.fixture
def deployment(aws_settings: Any, monkeypatch: pytest.MonkeyPatch) -> Deployment:
    monkeypatch.setenv("IOT_LAKE_KMS_KEY_ARN", KMS_KEY)
    return Deployment.for_account(aws_settings, ACCOUNT)


def role(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/{PREFIX}-{name}"


def with_boundary(arn: str = BOUNDARY) -> dict[str, str]:
    return {"iam:PermissionsBoundary": arn}


def allowed_by_deploy_role(deployment: Deployment, action: str, resource: str, context=None):
    """What IAM allows the deploy role: its policy AND its permissions boundary."""
    context = context or {}
    return is_allowed(
        identities.deploy_policy(deployment), action, resource, context
    ) and is_allowed(identities.permissions_boundary(deployment), action, resource, context)


def test_deploy_role_writes_only_the_lake_roles_and_only_with_the_boundary(deployment):
    for name in SERVICE_ROLES:
        for action in ROLE_WRITES:
            assert allowed_by_deploy_role(deployment, action, role(name), with_boundary()), (
                action,
                name,
            )
            other = f"arn:aws:iam::{ACCOUNT}:policy/{PREFIX}-something-else"
            assert not allowed_by_deploy_role(deployment, action, role(name), with_boundary(other))
            assert not allowed_by_deploy_role(deployment, action, role(name))  # no boundary
    for action in ROLE_WRITES:
        # Not any <prefix>-* role: the exact names only (and never the deploy role itself).
        for name in ("admin", "deploy", "anything"):
            assert not allowed_by_deploy_role(deployment, action, role(name), with_boundary())
    for name in SERVICE_ROLES:
        assert not allowed_by_deploy_role(
            deployment, "iam:DeleteRolePermissionsBoundary", role(name), with_boundary()
        )
        assert not allowed_by_deploy_role(
            deployment, "iam:AttachRolePolicy", role(name), with_boundary()
        )


def test_nobody_under_the_boundary_can_change_or_delete_it(deployment):
    boundary = identities.permissions_boundary(deployment)
    for action in [*BOUNDARY_CHANGES, "iam:TagPolicy", "iam:UntagPolicy"]:
        assert not allowed_by_deploy_role(deployment, action, BOUNDARY)
        # The boundary denies it explicitly: even a broader policy attached later cannot.
        denying = [
            s
            for s in boundary["Statement"]
            if s["Effect"] == "Deny"
            and is_allowed({"Statement": [{**s, "Effect": "Allow"}]}, action, BOUNDARY)
        ]
        assert denying, action
    for action in ("iam:CreateRole", "iam:PutRolePermissionsBoundary"):
        denying = {
            **boundary,
            "Statement": [
                {"Effect": "Allow", "Action": "*", "Resource": "*"},
                *[s for s in boundary["Statement"] if s["Effect"] == "Deny"],
            ],
        }
        assert not is_allowed(denying, action, role("x"))  # without the boundary: denied
        assert not is_allowed(denying, action, role("x"), with_boundary(RUNTIME_POLICY))


def test_deploy_role_manages_no_managed_policy_and_passes_roles_to_their_services_only(
    deployment,
):
    for action in [*BOUNDARY_CHANGES, "iam:CreatePolicy"]:
        for arn in (BOUNDARY, RUNTIME_POLICY, f"arn:aws:iam::{ACCOUNT}:policy/{PREFIX}-x"):
            assert not allowed_by_deploy_role(deployment, action, arn), (action, arn)
    passes = {
        "firehose-delivery": "firehose.amazonaws.com",
        "iot-rules": "iot.amazonaws.com",
        "glue-crawler": "glue.amazonaws.com",
        "coffee-photo-lambda": "lambda.amazonaws.com",
        "coffee-machine-device": "credentials.iot.amazonaws.com",
    }
    for name, service in passes.items():
        context = {"iam:PassedToService": service}
        assert allowed_by_deploy_role(deployment, "iam:PassRole", role(name), context), name
        ec2 = {"iam:PassedToService": "ec2.amazonaws.com"}
        assert not allowed_by_deploy_role(deployment, "iam:PassRole", role(name), ec2)
    for name in ("deploy", "anything"):
        context = {"iam:PassedToService": "lambda.amazonaws.com"}
        assert not allowed_by_deploy_role(deployment, "iam:PassRole", role(name), context)


def test_runtime_policy_has_no_iam_write_and_cannot_become_the_deploy_role(deployment):
    runtime = policy_document("iam/airflow_policy.json", deployment.values())
    actions = [
        action
        for statement in runtime["Statement"]
        if statement["Effect"] == "Allow"
        for action in (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
    ]
    assert not [a for a in actions if a.lower().startswith(("iam:", "sts:"))], actions
    assert not is_allowed(runtime, "sts:AssumeRole", role("deploy"))


def test_every_role_policy_and_the_deploy_policy_fit_inside_the_boundary(deployment):
    """A role under the boundary gets policy AND boundary: nothing a role needs may be cut."""
    boundary = identities.permissions_boundary(deployment)
    documents = {
        purpose: policy_document(f"iam/{spec['policy']}", deployment.values())
        for purpose, spec in iam.definitions()["roles"].items()
    }
    documents["deploy"] = identities.deploy_policy(deployment)
    for purpose, document in documents.items():
        for statement in document["Statement"]:
            if statement["Effect"] != "Allow":
                continue
            actions = statement["Action"]
            resources = statement["Resource"]
            context = {
                key: value
                for tests in statement.get("Condition", {}).values()
                for key, value in tests.items()
            }
            for action in actions if isinstance(actions, list) else [actions]:
                for resource in resources if isinstance(resources, list) else [resources]:
                    assert is_allowed(boundary, action, resource, context), (
                        f"{purpose} {statement.get('Sid')}: {action} on {resource} is outside "
                        "the permissions boundary"
                    )


def test_the_boundary_fits_the_managed_policy_size_limit(deployment):
    """IAM: a managed policy holds at most 6,144 characters, white space not counted."""
    text = json.dumps(identities.permissions_boundary(deployment), separators=(",", ":"))
    assert len(text) <= 6144, len(text)


def test_identities_step_creates_boundary_runtime_policy_and_deploy_role_once(aws_account):
    assert ADMIN_STEPS == ("identities",) and "identities" not in STEPS

    changes = run(ADMIN_STEPS, aws_account.settings, session=aws_account.session)

    assert sorted((c.kind, c.name, c.action) for c in changes) == [
        ("iam policy", f"{PREFIX}-airflow", "created"),
        ("iam policy", f"{PREFIX}-boundary", "created"),
        ("iam role", f"{PREFIX}-deploy", "created"),
    ]
    client = aws_account.client("iam")
    deploy = client.get_role(RoleName=f"{PREFIX}-deploy")["Role"]
    assert deploy["PermissionsBoundary"]["PermissionsBoundaryArn"] == BOUNDARY
    assert deploy["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "AWS": f"arn:aws:iam::{ACCOUNT}:root"
    }
    assert not has_mutations(run(ADMIN_STEPS, aws_account.settings, session=aws_account.session))


def test_setup_creates_every_service_role_with_the_boundary_and_puts_it_on_old_roles(
    aws_account,
):
    run(ADMIN_STEPS, aws_account.settings, session=aws_account.session)
    client = aws_account.client("iam")
    # A role from before the boundary existed (an earlier version of the setup).
    client.create_role(
        RoleName=f"{PREFIX}-glue-crawler",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )

    changes = run(("permissions",), aws_account.settings, session=aws_account.session)

    assert {c.kind for c in changes} == {"iam role"}  # the runtime policy is the admin's
    for name in SERVICE_ROLES:
        got = client.get_role(RoleName=f"{PREFIX}-{name}")["Role"]
        assert got["PermissionsBoundary"]["PermissionsBoundaryArn"] == BOUNDARY, name
    [crawler] = [c for c in changes if c.name == f"{PREFIX}-glue-crawler"]
    assert crawler.action == "updated" and crawler.details[0] == "permissions boundary"
    assert not has_mutations(
        run(("permissions",), aws_account.settings, session=aws_account.session)
    )


def test_setup_without_the_boundary_says_who_creates_it_and_creates_no_role(aws_account):
    """IAM refuses a role whose boundary policy does not exist (CreateRole: NoSuchEntity);
    moto accepts it, so the step checks first and names the administrator's step."""
    with pytest.raises(RuntimeError, match="--step identities"):
        run(("permissions",), aws_account.settings, session=aws_account.session)
    assert aws_account.client("iam").list_roles()["Roles"] == []


def test_runtime_policy_lets_the_dashboard_read_the_cold_readings(deployment):
    """The dashboard (an Airflow plugin, runtime role) queries and scans the cold table."""
    from iot_lake.config import PROJECT_ROOT

    source = (PROJECT_ROOT / "plugins" / "iot_lake" / "dashboard" / "data.py").read_text()
    assert "table.query(" in source and "table.scan(" in source
    runtime = policy_document("iam/airflow_policy.json", deployment.values())
    table = (
        f"arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/"
        f"{deployment.settings.cold_readings_table}"
    )
    for action in ("dynamodb:Query", "dynamodb:Scan"):
        assert is_allowed(runtime, action, table), action
    assert not is_allowed(runtime, "dynamodb:PutItem", table)


def test_lake_setup_provisions_through_the_deploy_connection_not_the_runtime_one(
    aws_settings, monkeypatch
):
    from airflow.providers.amazon.aws.hooks import base_aws

    from iot_lake import config
    from iot_lake.provisioning import airflow_session

    seen = []

    class Hook:
        def __init__(self, aws_conn_id: str, region_name: str) -> None:
            seen.append((aws_conn_id, region_name))

        def get_session(self) -> str:
            return "session"

    monkeypatch.setattr(base_aws, "AwsBaseHook", Hook)
    assert airflow_session(aws_settings) == "session"
    monkeypatch.setenv("IOT_LAKE_DEPLOY_CONN_ID", "ci_deploy")
    config.settings.cache_clear()
    airflow_session(config.settings())
    assert seen == [("aws_deploy", "eu-west-1"), ("ci_deploy", "eu-west-1")]
    assert aws_settings.aws_conn_id == "aws_default"  # the DAGs' own: the runtime role


def test_setup_refuses_a_boundary_made_for_other_settings(aws_account, monkeypatch):
    """Made before the KMS key was set, the boundary would cut the roles' kms: grants."""
    run(ADMIN_STEPS, aws_account.settings, session=aws_account.session)
    monkeypatch.setenv("IOT_LAKE_KMS_KEY_ARN", KMS_KEY)

    with pytest.raises(RuntimeError, match="is not the one these settings"):
        run(("permissions",), aws_account.settings, session=aws_account.session)
    assert aws_account.client("iam").list_roles()["Roles"][0]["RoleName"] == f"{PREFIX}-deploy"

    [boundary, *_] = run(ADMIN_STEPS, aws_account.settings, session=aws_account.session)
    assert (boundary.name, boundary.action) == (f"{PREFIX}-boundary", "updated")
    changes = run(("permissions",), aws_account.settings, session=aws_account.session)
    assert {c.action for c in changes} == {"created"}
