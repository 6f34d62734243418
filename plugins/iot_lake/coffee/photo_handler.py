"""The coffee photo handler: S3 "object created" event -> face analysis -> one ``coffees`` row.

One handler for both backends, as the original design has it (device -> photo in S3 ->
S3 event -> Lambda -> Rekognition DetectFaces -> Aurora MySQL):

- ``aws``: :func:`handler` is the Lambda entry point
  (``plugins.iot_lake.coffee.photo_handler.handler`` in the zip that
  ``iot_lake.provisioning.coffee`` deploys). Rekognition reads the photo from S3 itself
  (``S3Object``), the row goes to Aurora through the **RDS Data API** (no VPC, no MySQL
  driver in the zip, IAM + Secrets Manager auth; see docs/coffee.md).
- ``local``: :mod:`iot_lake.coffee.local_notifier` hands the same S3-shaped events to
  :func:`handler`; the photo is read from the lake's photos directory, analysed by the
  calibrated OpenCV analyser and inserted into MariaDB through MySQLdb, with the same
  SQL file and the same parameter names.

The photo's object key carries the press: ``<photos prefix><machine id>/<YYYY-MM-DD>/
<HHMMSS>-<anything>.<jpg|jpeg|png>`` (UTC). The insert is keyed on the SHA-256 of
``<bucket>/<key>`` (``photo_key``, unique), so a redelivered event changes nothing.
A key of another shape is rejected with its reason (logged, counted, never fatal); a
photo that is not an image still makes a row, with every attribute NULL (not judged):
the coffee was pressed. Anything else (database or service down) raises, so the event
is retried (Lambda's async retries; the local spool keeps it pending); after three
attempts it waits, on both backends, for ``python -m iot_lake.coffee.replay_failed``.

The row's writers (Data API, MySQLdb) are :mod:`iot_lake.coffee.photo_writers`. This
module imports only the standard library and ``iot_lake.config``/``faces``/``photo_url``/
``photo_writers`` at load time: the Lambda zip holds nothing else but ``sqlparse`` (pure
Python, imported when the Data API writer is built) and boto3, which the runtime provides.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import unquote_plus, urlsplit

from iot_lake.coffee import photo_url as urls
from iot_lake.coffee.faces import (
    FaceAttributes,
    LocalFaceAnalyzer,
    RekognitionFaceAnalyzer,
)
from iot_lake.coffee.photo_writers import (
    DEFAULT_DATABASE,
    DataApiWriter,
    MySqlWriter,
    Writer,
    mysql_params,
)
from iot_lake.config import LakeSettings, settings

log = logging.getLogger(__name__)

LOCAL_BUCKET = "local-photos"
"""The bucket name local events carry: the photos directory stands for one bucket."""
KEY_PATTERN = re.compile(
    r"(?P<machine>[A-Za-z0-9][A-Za-z0-9_.-]{0,63})/(?P<day>\d{4}-\d{2}-\d{2})/"
    r"(?P<time>\d{6})-[^/]+\.(?:jpe?g|png)",
    re.IGNORECASE,
)
# Settings of the Aurora cluster the Lambda writes to (environment of the function).
CLUSTER_ARN_ENV = "IOT_LAKE_AURORA_CLUSTER_ARN"
SECRET_ARN_ENV = "IOT_LAKE_AURORA_SECRET_ARN"
DATABASE_ENV = "IOT_LAKE_AURORA_DATABASE"


# Rekognition errors that no retry can cure: the press still makes a row, nothing judged.
NOT_JUDGED_ERRORS = frozenset(
    {"InvalidImageFormatException", "ImageTooLargeException", "InvalidS3ObjectException"}
)


@dataclass(frozen=True)
class Press:
    """What the key says: which machine, when (naive UTC)."""

    machine_id: str
    coffee_hour: datetime


def photos_location(lake: LakeSettings) -> tuple[str, str]:
    """(bucket, key prefix) of the photo store; locally the directory is ``LOCAL_BUCKET``."""
    uri = lake.uri("photos")
    parts = urlsplit(uri)
    if parts.scheme in ("s3", "s3a"):
        prefix = parts.path.strip("/")
        return parts.netloc.rpartition("@")[2], f"{prefix}/" if prefix else ""
    return LOCAL_BUCKET, ""


def parse_key(key: str, prefix: str = "") -> Press:
    """The press a photo key names; :class:`KeyRejected` with the reason otherwise."""
    if not key.startswith(prefix):
        from iot_lake.errors import KeyRejected

        raise KeyRejected(f"key {key!r} is outside the photos prefix {prefix!r}")
    match = KEY_PATTERN.fullmatch(key[len(prefix) :])
    if match is None:
        from iot_lake.errors import KeyRejected

        raise KeyRejected(
            f"key {key!r} is not <machine>/<YYYY-MM-DD>/<HHMMSS>-<name>.<jpg|jpeg|png>"
        )
    try:
        when = datetime.strptime(f"{match['day']} {match['time']}", "%Y-%m-%d %H%M%S")
    except ValueError as exc:
        from iot_lake.errors import KeyRejected

        raise KeyRejected(f"key {key!r} names no valid UTC time: {exc}") from exc
    return Press(match["machine"], when)


def photo_key(bucket: str, key: str) -> str:
    """The row's idempotency key: SHA-256 (hex) of ``<bucket>/<key>``."""
    return hashlib.sha256(f"{bucket}/{key}".encode()).hexdigest()


