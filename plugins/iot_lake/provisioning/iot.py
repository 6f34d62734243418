"""IoT Core: the device policy and thing type, and the topic rules from ``include/iot/``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from iot_lake.config import INCLUDE_DIR
from iot_lake.devices import names
from iot_lake.devices.rules import load_rule_payloads
from iot_lake.provisioning import documents
from iot_lake.provisioning.context import AwsContext, error_code
from iot_lake.provisioning.report import Change, created, unchanged, updated

POLICIES_DIR = INCLUDE_DIR / "iot" / "policies"
RULES_DIR = INCLUDE_DIR / "iot" / "rules"
MAX_POLICY_VERSIONS = 5
# As the registration tool creates it (thing type properties are immutable once created).
THING_TYPE_DESCRIPTION = names.THING_TYPE_DESCRIPTION
THING_TYPE_ATTRIBUTES = names.THING_TYPE_ATTRIBUTES


def policy_files(policies_dir: Path = POLICIES_DIR) -> list[Path]:
    return sorted(policies_dir.glob("*.json")) if policies_dir.is_dir() else []


def ensure_policies(ctx: AwsContext, policies_dir: Path = POLICIES_DIR) -> list[Change]:
    files = policy_files(policies_dir)
    if not files:
        from iot_lake.errors import DefinitionError

        raise DefinitionError(
            f"no IoT policy (*.json) in {policies_dir}: the weather stations need one to connect"
        )
    values = ctx.deployment.values()
    prefix = ctx.deployment.name_prefix
    return [
        ensure_policy(ctx, policy_name(path, prefix), documents.load_path(path, values))
        for path in files
    ]


def policy_name(path: Path, prefix: str) -> str:
    """The deployed name of a policy file: ``<prefix>-<file stem with - for _>``.

    For the stations' policy that is the name the registration tool attaches.
    """
    if path.resolve() == names.POLICY_FILE.resolve():
        return names.device_policy(prefix)
    return f"{prefix}-{path.stem.replace('_', '-')}"


def ensure_policy(ctx: AwsContext, name: str, document: dict[str, Any]) -> Change:
    iot = ctx.client("iot")
    try:
        have = iot.get_policy(policyName=name)
    except ClientError as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise
        if not ctx.dry_run:
            iot.create_policy(policyName=name, policyDocument=json.dumps(document))
        return created("iot policy", name)
    canon = documents.normalise_policy
    if canon(have["policyDocument"]) == canon(document):
        return unchanged("iot policy", name)
    if not ctx.dry_run:
        versions = iot.list_policy_versions(policyName=name)["policyVersions"]
        if len(versions) >= MAX_POLICY_VERSIONS:
            oldest = min(
                (v for v in versions if not v["isDefaultVersion"]),
                key=lambda v: (v["createDate"], int(v["versionId"])),
            )
            iot.delete_policy_version(policyName=name, policyVersionId=oldest["versionId"])
        iot.create_policy_version(
            policyName=name, policyDocument=json.dumps(document), setAsDefault=True
        )
    return updated("iot policy", name, "new default version")


def ensure_thing_type(ctx: AwsContext) -> Change:
    """The thing type of the stations (its properties are immutable once created)."""
    iot = ctx.client("iot")
    name = ctx.deployment.thing_type
    try:
        have = iot.describe_thing_type(thingTypeName=name)
    except ClientError as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise
        if not ctx.dry_run:
            iot.create_thing_type(
                thingTypeName=name,
                thingTypeProperties={
                    "thingTypeDescription": THING_TYPE_DESCRIPTION,
                    "searchableAttributes": THING_TYPE_ATTRIBUTES,
                },
                tags=[{"Key": "project", "Value": "iot-lake"}],
            )
        return created("iot thing type", name)
    if have.get("thingTypeMetadata", {}).get("deprecated"):
        if not ctx.dry_run:
            iot.deprecate_thing_type(thingTypeName=name, undoDeprecate=True)
        return updated("iot thing type", name, "undeprecated")
    return unchanged("iot thing type", name)


def rule_payloads(ctx: AwsContext) -> dict[str, dict[str, Any]]:
    """The rule files rendered for this account, through the loader the local engine uses."""
    return load_rule_payloads(
        RULES_DIR,
        ctx.deployment.settings,
        {
            "account_id": ctx.deployment.account_id,
            "rule_role_arn": ctx.deployment.role_arn("iot-rules"),
        },
    )


def rule_name(ctx: AwsContext, file_stem: str) -> str:
    """The deployed name of a rule file: ``<prefix>_<stem>`` (rule names are per account)."""
    return f"{ctx.deployment.values()['rule_prefix']}_{file_stem}"


def ensure_rules(ctx: AwsContext) -> list[Change]:
    return [
        ensure_rule(ctx, rule_name(ctx, stem), payload)
        for stem, payload in sorted(rule_payloads(ctx).items())
    ]


def ensure_rule(ctx: AwsContext, name: str, payload: dict[str, Any]) -> Change:
    iot = ctx.client("iot")
    try:
        have = iot.get_topic_rule(ruleName=name)["rule"]
    except ClientError as exc:
        # IoT answers UnauthorizedException for a rule that does not exist in the account.
        if error_code(exc) not in ("ResourceNotFoundException", "UnauthorizedException"):
            raise
        if not ctx.dry_run:
            ctx.retry_while_role_propagates(
                lambda: iot.create_topic_rule(ruleName=name, topicRulePayload=payload),
                f"create topic rule {name}",
            )
        return created("iot topic rule", name)
    want = {
        "sql": payload["sql"],
        "description": payload.get("description", ""),
        "ruleDisabled": payload.get("ruleDisabled", False),
        "awsIotSqlVersion": payload.get("awsIotSqlVersion", "2016-03-23"),
        "actions": payload["actions"],
    }
    if payload.get("errorAction"):
        want["errorAction"] = payload["errorAction"]
    drift = documents.differences(want, have)
    if not payload.get("errorAction") and have.get("errorAction"):
        drift.append("errorAction: remove")
    if not drift:
        return unchanged("iot topic rule", name)
    if not ctx.dry_run:
        iot.replace_topic_rule(ruleName=name, topicRulePayload=payload)
    return updated("iot topic rule", name, *drift)
