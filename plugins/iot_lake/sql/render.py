"""Rendering of the lake's SQL: Jinja templates as Airflow renders them, file references.

SQL files under ``include/sql`` are Athena dialect and Jinja-templated like Airflow
templates (``{{ ds }}``, ``{{ params.x }}``, ``{{ lake.raw_database }}``). The same
context is built here for what runs outside a task's template rendering (the engine's
:meth:`~iot_lake.engine.Engine.query`, tools, tests).

``{{ lake.* }}`` (:class:`LakeMacros`): lake settings for templates, read when a template
renders, not at parse. DAGs pass ``user_defined_macros={"lake": LAKE}`` and SQL files say
``{{ lake.raw_database }}.weather``, so database names follow the configuration
(``IOT_LAKE_RAW_DATABASE`` ...) without DAG files reading it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jinja2

from iot_lake import config
from iot_lake.config import SQL_DIR


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


def is_file_reference(sql: str) -> bool:
    """True when ``sql`` names a SQL file (``weather/x.sql``, an absolute path) rather than
    holding a statement."""
    text = sql.strip()
    return text.endswith(".sql") and "\n" not in text and " " not in text


def label(sql: str) -> str:
    """How an error message names a statement: its file, or its first 80 characters."""
    return sql.strip() if is_file_reference(sql) else repr(sql.strip()[:80])


def quote_literal(value: str) -> str:
    """``value`` as a SQL string literal (both dialects double the quote)."""
    return "'" + value.replace("'", "''") + "'"


def quote_ident(name: str) -> str:
    """``name`` as a quoted SQL identifier (both dialects double the quote)."""
    return '"' + name.replace('"', '""') + '"'


def render_sql(
    sql: str | Path,
    params: Mapping[str, Any] | None = None,
    ds: str | None = None,
    **context: Any,
) -> str:
    """Render a SQL file (path relative to ``include/sql`` or absolute) or SQL text.

    The context matches Airflow's template context for what SQL files use: ``ds``,
    ``ds_nodash``, ``data_interval_start``/``_end`` (a daily run of ``ds``), the ``ds``
    and ``ds_nodash`` filters, ``params`` and the ``lake`` macro (settings such as
    ``{{ lake.raw_database }}``); extra keyword arguments are passed through. Undefined
    names raise, so a typo fails here rather than as an odd query.
    """
    sql = str(sql)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(SQL_DIR), "/"]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["ds"] = lambda value: value.strftime("%Y-%m-%d")
    env.filters["ds_nodash"] = lambda value: value.strftime("%Y%m%d")
    if is_file_reference(sql):
        name = sql.strip()
        path = Path(name)
        template = env.get_template(str(path.resolve()) if path.is_absolute() else name)
    else:
        template = env.from_string(sql)
    values: dict[str, Any] = {"params": dict(params or {}), "lake": LakeMacros()}
    if ds is not None:
        start = datetime.fromisoformat(ds).replace(tzinfo=UTC)
        values.update(
            ds=ds,
            ds_nodash=ds.replace("-", ""),
            data_interval_start=start,
            data_interval_end=start + timedelta(days=1),
            logical_date=start,
        )
    values.update(context)
    return template.render(**values)
