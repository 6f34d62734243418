"""The raw tables are declared from the message schema, with partition projection on day."""

from __future__ import annotations

import json

from iot_lake.config import INCLUDE_DIR
from iot_lake.weather import bounds
from iot_lake.weather.layout import arrival_of, day_key, window_closes
from iot_lake.weather.tables import RAW, RAW_LINES, raw_table_input

SCHEMA = json.loads((INCLUDE_DIR / "schemas" / "weather_message.schema.json").read_text())
# Fields the lead fixed in BRIEF for branch h12-fields; checked against the schema as soon
# as it has them, and against these types until then.
NEW_FIELDS = {
    "liquid_precip": "array<struct<hours:int,depth:double,condition:string,quality:string>>",
    "extreme_temperature": (
        "array<struct<period_hours:double,code:string,temperature:double,quality:string>>"
    ),
}


def glue_type(node: dict) -> str:
    """The Glue type a JSON Schema node maps to (objects keep the schema's field order)."""
    kind = node.get("type")
    if isinstance(kind, list):
        [kind] = [k for k in kind if k != "null"]
    if kind == "object":
        fields = ",".join(f"{k}:{glue_type(v)}" for k, v in node["properties"].items())
        return f"struct<{fields}>"
    if kind == "array":
        return f"array<{glue_type(node['items'])}>"
    return {"string": "string", "number": "double", "integer": "int", "boolean": "boolean"}[kind]


def test_the_raw_table_has_a_typed_column_for_every_field_of_the_message_schema(
    lake_settings,
) -> None:
    table = raw_table_input(RAW, lake_settings)
    columns = {c["Name"]: c["Type"] for c in table["StorageDescriptor"]["Columns"]}
    expected = {name: glue_type(node) for name, node in SCHEMA["properties"].items()}
    for name, glue in NEW_FIELDS.items():
        expected.setdefault(name, glue)
    assert columns == expected
    assert table["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"] == (
        "org.openx.data.jsonserde.JsonSerDe"
    )


def test_both_raw_tables_project_day_over_the_same_objects(lake_settings) -> None:
    raw = lake_settings.uri("raw")
    for name in (RAW, RAW_LINES):
        table = raw_table_input(name, lake_settings)
        assert table["PartitionKeys"] == [
            {"Name": "day", "Type": "string",
             "Comment": "observation day of the message (time[0:10]) or 'undated'"}
        ]
        assert table["Parameters"]["projection.enabled"] == "true"
        assert table["Parameters"]["projection.day.type"] == "injected"
        assert table["Parameters"]["storage.location.template"] == f"{raw}/weather/day=${{day}}/"
        assert table["StorageDescriptor"]["Location"] == f"{raw}/weather/"
    lines = raw_table_input(RAW_LINES, lake_settings)
    assert [c["Name"] for c in lines["StorageDescriptor"]["Columns"]] == ["line"]
    assert lines["StorageDescriptor"]["SerdeInfo"]["Parameters"]["field.delim"] == "\x01"


def test_the_day_key_rule_of_the_brief() -> None:
    assert day_key("2026-11-03T12:00:00Z") == "2026-11-03"
    assert day_key("2026-11-03Tgarbage") == "2026-11-03"  # a date then T: the day is known
    for bad in ("2026-02-30T00:00:00Z", "29/11/2026 12:00", "2026-11-03 12:00", None, 20261103):
        assert day_key(bad) == "undated", bad


def test_arrival_comes_from_the_firehose_object_name() -> None:
    key = (
        "weather/day=undated/iot-lake-raw-weather-1-2026-11-03-23-59-58-"
        "0c4f2a9e-1b2c-4d5e-8f90-123456789abc.gz"
    )
    assert arrival_of(key).isoformat() == "2026-11-03T23:59:58+00:00"
    assert arrival_of("weather/day=undated/manual-upload.gz") is None
    assert window_closes("2026-11-03", 10).isoformat() == "2026-11-04T00:10:00+00:00"


def test_bounds_are_one_table_for_the_flatten_and_the_checks() -> None:
    mapping = bounds.column_mapping()
    assert set(mapping) == {
        "air_temperature", "dew_point", "wind_speed", "wind_direction", "sea_level_pressure",
        "visibility_distance", "sky_ceiling", "base_height",
    }
    params = bounds.sql_params()
    for measure in params["measures"]:
        assert mapping[measure["column"]] == {
            "min": {"geq_to": measure["minimum"]}, "max": {"leq_to": measure["maximum"]}
        }
    assert mapping["base_height"]["max"] == {"leq_to": params["cloud_base"]["maximum"]}


def test_undated_lines_are_projected_by_arrival_day(lake_settings) -> None:
    """A run names its arrival day: only ``day=undated/arrived=D/`` is listed and read."""
    from iot_lake.weather.tables import RAW_UNDATED_LINES

    raw = lake_settings.uri("raw")
    undated = raw_table_input(RAW_UNDATED_LINES, lake_settings)
    lines = raw_table_input(RAW_LINES, lake_settings)
    assert [k["Name"] for k in undated["PartitionKeys"]] == ["arrived"]
    assert undated["Parameters"]["projection.arrived.type"] == "injected"
    assert undated["Parameters"]["storage.location.template"] == (
        f"{raw}/weather/day=undated/arrived=${{arrived}}/")
    assert undated["StorageDescriptor"]["Columns"] == lines["StorageDescriptor"]["Columns"]
    assert undated["StorageDescriptor"]["SerdeInfo"] == lines["StorageDescriptor"]["SerdeInfo"]
