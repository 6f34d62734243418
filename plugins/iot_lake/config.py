"""Where the pipeline runs and where its data lives, read at task run time.

Every setting comes, in this order, from an environment variable ``IOT_LAKE_<NAME>``,
from the ``extra`` of the Airflow connection ``lake_default`` (key ``<name>`` in lower
case), or from the documented default. DAG files never read settings: tasks call
:func:`settings` when they run, so switching backends is a configuration change only.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from dataclasses import dataclass, fields
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
"""The checkout: home of the local lake and the generated certificates."""


def _include_dir() -> Path:
    """The definition files (SQL, Glue tables, IAM/IoT documents...).

    Package data ``iot_lake/include`` when the library is installed as a package (the MWAA
    ``plugins.zip`` and the compose image carry it there, see ``iot_lake.packaging``),
    otherwise the checkout's ``include/``, the single copy kept in git.
    """
    packaged = resources.files("iot_lake").joinpath("include")
    if packaged.is_dir():
        return Path(str(packaged))
    return PROJECT_ROOT / "include"


INCLUDE_DIR = _include_dir()
SQL_DIR = INCLUDE_DIR / "sql"

Backend = Literal["local", "aws"]
BACKENDS: tuple[str, ...] = ("local", "aws")
LAKE_CONN_ID_ENV = "IOT_LAKE_CONN_ID"
DEFAULT_LAKE_CONN_ID = "lake_default"


@dataclass(frozen=True)
class LakeSettings:
    """Everything a task needs to know about the backend it runs against."""

    backend: Backend = "local"
    # Local backend: one directory holds every bucket as a sub-directory.
    home: str = str(PROJECT_ROOT / ".lake")
    # Bucket-like roots (URIs); on `local` they default to sub-directories of `home`.
    raw_uri: str = ""
    curated_uri: str = ""
    photos_uri: str = ""
    query_results_uri: str = ""
    # Catalog (Glue databases on aws, JSON table definitions beside the lake on local).
    catalog_uri: str = ""
    raw_database: str = "iot_lake_raw"
    curated_database: str = "iot_lake"
    # Amazon services.
    aws_conn_id: str = "aws_default"
    # The deploy role's connection: only lake_setup's provisioning steps use it.
    deploy_conn_id: str = "aws_deploy"
    region: str = "us-east-1"
    # Prefix of every account-wide name (roles, policies, IoT types, stream, crawler...);
    # the names below default to names built from it (see ``_PREFIXED_DEFAULTS``).
    name_prefix: str = "iot-lake"
    athena_workgroup: str = "iot_lake"
    firehose_stream: str = "iot-lake-raw-weather"
    cold_readings_table: str = "weather_cold_readings"
    crawler_name: str = "iot_lake_raw_weather"
    # Relational source of the coffee machines (Aurora MySQL / MariaDB).
    mysql_conn_id: str = "coffee_mysql"
    # Devices: MQTT broker (Mosquitto locally, the IoT Core ATS endpoint on aws).
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = 8883
    certs_dir: str = str(PROJECT_ROOT / "certs")
    # Local stand-in for DynamoDB (a DynamoDB-compatible endpoint).
    dynamodb_endpoint: str = "http://127.0.0.1:8000"
    # Parquet compression of the curated tables (GZIP, SNAPPY or ZSTD).
    parquet_compression: str = "GZIP"
    # Minutes after midnight UTC that the nightly weather run waits before reading day D:
    # longer than Firehose's 300 s buffer, so the last objects of D have landed.
    arrival_grace_minutes: int = 10
    # Write -> audit -> publish: a partition version replaced by a publish stays readable
    # this long (queries already planned on it keep working), then lake_setup or the next
    # publish of the table deletes it (iot_lake.wap).
    superseded_grace_hours: float = 24.0
    # The audit fails a day whose new version has lost more than this fraction of the
    # rows of the published version it would replace (all rows gone always fails), unless
    # the run is triggered with the param accept_shrink = true (iot_lake.shrink).
    max_day_shrink: float = 0.5

    def uri(self, bucket: str) -> str:
        """URI of one of the lake's buckets: raw, curated, photos, query_results, catalog."""
        value = getattr(self, f"{bucket}_uri")
        if not value:
            from iot_lake.errors import ConfigError

            raise ConfigError(
                f"setting IOT_LAKE_{bucket.upper()}_URI is required on the "
                f"'{self.backend}' backend (e.g. s3://my-bucket/{bucket}/); set the "
                f"environment variable or the key '{bucket}_uri' in the extra of "
                f"connection '{_lake_conn_id()}'"
            )
        return value

    def __str__(self) -> str:
        """How a command names the settings it runs with: ``backend=local``."""
        return f"backend={self.backend}"

    @property
    def dynamodb_endpoint_url(self) -> str | None:
        """The endpoint a DynamoDB client is given: the local stand-in on ``local``; None
        on ``aws`` (boto3 finds DynamoDB in the region)."""
        return self.dynamodb_endpoint if self.is_local else None

    @property
    def is_local(self) -> bool:
        return self.backend == "local"

    @property
    def staging_database(self) -> str:
        """Catalog database of staged (written, not yet published) partitions."""
        return f"{self.curated_database}_staging"


_BUCKETS = ("raw", "curated", "photos", "query_results", "catalog")

