"""IoT topic rules kept as files: load them for IoT Core (aws) or the local engine.

Each ``include/iot/rules/<rule_name>.json`` is an AWS ``TopicRulePayload`` that
``iot.create_topic_rule(ruleName=<rule_name>, topicRulePayload=...)`` accepts as it is,
once the account-specific placeholders below are resolved. Both the ``aws`` provisioning
and the local engine call :func:`load_rule_payloads`, so they deploy the same rules.

Placeholders (a fixed set; any other ``${...}`` is an IoT substitution template such as
``${newuuid()}`` and is left for IoT Core or the local engine to evaluate per message):

=========================  ==============================================================
``${account_id}``          AWS account id (``IOT_LAKE_ACCOUNT_ID``; local ``000000000000``)
``${region}``              ``settings().region``
``${firehose_stream}``     ``settings().firehose_stream``
``${cold_readings_table}`` ``settings().cold_readings_table``
``${rule_role_arn}``       role IoT assumes for the actions (``IOT_LAKE_RULE_ROLE_ARN``;
                           default ``arn:aws:iam::<account_id>:role/iot-lake-iot-rules``)
``${raw_bucket}``          bucket of ``settings().uri("raw")`` (locally its last directory)
``${raw_prefix}``          key prefix of the raw URI inside that bucket ("" or ``p/``)
=========================  ==============================================================
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from iot_lake.config import INCLUDE_DIR, LakeSettings, settings
from simulators.iot_core.rule_sql import SQL_VERSION, RuleQuery, RuleSqlError, parse_rule_sql

RULES_DIR = INCLUDE_DIR / "iot" / "rules"
PLACEHOLDERS = (
    "account_id",
    "region",
    "firehose_stream",
    "cold_readings_table",
    "rule_role_arn",
    "raw_bucket",
    "raw_prefix",
)
LOCAL_ACCOUNT_ID = "000000000000"
RULE_ROLE_NAME = "iot-lake-iot-rules"
LOCAL_ACTIONS = ("firehose", "dynamoDBv2", "s3")
_RULE_NAME = re.compile(r"^[a-zA-Z0-9_]{1,128}$")
_PLACEHOLDER = re.compile(r"\$\{(" + "|".join(PLACEHOLDERS) + r")\}")


class RuleFileError(ValueError):
    """A rule file is not a valid TopicRulePayload; the message names the file and why."""


@dataclass(frozen=True)
class Rule:
    """One loaded rule: its payload (placeholders resolved) and its compiled SQL."""

    name: str
    payload: dict[str, Any]
    query: RuleQuery

    @property
    def disabled(self) -> bool:
        return bool(self.payload.get("ruleDisabled", False))

    @property
    def actions(self) -> list[dict[str, Any]]:
        return list(self.payload["actions"])

    @property
    def error_action(self) -> dict[str, Any] | None:
        return self.payload.get("errorAction")


def raw_location(lake: LakeSettings) -> tuple[str, str, str]:
    """(bucket name, key prefix, root URI of that bucket) for the raw lake URI."""
    raw = lake.uri("raw").rstrip("/")
    parts = urlsplit(raw)
    if parts.scheme in ("s3", "s3a"):
        prefix = parts.path.strip("/")
        return parts.netloc, f"{prefix}/" if prefix else "", f"{parts.scheme}://{parts.netloc}"
    # A directory (or another fsspec URI): the bucket is the directory itself.
    return raw.rsplit("/", 1)[-1], "", raw


def placeholder_values(
    lake: LakeSettings | None = None, overrides: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The values substituted into rule files, from settings, env and ``overrides``."""
    lake = lake or settings()
    overrides = dict(overrides or {})
    account_id = overrides.get("account_id") or os.environ.get(
        "IOT_LAKE_ACCOUNT_ID", LOCAL_ACCOUNT_ID
    )
    bucket, prefix, _ = raw_location(lake)
    values = {
        "account_id": account_id,
        "region": lake.region,
        "firehose_stream": lake.firehose_stream,
        "cold_readings_table": lake.cold_readings_table,
        "rule_role_arn": os.environ.get(
            "IOT_LAKE_RULE_ROLE_ARN", f"arn:aws:iam::{account_id}:role/{RULE_ROLE_NAME}"
        ),
        "raw_bucket": bucket,
        "raw_prefix": prefix,
    }
    values.update(overrides)
    unknown = set(values) - set(PLACEHOLDERS)
    if unknown:
        raise RuleFileError(f"unknown rule placeholders {sorted(unknown)}; known: {PLACEHOLDERS}")
    return values


