"""Catalog registration of the day's partition and reconciliation against MySQL."""

from __future__ import annotations

from datetime import datetime

import pytest

from iot_lake.catalog import get_catalog
from iot_lake.coffee import export, reconcile, table
from iot_lake.storage import filesystem
from tests.coffee.conftest import DAY, END, START


def _export_three_rows_one_rejected(coffee_db, lake) -> None:
    photo = f"{lake.uri('photos')}/coffee-machine-01/{DAY}/a.jpg"
    coffee_db.insert(
        [
            {"photo_url": photo, "coffee_hour": datetime(2026, 11, 20, 8)},
            {"photo_url": photo, "coffee_hour": datetime(2026, 11, 20, 9)},
            {"photo_url": None, "coffee_hour": datetime(2026, 11, 20, 10)},
        ]
    )
    export.export_day(DAY, START, END, lake=lake)


def test_registering_a_day_creates_the_typed_table_and_its_partition(coffee_db, lake_settings):
    _export_three_rows_one_rejected(coffee_db, lake_settings)
    first = table.register_partition(DAY, lake_settings)
    again = table.register_partition(DAY, lake_settings)

    assert first["table_changed"] and first["new_partition"]
    assert not again["table_changed"] and not again["new_partition"]
    catalog = get_catalog(lake_settings)
    definition = catalog.get_table(lake_settings.curated_database, "coffees")
    types = {c["Name"]: c["Type"] for c in definition["StorageDescriptor"]["Columns"]}
    assert types["coffee_hour"] == "timestamp" and types["has_face"] == "boolean"
    assert definition["PartitionKeys"] == [{"Name": "dt", "Type": "string"}]
    (partition,) = catalog.get_partitions(lake_settings.curated_database, "coffees")
    assert partition["Values"] == [DAY]
    assert partition["StorageDescriptor"]["Location"].rstrip("/") == export.partition_uri(
        lake_settings, DAY
    )


def test_exported_plus_rejected_rows_reconcile_with_mysql(coffee_db, lake_settings):
    _export_three_rows_one_rejected(coffee_db, lake_settings)
    table.register_partition(DAY, lake_settings)

    result = reconcile.reconcile_day(DAY, START, END, lake=lake_settings)

    assert (result.source_rows, result.lake_rows, result.rejected_rows) == (3, 2, 1)


def test_a_row_added_after_the_export_fails_reconciliation_with_the_counts(
    coffee_db, lake_settings
):
    _export_three_rows_one_rejected(coffee_db, lake_settings)
    table.register_partition(DAY, lake_settings)
    coffee_db.insert([{"photo_url": None, "coffee_hour": datetime(2026, 11, 20, 12)}])

    with pytest.raises(reconcile.ReconciliationError) as failure:
        reconcile.reconcile_day(DAY, START, END, lake=lake_settings)
    message = str(failure.value)
    assert "MySQL has 4 rows" in message and "partition has 2" in message
    assert "rejects file 1" in message


def test_the_column_checks_of_the_dag_catch_a_duplicated_id(coffee_db, lake_settings):
    import shutil

    from airflow.providers.common.compat.sdk import AirflowException

    from iot_lake.operators.checks import LakeColumnCheckOperator

    _export_three_rows_one_rejected(coffee_db, lake_settings)
    table.register_partition(DAY, lake_settings)
    check = LakeColumnCheckOperator(
        task_id="check_columns",
        table=f"{lake_settings.curated_database}.coffees",
        partition_clause=f"dt = '{DAY}'",
        column_mapping={"id": {"unique_check": {"equal_to": 0}}},
    )
    check.execute(context={})  # the exported partition passes

    partition = filesystem(export.partition_uri(lake_settings, DAY))[1]
    shutil.copy(f"{partition}/{export.PARQUET_FILE}", f"{partition}/part-00001.parquet")
    with pytest.raises(AirflowException, match="unique_check"):
        check.execute(context={})
