"""Expected numbers, computed by plain DuckDB SQL over the same lake the dashboard reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from iot_lake.engine import get_engine

SQL = Path(__file__).resolve().parent / "sql"


def rows(name: str, **params: Any) -> list[dict[str, Any]]:
    """Rows of ``tests/dashboard/sql/<name>.sql`` on a DuckDB with every lake table as a view."""
    con = get_engine().connect()
    try:
        cursor = con.execute((SQL / f"{name}.sql").read_text(), params)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    finally:
        con.close()
