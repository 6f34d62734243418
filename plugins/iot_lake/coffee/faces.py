"""Face analysis of a press photo: Amazon Rekognition on ``aws``, OpenCV locally.

Both return :class:`FaceAttributes`, the columns of a ``coffees`` row. Every judged
attribute comes with a confidence (0..100); an attribute the analyser cannot judge with
enough confidence stays None (NULL, "not judged", never "no"). Rekognition gives its own
confidences. The local analyser turns the evidence of OpenCV's Haar cascades (how many
overlapping detections agree) into a probability with a logistic fit calibrated on
labelled faces (``include/faces/local_calibration.json``, made by
:mod:`iot_lake.coffee.face_calibration`) and leaves an attribute NULL below the
calibrated threshold. Beard and mustache have no local model: always NULL locally.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any, Protocol

from iot_lake.config import INCLUDE_DIR

ATTRIBUTES = ("has_face", "smile", "beard", "mustache", "glasses")
CALIBRATION_FILE = INCLUDE_DIR / "faces" / "local_calibration.json"
SMILE_FACE_SIZE = 60
"""Side in pixels the face is resized to for the smile cascade (it separates smiles best
at this scale on the labelled faces: see docs/coffee.md)."""
EYES_FACE_SIZE = 80
"""Side in pixels the face is resized to for the two eye cascades."""


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
        """Column values for the insert statements (booleans as 0/1/NULL)."""
        row = asdict(self)
        for name in ATTRIBUTES:
            row[name] = None if row[name] is None else int(row[name])
        return row


class FaceAnalyzer(Protocol):
    name: str

    def analyze(self, image: bytes) -> FaceAttributes: ...


@dataclass(frozen=True)
class AttributeModel:
    """p(attribute) = sigmoid(bias + weights . log1p(evidence)); judged when confident.

    ``threshold`` is the confidence (0..100, the probability of the value reported)
    below which the attribute is reported NULL.
    """

    weights: tuple[float, ...]
    bias: float
    threshold: float

    def probability(self, evidence: tuple[float, ...]) -> float:
        z = self.bias + sum(w * math.log1p(x) for w, x in zip(self.weights, evidence, strict=True))
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))

    def judge(self, evidence: tuple[float, ...]) -> tuple[bool | None, float | None]:
        """(value, confidence) or (None, None) when not confident enough."""
        p = self.probability(evidence)
        value = p >= 0.5
        confidence = round(100.0 * (p if value else 1.0 - p), 3)
        if confidence < self.threshold:
            return None, None
        return value, confidence


@cache
def load_calibration(path: Path = CALIBRATION_FILE) -> dict[str, AttributeModel]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return {
        name: AttributeModel(tuple(spec["weights"]), float(spec["bias"]), float(spec["threshold"]))
        for name, spec in data["attributes"].items()
    }


@dataclass(frozen=True)
class Evidence:
    """What the cascades saw: the best detection's neighbour count per cascade."""

    face: float
    smile: float = 0.0
    eye: float = 0.0
    eye_or_glasses: float = 0.0

    def of(self, attribute: str) -> tuple[float, ...]:
        return {
            "has_face": (self.face,),
            "smile": (self.smile,),
            "glasses": (self.eye, self.eye_or_glasses),
        }[attribute]


class LocalFaceAnalyzer:
    """OpenCV's bundled Haar cascades (``cv2.data.haarcascades``), with calibrated confidence.

    - face: ``haarcascade_frontalface_default``; the detection most neighbouring
      windows agree on is the customer, and that count is the evidence.
    - smile: ``haarcascade_smile`` in the lower half of that face (resized to 60 px).
    - glasses: ``haarcascade_eye`` (trained on bare eyes) against
      ``haarcascade_eye_tree_eyeglasses`` (eyes with or without glasses) in the upper
      two thirds (face resized to 80 px). On the labelled faces this evidence only
      ever supports "no glasses" (see docs/coffee.md).
    - beard, mustache: no model, always None.

    The neighbour counts go through the logistic models of the calibration file; an
    attribute is reported only when its confidence reaches the calibrated threshold.
    """

    name = "local"

    def __init__(self, calibration: dict[str, AttributeModel] | None = None) -> None:
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
        self.models = calibration if calibration is not None else load_calibration()

    def decode(self, image: bytes) -> Any:
        import numpy as np

        pixels = self._cv2.imdecode(np.frombuffer(image, np.uint8), self._cv2.IMREAD_GRAYSCALE)
        if pixels is None:
            raise ValueError("the photo is not an image OpenCV can decode")
        return pixels

    def analyze(self, image: bytes) -> FaceAttributes:
        return self.analyze_gray(self.decode(image))

    @staticmethod
    def _best(classifier: Any, pixels: Any, min_size: tuple[int, int]) -> tuple[Any, int]:
        """(box, neighbours) of the detection most windows agree on, or (None, 0)."""
        boxes, neighbours = classifier.detectMultiScale2(
            pixels, scaleFactor=1.05, minNeighbors=1, minSize=min_size
        )
        if len(boxes) == 0:
            return None, 0
        best = max(range(len(boxes)), key=lambda i: (int(neighbours[i]), int(boxes[i][2])))
        return boxes[best], int(neighbours[best])

    def _resized(self, face: Any, size: int) -> Any:
        cv2 = self._cv2
        return cv2.equalizeHist(cv2.resize(face, (size, size), interpolation=cv2.INTER_CUBIC))

    def face_evidence(self, face: Any) -> Evidence:
        """Smile and eye evidence in a face region of any size."""
        size = SMILE_FACE_SIZE
        mouth = self._resized(face, size)[size // 2 :, :]
        _, smile = self._best(self._smile, mouth, (size // 5, size // 10))
        size = EYES_FACE_SIZE
        eyes_band = self._resized(face, size)[: size * 2 // 3, :]
        _, eye = self._best(self._eye, eyes_band, (size // 8, size // 8))
        _, any_eye = self._best(self._eye_glasses, eyes_band, (size // 8, size // 8))
        return Evidence(face=0.0, smile=smile, eye=eye, eye_or_glasses=any_eye)

    def evidence(self, gray: Any) -> tuple[Evidence, Any]:
        """(evidence, face box or None) for a whole grayscale photo."""
        equalized = self._cv2.equalizeHist(gray)
        box, face_votes = self._best(self._face, equalized, (60, 60))
        if box is None:
            return Evidence(face=0.0), None
        x, y, w, h = (int(v) for v in box)
        found = self.face_evidence(gray[y : y + h, x : x + w])
        return Evidence(face_votes, found.smile, found.eye, found.eye_or_glasses), box

    def judge(self, evidence: Evidence, face_found: bool = True) -> FaceAttributes:
        has_face, has_face_c = self.models["has_face"].judge(evidence.of("has_face"))
        values: dict[str, Any] = {"has_face": has_face, "has_face_confidence": has_face_c}
        if face_found and has_face is not False:
            for name in ("smile", "glasses"):
                value, confidence = self.models[name].judge(evidence.of(name))
                values[name], values[f"{name}_confidence"] = value, confidence
        return FaceAttributes(**values)

    def analyze_gray(self, gray: Any) -> FaceAttributes:
        evidence, box = self.evidence(gray)
        return self.judge(evidence, face_found=box is not None)


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

    def analyze_object(self, bucket: str, key: str) -> FaceAttributes:
        """Rekognition reads the photo from S3 itself: the Lambda never downloads it."""
        response = self._client.detect_faces(
            Image={"S3Object": {"Bucket": bucket, "Name": key}}, Attributes=["ALL"]
        )
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
