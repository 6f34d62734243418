"""Glue databases of the lake and the raw-data crawler defined in ``include/glue/``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from iot_lake.config import INCLUDE_DIR
from iot_lake.provisioning import documents
from iot_lake.provisioning.context import AwsContext, error_code
from iot_lake.provisioning.report import Change, created, unchanged, updated

GLUE_DIR = INCLUDE_DIR / "glue"

DATABASE_DESCRIPTIONS = {
    "raw": "Raw device messages as Firehose delivered them (JSON lines, GZIP), crawled by Glue",
    "curated": "Curated Parquet tables partitioned by day (dt), written by the iot-lake DAGs",
}


def desired_databases(ctx: AwsContext) -> list[dict[str, str]]:
    s = ctx.deployment.settings
    return [
        {
            "Name": s.raw_database,
            "Description": DATABASE_DESCRIPTIONS["raw"],
            "LocationUri": ctx.deployment.location("raw").uri,
        },
        {
            "Name": s.curated_database,
            "Description": DATABASE_DESCRIPTIONS["curated"],
            "LocationUri": ctx.deployment.location("curated").uri,
        },
    ]


def ensure_databases(ctx: AwsContext) -> list[Change]:
    return [ensure_database(ctx, want) for want in desired_databases(ctx)]


def ensure_database(ctx: AwsContext, want: dict[str, str]) -> Change:
    glue = ctx.client("glue")
    name = want["Name"]
    try:
        have = glue.get_database(Name=name)["Database"]
    except ClientError as exc:
        if error_code(exc) != "EntityNotFoundException":
            raise
        if not ctx.dry_run:
            glue.create_database(DatabaseInput=want)
        return created("glue database", name)
    drift = documents.differences(want, have)
    if not drift:
        return unchanged("glue database", name)
    if not ctx.dry_run:
        glue.update_database(Name=name, DatabaseInput=want)
    return updated("glue database", name, *drift)


def desired_crawlers(ctx: AwsContext) -> list[dict[str, Any]]:
    """The raw-weather crawler, rendered by the same code the local crawler reads it with."""
    from iot_lake.crawler import CRAWLER_DEFINITION, crawler_definition

    if not Path(CRAWLER_DEFINITION).is_file():
        from iot_lake.errors import DefinitionError

        raise DefinitionError(
            f"crawler definition {CRAWLER_DEFINITION} is missing: the weather_lake DAG needs "
            f"the crawler {ctx.deployment.settings.crawler_name}"
        )
    crawler = crawler_definition(
        ctx.deployment.settings, role=ctx.deployment.role_arn("glue-crawler")
    )
    return [crawler]


def classifier_files(glue_dir: Path | None = None) -> list[Path]:
    """``include/glue/classifier_*.json``: CreateClassifier requests."""
    return sorted((glue_dir or GLUE_DIR).glob("classifier_*.json"))


def desired_classifiers(
    glue_dir: Path | None = None, values: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    out = []
    for path in classifier_files(glue_dir):
        request = documents.load_path(path, values or {})
        request.pop("_comment", None)
        if len(request) != 1:
            from iot_lake.errors import DefinitionError

            raise DefinitionError(
                f"{path}: a CreateClassifier request names exactly one classifier kind, "
                f"got {sorted(request)}"
            )
        out.append(request)
    return out


def ensure_classifiers(ctx: AwsContext, glue_dir: Path | None = None) -> list[Change]:
    values = ctx.deployment.values()
    return [ensure_classifier(ctx, request) for request in desired_classifiers(glue_dir, values)]


def ensure_classifier(ctx: AwsContext, request: dict[str, Any]) -> Change:
    """One custom classifier (JsonClassifier, CsvClassifier, ...) referenced by the crawler."""
    glue = ctx.client("glue")
    [(kind, spec)] = request.items()
    name = spec["Name"]
    try:
        have = glue.get_classifier(Name=name)["Classifier"]
    except ClientError as exc:
        if error_code(exc) != "EntityNotFoundException":
            raise
        if not ctx.dry_run:
            glue.create_classifier(**request)
        return created("glue classifier", name)
    drift = documents.differences(spec, have.get(kind))
    if not drift:
        return unchanged("glue classifier", name)
    if not ctx.dry_run:
        glue.update_classifier(**request)
    return updated("glue classifier", name, *drift)


def ensure_crawlers(ctx: AwsContext) -> list[Change]:
    return [ensure_crawler(ctx, crawler) for crawler in desired_crawlers(ctx)]


_UPDATABLE = (
    "Role",
    "DatabaseName",
    "Description",
    "Targets",
    "Schedule",
    "Classifiers",
    "TablePrefix",
    "SchemaChangePolicy",
    "RecrawlPolicy",
    "LineageConfiguration",
    "LakeFormationConfiguration",
    "Configuration",
    "CrawlerSecurityConfiguration",
)


def ensure_crawler(ctx: AwsContext, want: dict[str, Any]) -> Change:
    glue = ctx.client("glue")
    name = want["Name"]
    try:
        have = glue.get_crawler(Name=name)["Crawler"]
    except ClientError as exc:
        if error_code(exc) != "EntityNotFoundException":
            raise
        if not ctx.dry_run:
            ctx.retry_while_role_propagates(
                lambda: glue.create_crawler(**want), f"create glue crawler {name}"
            )
        return created("glue crawler", name)
    comparable = {key: value for key, value in want.items() if key in _UPDATABLE}
    if "Schedule" in comparable:  # get_crawler nests it: {"ScheduleExpression": ...}
        comparable["Schedule"] = {"ScheduleExpression": comparable["Schedule"]}
    if "Configuration" in comparable:
        comparable["Configuration"] = json.loads(comparable["Configuration"])
        have = {**have, "Configuration": json.loads(have.get("Configuration") or "{}")}
    if "Role" in comparable and not str(have.get("Role", "")).startswith("arn:"):
        # Glue returns the role's name when it was given as a name.
        comparable["Role"] = comparable["Role"].rpartition("/")[2]
    drift = documents.differences(comparable, have)
    if not drift:
        return unchanged("glue crawler", name)
    if not ctx.dry_run:
        update = {key: value for key, value in want.items() if key in _UPDATABLE}
        glue.update_crawler(Name=name, **update)
    return updated("glue crawler", name, *drift)
