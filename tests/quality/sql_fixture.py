"""Fixture of the ``quality`` SQL area for tests/sql/test_sql_files.py (its convention).

Re-exported by ``tests/sql/fixtures/quality.py``; the profile files read one small table.
"""

from __future__ import annotations

from typing import Any

from iot_lake import profiles, quality

FIXTURE_DAY = "2026-11-03"  # the day tests/sql renders its files with
TABLE = "profile_probe"
COLUMNS = (("station", "string"), ("temperature", "double"), ("ok", "boolean"))

PARAMS: dict[str, Any] = {
    "database": "iot_lake",
    "table": TABLE,
    "columns": [profiles.column_spec(name, kind) for name, kind in COLUMNS],
    "top_n": 3,
}


def create_tables(settings: Any) -> None:
    """Register ``iot_lake.profile_probe`` with one day of rows in the local catalog."""
    rows = [
        {"station": f"s{i % 3}", "temperature": None if i == 4 else i * 1.5, "ok": i % 2 == 0}
        for i in range(10)
    ]
    quality.publish_object(TABLE, COLUMNS, "tests/sql fixture", FIXTURE_DAY, "part-0.parquet", rows)
