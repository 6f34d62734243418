"""Button presses: photo -> lake ``photos/`` -> face analysis -> a ``coffees`` row.

The photo store is the lake's (``settings().uri("photos")``): a directory on ``local``,
S3 on ``aws``. The row's ``photo_url`` is the ``file://`` URL locally and the
virtual-hosted ``https://<bucket>.s3.<region>.amazonaws.com/<key>`` URL on ``aws``,
the forms the export accepts (``iot_lake.coffee.photo_url``).
"""

from __future__ import annotations

import json
import os
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from iot_lake.config import SQL_DIR, LakeSettings
from iot_lake.storage import atomic_open, join
from simulators.coffee_machine.faces import FaceAnalyzer

PHOTOS_DIR = Path(__file__).with_name("photos")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
DEFAULT_MYSQL_URL = "mysql://root@127.0.0.1:3306/iot_lake"
CONN_ENV = "AIRFLOW_CONN_COFFEE_MYSQL"


class PhotoFolder:
    """Photos taken from a folder, in a seeded random order (a camera stand-in)."""

    def __init__(self, folder: Path = PHOTOS_DIR, seed: int | None = None) -> None:
        self.files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self.files:
            raise FileNotFoundError(f"no {'/'.join(IMAGE_SUFFIXES)} images in {folder}")
        self._random = random.Random(seed)

    def take(self) -> tuple[bytes, str]:
        path = self._random.choice(self.files)
        return path.read_bytes(), path.suffix.lower()


class Camera:
    """A real camera through OpenCV (``--camera 0``); each press grabs one JPEG frame."""

    def __init__(self, index: int) -> None:
        import cv2

        self._cv2 = cv2
        self._capture = cv2.VideoCapture(index)
        if not self._capture.isOpened():
            raise RuntimeError(f"camera {index} cannot be opened")

    def take(self) -> tuple[bytes, str]:
        ok, frame = self._capture.read()
        if not ok:
            raise RuntimeError("the camera returned no frame")
        ok, encoded = self._cv2.imencode(".jpg", frame)
        if not ok:
            raise RuntimeError("the camera frame could not be encoded as JPEG")
        return encoded.tobytes(), ".jpg"


def mysql_params(url_or_json: str | None = None) -> dict[str, Any]:
    """MySQLdb.connect() arguments from an Airflow connection (URI or JSON) or a URL.

    The simulator runs without Airflow, so it reads ``AIRFLOW_CONN_COFFEE_MYSQL`` (the
    same value the DAG uses) itself.
    """
    raw = url_or_json or os.environ.get(CONN_ENV) or DEFAULT_MYSQL_URL
    if raw.lstrip().startswith("{"):
        conn = json.loads(raw)
        host, port = conn.get("host") or "127.0.0.1", int(conn.get("port") or 3306)
        user, password = conn.get("login") or "root", conn.get("password") or ""
        database = conn.get("schema") or ""
    else:
        parts = urlsplit(raw)
        host, port = parts.hostname or "127.0.0.1", parts.port or 3306
        user, password = unquote(parts.username or "root"), unquote(parts.password or "")
        database = parts.path.lstrip("/")
    if not database:
        raise ValueError(f"the MySQL connection names no database: {raw!r}")
    return {"host": host, "port": port, "user": user, "passwd": password, "db": database}


def connect(params: dict[str, Any], create_schema: bool = False) -> Any:
    """A MySQLdb connection (autocommit); optionally create database and table first."""
    import MySQLdb

    if create_schema:
        admin = MySQLdb.connect(**{**params, "db": ""}, autocommit=True)
        try:
            name = params["db"].replace("`", "``")
            admin.cursor().execute(f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4")
        finally:
            admin.close()
    connection = MySQLdb.connect(**params, autocommit=True, charset="utf8mb4")
    if create_schema:
        connection.cursor().execute((SQL_DIR / "aurora" / "coffees.sql").read_text())
    return connection


def photo_url(lake: LakeSettings, uri: str) -> str:
    """The URL stored in the row for an uploaded photo object."""
    if lake.is_local or not uri.startswith("s3://"):
        return uri
    bucket, _, key = uri[len("s3://") :].partition("/")
    return f"https://{bucket}.s3.{lake.region}.amazonaws.com/{key}"


@dataclass
class PressSummary:
    presses: int = 0
    faces: int = 0
    smiles: int = 0
    failed: int = 0
    by_machine: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"coffee machines: presses={self.presses} faces={self.faces} "
            f"smiles={self.smiles} failed={self.failed}"
        )


@dataclass(frozen=True)
class Press:
    id: int
    machine_id: str
    coffee_hour: datetime
    photo_url: str
    attributes: dict[str, Any]


class CoffeeMachine:
    """One machine: a camera, an analyser, the lake's photo store and the coffees table."""

    def __init__(
        self,
        machine_id: str,
        camera: PhotoFolder | Camera,
        analyzer: FaceAnalyzer,
        lake: LakeSettings,
        connection: Any,
    ) -> None:
        self.machine_id = machine_id
        self.camera = camera
        self.analyzer = analyzer
        self.lake = lake
        self.connection = connection
        self._insert = (SQL_DIR / "aurora" / "insert_coffee.sql").read_text()

    def press(self, when: datetime | None = None) -> Press:
        when = (when or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None, microsecond=0)
        image, suffix = self.camera.take()
        key = f"{self.machine_id}/{when:%Y-%m-%d}/{when:%H%M%S}-{uuid.uuid4().hex[:8]}{suffix}"
        uri = join(self.lake.uri("photos"), key)
        with atomic_open(uri) as handle:
            handle.write(image)
        attributes = self.analyzer.analyze(image).as_row()
        url = photo_url(self.lake, uri)
        with self.connection.cursor() as cursor:
            cursor.execute(
                self._insert,
                {
                    "machine_id": self.machine_id,
                    "photo_url": url,
                    "coffee_hour": when,
                    **attributes,
                },
            )
            row_id = int(cursor.lastrowid)
        return Press(row_id, self.machine_id, when, url, attributes)


def machine_ids(count: int) -> Iterator[str]:
    for number in range(1, count + 1):
        yield f"coffee-machine-{number:02d}"
