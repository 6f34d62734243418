"""Load only the iot-lake plugin file in these tests.

Airflow imports *every* ``.py`` under the plugins folder as a top-level module unless a
``plugins/.airflowignore`` excludes it; the library package ``plugins/iot_lake/`` holds
no plugins (and a ``__main__.py``), so these tests point Airflow at a folder holding
just ``iot_lake_dashboard.py``. The library stays importable through pytest's
``pythonpath``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

PLUGIN_FILE = Path(__file__).resolve().parents[2] / "plugins" / "iot_lake_dashboard.py"


@pytest.fixture(scope="session", autouse=True)
def only_the_iot_lake_plugin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("plugins")
    (folder / PLUGIN_FILE.name).symlink_to(PLUGIN_FILE)
    from airflow import settings

    before = os.environ.get("AIRFLOW__CORE__PLUGINS_FOLDER")
    before_setting = settings.PLUGINS_FOLDER
    os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(folder)
    settings.PLUGINS_FOLDER = str(folder)  # read once when Airflow is imported
    yield folder
    settings.PLUGINS_FOLDER = before_setting
    if before is None:
        os.environ.pop("AIRFLOW__CORE__PLUGINS_FOLDER", None)
    else:
        os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = before


@pytest.fixture(scope="session")
def lake_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Local-backend settings whose lake lives in a session temporary directory."""
    from iot_lake import config
    from iot_lake.dashboard import data

    home = tmp_path_factory.mktemp("dashboard") / "lake"
    saved = {k: os.environ.get(k) for k in ("IOT_LAKE_HOME", "IOT_LAKE_BACKEND")}
    os.environ.update(IOT_LAKE_HOME=str(home), IOT_LAKE_BACKEND="local")
    config.settings.cache_clear()
    data.clear_cache()
    yield home
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    config.settings.cache_clear()
    data.clear_cache()


@pytest.fixture(scope="session")
def fixture_lake(lake_home: Path) -> dict:
    """The deterministic fixture lake (lake_fixture.build), shared by the dashboard tests."""
    from iot_lake import config
    from tests.dashboard import lake_fixture

    days = lake_fixture.build(config.settings().curated_database)
    return {"home": lake_home, **days}
