"""S3 access goes through the lake's Airflow AWS connection, as Glue and Athena do.

The connection here holds its own key pair while the process environment holds another
(the default credential chain): objects must be signed with the connection's.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from iot_lake import config, storage
from tests.fixtures.moto import create_bucket

CONN_ID = "lake_aws_test"


@pytest.fixture
def connection(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    import airflow  # noqa: F401  (a task process: Airflow is loaded)

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "ENVIRONMENTKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "environment-secret")
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{CONN_ID.upper()}",
        json.dumps(
            {
                "conn_type": "aws",
                "login": "CONNECTIONKEY",
                "password": "connection-secret",
                "extra": {"region_name": "eu-west-3"},
            }
        ),
    )
    monkeypatch.setenv("IOT_LAKE_BACKEND", "aws")
    monkeypatch.setenv("IOT_LAKE_AWS_CONN_ID", CONN_ID)
    config.settings.cache_clear()
    create_bucket(moto_endpoint, "lake-conn")
    return moto_endpoint


def _signed_with(fs) -> str:
    credentials = asyncio.run(fs.session.get_credentials())
    return credentials.access_key


def test_s3_uris_use_the_airflow_connection(connection: str) -> None:
    fs, path = storage.filesystem("s3://lake-conn/raw/a.json")
    assert path == "lake-conn/raw/a.json"
    assert _signed_with(fs) == "CONNECTIONKEY"
    with storage.atomic_open("s3://lake-conn/raw/a.json") as handle:
        handle.write(b'{"ok": 1}\n')
    assert fs.cat_file(path) == b'{"ok": 1}\n'
    # the same filesystem object for the same connection (built once per process)
    assert storage.filesystem("s3a://lake-conn/other")[0] is fs


def test_another_connection_gets_its_own_credentials(connection, monkeypatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_OTHER_AWS",
        json.dumps({"conn_type": "aws", "login": "OTHERKEY", "password": "other-secret"}),
    )
    assert _signed_with(storage.connection_filesystem("other_aws")) == "OTHERKEY"
    assert _signed_with(storage.connection_filesystem()) == "CONNECTIONKEY"


def test_local_uris_stay_local(connection: str, tmp_path) -> None:
    fs, path = storage.filesystem(f"file://{tmp_path}/a%3Db")
    assert storage.is_directory_store(fs) and path.endswith("/a=b")
