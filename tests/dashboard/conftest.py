"""A session lake with a few days of fixture data for the dashboard's pages."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


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
