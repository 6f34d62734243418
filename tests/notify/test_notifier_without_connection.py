"""Without an ``iot_lake_alerts`` connection: the dashboard on ``local``, a logged error on
``aws`` (a worker's disk reaches no one), never an exception in the failure callback."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest

from iot_lake import config, incidents
from iot_lake.notifier import FailureNotifier


def _context() -> dict:
    ti = SimpleNamespace(
        dag_id="weather_lake", task_id="flatten_observations", run_id="scheduled__x",
        try_number=3, log_url="http://x/log",
    )  # fmt: skip
    return {"ti": ti, "ds": "2026-11-06", "exception": OSError("disk full")}


@pytest.mark.parametrize("backend", ["local", "aws"])
def test_no_connection(
    backend: str, lake_settings, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_IOT_LAKE_ALERTS", raising=False)
    monkeypatch.setenv("IOT_LAKE_BACKEND", backend)
    config.settings.cache_clear()
    with caplog.at_level(logging.WARNING, logger="iot_lake.notifier"):
        FailureNotifier().notify(_context())
    if backend == "local":
        [incident] = incidents.recent()
        assert incident["error"] == "OSError: disk full"
        assert incident["try_number"] == 3
    else:
        assert incidents.recent() == []
        assert "nobody is told" in caplog.text and "disk full" in caplog.text


def test_an_incident_on_one_worker_reaches_the_dashboard_on_another(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two machines (own lake home each) sharing the lake, as Celery workers and the API
    server do: what the failing worker records, the dashboard's machine reads."""
    monkeypatch.delenv("AIRFLOW_CONN_IOT_LAKE_ALERTS", raising=False)
    monkeypatch.setenv("IOT_LAKE_BACKEND", "local")
    monkeypatch.setenv("IOT_LAKE_CURATED_URI", f"file://{tmp_path / 'shared' / 'curated'}")
    monkeypatch.setenv("IOT_LAKE_HOME", str(tmp_path / "worker-2"))
    config.settings.cache_clear()
    FailureNotifier().notify(_context())
    monkeypatch.setenv("IOT_LAKE_HOME", str(tmp_path / "api-server"))
    config.settings.cache_clear()
    try:
        [incident] = incidents.recent()
    finally:
        config.settings.cache_clear()
    assert (incident["dag_id"], incident["error"]) == ("weather_lake", "OSError: disk full")