def resolve_placeholders(value: Any, values: Mapping[str, str]) -> Any:
    """Replace the known placeholders in every string of a JSON document."""
    if isinstance(value, str):
        return _PLACEHOLDER.sub(lambda match: values[match.group(1)], value)
    if isinstance(value, list):
        return [resolve_placeholders(item, values) for item in value]
    if isinstance(value, dict):
        return {key: resolve_placeholders(item, values) for key, item in value.items()}
    return value


def rule_files(rules_dir: Path = RULES_DIR) -> list[Path]:
    files = sorted(Path(rules_dir).glob("*.json"))
    if not files:
        raise RuleFileError(f"no rule files (*.json) in {rules_dir}")
    return files


def load_rule_payloads(
    rules_dir: Path = RULES_DIR,
    lake: LakeSettings | None = None,
    overrides: Mapping[str, str] | None = None,
) -> dict[str, dict[str, Any]]:
    """``{rule_name: TopicRulePayload}`` ready for ``iot.create_topic_rule``."""
    values = placeholder_values(lake, overrides)
    payloads: dict[str, dict[str, Any]] = {}
    for path in rule_files(rules_dir):
        try:
            document = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise RuleFileError(f"{path}: not valid JSON: {err}") from err
        validate_payload(path.stem, document, source=str(path))
        payloads[path.stem] = resolve_placeholders(document, values)
    return payloads


def validate_payload(name: str, payload: Any, source: str = "<payload>") -> None:
    """Check what IoT Core checks before it accepts a rule (name, SQL, actions)."""
    if not _RULE_NAME.match(name):
        raise RuleFileError(f"{source}: rule name {name!r} must match {_RULE_NAME.pattern}")
    if not isinstance(payload, dict):
        raise RuleFileError(f"{source}: a TopicRulePayload must be a JSON object")
    allowed = {"sql", "description", "actions", "ruleDisabled", "awsIotSqlVersion", "errorAction"}
    extra = set(payload) - allowed
    if extra:
        raise RuleFileError(f"{source}: keys not in TopicRulePayload: {sorted(extra)}")
    if not isinstance(payload.get("sql"), str):
        raise RuleFileError(f"{source}: 'sql' (a string) is required")
    if payload.get("awsIotSqlVersion", SQL_VERSION) != SQL_VERSION:
        raise RuleFileError(f"{source}: awsIotSqlVersion must be {SQL_VERSION!r}")
    actions = payload.get("actions")
    if not isinstance(actions, list) or not actions:
        raise RuleFileError(f"{source}: 'actions' must be a non-empty list")
    for action in [*actions, payload.get("errorAction") or {"s3": {}}]:
        if not isinstance(action, dict) or len(action) != 1:
            raise RuleFileError(f"{source}: each action must name exactly one action type")
    try:
        parse_rule_sql(payload["sql"])
    except RuleSqlError as err:
        raise RuleFileError(f"{source}: {err}") from err


def load_rules(
    rules_dir: Path = RULES_DIR,
    lake: LakeSettings | None = None,
    overrides: Mapping[str, str] | None = None,
) -> list[Rule]:
    """The enabled rules, compiled for the local engine; unsupported actions are refused."""
    rules: list[Rule] = []
    for name, payload in load_rule_payloads(rules_dir, lake, overrides).items():
        rule = Rule(name=name, payload=payload, query=parse_rule_sql(payload["sql"]))
        for action in [*rule.actions, *([rule.error_action] if rule.error_action else [])]:
            kind = next(iter(action))
            if kind not in LOCAL_ACTIONS:
                raise RuleFileError(
                    f"rule {name}: action {kind!r} has no local implementation "
                    f"(supported: {', '.join(LOCAL_ACTIONS)})"
                )
        if not rule.disabled:
            rules.append(rule)
    return rules
