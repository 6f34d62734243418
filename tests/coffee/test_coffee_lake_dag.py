"""Integration tier: the coffee_lake DAG runs a day end to end with dag.test() on local."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow.parquet as pq

from iot_lake import engine
from iot_lake.catalog import get_catalog
from iot_lake.coffee import export
from iot_lake.storage import filesystem
from tests.coffee.conftest import DAY


def _load_dag():
    from airflow.dag_processing.dagbag import DagBag

    from iot_lake.config import PROJECT_ROOT

    bag = DagBag(dag_folder=str(PROJECT_ROOT / "dags" / "coffee_lake.py"))
    assert bag.import_errors == {}
    return bag.dags["coffee_lake"]


def test_a_day_runs_export_register_and_all_checks(
    airflow_db, coffee_db, lake_settings, tmp_path, monkeypatch
):
    photo = f"{lake_settings.uri('photos')}/coffee-machine-01/{DAY}/a.jpg"
    ids = coffee_db.insert(
        [
            {"photo_url": photo, "coffee_hour": datetime(2026, 11, 20, 7, 30), "has_face": 1},
            {"photo_url": photo, "coffee_hour": datetime(2026, 11, 20, 16, 5), "smile": 0},
            {"photo_url": None, "coffee_hour": datetime(2026, 11, 20, 17, 0)},
            {"photo_url": photo, "coffee_hour": datetime(2026, 11, 21, 0, 0, 1)},  # next day
        ]
    )

    # A manual run covers the last whole day before its logical date.
    run = _load_dag().test(logical_date=datetime(2026, 11, 20, tzinfo=UTC))

    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert run.state == "success", states
    assert set(states) == {
        "export_day",
        "register_partition",
        "check_columns",
        "check_coffee_hour_in_day",
        "reconcile_with_mysql",
        "profile_coffees",
    }
    # The day's column profile: one row per column of the table, counted over the 2 rows.
    profile = dict(
        engine.run_query(
            f"SELECT column_name, row_count FROM column_profiles WHERE dt = '{DAY}' "
            "AND table_name = 'coffees'"
        )
    )
    assert profile["id"] == 2 and profile["coffee_hour"] == 2
    path = filesystem(f"{export.partition_uri(lake_settings, DAY)}/{export.PARQUET_FILE}")[1]
    assert sorted(pq.read_table(path).column("id").to_pylist()) == ids[:2]
    catalog = get_catalog(lake_settings)
    partitions = catalog.get_partitions(lake_settings.curated_database, "coffees")
    assert [p["Values"] for p in partitions] == [[DAY]]
