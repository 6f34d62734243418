"""parliament (Duo Labs' IAM policy linter, from PyPI) on the documents the project ships.

parliament checks each statement against AWS's IAM reference bundled with it: unknown
services and actions, resource ARNs that fit none of an action's resource types, condition
keys an action does not know, malformed elements; its community auditors add privilege
escalation paths (Rhino Security Labs' list) and permissions-management actions.
"""

from __future__ import annotations

import importlib.resources
import json
import re
import sys
import types
from dataclasses import dataclass
from typing import Any


def _import_parliament() -> types.ModuleType:
    """parliament 1.6.4 reads its data files at import with ``pkg_resources.resource_filename``,
    which setuptools (84 in the lock) no longer ships: the standard library answers it for
    that import only. The stand-in leaves ``sys.modules`` afterwards, since others (pytest's
    ``monkeypatch.syspath_prepend``) take any ``pkg_resources`` there for the real one."""
    try:
        import pkg_resources  # noqa: F401
    except ImportError:
        shim = types.ModuleType("pkg_resources")
        shim.resource_filename = lambda package, name: str(  # type: ignore[attr-defined]
            importlib.resources.files(package) / name
        )
        sys.modules["pkg_resources"] = shim
        try:
            import parliament
        finally:
            del sys.modules["pkg_resources"]
        return parliament
    import parliament

    return parliament


parliament = _import_parliament()

# Policy variables IAM and IoT substitute per request. parliament strips only ``${aws:...}``
# before matching ARNs, so the others are given a sample value here (a thing name).
_VARIABLES = re.compile(r"\$\{(credentials-iot|iot):[^}]+\}")
SAMPLE_THING = "coffee-machine-01"


@dataclass(frozen=True)
class Finding:
    document: str
    issue: str
    detail: str
    where: str = ""  # parliament's location (e.g. an escalation's type and actions)

    def __str__(self) -> str:
        return f"{self.document}: {self.issue} {self.detail} {self.where}".rstrip()


def lint(name: str, document: dict[str, Any], *, community: bool = False) -> list[Finding]:
    text = _VARIABLES.sub(SAMPLE_THING, json.dumps(document))
    policy = parliament.analyze_policy_string(text, include_community_auditors=community)
    return [
        Finding(
            name,
            finding.issue,
            json.dumps(finding.detail, sort_keys=True, default=str),
            json.dumps(
                {k: v for k, v in (finding.location or {}).items() if k != "filepath"},
                sort_keys=True,
                default=str,
            ),
        )
        for finding in policy.findings
    ]
