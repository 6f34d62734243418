"""Test-wide setup: Airflow runs from a throw-away home with the project's DAGs and plugins.

The environment is set before anything imports Airflow, so every test (and every
``dag.test()``) uses a SQLite metadata DB under ``.airflow-test/`` and never a user's.

Tiers: each test gets markers from the fixtures it uses (directly or through other
fixtures), see :data:`TIER_FIXTURES`; a test that reaches a service in its own body marks
itself. ``pytest -m unit`` (``./lake test --quick``) runs what needs no service.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# scripts/mwaa_env.sh runs tests on another Airflow version: another home, another DB.
AIRFLOW_TEST_HOME = Path(os.environ.get("IOT_LAKE_AIRFLOW_TEST_HOME", ROOT / ".airflow-test"))

os.environ["AIRFLOW_HOME"] = str(AIRFLOW_TEST_HOME)
# Always the test DB: scripts/env.sh points this at the project's own .airflow/ DB, which
# the tests must never write their runs into.
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = (
    f"sqlite:///{AIRFLOW_TEST_HOME / 'airflow.db'}"
)
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(ROOT / "plugins")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"
os.environ.setdefault("IOT_LAKE_BACKEND", "local")
# Nor into the project's own lake (.lake/): a test that forgets lake_settings lands here.
os.environ["IOT_LAKE_HOME"] = str(AIRFLOW_TEST_HOME / "lake")
# Never reach for real AWS credentials from a test.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
AIRFLOW_TEST_HOME.mkdir(exist_ok=True)

# Fixtures shared across folders (the moto server for AWS-only APIs).
pytest_plugins = ["tests.fixtures.moto"]


# The fixtures that bring up (or connect to) something beyond this Python process, by the
# tier marker they give every test that uses them. Tests using none of them are `unit`.
TIER_FIXTURES: dict[str, frozenset[str]] = {
    # MariaDB, PostgreSQL, Redis, Mosquitto, the Node.js DynamoDB endpoint: machine services
    # and Debian packages (scripts/services.sh, ./lake setup).
    "services": frozenset({
        "mariadb", "coffee_db", "mysql_conn_id", "mysql_database", "database", "setup_env",
        "mqtt_broker", "fresh_mqtt_broker", "dynamodb_local", "redis_port", "stack",
    }),
    # moto as a server on a local port (in-process mock_aws is `unit`).
    "aws": frozenset({"moto_endpoint"}),
    # Chromium (Debian package) driven by Playwright.
    "browser": frozenset({"browser"}),
    # Real Airflow processes: scheduler, DAG processor, triggerer, API server.
    "scheduler": frozenset({"stack", "server"}),
}
TIERS = ("unit", *TIER_FIXTURES)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with the tiers of the fixtures it uses; `unit` when it uses none."""
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        for tier, fixtures in TIER_FIXTURES.items():
            if used & fixtures:
                item.add_marker(tier)
        if not any(item.get_closest_marker(tier) for tier in TIER_FIXTURES):
            item.add_marker("unit")


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """A migrated SQLite metadata DB, created once per test session (for ``dag.test()``)."""
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        check=True,
        capture_output=True,
        env=os.environ.copy(),
    )
    return AIRFLOW_TEST_HOME / "airflow.db"


@pytest.fixture
def lake_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """Local-backend settings whose lake lives in this test's temporary directory."""
    from iot_lake import config

    monkeypatch.setenv("IOT_LAKE_BACKEND", "local")
    monkeypatch.setenv("IOT_LAKE_HOME", str(tmp_path / "lake"))
    config.settings.cache_clear()
    yield config.settings()
    config.settings.cache_clear()
