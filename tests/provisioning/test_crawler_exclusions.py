"""Glue applies a crawler's exclusion globs to keys *relative to the target path*.

So an exclusion must be written relative to the target, and the error objects (Firehose's
``ErrorOutputPrefix``, the rules' ``errorAction`` keys) must be either outside the target
or excluded by one of its globs: never crawled into the raw table.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from iot_lake.crawler import crawler_definition
from iot_lake.devices.rules import load_rule_payloads
from iot_lake.provisioning.deployment import Deployment
from iot_lake.provisioning.documents import load


def glue_glob(pattern: str) -> re.Pattern[str]:
    """A Glue exclusion glob (``**`` crosses folders, ``*`` does not) as a regex."""
    out = ""
    for token in re.split(r"(\*\*|\*|\?)", pattern):
        out += {"**": ".*", "*": "[^/]*", "?": "[^/]"}.get(token, re.escape(token))
    return re.compile(out + r"\Z")


def crawled(target: str, key_uri: str, exclusions: list[str]) -> bool:
    """Whether the crawler of ``target`` reads the object ``key_uri``.

    A glob excludes an object when it matches the key relative to the target, or one of
    the key's folders (everything under an excluded folder is skipped).
    """
    if not key_uri.startswith(target):
        return False
    parts = key_uri[len(target) :].split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    return not any(glue_glob(p).match(c) for p in exclusions for c in candidates)


def test_the_glob_model_is_relative_to_the_target() -> None:
    target = "s3://raw/weather/"
    assert crawled(target, "s3://raw/weather/2024/01/01/00/a.gz", ["errors/**"])
    assert not crawled(target, "s3://raw/weather/errors/x/a.gz", ["errors/**"])
    assert not crawled(target, "s3://raw/weather/2024/_tmp/a.gz", ["**/_*"])
    assert not crawled(target, "s3://raw/errors/a.gz", [])  # outside the target


@pytest.fixture
def deployment(aws_settings: Any) -> Deployment:
    return Deployment.for_account(aws_settings, "123456789012")


def _error_object_keys(deployment: Deployment) -> list[str]:
    values = deployment.values()
    raw = values["raw_uri"]
    stream = load("firehose/weather_stream.json", values)["ExtendedS3DestinationConfiguration"]
    error_prefix = stream["ErrorOutputPrefix"]
    keys = [
        raw + re.sub(r"!\{[^}]+\}", "x", error_prefix.removeprefix(values["raw_prefix"])) + "a.gz"
    ]
    for payload in load_rule_payloads(lake=deployment.settings).values():
        key = payload["errorAction"]["s3"]["key"]
        keys.append(raw + re.sub(r"\$\{[^}]+\}", "x", key.removeprefix(values["raw_prefix"])))
    return keys


def test_error_objects_are_never_crawled_and_every_exclusion_is_reachable(deployment) -> None:
    crawler = crawler_definition(deployment.settings, role="r")
    [target] = crawler["Targets"]["S3Targets"]
    path, exclusions = target["Path"], target.get("Exclusions", [])
    keys = _error_object_keys(deployment)
    assert len(keys) == 3 and all("errors/" in key for key in keys)
    assert [key for key in keys if crawled(path, key, exclusions)] == []
    # A glob naming the error folder is dead when that folder is outside the target.
    for pattern in exclusions:
        if pattern.startswith("errors/"):
            assert any(key.startswith(path) for key in keys), f"{pattern} excludes nothing"
    # Staging and hidden objects under the target are excluded.
    assert not crawled(path, path + "2024/01/01/00/_staging/a.gz", exclusions)
    assert not crawled(path, path + "2024/01/01/00/.tmp.gz", exclusions)
