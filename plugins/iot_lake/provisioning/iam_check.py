"""Does an IAM policy document allow an action on a resource? A small, strict evaluator.

Enough of IAM's evaluation logic to test our own least-privilege documents: Action /
NotAction and Resource / NotResource with ``*`` and ``?`` wildcards (actions match case-
insensitively, resources case-sensitively), an explicit Deny beats any Allow, nothing is
allowed by default, and the condition operators our documents use (String*, Arn*, Bool,
with ``...IfExists``). A condition on a key the request does not carry does not hold,
except a negated one (``StringNotEquals``...), which does, as in IAM; an unsupported
operator raises instead of guessing.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from typing import Any


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _glob(pattern: str, value: str, *, case_sensitive: bool) -> bool:
    # IAM wildcards: * any run of characters (also across "/" and ":"), ? one character.
    regex = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    flags = 0 if case_sensitive else re.IGNORECASE
    return re.fullmatch(regex, value, flags) is not None


def _matches_any(patterns: Iterable[str], value: str, *, case_sensitive: bool) -> bool:
    return any(_glob(p, value, case_sensitive=case_sensitive) for p in patterns)


_NEGATED = frozenset(
    {"StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "ArnNotEquals", "ArnNotLike"}
)


def _condition_holds(conditions: Mapping[str, Any], context: Mapping[str, Any]) -> bool:
    for operator, tests in conditions.items():
        if_exists = operator.endswith("IfExists")
        base = operator.removesuffix("IfExists")
        for key, expected in tests.items():
            if key not in context:
                # An absent key matches no value: ...IfExists and the negated operators hold.
                if if_exists or base in _NEGATED:
                    continue
                return False
            actual = [str(v) for v in _as_list(context[key])]
            wanted = [str(v) for v in _as_list(expected)]
            if base in ("StringEquals", "ArnEquals"):
                ok = any(a == w for a in actual for w in wanted)
            elif base == "StringEqualsIgnoreCase":
                ok = any(a.lower() == w.lower() for a in actual for w in wanted)
            elif base in ("StringLike", "ArnLike"):
                ok = any(_glob(w, a, case_sensitive=True) for a in actual for w in wanted)
            elif base in ("StringNotEquals", "ArnNotEquals"):
                ok = all(a != w for a in actual for w in wanted)
            elif base in ("StringNotLike", "ArnNotLike"):
                ok = not any(_glob(w, a, case_sensitive=True) for a in actual for w in wanted)
            elif base == "Bool":
                ok = any(a.lower() == w.lower() for a in actual for w in wanted)
            else:
                from iot_lake.errors import UnsupportedCondition

                raise UnsupportedCondition(f"condition operator {operator} is not supported")
            if not ok:
                return False
    return True


def statement_applies(
    statement: Mapping[str, Any],
    action: str,
    resource: str,
    context: Mapping[str, Any] | None = None,
) -> bool:
    """Whether ``statement`` covers this request (its Effect is not looked at)."""
    if "Action" in statement:
        action_ok = _matches_any(_as_list(statement["Action"]), action, case_sensitive=False)
    elif "NotAction" in statement:
        action_ok = not _matches_any(_as_list(statement["NotAction"]), action, case_sensitive=False)
    else:
        action_ok = False
    if "Resource" in statement:
        resource_ok = _matches_any(_as_list(statement["Resource"]), resource, case_sensitive=True)
    elif "NotResource" in statement:
        resource_ok = not _matches_any(
            _as_list(statement["NotResource"]), resource, case_sensitive=True
        )
    else:
        resource_ok = False
    if not (action_ok and resource_ok):
        return False
    return _condition_holds(statement.get("Condition", {}), context or {})


def is_allowed(
    document: Mapping[str, Any],
    action: str,
    resource: str,
    context: Mapping[str, Any] | None = None,
) -> bool:
    """IAM's verdict for one identity policy: explicit deny > allow > implicit deny."""
    statements = _as_list(document.get("Statement"))
    applying = [s for s in statements if statement_applies(s, action, resource, context)]
    if any(s.get("Effect") == "Deny" for s in applying):
        return False
    return any(s.get("Effect") == "Allow" for s in applying)


def wildcard_actions(document: Mapping[str, Any]) -> list[str]:
    """Allowed actions that are ``*`` or a whole service (``s3:*``), and any NotAction."""
    found = []
    for statement in _as_list(document.get("Statement")):
        if statement.get("Effect") != "Allow":
            continue
        if "NotAction" in statement:
            found.append(f"NotAction {statement['NotAction']}")
        for action in _as_list(statement.get("Action")):
            if action == "*" or (fnmatch.fnmatch(action, "*:*") and action.endswith(":*")):
                found.append(action)
    return found
