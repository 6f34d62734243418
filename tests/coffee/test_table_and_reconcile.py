"""The coffee tables in the catalog, the staged day, and reconciliation against MySQL."""

from __future__ import annotations

import shutil
from datetime import datetime

import pytest

from iot_lake.catalog import get_catalog
from iot_lake.coffee import export, reconcile, table
from iot_lake.errors import DataCheckFailed
from iot_lake.storage import filesystem
from iot_lake.wap import superseded
from tests.coffee.conftest import DAY, END, START


def _insert_three_rows_one_bad(coffee_db, lake) -> None:
    photo = f"{lake.uri('photos')}/coffee-machine-01/{DAY}/a.jpg"
    coffee_db.insert(
        [
            {"photo_url": photo, "coffee_hour": datetime(2026, 11, 20, 8)},
            {"photo_url": photo, "coffee_hour": datetime(2026, 11, 20, 9)},
            {"photo_url": None, "coffee_hour": datetime(2026, 11, 20, 10)},
        ]
    )


def test_the_tables_are_typed_and_declared_once(lake_settings):
    assert table.ensure_tables(lake_settings) == {"coffees": True, "coffee_rejects": True}
    assert table.ensure_tables(lake_settings) == {"coffees": False, "coffee_rejects": False}
    catalog = get_catalog(lake_settings)
    definition = catalog.get_table(lake_settings.curated_database, "coffees")
    types = {c["Name"]: c["Type"] for c in definition["StorageDescriptor"]["Columns"]}
    assert types["coffee_hour"] == "timestamp" and types["has_face"] == "boolean"
    assert definition["PartitionKeys"] == [{"Name": "dt", "Type": "string"}]
    rejects = catalog.get_table(lake_settings.curated_database, "coffee_rejects")
    assert [(c["Name"], c["Type"]) for c in rejects["StorageDescriptor"]["Columns"]] == [
        ("source", "string"), ("line_number", "bigint"), ("reason", "string"),
        ("raw", "string"), ("rejected_at", "timestamp"),
    ]


def test_a_staged_day_is_in_the_staging_database_only_until_published(coffee_db, lake_settings):
    _insert_three_rows_one_bad(coffee_db, lake_settings)
    staged = export.stage_day(DAY, START, END, lake=lake_settings)

    catalog = get_catalog(lake_settings)
    curated, staging = lake_settings.curated_database, lake_settings.staging_database
    assert catalog.get_partitions(curated, "coffees") == []
    [in_staging] = catalog.get_partitions(staging, "coffees")
    assert in_staging["StorageDescriptor"]["Location"].rstrip("/") == staged.partition_uri
    assert "/coffees/_staging/dt=2026-11-20/run=" in staged.partition_uri
    assert reconcile.count_lake_rows(DAY, lake_settings) == (2, 1)

    published = export.publish_day(staged, lake_settings)
    assert published.partition_uri == export.partition_uri(lake_settings, DAY)
    assert catalog.get_partitions(staging, "coffees") == []
    assert catalog.get_partitions(staging, "coffee_rejects") == []
    assert [p["Values"] for p in catalog.get_partitions(curated, "coffees")] == [[DAY]]
    assert reconcile.count_lake_rows(DAY, lake_settings, curated) == (2, 1)


def test_staged_rows_plus_rejects_reconcile_with_mysql(coffee_db, lake_settings):
    _insert_three_rows_one_bad(coffee_db, lake_settings)
    export.stage_day(DAY, START, END, lake=lake_settings)

    result = reconcile.reconcile_day(DAY, START, END, lake=lake_settings)

    assert (result.source_rows, result.lake_rows, result.rejected_rows) == (3, 2, 1)


def test_a_row_added_after_the_write_fails_reconciliation_as_a_data_error(
    coffee_db, lake_settings
):
    _insert_three_rows_one_bad(coffee_db, lake_settings)
    staged = export.stage_day(DAY, START, END, lake=lake_settings)
    coffee_db.insert([{"photo_url": None, "coffee_hour": datetime(2026, 11, 20, 12)}])

    with pytest.raises(reconcile.ReconciliationError) as failure:
        reconcile.reconcile_day(DAY, START, END, lake=lake_settings, staged=staged.staged)
    assert isinstance(failure.value, DataCheckFailed)  # an AirflowFailException: no retry
    message = str(failure.value)
    assert "MySQL has 4 rows" in message and "iot_lake_staging.coffees has 2" in message
    assert "iot_lake_staging.coffee_rejects 1" in message
    assert staged.partition_uri in message


def test_the_column_checks_of_the_dag_catch_a_duplicated_id(coffee_db, lake_settings):
    from iot_lake.operators.checks import LakeColumnCheckOperator

    _insert_three_rows_one_bad(coffee_db, lake_settings)
    staged = export.stage_day(DAY, START, END, lake=lake_settings)
    check = LakeColumnCheckOperator(
        task_id="check_columns",
        table=f"{lake_settings.staging_database}.coffees",
        partition_clause=f"dt = '{DAY}'",
        column_mapping={"id": {"unique_check": {"equal_to": 0}}},
    )
    check.execute(context={})  # the staged partition passes

    partition = filesystem(staged.partition_uri)[1]
    shutil.copy(f"{partition}/{export.PARQUET_FILE}", f"{partition}/part-00001.parquet")
    with pytest.raises(DataCheckFailed, match="unique_check"):
        check.execute(context={})


def test_restaging_a_day_retires_the_unpublished_version_after_the_grace_period(
    coffee_db, lake_settings
):
    from datetime import UTC, timedelta

    _insert_three_rows_one_bad(coffee_db, lake_settings)
    first = export.stage_day(DAY, START, END, lake=lake_settings)  # say its audit failed
    second = export.stage_day(DAY, START, END, lake=lake_settings)
    fs, first_path = filesystem(first.partition_uri)
    assert fs.exists(first_path), "a failed audit's data stays for inspection"
    assert superseded.expire_superseded(lake_settings) == []
    later = datetime.now(UTC) + timedelta(hours=lake_settings.superseded_grace_hours + 1)
    expired = superseded.expire_superseded(lake_settings, now=later)
    assert first.partition_uri in {e.rstrip("/") for e in expired}
    assert not fs.exists(first_path)
    assert fs.exists(filesystem(second.partition_uri)[1])
