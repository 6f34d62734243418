"""The coffee photo handler (the Lambda's code) on S3 events, writing into the real MariaDB."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from contextlib import closing
from datetime import datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from iot_lake.coffee import photo_handler as ph
from iot_lake.coffee import photo_writers as pw
from iot_lake.coffee.faces import FaceAttributes, LocalFaceAnalyzer, RekognitionFaceAnalyzer
from iot_lake.coffee.local_notifier import upload_photo
from iot_lake.errors import KeyRejected
from iot_lake.provisioning.lambda_package import lambda_zip
from simulators.coffee_machine.machine import PHOTOS_DIR

ASTRONAUT = (PHOTOS_DIR / "astronaut.png").read_bytes()
NAME = "coffee-machine-01/2026-11-20/081502-abcd1234.png"


@pytest.fixture(scope="module")
def analyzer() -> LocalFaceAnalyzer:
    return LocalFaceAnalyzer()


@pytest.fixture
def handler(coffee_db, lake_settings, analyzer):
    connection = coffee_db.connect()
    yield ph.PhotoHandler(lake_settings, analyzer, pw.MySqlWriter(connection))
    connection.close()


def rows(db) -> list[tuple[Any, ...]]:
    return db.execute(
        "SELECT machine_id, photo_url, photo_key, coffee_hour, has_face, smile, "
        "smile_confidence, beard, glasses FROM coffees ORDER BY id"
    )


def test_a_photo_event_makes_one_row_and_a_redelivery_changes_nothing(
    handler, coffee_db, lake_settings
):
    uri = upload_photo(lake_settings, NAME, ASTRONAUT)
    event = ph.s3_event(ph.LOCAL_BUCKET, NAME)

    first = handler(event)
    again = handler(event)

    assert (first.inserted, first.duplicates, again.inserted, again.duplicates) == (1, 0, 0, 1)
    [row] = rows(coffee_db)
    machine, url, key, hour, has_face, smile, smile_c, beard, _ = row
    assert (machine, url, hour) == ("coffee-machine-01", uri, datetime(2026, 11, 20, 8, 15, 2))
    assert key == ph.photo_key(ph.LOCAL_BUCKET, NAME) and len(key) == 64
    assert (has_face, smile, beard) == (1, 1, None) and smile_c > 50


def test_keys_that_name_no_press_are_rejected_with_their_reason_and_nothing_is_written(
    handler, coffee_db
):
    event = {
        "Records": [
            *ph.s3_event(ph.LOCAL_BUCKET, "coffee-machine-01/2026-13-40/081502-x.png")["Records"],
            *ph.s3_event(ph.LOCAL_BUCKET, "notes/readme.txt")["Records"],
            *ph.s3_event("someone-elses-bucket", NAME)["Records"],
            {"eventName": "ObjectRemoved:Delete", "s3": {"bucket": {"name": "x"}}},
        ]
    }
    result = handler(event)
    reasons = [r["reason"] for r in result.rejected]
    assert result.inserted == 0 and rows(coffee_db) == []
    assert "no valid UTC time" in reasons[0]
    assert "<machine>/<YYYY-MM-DD>/<HHMMSS>" in reasons[1]
    assert "not the photos bucket" in reasons[2]
    assert len(reasons) == 3  # the delete is no ObjectCreated record: ignored


def test_a_photo_that_is_not_an_image_is_still_a_coffee_with_nothing_judged(
    handler, coffee_db, lake_settings
):
    name = "coffee-machine-02/2026-11-20/120000-broken.jpg"
    upload_photo(lake_settings, name, b"\xff\xd8 not really a jpeg")
    assert handler(ph.s3_event(ph.LOCAL_BUCKET, name)).inserted == 1
    [row] = rows(coffee_db)
    assert row[4:] == (None, None, None, None, None)


def test_keys_arrive_url_encoded_as_s3_sends_them():
    event = ph.s3_event("b", "photos/coffee machine+1/x.png")
    assert event["Records"][0]["s3"]["object"]["key"] == "photos/coffee+machine%2B1/x.png"
    assert list(ph.created_objects(event)) == [("b", "photos/coffee machine+1/x.png")]


class DataApiOnMariaDB:
    """The RDS Data API's ExecuteStatement, answered by MariaDB: the typed parameters are
    decoded as Aurora does and the very SQL text sent to the API is executed."""

    def __init__(self, db) -> None:
        self.db = db
        self.requests: list[dict[str, Any]] = []

    def execute_statement(self, **request: Any) -> dict[str, Any]:
        self.requests.append(request)
        values = {}
        for parameter in request["parameters"]:
            [(kind, value)] = parameter["value"].items()
            values[parameter["name"]] = None if kind == "isNull" else value
        with closing(self.db.connect()) as conn, closing(conn.cursor()) as cursor:
            cursor.execute(pw.pyformat(request["sql"]), values)
            return {"numberOfRecordsUpdated": cursor.rowcount}


def test_the_data_api_write_path_lands_the_same_row_in_mysql(coffee_db, lake_settings):
    api = DataApiOnMariaDB(coffee_db)
    writer = pw.DataApiWriter(api, "arn:aws:rds:eu-west-1:1:cluster:c", "arn:secret", "iot_lake")
    params = {
        "machine_id": "coffee-machine-03",
        "photo_url": "https://b.s3.eu-west-1.amazonaws.com/photos/x.jpg",
        "photo_key": ph.photo_key("b", "photos/x.jpg"),
        "coffee_hour": datetime(2026, 11, 20, 23, 59, 59),
        **FaceAttributes(has_face=True, has_face_confidence=99.5, smile=False,
                         smile_confidence=87.25).as_row(),
    }  # fmt: skip
    assert writer.insert(params) is True
    assert writer.insert(params) is False  # redelivery: the unique photo_key holds
    [row] = coffee_db.execute(
        "SELECT coffee_hour, has_face, has_face_confidence, smile, smile_confidence, glasses "
        "FROM coffees"
    )
    assert row == (datetime(2026, 11, 20, 23, 59, 59), 1, 99.5, 0, 87.25, None)
    sent = api.requests[0]
    assert sent["sql"] == pw.data_api_sql(pw.INSERT_SQL.read_text()) and "--" not in sent["sql"]
    assert sent["database"] == "iot_lake"
    typed = {p["name"]: p for p in sent["parameters"]}
    assert typed["coffee_hour"] == {
        "name": "coffee_hour",
        "value": {"stringValue": "2026-11-20 23:59:59"},
        "typeHint": "TIMESTAMP",
    }
    assert typed["glasses"]["value"] == {"isNull": True}
    assert typed["has_face"]["value"] == {"longValue": 1}


def test_the_data_api_request_is_valid_for_the_service_model():
    client = boto3.client("rds-data", region_name="eu-west-1")
    cluster = "arn:aws:rds:eu-west-1:123456789012:cluster:c"
    secret = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:s"
    writer = pw.DataApiWriter(client, cluster, secret, "db")
    params = {"machine_id": "m", "coffee_hour": datetime(2026, 1, 1), "smile": None}
    with Stubber(client) as stub:
        stub.add_response(
            "execute_statement",
            {"numberOfRecordsUpdated": 1},
            {
                "resourceArn": writer.cluster_arn,
                "secretArn": writer.secret_arn,
                "database": "db",
                "sql": pw.data_api_sql(writer.sql),
                "parameters": pw.data_api_parameters(params),
            },
        )
        assert writer.insert(params) is True


def test_on_aws_rekognition_reads_the_photo_from_s3_itself(lake_settings, monkeypatch):
    monkeypatch.setenv("IOT_LAKE_BACKEND", "aws")
    monkeypatch.setenv("IOT_LAKE_PHOTOS_URI", "s3://acme-lake/photos/")
    monkeypatch.setenv("IOT_LAKE_REGION", "eu-west-1")
    from iot_lake import config

    config.settings.cache_clear()
    lake = config.settings()
    rekognition = boto3.client("rekognition", region_name="eu-west-1")
    key = f"photos/{NAME}"
    inserted: list[dict[str, Any]] = []

    class Collect:
        def insert(self, params):
            inserted.append(dict(params))
            return True

    with Stubber(rekognition) as stub:
        stub.add_response(
            "detect_faces",
            {"FaceDetails": [{"BoundingBox": {"Width": 0.3, "Height": 0.4}, "Confidence": 99.0,
                              "Eyeglasses": {"Value": True, "Confidence": 91.0}}]},
            {"Image": {"S3Object": {"Bucket": "acme-lake", "Name": key}}, "Attributes": ["ALL"]},
        )  # fmt: skip
        handler = ph.PhotoHandler(lake, RekognitionFaceAnalyzer(rekognition), Collect())
        result = handler(ph.s3_event("acme-lake", key))
    assert result.inserted == 1
    [params] = inserted
    assert params["photo_url"] == f"https://acme-lake.s3.eu-west-1.amazonaws.com/{key}"
    assert (params["glasses"], params["glasses_confidence"], params["smile"]) == (1, 91.0, None)
    config.settings.cache_clear()


def test_a_photo_rekognition_cannot_read_still_makes_a_row_with_nothing_judged(lake_settings):
    from iot_lake.config import LakeSettings

    lake = LakeSettings(backend="aws", region="eu-west-1", photos_uri="s3://acme-lake/photos/")
    rekognition = boto3.client("rekognition", region_name="eu-west-1")
    inserted: list[dict[str, Any]] = []

    class Collect:
        def insert(self, params):
            inserted.append(dict(params))
            return True

    with Stubber(rekognition) as stub:
        stub.add_client_error("detect_faces", "InvalidImageFormatException", "bad image")
        stub.add_client_error("detect_faces", "ThrottlingException", "slow down")
        handler = ph.PhotoHandler(lake, RekognitionFaceAnalyzer(rekognition), Collect())
        assert handler(ph.s3_event("acme-lake", f"photos/{NAME}")).inserted == 1
        with pytest.raises(Exception, match="ThrottlingException"):  # retried by Lambda
            handler(ph.s3_event("acme-lake", f"photos/{NAME}"))
    [params] = inserted
    assert params["has_face"] is None and params["smile"] is None


def test_the_lambda_zip_imports_with_the_standard_library_alone(tmp_path):
    code = lambda_zip()
    assert code == lambda_zip()  # byte for byte: an unchanged function is not re-uploaded
    with zipfile.ZipFile(__import__("io").BytesIO(code)) as archive:
        names = set(archive.namelist())
        archive.extractall(tmp_path)
    assert "lambda_function.py" in names
    assert "plugins/iot_lake/coffee/photo_handler.py" in names
    assert "include/sql/aurora/insert_coffee_photo.sql" in names
    assert "plugins/sqlparse/__init__.py" in names  # strips comments off Data API SQL
    probe = (
        "import sys, lambda_function, iot_lake.config as c;"
        "assert c.SQL_DIR.joinpath('aurora', 'insert_coffee_photo.sql').is_file();"
        "heavy = {'fsspec', 'airflow', 'cv2', 'numpy', 'boto3'} & set(sys.modules);"
        "assert not heavy, heavy;"
        "from iot_lake.coffee.photo_writers import DataApiWriter, data_api_sql;"
        "sql = data_api_sql(DataApiWriter(None, 'c', 's').sql);"
        "assert sql.startswith('INSERT INTO coffees') and '--' not in sql, sql;"
        "print(lambda_function.handler.__module__)"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-S", "-c", probe],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "iot_lake.coffee.photo_handler"


def test_the_insert_file_binds_the_names_mysqldb_gets():
    sql = pw.pyformat(pw.INSERT_SQL.read_text())
    names = set(__import__("re").findall(r"%\((\w+)\)s", sql))
    assert names == {"machine_id", "photo_url", "photo_key", "coffee_hour"} | {
        f"{a}{s}" for a in ("has_face", "smile", "beard", "mustache", "glasses")
        for s in ("", "_confidence")
    }  # fmt: skip
    assert ":" not in sql.split("VALUES", 1)[1]


def test_the_event_shape_is_json_as_s3_and_lambda_pass_it():
    event = ph.s3_event("bucket", "k.png", "2026-11-20T08:15:02.000Z", "eu-west-1")
    assert json.loads(json.dumps(event)) == event
    record = event["Records"][0]
    assert record["eventName"] == "ObjectCreated:Put" and record["eventSource"] == "aws:s3"


def test_a_module_level_handler_is_built_once_per_process(monkeypatch, lake_settings, coffee_db):
    monkeypatch.setattr(ph, "_HANDLER", None)
    built: list[int] = []
    real_build = ph.get_photo_handler

    def counting_build(lake=None):
        built.append(1)
        return real_build(lake)

    monkeypatch.setenv("AIRFLOW_CONN_COFFEE_MYSQL", coffee_db.connection_json())
    monkeypatch.setattr(ph, "get_photo_handler", counting_build)
    upload_photo(lake_settings, NAME, ASTRONAUT)
    assert ph.handler(ph.s3_event(ph.LOCAL_BUCKET, NAME), None)["inserted"] == 1
    assert ph.handler(ph.s3_event(ph.LOCAL_BUCKET, NAME), None)["duplicates"] == 1
    assert built == [1]
    monkeypatch.setattr(ph, "_HANDLER", None)


def test_the_photos_location_of_each_store():
    from iot_lake.config import LakeSettings

    assert ph.photos_location(LakeSettings(photos_uri="s3://b/photos/")) == ("b", "photos/")
    assert ph.photos_location(LakeSettings(photos_uri="s3://b")) == ("b", "")
    assert ph.photos_location(LakeSettings(photos_uri="file:///x/photos")) == (ph.LOCAL_BUCKET, "")
    assert ph.parse_key("photos/m-1/2026-11-20/000000-a.JPG", "photos/").machine_id == "m-1"
    with pytest.raises(KeyRejected, match="outside the photos prefix"):
        ph.parse_key("raw/m-1/2026-11-20/000000-a.jpg", "photos/")
    with pytest.raises(KeyRejected, match=r"'\.\.' segment"):
        ph.object_uri(LakeSettings(photos_uri="file:///x"), ph.LOCAL_BUCKET, "a/../b")


def test_a_handler_that_failed_is_rebuilt_for_the_next_event(monkeypatch, lake_settings, coffee_db):
    """A MariaDB restart leaves the cached connection dead: the next event must not fail on
    it (locally the notifier would set every event aside after three attempts)."""
    monkeypatch.setattr(ph, "_HANDLER", None)
    monkeypatch.setenv("AIRFLOW_CONN_COFFEE_MYSQL", coffee_db.connection_json())
    built: list[ph.PhotoHandler] = []
    real_build = ph.get_photo_handler

    def recording_build(lake=None):
        built.append(real_build(lake))
        return built[-1]

    monkeypatch.setattr(ph, "get_photo_handler", recording_build)
    upload_photo(lake_settings, NAME, ASTRONAUT)
    event = ph.s3_event(ph.LOCAL_BUCKET, NAME)
    assert ph.handler(event, None)["inserted"] == 1
    built[0].writer.connection.close()  # the server went away under the warm handler
    with pytest.raises(Exception):  # noqa: B017  (MySQLdb's error for a closed connection)
        ph.handler(event, None)
    assert ph.handler(event, None)["duplicates"] == 1
    assert len(built) == 2
    monkeypatch.setattr(ph, "_HANDLER", None)
