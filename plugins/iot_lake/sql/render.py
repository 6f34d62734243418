"""``{{ lake.* }}``: lake settings for templates, read when a template renders, not at parse.

DAGs pass ``user_defined_macros={"lake": LAKE}`` and SQL files say
``{{ lake.raw_database }}.weather``, so database names follow the configuration
(``IOT_LAKE_RAW_DATABASE`` ...) without DAG files reading it.
"""

from __future__ import annotations

from typing import Any

from iot_lake import config


class LakeMacros:
    """Attribute access to :func:`iot_lake.config.settings` fields, evaluated lazily."""

    def __init__(self, settings: config.LakeSettings | None = None) -> None:
        self._settings = settings

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        lake = self._settings or config.settings()
        return getattr(lake, name)

    def uri(self, bucket: str) -> str:
        return (self._settings or config.settings()).uri(bucket)

    def day_closes(self, ds: str) -> str:
        """ISO time when day ``ds``'s raw data is complete (D+1 00:00 UTC + arrival grace)."""
        from iot_lake.weather.layout import window_closes

        lake = self._settings or config.settings()
        return window_closes(ds, lake.arrival_grace_minutes).isoformat()

    def __repr__(self) -> str:
        return "LakeMacros()"


LAKE = LakeMacros()
