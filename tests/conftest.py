"""Test-wide setup: Airflow runs from a throw-away home with the project's DAGs and plugins.

The environment is set before anything imports Airflow, so every test (and every
``dag.test()``) uses a SQLite metadata DB under ``.airflow-test/`` and never a user's.
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
