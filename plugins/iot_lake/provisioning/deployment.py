"""The names and ARNs of one deployment, derived from the lake settings.

Everything the definition files under ``include/`` may refer to as ``${name}`` is built
here, once, so that provisioning, the IAM tests and the docs agree on every name.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlsplit

from iot_lake.config import LakeSettings
from iot_lake.devices import names

KMS_KEY_ENV = "IOT_LAKE_KMS_KEY_ARN"
"""Optional customer-managed KMS key for the buckets and the Firehose stream (default: none,
S3-managed encryption)."""
NAME_PREFIX_ENV = "IOT_LAKE_NAME_PREFIX"
"""Prefix of every account-wide name (``settings().name_prefix``)."""
DEFAULT_NAME_PREFIX = LakeSettings.name_prefix
AURORA_CLUSTER_ARN_ENV = "IOT_LAKE_AURORA_CLUSTER_ARN"
AURORA_SECRET_ARN_ENV = "IOT_LAKE_AURORA_SECRET_ARN"
"""The coffee photo Lambda's Aurora cluster and secret (RDS Data API); optional."""

LAKE_BUCKETS = ("raw", "curated", "photos", "query_results")


def rule_prefix(name_prefix: str) -> str:
    """IoT rule names allow only ``[a-zA-Z0-9_]``: the prefix with ``_`` for ``-``."""
    return name_prefix.replace("-", "_")


def json_classifier_name(settings: LakeSettings) -> str:
    """The Glue JSON classifier of the raw crawler (``include/glue/classifier_*.json``)."""
    return f"{rule_prefix(settings.name_prefix)}_json_records"


@dataclass(frozen=True)
class Location:
    """An S3 URI split into bucket and key prefix (``""`` or ending with ``/``)."""

    bucket: str
    prefix: str

    @classmethod
    def parse(cls, uri: str, setting: str) -> Location:
        parts = urlsplit(uri)
        if parts.scheme not in ("s3", "s3a") or not parts.netloc:
            from iot_lake.errors import ConfigError

            raise ConfigError(
                f"setting {setting} must be an s3:// URI on the aws backend, got {uri!r}"
            )
        bucket = parts.netloc.rpartition("@")[2]  # s3://conn_id@bucket/ (ObjectStoragePath)
        prefix = parts.path.strip("/")
        return cls(bucket, f"{prefix}/" if prefix else "")

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


@dataclass(frozen=True)
class Deployment:
    """One account/region's names, and the placeholder values for definition files."""

    settings: LakeSettings
    account_id: str
    partition: str = "aws"
    kms_key_arn: str = ""
    name_prefix: str = DEFAULT_NAME_PREFIX

    @classmethod
    def for_account(cls, settings: LakeSettings, account_id: str, partition: str = "aws"):
        return cls(
            settings=settings,
            account_id=account_id,
            partition=partition,
            kms_key_arn=os.environ.get(KMS_KEY_ENV, ""),
            name_prefix=settings.name_prefix,
        )

    def location(self, bucket: str) -> Location:
        return Location.parse(self.settings.uri(bucket), f"IOT_LAKE_{bucket.upper()}_URI")

    @property
    def buckets(self) -> dict[str, list[str]]:
        """Bucket name -> the lake areas it holds (areas may share one bucket)."""
        out: dict[str, list[str]] = {}
        for area in LAKE_BUCKETS:
            out.setdefault(self.location(area).bucket, []).append(area)
        return out

    def role_name(self, purpose: str) -> str:
        return f"{self.name_prefix}-{purpose}"

    def role_arn(self, purpose: str) -> str:
        return f"arn:{self.partition}:iam::{self.account_id}:role/{self.role_name(purpose)}"

    def policy_arn(self, purpose: str) -> str:
        """A customer-managed policy ``<prefix>-<purpose>`` (``boundary``, ``airflow``)."""
        return f"arn:{self.partition}:iam::{self.account_id}:policy/{self.name_prefix}-{purpose}"

    @property
    def thing_type(self) -> str:
        """The stations' thing type: the name the registration tool attaches things to."""
        return names.thing_type(self.name_prefix)

    def values(self) -> dict[str, str]:
        """The ``${name}`` placeholders understood by every definition file."""
        s = self.settings
        values = {
            "account_id": self.account_id,
            "region": s.region,
            "partition": self.partition,
            "name_prefix": self.name_prefix,
            "raw_database": s.raw_database,
            "curated_database": s.curated_database,
            "workgroup": s.athena_workgroup,
            "athena_workgroup": s.athena_workgroup,
            "firehose_stream": s.firehose_stream,
            "delivery_stream": s.firehose_stream,
            "cold_table": s.cold_readings_table,
            "cold_readings_table": s.cold_readings_table,
            "dynamodb_table": s.cold_readings_table,
            "crawler_name": s.crawler_name,
            "classifier_name": json_classifier_name(s),
            "firehose_log_group": f"/aws/kinesisfirehose/{s.firehose_stream}",
            "firehose_log_stream": "DestinationDelivery",
            "rule_prefix": rule_prefix(self.name_prefix),
            "kms_key_arn": self.kms_key_arn,
            "firehose_role_arn": self.role_arn("firehose-delivery"),
            "iot_rule_role_arn": self.role_arn("iot-rules"),
            "crawler_role_arn": self.role_arn("glue-crawler"),
            "deploy_role_arn": self.role_arn("deploy"),
            "boundary_arn": self.policy_arn("boundary"),
            "runtime_policy_arn": self.policy_arn("airflow"),
            "thing_type": self.thing_type,
            "thing_group": names.thing_group(self.name_prefix),
            "device_policy": names.device_policy(self.name_prefix),
            # The coffee photo Lambda's Aurora cluster and its secret (RDS Data API); empty
            # when not configured, which drops the statements that name them.
            "aurora_cluster_arn": os.environ.get(AURORA_CLUSTER_ARN_ENV, ""),
            "aurora_secret_arn": os.environ.get(AURORA_SECRET_ARN_ENV, ""),
        }
        for area in LAKE_BUCKETS:
            location = self.location(area)
            values[f"{area}_bucket"] = location.bucket
            values[f"{area}_prefix"] = location.prefix
            values[f"{area}_uri"] = location.uri
            values[f"{area}_bucket_arn"] = f"arn:{self.partition}:s3:::{location.bucket}"
        return values
