"""Airflow plugin: the iot-lake dashboard inside the Airflow UI, and quality-result recording.

* ``fastapi_apps`` mounts the dashboard at ``/iot-lake`` on the API server; every page
  requires a logged-in Airflow user (the UI's session cookie is enough).
* ``external_views`` puts "iot-lake" in the UI's Browse menu; the UI shows the app in
  an iframe at ``/plugin/dashboard`` and mirrors the page's own path after it
  (``/plugin/dashboard/iot-lake/quality``): the route is not the app's name again, so
  the address reads once, not ``/plugin/iot-lake/iot-lake/...``.
* A logged-out browser is sent to Airflow's login page and back (API clients get 401).
* ``timetables`` registers the DAGs' ``DailyTimetable`` (the scheduler deserializes it).
* ``listeners`` records the results of every common.sql check task in the lake table
  ``quality_results`` (see ``iot_lake.quality``).
"""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

from iot_lake.quality import quality_results_listener
from iot_lake.timetables import DailyTimetable

URL_PREFIX = "/iot-lake"


class IotLakeDashboardPlugin(AirflowPlugin):
    name = "iot_lake_dashboard"
    listeners = [quality_results_listener]  # noqa: RUF012 (AirflowPlugin's own style)
    timetables = [DailyTimetable]  # noqa: RUF012
    external_views = [  # noqa: RUF012
        {
            "name": "iot-lake",
            "href": URL_PREFIX.lstrip("/") + "/",
            "destination": "nav",
            "category": "browse",
            "url_route": "dashboard",
        }
    ]

    @property
    def fastapi_apps(self) -> list[dict[str, Any]]:  # type: ignore[override]
        # Built only when the API server asks: schedulers, DAG processors and workers
        # load this plugin for its listener and never pay for the web imports.
        from airflow.api_fastapi.app import get_auth_manager
        from airflow.api_fastapi.auth.managers.models.resource_details import AccessView
        from airflow.api_fastapi.core_api.security import requires_access_view
        from fastapi import Depends

        from iot_lake.dashboard.app import create_app

        app = create_app(
            dependencies=[Depends(requires_access_view(AccessView.WEBSITE))],
            login_url=lambda next_url: get_auth_manager().get_url_login(next_url=next_url),
        )
        return [{"app": app, "url_prefix": URL_PREFIX, "name": "iot-lake dashboard"}]
