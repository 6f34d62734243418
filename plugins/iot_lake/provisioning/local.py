"""The ``local`` backend's steps: lake layout, catalog, local DynamoDB table, broker PKI."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from iot_lake.config import LakeSettings
from iot_lake.provisioning.deployment import LAKE_BUCKETS
from iot_lake.provisioning.report import Change, created, skipped, unchanged, updated
from iot_lake.storage import filesystem, is_directory_store

THINGS_ENV = "IOT_LAKE_THINGS"
"""How many weather stations get a certificate on the local backend (default 5)."""
DEFAULT_THINGS = 5


@dataclass(frozen=True)
class LocalContext:
    settings: LakeSettings
    dry_run: bool = False


def storage(ctx: LocalContext) -> list[Change]:
    """One directory (or bucket, on an S3 endpoint such as MinIO) per lake area."""
    return [_ensure_root(ctx, area) for area in (*LAKE_BUCKETS, "catalog")]


def _ensure_root(ctx: LocalContext, area: str) -> Change:
    uri = ctx.settings.uri(area)
    fs, path = filesystem(uri)
    if is_directory_store(fs):
        if os.path.isdir(path):
            return unchanged("lake directory", path)
        if not ctx.dry_run:
            os.makedirs(path, exist_ok=True)
        return created("lake directory", path)
    bucket = path.split("/", 1)[0]
    if fs.exists(bucket):
        return unchanged("lake bucket", f"{bucket} ({area})")
    if not ctx.dry_run:
        fs.mkdir(bucket)
    return created("lake bucket", f"{bucket} ({area})")


def catalog(ctx: LocalContext) -> list[Change]:
    """The raw and curated databases of the local (Glue-shaped) catalog."""
    from iot_lake.catalog import get_catalog
    from iot_lake.provisioning.glue import DATABASE_DESCRIPTIONS

    lake_catalog = get_catalog(ctx.settings)
    existing = set(lake_catalog.list_databases())
    changes = []
    for area, name in (
        ("raw", ctx.settings.raw_database),
        ("curated", ctx.settings.curated_database),
    ):
        if name in existing:
            changes.append(unchanged("catalog database", name))
            continue
        if not ctx.dry_run:
            lake_catalog.ensure_database(name, DATABASE_DESCRIPTIONS[area])
        changes.append(created("catalog database", name))
    return changes


def ingestion(ctx: LocalContext) -> list[Change]:
    """The cold-readings table on the local DynamoDB-compatible endpoint, if it runs."""
    from botocore.exceptions import EndpointConnectionError

    from iot_lake.devices.dynamodb import dynamodb_client
    from iot_lake.provisioning import dynamodb

    values = {"cold_readings_table": ctx.settings.cold_readings_table}
    want = dynamodb.desired_table(values, local=True)
    client = dynamodb_client(ctx.settings)
    try:
        if not _listening(ctx.settings.dynamodb_endpoint):
            raise EndpointConnectionError(endpoint_url=ctx.settings.dynamodb_endpoint)
        return [dynamodb.ensure_table(client, want, ctx.dry_run)]
    except EndpointConnectionError:
        return [
            skipped(
                "dynamodb table",
                want["TableName"],
                f"no DynamoDB endpoint at {ctx.settings.dynamodb_endpoint}; the ingest service "
                "creates the table when it starts, or rerun setup once the endpoint is up",
            )
        ]


def _listening(endpoint: str, timeout: float = 1.0) -> bool:
    """Whether something accepts TCP connections at an http(s) endpoint (fail fast)."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(endpoint)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def devices(ctx: LocalContext) -> list[Change]:
    """CA, broker and per-thing certificates, and the Mosquitto config with its ACL."""
    from iot_lake.devices import pki as things

    certs = Path(ctx.settings.certs_dir)
    count = int(os.environ.get(THINGS_ENV, DEFAULT_THINGS))
    names = things.thing_names(count)
    before = _snapshot(certs)
    if ctx.dry_run:
        missing = [n for n in names if not things.credential_paths(certs, n)[0].is_file()]
        if not before:
            return [created("broker pki", str(certs), f"{count} things")]
        if missing:
            return [updated("broker pki", str(certs), f"new things: {', '.join(missing)}")]
        return [unchanged("broker pki", str(certs))]
    things.ensure_local_pki(certs, names)
    things.write_mosquitto_config(certs, host=ctx.settings.mqtt_host, port=ctx.settings.mqtt_port)
    after = _snapshot(certs)
    if not before:
        return [created("broker pki", str(certs), f"{count} things, config {certs}/mosquitto.conf")]
    changed = sorted(path for path in after if before.get(path) != after[path])
    if changed:
        return [updated("broker pki", str(certs), f"rewrote {', '.join(changed)}")]
    return [unchanged("broker pki", str(certs))]


def _snapshot(root: Path) -> dict[str, str]:
    """Content hashes of the generated identity and config files (broker data excluded)."""
    if not root.is_dir():
        return {}
    out = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if path.is_file() and not relative.parts[0].startswith("mosquitto-data"):
            out[str(relative)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out
