"""The SQL engine seam: one interface, DuckDB on `local`, Athena on `aws`, same SQL files.

SQL files are Athena dialect, Jinja-templated like Airflow templates
(:mod:`iot_lake.sql.render`). :func:`get_engine` picks the implementation from the
settings, as :func:`iot_lake.catalog.get_catalog` does; callers then ask the engine, never
the settings:

- :meth:`Engine.query`: the rows of one statement (a SQL file or text, rendered here) as a
  :class:`Result`, typed alike on both backends (a count is an ``int``, NULL ``None``).
- :meth:`Engine.write_parquet`: the rows of a SELECT as Parquet under a fresh location
  (DuckDB's COPY, Athena's UNLOAD); a failure leaves nothing there.
- :attr:`Engine.defers_waits`: whether a task should give its worker slot back while a
  statement runs (Athena: wait in the triggerer) or run it in the task (DuckDB: seconds).

:mod:`~iot_lake.engine.duckdb` runs a statement in-process over views of the catalog's
tables (:mod:`~iot_lake.engine.views`); :mod:`~iot_lake.engine.athena` submits it in the
lake's workgroup through the Amazon provider's ``AthenaHook`` (start, wait, stop, typed
results, UNLOAD). Importing this package imports neither Airflow nor DuckDB.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iot_lake import config
from iot_lake.config import LakeSettings
from iot_lake.sql.render import LakeMacros, label, render_sql


@dataclass(frozen=True)
class Result:
    """Column names and rows of one statement; each value typed from its column's type."""

    names: list[str]
    rows: list[tuple[Any, ...]]

    def records(self) -> list[dict[str, Any]]:
        """The rows as ``{column: value}``."""
        return [dict(zip(self.names, row, strict=True)) for row in self.rows]

    def one(self) -> dict[str, Any]:
        """The one row as ``{column: value}``; a summary or a count that is not exactly one
        row is an error, not a silent first row."""
        if len(self.rows) != 1:
            from iot_lake.errors import QueryError

            raise QueryError(
                f"expected exactly one row of {self.names}, got {len(self.rows)}")
        return dict(zip(self.names, self.rows[0], strict=True))


class Engine(ABC):
    """Runs the lake's Athena-dialect SQL on one backend."""

    defers_waits: bool = False
    """True when a statement runs long enough elsewhere that a task should wait for it in
    the triggerer (Athena) rather than in its worker slot."""

    def __init__(self, settings: LakeSettings) -> None:
        self.settings = settings

    def query(
        self,
        sql: str | Path,
        *,
        params: Mapping[str, Any] | None = None,
        ds: str | None = None,
        database: str | None = None,
    ) -> Result:
        """The result of one statement: a SQL file (relative to ``include/sql``, or
        absolute) or SQL text, rendered with ``params`` and day ``ds``; table names without
        a database are looked up in ``database`` (default: the curated database)."""
        text = render_sql(sql, params=params, ds=ds, lake=LakeMacros(self.settings))
        return self._run(text, database, label(str(sql)))

    @abstractmethod
    def _run(self, text: str, database: str | None, label: str) -> Result:
        """The result of one rendered statement (``label`` names it in errors)."""

    @abstractmethod
    def write_parquet(
        self, select_sql: str, location: str, *, compression: str, database: str | None = None
    ) -> int | None:
        """Write the rows of a rendered SELECT as Parquet under ``location`` (a fresh prefix);
        the number of rows written where the engine tells it (None: Athena's UNLOAD does
        not). A failure leaves nothing at ``location``."""


def get_engine(settings: LakeSettings | None = None) -> Engine:
    """The engine of the configured backend: DuckDB on `local`, Athena on `aws`."""
    lake = settings or config.settings()
    if lake.is_local:
        from iot_lake.engine.duckdb import DuckDBEngine

        return DuckDBEngine(lake)
    from iot_lake.engine.athena import AthenaEngine

    return AthenaEngine(lake)