DEFAULT_NAME_PREFIX = LakeSettings.name_prefix
# Default resource names built from the name prefix: ``{prefix}`` as given (``iot-lake``),
# ``{prefix_}`` with ``_`` for ``-`` (Glue, Athena and DynamoDB names). With the default
# prefix they are the names of the first deployments; the cold-readings table keeps its
# historic unprefixed name for the default prefix only.
_PREFIXED_DEFAULTS = {
    "raw_database": "{prefix_}_raw",
    "curated_database": "{prefix_}",
    "athena_workgroup": "{prefix_}",
    "firehose_stream": "{prefix}-raw-weather",
    "crawler_name": "{prefix_}_raw_weather",
    "cold_readings_table": "{prefix_}_weather_cold_readings",
}


def prefixed_defaults(prefix: str) -> dict[str, str]:
    """The resource names a deployment with ``prefix`` gets unless each is set explicitly."""
    if not prefix or not all(c.isalnum() or c in "-_" for c in prefix):
        from iot_lake.errors import ConfigError

        raise ConfigError(
            f"IOT_LAKE_NAME_PREFIX={prefix!r}: use letters, digits, '-' and '_' (it becomes "
            "part of IAM, IoT, Glue, Athena, Firehose and DynamoDB names)"
        )
    names = {
        key: value.format(prefix=prefix, prefix_=prefix.replace("-", "_"))
        for key, value in _PREFIXED_DEFAULTS.items()
    }
    if prefix == DEFAULT_NAME_PREFIX:
        names["cold_readings_table"] = LakeSettings.cold_readings_table
    return names


def _lake_conn_id() -> str:
    return os.environ.get(LAKE_CONN_ID_ENV, DEFAULT_LAKE_CONN_ID)


def _connection_extra() -> dict[str, object]:
    """The extra of the lake connection, or {} when Airflow has no such connection.

    Read from ``AIRFLOW_CONN_LAKE_DEFAULT`` first, then through Airflow's own look-up,
    but only in a process that already runs Airflow (a task): importing Airflow costs
    seconds, and the simulators and CLIs must start instantly.
    """
    conn_id = _lake_conn_id()
    raw = os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}")
    if raw:
        if raw.lstrip().startswith("{"):
            return dict(json.loads(raw).get("extra") or {})
        from urllib.parse import parse_qsl, urlsplit

        return dict(parse_qsl(urlsplit(raw).query))
    if "airflow" not in sys.modules:
        return {}
    try:
        from airflow.sdk import BaseHook
        from airflow.sdk.exceptions import AirflowNotFoundException
    except ImportError:  # simulators run without Airflow
        return {}
    try:
        return dict(BaseHook.get_connection(conn_id).extra_dejson)
    except AirflowNotFoundException:
        log.debug("no connection %s: using environment and defaults", conn_id)
        return {}


@cache
def settings() -> LakeSettings:
    """The settings for this process (cached; call ``settings.cache_clear()`` to reload)."""
    extra = _connection_extra()
    values: dict[str, object] = {}
    for field in fields(LakeSettings):
        env_name = f"IOT_LAKE_{field.name.upper()}"
        if env_name in os.environ:
            values[field.name] = os.environ[env_name]
        elif field.name in extra:
            values[field.name] = extra[field.name]
    for name in ("mqtt_port", "arrival_grace_minutes"):
        if name in values:
            try:
                values[name] = int(str(values[name]))
            except ValueError as err:
                from iot_lake.errors import ConfigError

                raise ConfigError(
                    f"IOT_LAKE_{name.upper()}={values[name]!r} is not a whole number"
                ) from err
    if "superseded_grace_hours" in values:
        try:
            values["superseded_grace_hours"] = float(str(values["superseded_grace_hours"]))
        except ValueError as err:
            from iot_lake.errors import ConfigError

            raise ConfigError(
                f"IOT_LAKE_SUPERSEDED_GRACE_HOURS={values['superseded_grace_hours']!r} "
                "is not a number"
            ) from err
    if "max_day_shrink" in values:
        given = str(values["max_day_shrink"])
        try:
            fraction = float(given)
        except ValueError:
            fraction = -1.0
        if not 0.0 <= fraction <= 1.0:
            from iot_lake.errors import ConfigError

            raise ConfigError(
                f"IOT_LAKE_MAX_DAY_SHRINK={given!r} is not a fraction between 0 and 1 "
                "(0.5: a new version of a day may lose at most half of its published rows)"
            )
        values["max_day_shrink"] = fraction
    backend = str(values.get("backend", "local")).lower()
    if backend not in BACKENDS:
        from iot_lake.errors import ConfigError

        raise ConfigError(
            f"IOT_LAKE_BACKEND={backend!r} is not one of {', '.join(BACKENDS)}"
        )
    values["backend"] = backend
    prefix = str(values.get("name_prefix", DEFAULT_NAME_PREFIX))
    for key, name in prefixed_defaults(prefix).items():
        values.setdefault(key, name)
    if backend == "local":
        home = Path(str(values.get("home", LakeSettings.home))).resolve()
        values["home"] = str(home)
        for bucket in _BUCKETS:
            values.setdefault(f"{bucket}_uri", f"file://{home / bucket}")
    elif "catalog_uri" not in values:
        values["catalog_uri"] = "glue://"  # the Glue Data Catalog itself
    return LakeSettings(**values)  # type: ignore[arg-type]