def photo_url(lake: LakeSettings, bucket: str, key: str) -> str:
    """The URL stored in the row, in a form ``iot_lake.coffee.photo_url`` accepts: the key
    percent-encoded (it may hold ' ', '#', '?'...), so the URL decodes back to it."""
    object_uri(lake, bucket, key)  # refuses a '..' segment
    return get_photo_url(lake)(bucket, key)


def get_photo_url(lake: LakeSettings) -> Callable[[str, str], str]:
    """How a row names the photo ``(bucket, key)``: on ``aws`` the object's regional HTTPS
    URL; on ``local`` the store's own URL (a file, or ``s3://`` of a local endpoint)."""
    if lake.is_local:
        return functools.partial(_store_url, lake)
    return lambda bucket, key: urls.s3_object_url(bucket, lake.region, key)


def _store_url(lake: LakeSettings, bucket: str, key: str) -> str:
    if bucket == LOCAL_BUCKET:
        return urls.object_url(lake.uri("photos"), key)
    return urls.object_url(f"s3://{bucket}", key)


def object_uri(lake: LakeSettings, bucket: str, key: str) -> str:
    """Where the photo is: a file under the photos directory, or ``s3://bucket/key``."""
    if ".." in key.split("/"):
        from iot_lake.errors import KeyRejected

        raise KeyRejected(f"key {key!r} has a '..' segment")
    if bucket == LOCAL_BUCKET:
        return f"{lake.uri('photos').rstrip('/')}/{key}"
    return f"s3://{bucket}/{key}"


