"""The local analyser's calibration holds: refitting on the shipped labelled faces gives
the shipped models, and their measured accuracy is the one docs/coffee.md states."""

from __future__ import annotations

import json

import pytest

from iot_lake.coffee import face_calibration as fc
from iot_lake.coffee.faces import CALIBRATION_FILE, AttributeModel, load_calibration
from iot_lake.config import PROJECT_ROOT

# What docs/coffee.md reports (shipped model on the labelled set, and 2-fold CV).
DOCUMENTED = {
    "has_face": {"images": 200, "judged": 200, "correct": 199},
    "smile": {"images": 89, "judged": 85, "correct": 74},
    "glasses": {"images": 91, "judged": 55, "correct": 48},
}
DOCUMENTED_CV = {
    "has_face": {"judged": 200, "correct": 199},
    "smile": {"judged": 88, "correct": 75},
    "glasses": {"judged": 56, "correct": 48},
}


@pytest.fixture(scope="module")
def measured():
    analyzer = fc.LocalFaceAnalyzer(calibration={})
    return fc.samples(analyzer)


def test_the_labelled_set_is_what_the_docs_say():
    images = fc.load_images()
    labels = fc.load_labels()
    assert images.shape == (200, 25, 25)
    assert (len(labels["smile"]), sum(labels["smile"].values())) == (89, 22)
    assert (len(labels["glasses"]), sum(labels["glasses"].values())) == (91, 21)


def test_refitting_gives_the_shipped_models(measured):
    shipped = load_calibration()
    for name in fc.ATTRIBUTES:
        model, cross_validated, _ = fc.calibrate(measured[name])
        assert model.threshold == shipped[name].threshold, name
        assert model.weights == pytest.approx(shipped[name].weights, abs=1e-5), name
        assert model.bias == pytest.approx(shipped[name].bias, abs=1e-5), name
        assert cross_validated.accuracy >= fc.TARGET_ACCURACY, name
        want = DOCUMENTED_CV[name]
        assert (cross_validated.judged, cross_validated.correct) == (
            want["judged"], want["correct"],
        ), name  # fmt: skip


def test_the_shipped_models_measure_as_documented(measured):
    shipped = load_calibration()
    for name, want in DOCUMENTED.items():
        m = fc.measure(shipped[name], measured[name])
        assert (m.images, m.judged, m.correct) == (
            want["images"], want["judged"], want["correct"],
        ), name  # fmt: skip
    doc = (PROJECT_ROOT / "docs" / "coffee.md").read_text()
    for name, want in DOCUMENTED.items():
        assert f"| {name} | {want['images']} | {want['judged']} |" in doc, name


def test_below_the_threshold_an_attribute_is_not_judged():
    model = AttributeModel(weights=(1.0,), bias=-2.0, threshold=80.0)
    assert model.judge((0.0,)) == (False, pytest.approx(88.080, abs=1e-3))
    value, confidence = model.judge((6.0,))  # log1p(6) ~ 1.95: p ~ 0.49, unsure
    assert (value, confidence) == (None, None)
    assert model.judge((400.0,))[0] is True


def test_the_calibration_file_is_what_the_tool_writes(tmp_path):
    data = json.loads(CALIBRATION_FILE.read_text())
    assert data["target_accuracy"] == fc.TARGET_ACCURACY
    assert set(data["attributes"]) == set(fc.ATTRIBUTES)
    models = {name: AttributeModel(tuple(s["weights"]), s["bias"], s["threshold"])
              for name, s in data["attributes"].items()}  # fmt: skip
    fc.write(models, tmp_path / "c.json")
    assert json.loads((tmp_path / "c.json").read_text()) == data
