"""The local crawler: what the Glue crawler does for the raw JSON on `aws`, done here.

It looks for hour folders (``YYYY/MM/DD/HH``) that are not partitions yet (Glue's
``CRAWL_NEW_FOLDERS_ONLY``), infers the schema of each from a sample of its objects
with DuckDB's JSON reader in strict newline-delimited mode (Athena's JSON SerDe reads
one record per line, so a missing record separator must fail here, not hide), merges it
into the table (new columns are added, nothing is dropped, numbers widen, a real type
conflict keeps the table's type and is reported) and registers the new folders as
partitions that inherit the table's schema (``AddOrUpdateBehavior: InheritFromTable``).

The crawler's settings live in ``include/glue/crawler_raw_weather.json``, the same file
the `aws` backend deploys, so both crawl the same way.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iot_lake import config
from iot_lake.catalog import JSON_INPUT, JSON_OUTPUT, JSON_SERDE, Catalog, get_catalog
from iot_lake.config import INCLUDE_DIR, LakeSettings
from iot_lake.glue_types import UNKNOWN, duckdb_to_glue, merge_types, resolve_unknown
from iot_lake.storage import filesystem, is_local, join

log = logging.getLogger(__name__)

CRAWLER_DEFINITION = INCLUDE_DIR / "glue" / "crawler_raw_weather.json"
RAW_TABLE = "weather"
RAW_PREFIX = "weather"
HOUR_DEPTH = 4  # YYYY/MM/DD/HH, as Firehose writes
_TEMPORAL = ("date", "timestamp", "time")
INFERRED_TYPES = "iot_lake.inferred_types"


class CrawlError(RuntimeError):
    """Raw objects that cannot be read as newline-delimited JSON records."""


@dataclass
class CrawlResult:
    """What one crawl changed, for the task log and XCom."""

    table: str
    table_changed: bool = False
    new_partitions: list[list[str]] = field(default_factory=list)
    columns_added: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    files_sampled: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "table_changed": self.table_changed,
            "new_partitions": len(self.new_partitions),
            "columns_added": self.columns_added,
            "conflicts": self.conflicts,
            "files_sampled": self.files_sampled,
        }


def crawler_definition(
    settings: LakeSettings | None = None, role: str | None = None
) -> dict[str, Any]:
    """The Glue ``CreateCrawler`` request for the raw weather data, filled from settings."""
    lake = settings or config.settings()
    text = Path(CRAWLER_DEFINITION).read_text()
    values = {
        "crawler_name": lake.crawler_name,
        "raw_database": lake.raw_database,
        "raw_weather_uri": join(lake.uri("raw"), RAW_PREFIX) + "/",
        "role": role or "",
    }
    for key, value in values.items():
        text = text.replace("${" + key + "}", value)
    definition = json.loads(text)
    definition.pop("_comment", None)
    if not definition.get("Role"):
        definition.pop("Role", None)
    return definition


def _sample_size(definition: dict[str, Any]) -> int:
    return int(definition["Targets"]["S3Targets"][0].get("SampleSize", 10))


def _hour_folders(fs: Any, root: str) -> dict[tuple[str, ...], list[str]]:
    """Data files per hour folder under ``root``, skipping hidden and ``_`` names."""
    folders: dict[tuple[str, ...], list[str]] = {}
    if not fs.exists(root):
        return folders
    base = root.rstrip("/")
    for path in fs.find(base):
        parts = path[len(base) :].strip("/").split("/")
        if len(parts) != HOUR_DEPTH + 1 or any(p.startswith((".", "_")) for p in parts):
            continue
        folders.setdefault(tuple(parts[:HOUR_DEPTH]), []).append(path)
    return {k: sorted(v) for k, v in sorted(folders.items())}


def infer_schema(files: list[str], uri_prefix: str = "") -> list[tuple[str, str]]:
    """(column, Glue type) inferred from newline-delimited JSON objects, strictly."""
    from iot_lake.engine import new_duckdb

    con = new_duckdb(threads=1)
    try:
        paths = ", ".join("'" + (uri_prefix + f).replace("'", "''") + "'" for f in files)
        try:
            relation = con.sql(
                f"SELECT * FROM read_json([{paths}], format='newline_delimited', "
                "union_by_name=true, sample_size=-1)"
            )
            names, types = relation.columns, relation.types
        except Exception as err:
            raise CrawlError(
                f"raw objects are not newline-delimited JSON records ({err}); files: "
                f"{', '.join(files)}. Each record must end with a newline (the Firehose "
                "rule's separator); fix the producer and rewrite or remove these objects"
            ) from err
    finally:
        con.close()
    out = []
    for name, duck_type in zip(names, types, strict=True):
        glue = duckdb_to_glue(duck_type, unknown=UNKNOWN)
        if glue in _TEMPORAL:
            glue = "string"  # JSON has no temporal type: Glue's JSON classifier says string
        out.append((name.lower(), glue))
    return out


def _merge_columns(
    existing: list[dict[str, str]], inferred: list[tuple[str, str]], where: str
) -> tuple[list[dict[str, str]], list[str], list[str]]:
    columns = [dict(c) for c in existing]
    index = {c["Name"].lower(): c for c in columns}
    added, conflicts = [], []
    for name, glue in inferred:
        if name in index:
            merged, clashes = merge_types(index[name]["Type"], glue)
            index[name]["Type"] = merged
            conflicts += [f"{where}: column {name}: {c} (kept {merged})" for c in clashes]
        else:
            column = {"Name": name, "Type": glue}
            columns.append(column)
            index[name] = column
            added.append(name)
    return columns, added, conflicts


def raw_table_input(
    name: str, location: str, columns: list[dict[str, str]], crawler: str
) -> dict[str, Any]:
    """The TableInput the Glue crawler writes for gzip JSON lines in hour folders."""
    return {
        "Name": name,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {
            "classification": "json",
            "compressionType": "gzip",
            "typeOfData": "file",
            "UPDATED_BY_CRAWLER": crawler,
            # Types as inferred, "?" where every sample was null or empty, so a later
            # crawl can still type them (Glue would be stuck with its first guess).
            INFERRED_TYPES: json.dumps({c["Name"]: c["Type"] for c in columns}),
        },
        "StorageDescriptor": {
            "Columns": [
                {"Name": c["Name"], "Type": resolve_unknown(c["Type"])} for c in columns
            ],
            "Location": location.rstrip("/") + "/",
            "InputFormat": JSON_INPUT,
            "OutputFormat": JSON_OUTPUT,
            "Compressed": True,
            "SerdeInfo": {
                "SerializationLibrary": JSON_SERDE,
                "Parameters": {"paths": ",".join(c["Name"] for c in columns)},
            },
        },
        "PartitionKeys": [{"Name": f"partition_{i}", "Type": "string"} for i in range(HOUR_DEPTH)],
    }


def crawl_raw(
    settings: LakeSettings | None = None,
    catalog: Catalog | None = None,
    table: str = RAW_TABLE,
    prefix: str = RAW_PREFIX,
) -> CrawlResult:
    """Crawl ``<raw>/<prefix>/`` into ``<raw_database>.<table>``: new hour folders only."""
    lake = settings or config.settings()
    catalog = catalog or get_catalog(lake)
    definition = crawler_definition(lake)
    sample_size = _sample_size(definition)
    location = join(lake.uri("raw"), prefix)
    fs, root = filesystem(location)
    uri_prefix = ""
    if not is_local(fs):
        uri_prefix = f"{fs.protocol[0]}://"
    db = lake.raw_database
    catalog.ensure_database(db)
    current = catalog.get_table(db, table)
    known = {tuple(p["Values"]) for p in catalog.get_partitions(db, table)} if current else set()
    folders = _hour_folders(fs, root)
    new = {values: files for values, files in folders.items() if values not in known}
    result = CrawlResult(table=f"{db}.{table}")
    if not new:
        log.info("crawl %s: no new folders under %s", result.table, location)
        return result
    existing_columns = (current or {}).get("StorageDescriptor", {}).get("Columns", [])
    parameters = (current or {}).get("Parameters") or {}
    inferred_before = json.loads(parameters.get(INFERRED_TYPES, "{}"))
    columns = [
        {"Name": c["Name"], "Type": inferred_before.get(c["Name"], c["Type"])}
        for c in existing_columns
    ]
    for values, files in new.items():
        sample = files[:sample_size]
        result.files_sampled += len(sample)
        inferred = infer_schema(sample, uri_prefix)
        columns, added, conflicts = _merge_columns(columns, inferred, "/".join(values))
        result.columns_added += added
        result.conflicts += conflicts
    for conflict in result.conflicts:
        log.warning("crawl %s: type conflict %s", result.table, conflict)
    table_input = raw_table_input(table, location, columns, lake.crawler_name)
    result.table_changed = catalog.upsert_table(db, table_input)
    for values in new:
        catalog.put_partition(db, table, list(values), join(location, *values))
        result.new_partitions.append(list(values))
    log.info("crawl %s: %s", result.table, result.as_dict())
    return result
