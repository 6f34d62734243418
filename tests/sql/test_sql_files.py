"""Every SQL file under include/sql/ parses as Athena and runs on DuckDB on fixture data.

Convention for areas whose files read tables this test does not know: put a module
``tests/sql/fixtures/<area>.py`` (``<area>`` = the folder under include/sql/) with a
function ``create_tables(settings) -> None`` that registers the tables the area's files
read (in the local catalog, with data) and optionally ``PARAMS: dict`` (the ``params``
the files are rendered with). Files are rendered with ``ds`` = FIXTURE_DAY and the
``lake`` macro. Areas without ``create_tables`` are only required to parse as Athena.
An area whose files are not lake SQL (e.g. ``aurora``: MySQL run on Aurora/MariaDB and
tested there) says so with ``DIALECT = "mysql"`` and is left out of this file's checks.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import sqlglot

from iot_lake.config import SQL_DIR
from iot_lake.engine import get_engine
from iot_lake.sql.render import render_sql

FIXTURE_DAY = "2026-11-03"


def _area(path: Path) -> str:
    return path.relative_to(SQL_DIR).parts[0]


def _fixture(area: str):
    try:
        return importlib.import_module(f"tests.sql.fixtures.{area}")
    except ModuleNotFoundError as err:
        if err.name != f"tests.sql.fixtures.{area}":
            raise
        return None


SQL_FILES = [
    p
    for p in sorted(SQL_DIR.rglob("*.sql"))
    if getattr(_fixture(_area(p)), "DIALECT", "athena") == "athena"
]


@pytest.mark.parametrize("path", SQL_FILES, ids=lambda p: str(p.relative_to(SQL_DIR)))
def test_sql_file_parses_as_one_athena_statement(path: Path) -> None:
    fixture = _fixture(_area(path))
    params = getattr(fixture, "PARAMS", {}) if fixture else {}
    text = render_sql(str(path.relative_to(SQL_DIR)), params=params, ds=FIXTURE_DAY)
    statements = [s for s in sqlglot.parse(text, read="athena") if s is not None]
    assert len(statements) == 1, f"{path.name}: {len(statements)} statements"


@pytest.mark.parametrize(
    "path",
    [p for p in SQL_FILES if hasattr(_fixture(_area(p)), "create_tables")],
    ids=lambda p: str(p.relative_to(SQL_DIR)),
)
def test_sql_file_runs_on_duckdb_over_fixture_tables(path: Path, lake_settings) -> None:
    fixture = _fixture(_area(path))
    fixture.create_tables(lake_settings)
    params = getattr(fixture, "PARAMS", {})
    rows = get_engine(lake_settings).query(
        str(path.relative_to(SQL_DIR)), params=params, ds=FIXTURE_DAY
    ).rows
    assert isinstance(rows, list)
