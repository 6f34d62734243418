"""IoT topic rules kept as files: loaded for IoT Core (aws provisioning) and the local engine.

Each ``include/iot/rules/<rule_name>.json`` is an AWS ``TopicRulePayload`` that
``iot.create_topic_rule(ruleName=<rule_name>, topicRulePayload=...)`` accepts as it is,
once the account-specific placeholders below are resolved. Both the ``aws`` provisioning
and the local engine (``simulators.iot_core.rules``, which adds its SQL compiler) call
:func:`load_rule_payloads`, so they deploy the same rules.

Placeholders (a fixed set; any other ``${...}`` is an IoT substitution template such as
``${newuuid()}`` and is left for IoT Core or the local engine to evaluate per message):

=========================  ==============================================================
``${account_id}``          AWS account id (``IOT_LAKE_ACCOUNT_ID``; local ``000000000000``)
``${region}``              ``settings().region``
``${firehose_stream}``     ``settings().firehose_stream``
``${cold_readings_table}`` ``settings().cold_readings_table``
``${rule_role_arn}``       role IoT assumes for the actions (``IOT_LAKE_RULE_ROLE_ARN``;
                           default ``arn:aws:iam::<account_id>:role/<prefix>-iot-rules``)
``${raw_bucket}``          bucket of ``settings().uri("raw")`` (locally its last directory)
``${raw_prefix}``          key prefix of the raw URI inside that bucket ("" or ``p/``)
=========================  ==============================================================
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from iot_lake.config import INCLUDE_DIR, LakeSettings, settings
from iot_lake.devices.names import rule_role

RULES_DIR = INCLUDE_DIR / "iot" / "rules"
SQL_VERSION = "2016-03-23"
"""The only rule SQL version the rule files (and the local engine) use."""
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
_RULE_NAME = re.compile(r"^[a-zA-Z0-9_]{1,128}$")
_PLACEHOLDER = re.compile(r"\$\{(" + "|".join(PLACEHOLDERS) + r")\}")

SqlCheck = Callable[[str], object]
"""Parses a rule's SQL and raises ``ValueError`` if it is invalid (the local engine's)."""


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
            "IOT_LAKE_RULE_ROLE_ARN",
            f"arn:aws:iam::{account_id}:role/{rule_role(lake.name_prefix)}",
        ),
        "raw_bucket": bucket,
        "raw_prefix": prefix,
    }
    values.update(overrides)
    unknown = set(values) - set(PLACEHOLDERS)
    if unknown:
        from iot_lake.errors import RuleFileError

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
        from iot_lake.errors import RuleFileError

        raise RuleFileError(f"no rule files (*.json) in {rules_dir}")
    return files


def load_rule_payloads(
    rules_dir: Path = RULES_DIR,
    lake: LakeSettings | None = None,
    overrides: Mapping[str, str] | None = None,
    check_sql: SqlCheck | None = None,
) -> dict[str, dict[str, Any]]:
    """``{rule_name: TopicRulePayload}`` ready for ``iot.create_topic_rule``."""
    values = placeholder_values(lake, overrides)
    payloads: dict[str, dict[str, Any]] = {}
    for path in rule_files(rules_dir):
        try:
            document = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            from iot_lake.errors import RuleFileError

            raise RuleFileError(f"{path}: not valid JSON: {err}") from err
        validate_payload(path.stem, document, source=str(path), check_sql=check_sql)
        payloads[path.stem] = resolve_placeholders(document, values)
    return payloads


def validate_payload(
    name: str, payload: Any, source: str = "<payload>", check_sql: SqlCheck | None = None
) -> None:
    """Check what IoT Core checks before it accepts a rule (name, shape, SQL version).

    ``check_sql`` also parses the SQL (the local engine passes its compiler; IoT Core
    parses it itself when the rule is created).
    """
    if not _RULE_NAME.match(name):
        from iot_lake.errors import RuleFileError

        raise RuleFileError(f"{source}: rule name {name!r} must match {_RULE_NAME.pattern}")
    if not isinstance(payload, dict):
        from iot_lake.errors import RuleFileError

        raise RuleFileError(f"{source}: a TopicRulePayload must be a JSON object")
    allowed = {"sql", "description", "actions", "ruleDisabled", "awsIotSqlVersion", "errorAction"}
    extra = set(payload) - allowed
    if extra:
        from iot_lake.errors import RuleFileError

        raise RuleFileError(f"{source}: keys not in TopicRulePayload: {sorted(extra)}")
    if not isinstance(payload.get("sql"), str):
        from iot_lake.errors import RuleFileError

        raise RuleFileError(f"{source}: 'sql' (a string) is required")
    if payload.get("awsIotSqlVersion", SQL_VERSION) != SQL_VERSION:
        from iot_lake.errors import RuleFileError

        raise RuleFileError(f"{source}: awsIotSqlVersion must be {SQL_VERSION!r}")
    actions = payload.get("actions")
    if not isinstance(actions, list) or not actions:
        from iot_lake.errors import RuleFileError

        raise RuleFileError(f"{source}: 'actions' must be a non-empty list")
    for action in [*actions, payload.get("errorAction") or {"s3": {}}]:
        if not isinstance(action, dict) or len(action) != 1:
            from iot_lake.errors import RuleFileError

            raise RuleFileError(f"{source}: each action must name exactly one action type")
    if check_sql is not None:
        try:
            check_sql(payload["sql"])
        except ValueError as err:
            from iot_lake.errors import RuleFileError

            raise RuleFileError(f"{source}: {err}") from err
