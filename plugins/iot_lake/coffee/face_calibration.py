"""Calibrate and measure the local face analyser on the labelled faces the repository ships.

``python -m iot_lake.coffee.face_calibration [--write]`` fits, per attribute, the logistic
model of :class:`iot_lake.coffee.faces.AttributeModel` on the cascades' evidence, picks
the lowest confidence threshold whose judged answers reach ``TARGET_ACCURACY`` in a
two-fold cross-validation (fit on one half, judge the other), prints the measured
accuracy and, with ``--write``, stores the models in ``include/faces/local_calibration.json``.

The labelled set (``tests/data/faces/``): scikit-image's ``lfw_subset`` (100 face crops
and 100 non-face background crops, 25x25 pixels, from Labeled Faces in the Wild),
labelled by hand for smile and glasses in ``labels.csv`` (blank = could not tell; such
faces are left out of that attribute's figures).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iot_lake.coffee.faces import CALIBRATION_FILE, AttributeModel, Evidence, LocalFaceAnalyzer
from iot_lake.config import PROJECT_ROOT

DATA_DIR = PROJECT_ROOT / "tests" / "data" / "faces"
ATTRIBUTES = ("has_face", "smile", "glasses")
TARGET_ACCURACY = 0.85
THRESHOLDS = tuple(float(t) for t in range(50, 100))
CROP_SIDE = 120  # the 25x25 crops are upscaled to this before the cascades run
PAD = 0.3  # replicated border around a crop, so the face cascade sees the face's edge


@dataclass(frozen=True)
class Sample:
    index: int
    evidence: tuple[float, ...]
    label: bool


def load_images(data_dir: Path = DATA_DIR) -> Any:
    """The 200 crops as uint8 (faces 0..99, non-faces 100..199)."""
    import numpy as np

    return (np.load(data_dir / "lfw_subset.npy") * 255).round().astype(np.uint8)


def load_labels(data_dir: Path = DATA_DIR) -> dict[str, dict[int, bool]]:
    """attribute -> {face index: label}; blank cells (could not tell) are left out."""
    labels: dict[str, dict[int, bool]] = {"smile": {}, "glasses": {}}
    with (data_dir / "labels.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            for name in labels:
                if row[name].strip():
                    labels[name][int(row["index"])] = row[name].strip() == "1"
    return labels


def samples(analyzer: LocalFaceAnalyzer, data_dir: Path = DATA_DIR) -> dict[str, list[Sample]]:
    """Evidence and label of every labelled image, per attribute.

    ``has_face`` runs the whole-photo path on each crop (upscaled, border added); smile
    and glasses run on the known face region, as they do behind a detected face.
    """
    cv2 = analyzer._cv2
    images = load_images(data_dir)
    labels = load_labels(data_dir)
    out: dict[str, list[Sample]] = {name: [] for name in ATTRIBUTES}
    pad = int(CROP_SIDE * PAD)
    for index, crop in enumerate(images):
        big = cv2.resize(crop, (CROP_SIDE, CROP_SIDE), interpolation=cv2.INTER_CUBIC)
        photo = cv2.copyMakeBorder(big, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        whole, _ = analyzer.evidence(photo)
        out["has_face"].append(Sample(index, whole.of("has_face"), index < 100))
        if index >= 100:
            continue
        face: Evidence = analyzer.face_evidence(crop)
        for name in ("smile", "glasses"):
            if index in labels[name]:
                out[name].append(Sample(index, face.of(name), labels[name][index]))
    return out


def fit(data: Sequence[Sample], l2: float = 0.1) -> tuple[tuple[float, ...], float]:
    """Logistic regression on log1p(evidence) by Newton's method (small L2 on weights)."""
    import numpy as np

    x = np.log1p(np.array([s.evidence for s in data], dtype=float))
    x = np.hstack([x, np.ones((len(data), 1))])
    y = np.array([s.label for s in data], dtype=float)
    w = np.zeros(x.shape[1])
    ridge = np.diag([l2] * (x.shape[1] - 1) + [0.0])
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ w, -60, 60)))
        gradient = x.T @ (p - y) + ridge @ w
        hessian = x.T @ (x * (p * (1 - p))[:, None]) + ridge + 1e-9 * np.eye(len(w))
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-10:
            break
    return tuple(round(float(v), 6) for v in w[:-1]), round(float(w[-1]), 6)


