"""The local crawler: new hour folders become partitions, schemas merge as Glue's would."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from iot_lake.catalog import get_catalog
from iot_lake.crawler import CrawlError, crawl_raw, crawler_definition
from iot_lake.storage import atomic_open, join
from iot_lake.weather.synthetic import encode_records, message, object_key

HOUR = datetime(2024, 3, 1, 10, tzinfo=UTC)


def _put(settings, hour: datetime, records: list) -> str:
    uri = join(settings.uri("raw"), object_key(hour))
    with atomic_open(uri) as handle:
        handle.write(encode_records(records))
    return uri


def _msg(minute: int = 0, **overrides) -> dict:
    m = message("722540-13904", HOUR.replace(minute=minute), random.Random(minute), 1, 1)
    m.update(overrides)
    return m


def _columns(settings) -> dict[str, str]:
    table = get_catalog(settings).get_table(settings.raw_database, "weather")
    return {c["Name"]: c["Type"] for c in table["StorageDescriptor"]["Columns"]}


def test_first_crawl_creates_a_glue_shaped_table_with_hour_partitions(lake_settings) -> None:
    _put(lake_settings, HOUR, [_msg(0), _msg(30)])
    _put(lake_settings, HOUR.replace(hour=11), [_msg(5)])
    result = crawl_raw(lake_settings)
    assert result.table_changed and len(result.new_partitions) == 2
    table = get_catalog(lake_settings).get_table("iot_lake_raw", "weather")
    assert [k["Name"] for k in table["PartitionKeys"]] == [f"partition_{i}" for i in range(4)]
    assert table["Parameters"]["classification"] == "json"
    assert table["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"] == (
        "org.openx.data.jsonserde.JsonSerDe"
    )
    columns = _columns(lake_settings)
    assert columns["time"] == "string"
    assert columns["air_temperature"] == "struct<value:double,quality:string>"
    assert columns["sky_cover_condition"] == (
        "array<struct<coverage:string,base_height:double,cloud_type:string>>"
    )
    assert columns["weather_condition"] == (
        "array<struct<present_weather_condition:string,code:string,source:string>>"
    )
    partitions = get_catalog(lake_settings).get_partitions("iot_lake_raw", "weather")
    assert [p["Values"] for p in partitions] == [
        ["2024", "03", "01", "10"],
        ["2024", "03", "01", "11"],
    ]


def test_recrawl_visits_new_folders_only(lake_settings) -> None:
    _put(lake_settings, HOUR, [_msg(0)])
    assert len(crawl_raw(lake_settings).new_partitions) == 1
    again = crawl_raw(lake_settings)
    assert again.new_partitions == [] and again.files_sampled == 0
    _put(lake_settings, HOUR.replace(hour=12), [_msg(1)])
    assert crawl_raw(lake_settings).new_partitions == [["2024", "03", "01", "12"]]


def test_an_extra_field_becomes_a_new_column_and_nothing_is_dropped(lake_settings) -> None:
    _put(lake_settings, HOUR, [_msg(0)])
    crawl_raw(lake_settings)
    before = _columns(lake_settings)
    _put(lake_settings, HOUR.replace(hour=11), [_msg(1, battery_voltage=3.7)])
    result = crawl_raw(lake_settings)
    after = _columns(lake_settings)
    assert result.columns_added == ["battery_voltage"]
    assert after["battery_voltage"] == "double"
    assert {k: after[k] for k in before} == before


def test_a_missing_field_keeps_the_column(lake_settings) -> None:
    _put(lake_settings, HOUR, [_msg(0)])
    crawl_raw(lake_settings)
    partial = _msg(1)
    del partial["sea_level_pressure"]
    _put(lake_settings, HOUR.replace(hour=11), [partial])
    result = crawl_raw(lake_settings)
    assert result.conflicts == [] and result.columns_added == []
    assert _columns(lake_settings)["sea_level_pressure"] == "struct<value:double,quality:string>"


def test_a_type_conflict_keeps_the_table_type_and_is_reported(lake_settings) -> None:
    _put(lake_settings, HOUR, [_msg(0)])
    crawl_raw(lake_settings)
    _put(lake_settings, HOUR.replace(hour=11), [_msg(1, elevation="151 m")])
    result = crawl_raw(lake_settings)
    assert _columns(lake_settings)["elevation"] == "double"
    assert len(result.conflicts) == 1
    assert "2024/03/01/11" in result.conflicts[0] and "elevation" in result.conflicts[0]
    # the conflicting hour is still registered, inheriting the table schema
    partition = get_catalog(lake_settings).get_partition(
        "iot_lake_raw", "weather", ["2024", "03", "01", "11"]
    )
    assert partition is not None
    types = {c["Name"]: c["Type"] for c in partition["StorageDescriptor"]["Columns"]}
    assert types["elevation"] == "double"


def test_numbers_widen_and_empty_arrays_do_not_pin_a_type(lake_settings) -> None:
    first = _msg(0, elevation=151)
    first["sky_cover_condition"] = []
    _put(lake_settings, HOUR, [first])
    crawl_raw(lake_settings)
    assert _columns(lake_settings)["elevation"] == "bigint"
    assert _columns(lake_settings)["sky_cover_condition"] == "array<string>"
    _put(lake_settings, HOUR.replace(hour=11), [_msg(1, elevation=151.5)])
    result = crawl_raw(lake_settings)
    assert result.conflicts == []
    assert _columns(lake_settings)["elevation"] == "double"
    assert _columns(lake_settings)["sky_cover_condition"].startswith("array<struct<coverage")


def test_records_without_a_separator_fail_the_crawl_naming_the_object(lake_settings) -> None:
    import gzip
    import json

    uri = join(lake_settings.uri("raw"), object_key(HOUR))
    with atomic_open(uri) as handle:  # Firehose without the rule's "\n" separator
        handle.write(gzip.compress((json.dumps(_msg(0)) + json.dumps(_msg(1))).encode()))
    with pytest.raises(CrawlError, match="newline-delimited") as error:
        crawl_raw(lake_settings)
    assert uri.rsplit("/", 1)[-1] in str(error.value)
    assert get_catalog(lake_settings).get_partitions("iot_lake_raw", "weather") == []


def test_error_objects_and_hidden_files_are_not_crawled(lake_settings) -> None:
    _put(lake_settings, HOUR, [_msg(0)])
    errors = join(lake_settings.uri("raw"), "errors/processing-failed/2024/03/01/10/x.gz")
    with atomic_open(errors) as handle:
        handle.write(b"not json at all")
    hidden = join(lake_settings.uri("raw"), "weather/2024/03/01/13/.partial.gz.tmp")
    with atomic_open(hidden) as handle:
        handle.write(b"{half")
    result = crawl_raw(lake_settings)
    assert result.new_partitions == [["2024", "03", "01", "10"]]


def test_crawler_definition_is_the_deployable_glue_request(lake_settings) -> None:
    definition = crawler_definition(lake_settings, role="arn:aws:iam::123456789012:role/x")
    target = definition["Targets"]["S3Targets"][0]
    assert target["SampleSize"] == 10
    assert target["Path"] == lake_settings.uri("raw") + "/weather/"
    assert definition["RecrawlPolicy"] == {"RecrawlBehavior": "CRAWL_NEW_FOLDERS_ONLY"}
    assert '"AddOrUpdateBehavior":"InheritFromTable"' in definition["Configuration"]
    assert definition["DatabaseName"] == "iot_lake_raw"
    assert definition["Classifiers"] == ["iot_lake_json_records"]
