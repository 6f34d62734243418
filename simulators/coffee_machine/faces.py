"""Face analysis of a press photo: Amazon Rekognition on ``aws``, OpenCV locally.

Both return :class:`FaceAttributes`, the columns of a ``coffees`` row. An attribute the
analyser cannot judge stays None (NULL): the local Haar cascades have no beard or
mustache model, so those are never filled locally, and their decisions come with no
calibrated confidence, so local confidences are None too.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Protocol

ATTRIBUTES = ("has_face", "smile", "beard", "mustache", "glasses")


@dataclass(frozen=True)
class FaceAttributes:
    has_face: bool | None = None
    has_face_confidence: float | None = None
    smile: bool | None = None
    smile_confidence: float | None = None
    beard: bool | None = None
    beard_confidence: float | None = None
    mustache: bool | None = None
    mustache_confidence: float | None = None
    glasses: bool | None = None
    glasses_confidence: float | None = None

    def as_row(self) -> dict[str, Any]:
        """Column values for ``insert_coffee.sql`` (booleans as 0/1/NULL)."""
        row = asdict(self)
        for name in ATTRIBUTES:
            row[name] = None if row[name] is None else int(row[name])
        return row


class FaceAnalyzer(Protocol):
    name: str

    def analyze(self, image: bytes) -> FaceAttributes: ...


class LocalFaceAnalyzer:
    """OpenCV's bundled Haar cascades (``cv2.data.haarcascades``).

    - face: ``haarcascade_frontalface_default``; the largest face is the customer.
    - smile: ``haarcascade_smile`` in the lower half of that face.
    - glasses: judged only when the eyes are found. The plain eye cascade is trained on
      bare eyes and the ``eye_tree_eyeglasses`` cascade on eyes with or without glasses:
      both eyes found by the plain one -> False; found only by the eyeglasses one ->
      True; otherwise None. A heuristic, documented in docs/coffee.md.
    - beard, mustache: no model, always None.
    """

    name = "local"

    def __init__(self) -> None:
        import cv2

        def cascade(name: str) -> Any:
            classifier = cv2.CascadeClassifier(cv2.data.haarcascades + name)
            if classifier.empty():
                raise RuntimeError(f"OpenCV cascade {name} not found in {cv2.data.haarcascades}")
            return classifier

        self._cv2 = cv2
        self._face = cascade("haarcascade_frontalface_default.xml")
        self._smile = cascade("haarcascade_smile.xml")
        self._eye = cascade("haarcascade_eye.xml")
        self._eye_glasses = cascade("haarcascade_eye_tree_eyeglasses.xml")

    def analyze(self, image: bytes) -> FaceAttributes:
        import numpy as np

        cv2 = self._cv2
        pixels = cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_GRAYSCALE)
        if pixels is None:
            raise ValueError("the photo is not an image OpenCV can decode")
        gray = cv2.equalizeHist(pixels)
        faces = self._face.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(60, 60))
        if len(faces) == 0:
            return FaceAttributes(has_face=False)
        x, y, w, h = max(faces, key=lambda f: f[2] * f[3])
        face = gray[y : y + h, x : x + w]
        mouth = face[h // 2 :, :]
        smiles = self._smile.detectMultiScale(
            mouth, scaleFactor=1.1, minNeighbors=20, minSize=(w // 5, h // 10)
        )
        eyes_band = face[: h * 2 // 3, :]
        min_eye = (w // 8, h // 8)
        bare = self._eye.detectMultiScale(eyes_band, 1.1, 5, minSize=min_eye)
        any_eyes = self._eye_glasses.detectMultiScale(eyes_band, 1.1, 5, minSize=min_eye)
        glasses: bool | None = None
        if len(bare) >= 2:
            glasses = False
        elif len(any_eyes) >= 2:
            glasses = True
        return FaceAttributes(has_face=True, smile=len(smiles) > 0, glasses=glasses)


class RekognitionFaceAnalyzer:
    """Amazon Rekognition ``DetectFaces`` with ``Attributes=["ALL"]``, largest face first."""

    name = "aws"

    def __init__(self, client: Any = None, region: str | None = None) -> None:
        if client is None:
            import boto3

            client = boto3.client("rekognition", region_name=region)
        self._client = client

    def analyze(self, image: bytes) -> FaceAttributes:
        response = self._client.detect_faces(Image={"Bytes": image}, Attributes=["ALL"])
        return attributes_from_rekognition(response)


def attributes_from_rekognition(response: dict[str, Any]) -> FaceAttributes:
    """Map a DetectFaces response to the row: the largest face is the customer."""
    faces = response.get("FaceDetails") or []
    if not faces:
        return FaceAttributes(has_face=False)

    def area(face: dict[str, Any]) -> float:
        box = face.get("BoundingBox") or {}
        return float(box.get("Width", 0)) * float(box.get("Height", 0))

    face = max(faces, key=area)

    def flag(key: str) -> tuple[bool | None, float | None]:
        item = face.get(key)
        if not item or "Value" not in item:
            return None, None
        return bool(item["Value"]), _confidence(item.get("Confidence"))

    smile, smile_c = flag("Smile")
    beard, beard_c = flag("Beard")
    mustache, mustache_c = flag("Mustache")
    eyeglasses, eyeglasses_c = flag("Eyeglasses")
    sunglasses, sunglasses_c = flag("Sunglasses")
    glasses, glasses_c = eyeglasses, eyeglasses_c
    if sunglasses:  # either kind of glasses counts; keep the confidence of the one seen
        glasses, glasses_c = True, sunglasses_c
    return FaceAttributes(
        has_face=True,
        has_face_confidence=_confidence(face.get("Confidence")),
        smile=smile,
        smile_confidence=smile_c,
        beard=beard,
        beard_confidence=beard_c,
        mustache=mustache,
        mustache_confidence=mustache_c,
        glasses=glasses,
        glasses_confidence=glasses_c,
    )


def _confidence(value: Any) -> float | None:
    return None if value is None else round(float(value), 3)


def analyzer_for(backend: str, region: str | None = None) -> FaceAnalyzer:
    """``local`` -> OpenCV, ``aws`` -> Rekognition."""
    if backend == "local":
        return LocalFaceAnalyzer()
    if backend == "aws":
        return RekognitionFaceAnalyzer(region=region)
    raise ValueError(f"unknown face analyzer {backend!r}: use local or aws")
