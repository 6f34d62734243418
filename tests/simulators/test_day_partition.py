"""The raw layout's day key: the AWS stream's JQ query and the local Python rule agree.

The JQ expression is read from include/firehose/weather_stream.json and evaluated with the
``jq`` package (libjq); Firehose evaluates it with JQ 1.6 on every record.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import jq
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from simulators.iot_core.delivery import day_partition, day_query

_PROGRAM = jq.compile(day_query())


def jq_day(record: Any) -> str:
    """What Firehose's MetadataExtraction yields for the record as the rule sends it."""
    return _PROGRAM.input_text(json.dumps(record)).first()["day"]


dates = st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31)).map(
    lambda d: d.isoformat()
)
digits = st.text("0123456789", min_size=1, max_size=5)
almost_dates = st.tuples(digits, digits, digits).map(lambda t: f"{t[0]}-{t[1]}-{t[2]}")
tails = st.sampled_from(
    ["T00:00:00Z", "T23:59:59Z", "T", "Tx", " 12:00", "", "Z", "T12:00:00+01:00"]
)
times = st.one_of(
    st.tuples(dates, tails).map("".join),
    st.tuples(almost_dates, tails).map("".join),
    st.text(max_size=30),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)
records = st.one_of(
    st.fixed_dictionaries({"time": times}, optional={"weather_station": st.text(max_size=8)}),
    st.dictionaries(st.text(max_size=6).filter(lambda k: k != "time"), json_values, max_size=3),
    json_values,  # not an object at all
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records)
@example({"time": "2024-02-29T10:00:00Z"})
@example({"time": "2023-02-29T10:00:00Z"})
@example({"time": "2024-13-01T00:00:00Z"})
@example({"time": "2024-04-31T00:00:00Z"})
@example({"time": "0000-01-01T00:00:00Z"})
@example({"time": "0001-01-01T00:00:00Z"})
@example({"time": "2024-01-01"})
@example({"time": "2024-01-01 00:00:00"})
@example({"time": "２０２４-01-01T00:00:00Z"})
@example({"time": 20240101})
@example({"time": None})
@example({})
@example([{"time": "2024-01-01T00:00:00Z"}])
@example("2024-01-01T00:00:00Z")
def test_jq_query_and_python_rule_give_the_same_day(record: Any) -> None:
    assert jq_day(record) == day_partition(record)


@pytest.mark.parametrize(
    ("record", "day"),
    [
        ({"time": "2024-02-29T10:00:00Z"}, "2024-02-29"),
        ({"time": "2023-02-29T10:00:00Z"}, "undated"),
        ({"time": "2024-01-01"}, "undated"),
        ({"weather_station": "x"}, "undated"),
        ({"time": 1704067200}, "undated"),
        ([1, 2], "undated"),
    ],
)
def test_the_day_rule_of_the_brief(record: Any, day: str) -> None:
    assert day_partition(record) == day
    assert jq_day(record) == day


def test_the_aws_stream_partitions_by_the_query_with_a_buffer_aws_accepts() -> None:
    from iot_lake.provisioning import documents

    values = {
        "firehose_role_arn": "r",
        "raw_bucket_arn": "b",
        "raw_prefix": "raw/",
        "firehose_log_group": "/aws/kinesisfirehose/s",
        "firehose_log_stream": "DestinationDelivery",
    }
    for name in ("weather_stream.json", "weather_stream_kms.json"):
        documents.load(f"firehose/{name}", {**values, "kms_key_arn": "k"})  # renders
    destination = documents.load("firehose/weather_stream.json", values)[
        "ExtendedS3DestinationConfiguration"
    ]
    assert destination["Prefix"] == (
        "raw/weather/day=!{partitionKeyFromQuery:day}/arrived=!{timestamp:yyyy-MM-dd}/")
    assert destination["DynamicPartitioningConfiguration"]["Enabled"] is True
    assert destination["BufferingHints"]["SizeInMBs"] >= 64  # AWS's minimum with partitioning
    (processor,) = destination["ProcessingConfiguration"]["Processors"]
    parameters = {p["ParameterName"]: p["ParameterValue"] for p in processor["Parameters"]}
    assert processor["Type"] == "MetadataExtraction"
    assert parameters == {"MetadataExtractionQuery": day_query(), "JsonParsingEngine": "JQ-1.6"}
