"""Resource definitions kept as data under ``include/``, rendered for one deployment.

Files use ``${name}`` (or ``{{name}}``) placeholders (lower-case names only) for the
values that differ per account: bucket names, ARNs, the region. Placeholders with a
colon (``${aws:username}``, ``${iot:Connection.Thing.ThingName}``) are IAM/IoT policy
variables and are left alone.
An unknown placeholder is an error, so a typo never deploys a literal ``${...}``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from iot_lake.config import INCLUDE_DIR

# ``${name}`` (our files, the IoT rule files) or ``{{name}}`` (the IoT device policies).
_PLACEHOLDER = re.compile(r"\$\{([a-z_][a-z0-9_]*)\}|\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}")


def render(value: Any, values: Mapping[str, str], source: str = "<definition>") -> Any:
    """Substitute ``${name}`` in every string of a JSON-like value."""
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1) or match.group(2)
            if name not in values:
                from iot_lake.errors import DefinitionError

                raise DefinitionError(
                    f"{source}: unknown placeholder ${{{name}}}; known: {', '.join(sorted(values))}"
                )
            return str(values[name])

        return _PLACEHOLDER.sub(substitute, value)
    if isinstance(value, list):
        return [render(item, values, source) for item in value]
    if isinstance(value, dict):
        return {key: render(item, values, source) for key, item in value.items()}
    return value


def load(relative: str, values: Mapping[str, str] | None = None) -> Any:
    """Read ``include/<relative>`` (JSON) and render it with ``values``."""
    path = INCLUDE_DIR / relative
    return load_path(path, values)


def load_path(path: Path, values: Mapping[str, str] | None = None) -> Any:
    if not path.is_file():
        from iot_lake.errors import DefinitionError

        raise DefinitionError(f"definition file {path} is missing")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        from iot_lake.errors import DefinitionError

        raise DefinitionError(f"{path}: not valid JSON: {exc}") from exc
    return render(data, values or {}, str(path)) if values is not None else data


def policy_document(relative: str, values: Mapping[str, str]) -> dict[str, Any]:
    """An IAM policy rendered for this deployment.

    Statements whose every Resource rendered empty are dropped: that is how optional
    parts (the KMS key) disappear when the deployment does not use them. A statement
    without Resource (a trust policy's) stays without: IAM rejects a trust policy that
    has one ("Has prohibited field Resource").
    """
    document = load(relative, values)
    statements = []
    for statement in document["Statement"]:
        if "Resource" not in statement:
            statements.append(statement)
            continue
        resources = statement["Resource"]
        listed = [resources] if isinstance(resources, str) else list(resources)
        kept = [resource for resource in listed if resource]
        if not kept:
            continue
        statements.append({**statement, "Resource": kept[0] if len(kept) == 1 else kept})
    return {**document, "Statement": statements}


def differences(desired: Any, current: Any, path: str = "") -> list[str]:
    """Where ``current`` does not match ``desired``; keys AWS adds on its own are ignored.

    Dicts compare on the desired keys only (services fill in defaults we did not ask
    for); lists must have the same length and match item by item, so an extra rule or
    statement added by hand counts as drift.
    """
    where = path or "."
    if isinstance(desired, dict):
        if not isinstance(current, dict):
            return [f"{where}: expected an object"]
        out: list[str] = []
        for key, value in desired.items():
            out += differences(value, current.get(key), f"{path}.{key}" if path else key)
        return out
    if isinstance(desired, list):
        if not isinstance(current, list) or len(current) != len(desired):
            return [f"{where}: expected {len(desired)} item(s)"]
        out = []
        for index, (want, have) in enumerate(zip(desired, current, strict=True)):
            out += differences(want, have, f"{where}[{index}]")
        return out
    if desired != current:
        return [f"{where}: {current!r} -> {desired!r}"]
    return []


def normalise_policy(document: Any) -> Any:
    """A policy in a canonical shape: single items unwrapped, statements order-free."""
    if isinstance(document, str):
        document = json.loads(document)

    def canon(value: Any) -> Any:
        if isinstance(value, list):
            items = [canon(item) for item in value]
            if len(items) == 1:
                return items[0]
            return sorted(items, key=lambda item: json.dumps(item, sort_keys=True))
        if isinstance(value, dict):
            return {key: canon(item) for key, item in value.items()}
        return value

    return canon(document)
