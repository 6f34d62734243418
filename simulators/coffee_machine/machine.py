"""Button presses: the machine takes a photo and uploads it; nothing else.

The key names the press, ``<photos prefix><machine id>/<YYYY-MM-DD>/<HHMMSS>-<id>.<ext>``
(UTC). What happens next is the photo handler's (``iot_lake.coffee.photo_handler``): on
``aws`` S3 notifies the Lambda; on ``local`` the upload queues the same S3 event
(``iot_lake.coffee.local_notifier``) for the notifier that runs the same handler.
On ``aws`` the machine uploads with temporary credentials of its thing certificate
(``simulators.coffee_machine.credentials``), never long-lived keys.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from iot_lake.config import LakeSettings

PHOTOS_DIR = Path(__file__).with_name("photos")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


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


@dataclass
class PressSummary:
    presses: int = 0
    failed: int = 0
    by_machine: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def line(self) -> str:
        return f"coffee machines: presses={self.presses} failed={self.failed}"


@dataclass(frozen=True)
class Press:
    machine_id: str
    coffee_hour: datetime
    photo_uri: str


Uploader = Callable[[str, bytes], str]
"""(name under the photos prefix, bytes) -> the stored object's URI."""


def local_uploader(lake: LakeSettings) -> Uploader:
    """The local backend's PutObject, which also queues the S3 event."""
    from iot_lake.coffee.local_notifier import upload_photo

    return lambda name, image: upload_photo(lake, name, image)


def s3_uploader(lake: LakeSettings, s3_client: Any) -> Uploader:
    """PutObject with the device's own (temporary) credentials."""
    from iot_lake.coffee.photo_handler import photos_location

    bucket, prefix = photos_location(lake)

    def upload(name: str, image: bytes) -> str:
        s3_client.put_object(Bucket=bucket, Key=f"{prefix}{name}", Body=image)
        return f"s3://{bucket}/{prefix}{name}"

    return upload


class CoffeeMachine:
    """One machine: a camera and an upload to the lake's photo store."""

    def __init__(self, machine_id: str, camera: PhotoFolder | Camera, upload: Uploader) -> None:
        self.machine_id = machine_id
        self.camera = camera
        self.upload = upload

    def press(self, when: datetime | None = None) -> Press:
        when = (when or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None, microsecond=0)
        image, suffix = self.camera.take()
        name = f"{self.machine_id}/{when:%Y-%m-%d}/{when:%H%M%S}-{uuid.uuid4().hex[:8]}{suffix}"
        return Press(self.machine_id, when, self.upload(name, image))


def machine_ids(count: int) -> Iterator[str]:
    for number in range(1, count + 1):
        yield f"coffee-machine-{number:02d}"
