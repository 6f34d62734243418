"""The coffee machine simulator and the face analysers: real analysis of the bundled
photos, real presses handled by the photo handler."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from iot_lake.coffee import export
from iot_lake.coffee.faces import (
    LocalFaceAnalyzer,
    RekognitionFaceAnalyzer,
    attributes_from_rekognition,
)
from iot_lake.coffee.local_notifier import drain
from iot_lake.coffee.photo_writers import mysql_params
from iot_lake.storage import filesystem
from simulators.coffee_machine.__main__ import main
from simulators.coffee_machine.machine import PHOTOS_DIR
from tests.coffee.conftest import DAY, END, START


@pytest.fixture(scope="module")
def local_analyzer() -> LocalFaceAnalyzer:
    return LocalFaceAnalyzer()


def test_local_analysis_finds_the_astronauts_smile_and_leaves_beards_unknown(local_analyzer):
    found = local_analyzer.analyze((PHOTOS_DIR / "astronaut.png").read_bytes())
    assert (found.has_face, found.smile, found.glasses) == (True, True, False)
    assert found.beard is None and found.mustache is None  # no local model: never invented
    for name in ("has_face", "smile", "glasses"):  # each judged value has its confidence
        threshold = local_analyzer.models[name].threshold
        assert threshold <= getattr(found, f"{name}_confidence") <= 100


def test_local_analysis_does_not_deny_what_it_cannot_see(local_analyzer):
    # Grace Hopper wears glasses; the eye cascades find too little to say so, and the
    # calibrated analyser leaves glasses NULL instead of the old analyser's "no".
    found = local_analyzer.analyze((PHOTOS_DIR / "grace_hopper.jpg").read_bytes())
    assert found.has_face is True
    assert (found.glasses, found.glasses_confidence) == (None, None)


@pytest.mark.parametrize("photo", ["coffee.png", "chelsea.png"])
def test_local_analysis_finds_no_human_face_in_a_cup_or_a_cat(local_analyzer, photo):
    found = local_analyzer.analyze((PHOTOS_DIR / photo).read_bytes())
    assert found.has_face is False and found.has_face_confidence >= 50
    assert (found.smile, found.beard, found.mustache, found.glasses) == (None,) * 4


def test_local_analysis_rejects_bytes_that_are_not_an_image(local_analyzer):
    with pytest.raises(ValueError, match="not an image"):
        local_analyzer.analyze(b"not a jpeg")


def test_rekognition_largest_face_is_the_customer_and_sunglasses_count_as_glasses():
    response = {
        "FaceDetails": [
            {"BoundingBox": {"Width": 0.1, "Height": 0.1}, "Confidence": 90.0,
             "Smile": {"Value": False, "Confidence": 80.0}},
            {"BoundingBox": {"Width": 0.4, "Height": 0.5}, "Confidence": 99.91234,
             "Smile": {"Value": True, "Confidence": 97.5},
             "Beard": {"Value": False, "Confidence": 88.0},
             "Mustache": {"Value": True, "Confidence": 71.0},
             "Eyeglasses": {"Value": False, "Confidence": 60.0},
             "Sunglasses": {"Value": True, "Confidence": 93.0}},
        ]
    }  # fmt: skip
    row = attributes_from_rekognition(response).as_row()
    assert row["has_face"] == 1 and row["has_face_confidence"] == pytest.approx(99.912)
    assert (row["smile"], row["beard"], row["mustache"], row["glasses"]) == (1, 0, 1, 1)
    assert row["glasses_confidence"] == 93.0
    assert attributes_from_rekognition({"FaceDetails": []}).as_row()["has_face"] == 0


def test_rekognition_analyzer_calls_detect_faces_with_all_attributes():
    # moto has no DetectFaces: botocore's Stubber checks the request against the
    # service model and returns a response of the documented shape.
    client = boto3.client("rekognition", region_name="us-east-1")
    photo = (PHOTOS_DIR / "astronaut.png").read_bytes()
    response = {
        "FaceDetails": [
            {"BoundingBox": {"Width": 0.2, "Height": 0.3}, "Confidence": 99.99,
             "Smile": {"Value": True, "Confidence": 98.0},
             "Beard": {"Value": False, "Confidence": 97.0},
             "Mustache": {"Value": False, "Confidence": 96.0},
             "Eyeglasses": {"Value": False, "Confidence": 95.0}}
        ]
    }  # fmt: skip
    with Stubber(client) as stub:
        stub.add_response(
            "detect_faces", response, {"Image": {"Bytes": photo}, "Attributes": ["ALL"]}
        )
        found = RekognitionFaceAnalyzer(client).analyze(photo)
        stub.assert_no_pending_responses()
    assert (found.has_face, found.smile, found.beard, found.mustache, found.glasses) == (
        True, True, False, False, False,
    )  # fmt: skip
    assert found.beard_confidence == 97.0


def test_the_connection_is_read_like_airflow_does_uri_or_json():
    assert mysql_params("mysql://bob:s%40cret@db.local:3307/coffee") == {
        "host": "db.local", "port": 3307, "user": "bob", "passwd": "s@cret", "db": "coffee",
    }  # fmt: skip
    as_json = '{"conn_type": "mysql", "host": "h", "login": "u", "schema": "c"}'
    assert mysql_params(as_json) == {
        "host": "h",
        "port": 3306,
        "user": "u",
        "passwd": "",
        "db": "c",
    }
    with pytest.raises(ValueError, match="names no database"):
        mysql_params("mysql://root@127.0.0.1:3306")


def test_presses_handled_by_the_photo_handler_export_without_rejects(
    coffee_db, lake_settings, capsys, monkeypatch
):
    from iot_lake.coffee import photo_handler

    monkeypatch.setenv("AIRFLOW_CONN_COFFEE_MYSQL", coffee_db.connection_json())
    monkeypatch.setattr(photo_handler, "_HANDLER", None)  # built for this lake and database
    status = main(["--machines", "2", "--presses", "5", "--rate", "0", "--day", DAY, "--seed", "3"])
    handled = drain(lake_settings)
    monkeypatch.setattr(photo_handler, "_HANDLER", None)

    assert status == 0
    assert "presses=5" in capsys.readouterr().err
    assert (handled.inserted, handled.failed) == (5, [])
    rows = coffee_db.execute("SELECT machine_id, photo_url, has_face, beard FROM coffees")
    assert sorted({r[0] for r in rows}) == ["coffee-machine-01", "coffee-machine-02"]
    for _, url, has_face, beard in rows:
        fs, path = filesystem(url)
        assert fs.exists(path) and url.startswith(lake_settings.uri("photos"))
        assert has_face in (0, 1) and beard is None
    result = export.export_day(DAY, START, END, lake=lake_settings)
    assert (result.exported, result.rejected) == (5, 0)
