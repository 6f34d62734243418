"""The weather page's cold readings come from the DynamoDB sink (a real dynalite here)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from iot_lake.dashboard import data
from iot_lake.dashboard.app import create_app
from tests.dashboard import lake_fixture
from tests.dashboard.html_rows import table_rows
from tests.fixtures.ingest import dynamodb_local  # noqa: F401


@pytest.fixture
def cold_table(dynamodb_local, fixture_lake, monkeypatch: pytest.MonkeyPatch) -> str:  # noqa: F811
    from iot_lake import config

    monkeypatch.setenv("IOT_LAKE_DYNAMODB_ENDPOINT", dynamodb_local.endpoint)
    monkeypatch.setenv("IOT_LAKE_COLD_READINGS_TABLE", "dashboard_cold_readings")
    config.settings.cache_clear()
    data.clear_cache()
    yield dynamodb_local.fresh_table("dashboard_cold_readings")
    config.settings.cache_clear()


def put(dynamodb_local, table: str, items: list[dict]) -> None:  # noqa: F811
    client = dynamodb_local.client()
    for item in items:
        client.put_item(
            TableName=table,
            Item={
                "weather_station": {"S": item["weather_station"]},
                "time": {"S": item["time"]},
                "air_temperature": {"N": str(item["air_temperature"])},
            },
        )


def test_newest_cold_readings_of_known_stations_come_first(cold_table, dynamodb_local) -> None:  # noqa: F811
    a, b, _ = lake_fixture.STATIONS
    put(
        dynamodb_local,
        cold_table,
        [
            {
                "weather_station": a,
                "time": "2024-06-07T05:00:00",
                "air_temperature": Decimal("-3.5"),
            },
            {
                "weather_station": b,
                "time": "2024-06-07T06:00:00",
                "air_temperature": Decimal("-1.0"),
            },
            {
                "weather_station": a,
                "time": "2024-06-06T23:00:00",
                "air_temperature": Decimal("-7.25"),
            },
        ],
    )
    with TestClient(create_app()) as client:
        page = client.get("/weather")
    shown = table_rows(page.text, "cold-readings")
    assert [(r["weather_station"], r["time"], r["air_temperature"]) for r in shown] == [
        (b, "2024-06-07T06:00:00", "-1.0"),
        (a, "2024-06-07T05:00:00", "-3.5"),
        (a, "2024-06-06T23:00:00", "-7.2"),
    ]


def test_an_empty_cold_table_says_so(cold_table) -> None:
    with TestClient(create_app()) as client:
        page = client.get("/weather")
    assert 'data-testid="cold-empty"' in page.text and "No cold readings yet" in page.text
