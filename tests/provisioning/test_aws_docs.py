"""docs/aws.md names exactly the resources the setup creates (with its example settings)."""

from __future__ import annotations

import pytest

from iot_lake.config import PROJECT_ROOT
from iot_lake.provisioning import run
from tests.fixtures.aws_answers import GlueClassifiers, S3Answers, ServerDefaults

DOC = PROJECT_ROOT / "docs" / "aws.md"
EXAMPLE = PROJECT_ROOT / "config" / "aws.env.example"
AWS_STEPS = (
    "identities", "permissions", "storage", "catalog", "query_engine", "ingestion", "devices",
    "coffee",
)


def documented() -> list[tuple[str, str, str]]:
    text = DOC.read_text()
    table = text.split("<!-- resources:begin -->", 1)[1].split("<!-- resources:end -->", 1)[0]
    rows = []
    for line in table.strip().splitlines()[2:]:
        step, kind, name, _ = (cell.strip() for cell in line.strip().strip("|").split("|"))
        rows.append((step, kind, name.strip("`")))
    return rows


@pytest.fixture
def example_settings(monkeypatch: pytest.MonkeyPatch):
    from moto import mock_aws

    from iot_lake import config

    for line in EXAMPLE.read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            monkeypatch.setenv(key, value)
    monkeypatch.delenv("IOT_LAKE_KMS_KEY_ARN", raising=False)
    config.settings.cache_clear()
    with mock_aws():
        yield config.settings()
    config.settings.cache_clear()


def test_the_documented_resources_are_exactly_the_created_ones(example_settings) -> None:
    import boto3

    session = boto3.session.Session(region_name=example_settings.region)
    GlueClassifiers().register(session)
    ServerDefaults().register(session.events)
    S3Answers().register(session.events)
    created = []
    for step in AWS_STEPS:
        changes = run((step,), example_settings, session=session)
        assert {c.action for c in changes} == {"created"}
        created += [(step, c.kind, c.name) for c in changes]
    aws_rows = [row for row in documented() if row[0] != "relational"]
    assert sorted(aws_rows) == sorted(created)


@pytest.mark.services  # MariaDB, Aurora's stand-in
def test_the_relational_rows_are_what_the_step_creates(monkeypatch) -> None:
    """Against MariaDB (Aurora's stand-in), in a database of its own named like the doc's."""
    import json
    import uuid
    from contextlib import closing

    import MySQLdb

    from iot_lake.provisioning.relational import ensure_coffees

    database = f"iot_lake_doc_{uuid.uuid4().hex[:10]}"
    conn = {"conn_type": "mysql", "host": "127.0.0.1", "port": 3306, "login": "root"}
    monkeypatch.setenv("AIRFLOW_CONN_DOC_MYSQL", json.dumps({**conn, "schema": database}))
    try:
        changes = ensure_coffees("doc_mysql")
    finally:
        with closing(MySQLdb.connect(host="127.0.0.1", user="root", passwd="")) as db:
            db.cursor().execute(f"DROP DATABASE IF EXISTS `{database}`")
    made = [("relational", c.kind, c.name.replace(database, "iot_lake")) for c in changes]
    assert {c.action for c in changes} == {"created"}
    assert made == [row for row in documented() if row[0] == "relational"]
