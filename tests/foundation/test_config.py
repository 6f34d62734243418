"""The backend and every location come from configuration, never from DAG code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from iot_lake import config
from iot_lake.errors import ConfigError


@pytest.fixture(autouse=True)
def _fresh_settings(monkeypatch: pytest.MonkeyPatch):
    for name in list(os.environ):
        if name.startswith("IOT_LAKE_") or name == "AIRFLOW_CONN_LAKE_DEFAULT":
            monkeypatch.delenv(name)
    config.settings.cache_clear()
    yield
    config.settings.cache_clear()


def test_local_is_the_default_and_buckets_live_under_the_lake_home(tmp_path: Path,
                                                                 monkeypatch) -> None:
    monkeypatch.setenv("IOT_LAKE_HOME", str(tmp_path))
    settings = config.settings()
    assert settings.backend == "local"
    assert settings.uri("raw") == f"file://{tmp_path / 'raw'}"
    assert settings.uri("curated") == f"file://{tmp_path / 'curated'}"
    assert settings.uri("catalog") == f"file://{tmp_path / 'catalog'}"


def test_environment_overrides_connection_extra_which_overrides_defaults(monkeypatch) -> None:
    extra = {"backend": "aws", "raw_uri": "s3://from-conn/raw/", "athena_workgroup": "wg1"}
    monkeypatch.setenv("AIRFLOW_CONN_LAKE_DEFAULT", json.dumps({"conn_type": "generic",
                                                                "extra": extra}))
    monkeypatch.setenv("IOT_LAKE_RAW_URI", "s3://from-env/raw/")
    settings = config.settings()
    assert settings.backend == "aws"
    assert settings.uri("raw") == "s3://from-env/raw/"
    assert settings.athena_workgroup == "wg1"
    assert settings.curated_database == "iot_lake"


def test_connection_given_as_uri_is_read_too(monkeypatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_LAKE_DEFAULT", "generic://?backend=aws&mqtt_port=443")
    settings = config.settings()
    assert (settings.backend, settings.mqtt_port) == ("aws", 443)


def test_a_missing_bucket_on_aws_names_the_setting_to_set(monkeypatch) -> None:
    monkeypatch.setenv("IOT_LAKE_BACKEND", "aws")
    with pytest.raises(ConfigError, match="IOT_LAKE_CURATED_URI"):
        config.settings().uri("curated")


def test_an_unknown_backend_is_refused_with_the_choices(monkeypatch) -> None:
    monkeypatch.setenv("IOT_LAKE_BACKEND", "azure")
    with pytest.raises(ConfigError, match="local, aws"):
        config.settings()


def test_settings_outside_airflow_never_import_it() -> None:
    """Simulators and CLIs read settings too; importing Airflow there costs seconds."""
    code = (
        "import sys; from iot_lake.config import settings; s = settings(); "
        "assert 'airflow' not in sys.modules, 'airflow imported'; print(s.backend)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True,
        env={**os.environ, "PYTHONPATH": f"{config.PROJECT_ROOT / 'plugins'}"},
    )
    assert out.stdout.strip() == "local"
