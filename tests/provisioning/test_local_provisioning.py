"""The local backend against real parts: a tmp lake, real MariaDB, real dynalite, real PKI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from iot_lake.config import PROJECT_ROOT
from iot_lake.provisioning import STEPS, run, summary
from iot_lake.provisioning.report import has_mutations
from tests.fixtures.ingest import dynamodb_local  # noqa: F401  (fixture)

CONN_ID = "lake_setup_test_mysql"


def _mysql(database: str = "") -> Any:
    import MySQLdb

    return MySQLdb.connect(
        host="127.0.0.1", port=3306, user="root", passwd="", db=database, autocommit=True
    )


@pytest.fixture
def database(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A database name nobody uses; the setup creates it, the test drops it."""
    name = f"iot_lake_setup_{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("IOT_LAKE_MYSQL_CONN_ID", CONN_ID)
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{CONN_ID.upper()}",
        json.dumps(
            {
                "conn_type": "mysql",
                "host": "127.0.0.1",
                "port": 3306,
                "login": "root",
                "password": "",
                "schema": name,
            }
        ),
    )
    yield name
    with closing(_mysql()) as conn, closing(conn.cursor()) as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")


def fresh_settings() -> Any:
    """Settings read again after the fixtures changed the environment."""
    from iot_lake import config

    config.settings.cache_clear()
    return config.settings()


@pytest.fixture
def local_lake(lake_settings, database, dynamodb_local, tmp_path, monkeypatch):  # noqa: F811
    from iot_lake import config

    monkeypatch.setenv("IOT_LAKE_CERTS_DIR", str(tmp_path / "certs"))
    monkeypatch.setenv("IOT_LAKE_DYNAMODB_ENDPOINT", dynamodb_local.endpoint)
    monkeypatch.setenv("IOT_LAKE_COLD_READINGS_TABLE", f"cold_{uuid.uuid4().hex[:8]}")
    monkeypatch.setenv("IOT_LAKE_THINGS", "2")
    config.settings.cache_clear()
    yield config.settings()
    config.settings.cache_clear()


def test_first_run_builds_the_local_lake_and_the_second_changes_nothing(local_lake, database):
    changes = run(STEPS, local_lake)

    assert {c.action for c in changes} == {"created"}, [c.line() for c in changes]
    home = Path(local_lake.home)
    for area in ("raw", "curated", "photos", "query_results", "catalog"):
        assert (home / area).is_dir()
    from iot_lake.catalog import get_catalog

    assert set(get_catalog(local_lake).list_databases()) == {"iot_lake_raw", "iot_lake"}
    certs = Path(local_lake.certs_dir)
    conf = (certs / "mosquitto.conf").read_text()
    assert "require_certificate true" in conf and "listener 8883 127.0.0.1" in conf
    assert (certs / "weather-station-01" / "certificate.pem.crt").is_file()
    assert (certs / "weather-station-02" / "certificate.pem.crt").is_file()
    from cryptography import x509

    server = x509.load_pem_x509_certificate((certs / "server.crt").read_bytes())
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "mosquitto" in names.get_values_for_type(x509.DNSName)  # compose's broker host
    with closing(_mysql(database)) as conn, closing(conn.cursor()) as cur:
        cur.execute("SHOW COLUMNS FROM coffees")
        columns = [row[0] for row in cur.fetchall()]
    assert columns[:4] == ["id", "machine_id", "photo_url", "coffee_hour"]
    from simulators.iot_core.dynamodb import dynamodb_client

    table = dynamodb_client(local_lake).describe_table(TableName=local_lake.cold_readings_table)
    assert sorted(k["AttributeName"] for k in table["Table"]["KeySchema"]) == [
        "time",
        "weather_station",
    ]

    again = run(STEPS, local_lake)

    assert not has_mutations(again), [c.line() for c in again if c.action != "unchanged"]
    assert summary(again) == f"no changes ({len(again)} of {len(again)} resources unchanged)"


def test_a_column_missing_from_an_existing_coffees_table_is_added_and_rows_kept(
    lake_settings, database
):
    lake_settings = fresh_settings()
    run(["relational"], lake_settings)
    with closing(_mysql(database)) as conn, closing(conn.cursor()) as cur:
        cur.execute("ALTER TABLE coffees DROP COLUMN glasses_confidence")
        cur.execute("INSERT INTO coffees (machine_id, coffee_hour) VALUES ('m1', NOW())")

    [db, table] = run(["relational"], lake_settings)

    assert db.action == "unchanged"
    assert (table.action, table.details) == ("updated", ("added column glasses_confidence",))
    with closing(_mysql(database)) as conn, closing(conn.cursor()) as cur:
        cur.execute("SELECT machine_id, glasses_confidence FROM coffees")
        assert cur.fetchall() == (("m1", None),)


def test_an_unreachable_dynamodb_endpoint_is_reported_as_skipped(lake_settings, monkeypatch):
    from iot_lake import config
    from simulators.things.broker import free_port

    monkeypatch.setenv("IOT_LAKE_DYNAMODB_ENDPOINT", f"http://127.0.0.1:{free_port()}")
    config.settings.cache_clear()

    [change] = run(["ingestion"], config.settings())

    assert change.action == "skipped"
    assert "no DynamoDB endpoint" in change.details[0]


def test_dry_run_reports_the_plan_and_creates_nothing(
    lake_settings, database, tmp_path, monkeypatch
):
    monkeypatch.setenv("IOT_LAKE_CERTS_DIR", str(tmp_path / "certs"))
    plan = run(["storage", "catalog", "devices", "relational"], fresh_settings(), dry_run=True)

    assert {c.action for c in plan} == {"created"}
    assert not Path(lake_settings.home).exists()
    assert not (tmp_path / "certs").exists()
    with closing(_mysql()) as conn, closing(conn.cursor()) as cur:
        cur.execute("SHOW DATABASES LIKE %s", (database,))
        assert cur.fetchall() == ()


def test_cli_prints_each_resource_and_no_changes_on_a_second_run(local_lake, tmp_path):
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT), str(PROJECT_ROOT / "plugins")]),
    }
    command = [sys.executable, "-m", "iot_lake.provisioning"]

    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    second = subprocess.run(
        [*command, "--fail-on-changes"], env=env, capture_output=True, text=True, timeout=120
    )

    assert first.returncode == 0, first.stderr
    assert "  created    lake directory " in first.stdout
    assert first.stdout.splitlines()[-1].endswith(" created")
    assert second.returncode == 0, second.stderr
    assert "iot-lake setup: backend=local" in second.stdout.splitlines()
    assert second.stdout.splitlines()[-1].startswith("no changes (")
    assert "Running statement" not in second.stdout  # hook chatter only with --verbose


def test_a_missing_mysql_connection_names_the_setting_to_define(lake_settings, monkeypatch):
    from iot_lake.errors import ConfigError

    monkeypatch.setenv("IOT_LAKE_MYSQL_CONN_ID", "no_such_mysql")
    with pytest.raises(ConfigError, match="AIRFLOW_CONN_NO_SUCH_MYSQL=mysql://"):
        run(["relational"], fresh_settings())
