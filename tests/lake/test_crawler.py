"""The Glue crawler definition: discovery only, never over the declared raw tables."""

from __future__ import annotations

import fnmatch

from iot_lake.crawler import crawler_definition


def test_crawler_definition_is_the_deployable_glue_request(lake_settings) -> None:
    definition = crawler_definition(lake_settings, role="arn:aws:iam::123456789012:role/x")
    target = definition["Targets"]["S3Targets"][0]
    assert target["Path"] == lake_settings.uri("raw") + "/weather/"
    assert definition["DatabaseName"] == "iot_lake_raw"
    assert definition["Classifiers"] == ["iot_lake_json_records"]
    assert definition["Role"] == "arn:aws:iam::123456789012:role/x"


def test_the_crawler_writes_its_own_tables_and_never_freezes_their_schema(lake_settings) -> None:
    definition = crawler_definition(lake_settings)
    # discovered_weather, discovered_...: never the declared weather / weather_lines
    assert definition["TablePrefix"] == "discovered_"
    # CRAWL_NEW_FOLDERS_ONLY would force LOG: the discovered schema would never change
    assert definition["RecrawlPolicy"] == {"RecrawlBehavior": "CRAWL_EVERYTHING"}
    assert definition["SchemaChangePolicy"]["UpdateBehavior"] == "UPDATE_IN_DATABASE"


def test_exclusions_are_relative_to_the_target_path(lake_settings) -> None:
    """Glue matches exclusions against the key below the target (raw/weather/)."""
    target = crawler_definition(lake_settings)["Targets"]["S3Targets"][0]
    relative_keys = {
        "day=2026-11-03/iot-lake-raw-weather-1-2026-11-03-00-01-00-x.gz": False,
        "day=undated/iot-lake-raw-weather-1-2026-11-03-00-01-00-x.gz": False,
        "day=2026-11-03/.iot-lake-raw-weather-1-x.gz.tmp": True,
        "day=2026-11-03/_SUCCESS": True,
    }
    for key, excluded in relative_keys.items():
        assert any(fnmatch.fnmatch(key, p) for p in target["Exclusions"]) is excluded, key
    # error objects live beside the target (raw/errors/), so no pattern is needed (or
    # could work: 'errors/**' would match raw/weather/errors/..., which does not exist)
    assert not any("errors" in p for p in target["Exclusions"])