@dataclass(frozen=True)
class Measure:
    images: int
    judged: int
    correct: int
    judged_yes: int = 0
    correct_yes: int = 0

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.judged if self.judged else None

    def line(self, name: str) -> str:
        accuracy = "-" if self.accuracy is None else f"{100 * self.accuracy:.1f} %"
        return (
            f"{name}: images={self.images} judged={self.judged} "
            f"null={self.images - self.judged} correct={self.correct} accuracy={accuracy} "
            f"judged_yes={self.judged_yes} correct_yes={self.correct_yes}"
        )

    def __add__(self, other: Measure) -> Measure:
        return Measure(*(a + b for a, b in zip(self.astuple(), other.astuple(), strict=True)))

    def astuple(self) -> tuple[int, ...]:
        return (self.images, self.judged, self.correct, self.judged_yes, self.correct_yes)


def measure(model: AttributeModel, data: Sequence[Sample]) -> Measure:
    judged = correct = judged_yes = correct_yes = 0
    for sample in data:
        value, _ = model.judge(sample.evidence)
        if value is not None:
            judged += 1
            correct += value == sample.label
            judged_yes += value
            correct_yes += value and sample.label
    return Measure(len(data), judged, correct, judged_yes, correct_yes)


def cross_validated(data: Sequence[Sample], threshold: float) -> Measure:
    """Two folds by index parity: each half judged by the model fitted on the other."""
    total = Measure(0, 0, 0)
    for fold in (0, 1):
        train = [s for s in data if s.index % 2 != fold]
        test = [s for s in data if s.index % 2 == fold]
        weights, bias = fit(train)
        total = total + measure(AttributeModel(weights, bias, threshold), test)
    return total


def calibrate(data: Sequence[Sample]) -> tuple[AttributeModel, Measure, Measure]:
    """(model fitted on all, its cross-validated measure, its in-sample measure).

    The threshold is the lowest whose cross-validated judged accuracy reaches the target;
    when none does, 100.0 + 1: the attribute is never judged.
    """
    weights, bias = fit(data)
    for threshold in THRESHOLDS:
        cv = cross_validated(data, threshold)
        if cv.judged and cv.accuracy is not None and cv.accuracy >= TARGET_ACCURACY:
            model = AttributeModel(weights, bias, threshold)
            return model, cv, measure(model, data)
    model = AttributeModel(weights, bias, 101.0)
    return model, cross_validated(data, 101.0), measure(model, data)


def run(data_dir: Path = DATA_DIR) -> tuple[dict[str, AttributeModel], list[str]]:
    analyzer = LocalFaceAnalyzer(calibration={})
    per_attribute = samples(analyzer, data_dir)
    models: dict[str, AttributeModel] = {}
    lines: list[str] = []
    for name in ATTRIBUTES:
        model, cv, in_sample = calibrate(per_attribute[name])
        models[name] = model
        positives = sum(s.label for s in per_attribute[name])
        lines.append(
            f"{cv.line(name)} (2-fold cross-validated; threshold={model.threshold:g}, "
            f"positives={positives})"
        )
        lines.append(f"{in_sample.line(name)} (shipped model, in sample)")
    return models, lines


def write(models: dict[str, AttributeModel], path: Path = CALIBRATION_FILE) -> None:
    data = {
        "about": "made by python -m iot_lake.coffee.face_calibration --write; see docs/coffee.md",
        "target_accuracy": TARGET_ACCURACY,
        "attributes": {
            name: {"weights": list(m.weights), "bias": m.bias, "threshold": m.threshold}
            for name, m in models.items()
        },
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA_DIR)
    parser.add_argument("--write", action="store_true", help=f"write {CALIBRATION_FILE}")
    args = parser.parse_args(argv)
    models, lines = run(args.data)
    for line in lines:
        print(line)
    if args.write:
        write(models)
        print(f"wrote {CALIBRATION_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
