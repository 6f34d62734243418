"""Coffee tests run against the real MariaDB (a database per run) and a lake in tmp_path."""

from __future__ import annotations

from datetime import datetime

from tests.fixtures.mariadb import coffee_db, mariadb  # noqa: F401  (fixtures)

DAY = "2026-11-20"
START = datetime(2026, 11, 20)
END = datetime(2026, 11, 21)