def created_objects(event: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(bucket, key) of each ObjectCreated record; S3 URL-encodes keys (space as '+')."""
    for record in event.get("Records") or []:
        if not str(record.get("eventName", "")).startswith("ObjectCreated:"):
            continue
        s3 = record.get("s3") or {}
        bucket = (s3.get("bucket") or {}).get("name")
        key = (s3.get("object") or {}).get("key")
        if bucket and key:
            yield bucket, unquote_plus(key)


def s3_event(bucket: str, key: str, event_time: str = "", region: str = "") -> dict[str, Any]:
    """An S3 notification event with one ObjectCreated:Put record (what S3 sends)."""
    from urllib.parse import quote_plus

    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": region,
                "eventTime": event_time,
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                    "object": {"key": quote_plus(key, safe="/")},
                },
            }
        ]
    }


@dataclass
class Result:
    inserted: int = 0
    duplicates: int = 0
    rejected: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"inserted": self.inserted, "duplicates": self.duplicates, "rejected": self.rejected}


@dataclass
class PhotoHandler:
    """The handler's parts, built once per process (a warm Lambda reuses them)."""

    lake: LakeSettings
    analyzer: Any
    writer: Writer

    def analyze(self, bucket: str, key: str) -> FaceAttributes:
        try:
            if isinstance(self.analyzer, RekognitionFaceAnalyzer):
                return self.analyzer.analyze_object(bucket, key)
            return self.analyzer.analyze(self.read(bucket, key))
        except ValueError as exc:  # OpenCV: not an image
            log.warning("photo %s/%s not judged: %s", bucket, key, exc)
            return FaceAttributes()
        except Exception as exc:
            code = (getattr(exc, "response", None) or {}).get("Error", {}).get("Code")
            if code in NOT_JUDGED_ERRORS:
                log.warning("photo %s/%s not judged by Rekognition: %s", bucket, key, exc)
                return FaceAttributes()
            raise

    def read(self, bucket: str, key: str) -> bytes:
        from iot_lake.storage import filesystem

        fs, path = filesystem(object_uri(self.lake, bucket, key))
        with fs.open(path, "rb") as handle:
            return handle.read()

    def __call__(self, event: Mapping[str, Any]) -> Result:
        result = Result()
        bucket_name, prefix = photos_location(self.lake)
        for bucket, key in created_objects(event):
            try:
                if bucket != bucket_name:
                    from iot_lake.errors import KeyRejected

                    raise KeyRejected(f"bucket {bucket!r} is not the photos bucket {bucket_name!r}")
                press = parse_key(key, prefix)
                url = photo_url(self.lake, bucket, key)
            except ValueError as exc:  # a KeyRejected (errors.py is imported only then)
                from iot_lake.errors import KeyRejected

                if not isinstance(exc, KeyRejected):
                    raise
                log.warning("rejected %s/%s: %s", bucket, key, exc)
                result.rejected.append({"bucket": bucket, "key": key, "reason": str(exc)})
                continue
            attributes = self.analyze(bucket, key)
            params = {
                "machine_id": press.machine_id,
                "photo_url": url,
                "photo_key": photo_key(bucket, key),
                "coffee_hour": press.coffee_hour,
                **attributes.as_row(),
            }
            if self.writer.insert(params):
                result.inserted += 1
            else:
                result.duplicates += 1
        log.info("coffee photos: %s", json.dumps(result.as_dict()))
        return result


_HANDLER: PhotoHandler | None = None


def get_photo_handler(lake: LakeSettings | None = None) -> PhotoHandler:
    """The handler for the configured backend (aws: Rekognition + Data API)."""
    lake = lake or settings()
    if lake.is_local:
        import MySQLdb

        connection = MySQLdb.connect(**mysql_params(), charset="utf8mb4")
        return PhotoHandler(lake, LocalFaceAnalyzer(), MySqlWriter(connection))
    import boto3

    writer = DataApiWriter(
        boto3.client("rds-data", region_name=lake.region),
        cluster_arn=os.environ[CLUSTER_ARN_ENV],
        secret_arn=os.environ[SECRET_ARN_ENV],
        database=os.environ.get(DATABASE_ENV, DEFAULT_DATABASE),
    )
    return PhotoHandler(lake, RekognitionFaceAnalyzer(region=lake.region), writer)


def handler(event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
    """Lambda entry point (and the local notifier's): one S3 notification event."""
    global _HANDLER
    if _HANDLER is None:
        _HANDLER = get_photo_handler()
    try:
        return _HANDLER(event).as_dict()
    except Exception:
        # A database restarted under a warm handler leaves its connection dead: the next
        # event builds new clients instead of failing on it until its retries run out.
        broken, _HANDLER = _HANDLER, None
        close = getattr(getattr(broken.writer, "connection", None), "close", None)
        if close is not None:
            try:
                close()
            except Exception as exc:  # already closed by the server
                log.debug("closing the failed handler's connection: %s", exc)
        raise
