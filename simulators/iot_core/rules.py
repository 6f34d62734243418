"""IoT topic rules for the local engine: the library's loader plus the local SQL compiler.

Loading, placeholders and the payload checks live in :mod:`iot_lake.devices.rules`, shared
with the ``aws`` provisioning (the library must not import ``simulators``); this module
adds what only the local engine needs: each rule's SQL compiled by
:mod:`simulators.iot_core.rule_sql`, and the refusal of actions it cannot run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iot_lake.config import LakeSettings
from iot_lake.devices import rules as _library
from iot_lake.devices.rules import (
    LOCAL_ACCOUNT_ID,
    PLACEHOLDERS,
    RULES_DIR,
    placeholder_values,
    raw_location,
    resolve_placeholders,
    rule_files,
)
from simulators.iot_core.rule_sql import RuleQuery, parse_rule_sql

__all__ = [
    "LOCAL_ACCOUNT_ID",
    "LOCAL_ACTIONS",
    "PLACEHOLDERS",
    "RULES_DIR",
    "Rule",
    "load_rule_payloads",
    "load_rules",
    "placeholder_values",
    "raw_location",
    "resolve_placeholders",
    "rule_files",
    "validate_payload",
]

LOCAL_ACTIONS = ("firehose", "dynamoDBv2", "s3")


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


def load_rule_payloads(
    rules_dir: Path = RULES_DIR,
    lake: LakeSettings | None = None,
    overrides: Mapping[str, str] | None = None,
) -> dict[str, dict[str, Any]]:
    """``{rule_name: TopicRulePayload}``, each SQL checked by the local compiler too."""
    return _library.load_rule_payloads(rules_dir, lake, overrides, check_sql=parse_rule_sql)


def validate_payload(name: str, payload: Any, source: str = "<payload>") -> None:
    """The library's checks plus the local SQL compiler's."""
    _library.validate_payload(name, payload, source, check_sql=parse_rule_sql)


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
                from iot_lake.errors import RuleFileError

                raise RuleFileError(
                    f"rule {name}: action {kind!r} has no local implementation "
                    f"(supported: {', '.join(LOCAL_ACTIONS)})"
                )
        if not rule.disabled:
            rules.append(rule)
    return rules
