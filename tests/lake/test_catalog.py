"""The catalog seam: the same Glue shapes from the local JSON catalog and from Glue (moto)."""

from __future__ import annotations

import json

import pytest

from iot_lake.catalog import (
    get_catalog,
    parquet_table_input,
    table_format,
)
from iot_lake.catalog.glue import GlueCatalog
from iot_lake.catalog.local import LocalCatalog
from iot_lake.errors import CatalogError


def _table(location: str) -> dict:
    return parquet_table_input(
        "coffees", [("machine_id", "string"), ("cups", "bigint")], location, [("dt", "string")]
    )


def test_local_catalog_round_trips_a_glue_table(lake_settings) -> None:
    catalog = get_catalog(lake_settings)
    assert isinstance(catalog, LocalCatalog)
    table = _table(lake_settings.uri("curated") + "/coffees")
    assert catalog.upsert_table("iot_lake", table) is True
    assert catalog.upsert_table("iot_lake", table) is False, "an unchanged table is not rewritten"
    stored = catalog.get_table("iot_lake", "coffees")
    assert stored["StorageDescriptor"]["Columns"] == table["StorageDescriptor"]["Columns"]
    assert stored["PartitionKeys"] == [{"Name": "dt", "Type": "string"}]
    assert table_format(stored) == "parquet"
    assert catalog.list_databases() == ["iot_lake"]
    assert catalog.list_tables("iot_lake") == ["coffees"]
    assert catalog.get_table("iot_lake", "missing") is None


def test_local_catalog_adds_moves_and_deletes_partitions(lake_settings) -> None:
    catalog = get_catalog(lake_settings)
    base = lake_settings.uri("curated") + "/coffees"
    catalog.upsert_table("iot_lake", _table(base))
    new = catalog.put_partition("iot_lake", "coffees", ["2024-01-02"], f"{base}/dt=2024-01-02")
    assert new is None
    catalog.put_partition("iot_lake", "coffees", ["2024-01-01"], f"{base}/dt=2024-01-01")
    previous = catalog.put_partition("iot_lake", "coffees", ["2024-01-02"], f"{base}/v2")
    assert previous == f"{base}/dt=2024-01-02/"
    partitions = catalog.get_partitions("iot_lake", "coffees")
    assert [p["Values"] for p in partitions] == [["2024-01-01"], ["2024-01-02"]]
    assert partitions[1]["StorageDescriptor"]["Location"] == f"{base}/v2/"
    # partitions inherit the table's storage (format, serde)
    assert partitions[0]["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"].endswith(
        "ParquetHiveSerDe"
    )
    assert catalog.delete_partition("iot_lake", "coffees", ["2024-01-01"]) is True
    assert catalog.delete_partition("iot_lake", "coffees", ["2024-01-01"]) is False
    assert [p["Values"] for p in catalog.get_partitions("iot_lake", "coffees")] == [["2024-01-02"]]


def test_local_catalog_rejects_wrong_partition_values(lake_settings) -> None:
    catalog = get_catalog(lake_settings)
    catalog.upsert_table("iot_lake", _table(lake_settings.uri("curated") + "/coffees"))
    with pytest.raises(CatalogError, match="partitioned by"):
        catalog.put_partition("iot_lake", "coffees", ["2024", "01"], "file:///x")
    with pytest.raises(CatalogError, match="not in the catalog"):
        catalog.put_partition("iot_lake", "nope", ["2024"], "file:///x")


def test_local_catalog_files_are_glue_table_json(lake_settings) -> None:
    catalog = get_catalog(lake_settings)
    catalog.upsert_table("iot_lake", _table(lake_settings.uri("curated") + "/coffees"))
    path = lake_settings.uri("catalog").removeprefix("file://") + "/iot_lake/coffees/table.json"
    with open(path) as handle:
        document = json.load(handle)
    assert document["Name"] == "coffees" and document["DatabaseName"] == "iot_lake"
    assert document["TableType"] == "EXTERNAL_TABLE"


def test_glue_catalog_speaks_the_same_shapes(aws_lake) -> None:
    catalog = get_catalog(aws_lake)
    assert isinstance(catalog, GlueCatalog)
    table = _table("s3://lake-curated/coffees/")
    assert catalog.upsert_table("iot_lake", table) is True
    assert catalog.upsert_table("iot_lake", table) is False
    assert catalog.list_tables("iot_lake") == ["coffees"]
    assert catalog.get_table("iot_lake", "coffees")["PartitionKeys"][0]["Name"] == "dt"
    assert catalog.put_partition("iot_lake", "coffees", ["2024-01-01"], "s3://lake-curated/a") is (
        None
    )
    previous = catalog.put_partition("iot_lake", "coffees", ["2024-01-01"], "s3://lake-curated/b")
    assert previous == "s3://lake-curated/a/"
    partitions = catalog.get_partitions("iot_lake", "coffees")
    assert [p["StorageDescriptor"]["Location"] for p in partitions] == ["s3://lake-curated/b/"]
    assert catalog.delete_partition("iot_lake", "coffees", ["2024-01-01"]) is True
    assert catalog.get_partitions("iot_lake", "coffees") == []
