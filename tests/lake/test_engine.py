"""The SQL engine seam: Athena SQL on DuckDB over catalog views, and the Athena calls (moto)."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from iot_lake.catalog import get_catalog, parquet_table_input
from iot_lake.engine import get_engine
from iot_lake.errors import QueryError
from iot_lake.sql.render import render_sql
from iot_lake.sql.transpile import to_duckdb
from iot_lake.storage import atomic_open, filesystem, join
from iot_lake.wap import publish, superseded
from iot_lake.weather.synthetic import encode_records, message, object_key, write_object
from iot_lake.weather.tables import ensure_tables


def test_importing_the_engine_leaves_airflow_out_and_its_errors_are_plain_classes() -> None:
    """Benchmark workers and CLIs import the engine; Airflow would cost them ~1 s, ~90 MB.

    The errors it raises are defined in iot_lake.errors (which imports Airflow): a data
    error there is a real AirflowFailException, so the task runner does not retry it.
    """
    code = (
        "import sys; import iot_lake.engine.duckdb, iot_lake.engine.athena, "
        "iot_lake.weather.pipeline; "
        "assert 'airflow' not in sys.modules, 'airflow imported'; "
        "from iot_lake import errors; "
        "from airflow.sdk.exceptions import AirflowFailException; "
        "assert issubclass(errors.QueryDataError, errors.QueryError); "
        "assert issubclass(errors.QueryDataError, AirflowFailException); "
        "assert not issubclass(errors.QueryError, AirflowFailException); "
        "print(errors.QueryDataError.__module__, errors.QueryDataError.__qualname__)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=os.environ.copy(), check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1].split() == ["iot_lake.errors", "QueryDataError"]

def _table(settings, name: str = "readings") -> dict:
    table = parquet_table_input(
        name, [("station", "string"), ("value", "double")],
        join(settings.uri("curated"), name), [("dt", "string")],
    )
    get_catalog(settings).upsert_table(settings.curated_database, table)
    return table


def test_render_sql_fills_ds_params_and_lake_settings(lake_settings) -> None:
    text = "SELECT '{{ ds }}', {{ params.n }} FROM {{ lake.raw_database }}.weather"
    assert render_sql(text, params={"n": 3}, ds="2024-01-02") == (
        "SELECT '2024-01-02', 3 FROM iot_lake_raw.weather"
    )
    with pytest.raises(Exception, match=r"has no attribute .missing."):
        render_sql("SELECT {{ params.missing }}")


def test_only_one_statement_per_sql(lake_settings) -> None:
    with pytest.raises(QueryError, match="exactly one"):
        to_duckdb("SELECT 1; SELECT 2")


def test_json_parse_is_a_cast_to_json_that_keeps_the_text_and_fails_like_json_parse(
    lake_settings,
) -> None:
    """json_parse -> CAST(.. AS JSON): no minified copy to parse again, same failures."""
    local = to_duckdb("SELECT try(json_parse(line)) AS doc FROM t")
    assert "CAST(line AS JSON)" in local and "JSON(line)" not in local
    spaced = '{ "a" : { "value" : 1e1 , "quality" : "5" }, "b" : [ 1, 2 ] }'
    rows = get_engine(lake_settings).query(
        "SELECT try(json_parse(line)) IS NULL,"
        " try_cast(try(json_parse(line)) AS row(a row(value double, quality varchar))).a.value,"
        " json_format(element_at(try_cast(try(json_parse(line)) AS map(varchar, json)), 'b'))"
        " FROM (VALUES ('" + spaced + "'), ('{bad'), (''), ('[1] x')) AS t(line)"
        " ORDER BY 1, 2").rows
    assert rows == [(False, 10.0, "[1,2]"), (True, None, None), (True, None, None),
                    (True, None, None)]


def test_left_join_unnest_keeps_observations_with_empty_arrays(lake_settings) -> None:
    """As in the lab: CROSS JOIN UNNEST drops observations whose arrays are empty."""
    sizes = [(2, 1), (0, 0), (1, 2), (0, 1), (3, 0), (1, 1)]  # (sky layers, conditions)
    rng = random.Random(1)
    hour = datetime(2024, 1, 1, 5, tzinfo=UTC)
    records = [
        message("722540-13904", hour.replace(minute=i), rng, sky, cond)
        for i, (sky, cond) in enumerate(sizes)
    ]
    with atomic_open(join(lake_settings.uri("raw"), object_key(hour, "2024-01-01"))) as handle:
        handle.write(encode_records(records))
    ensure_tables(lake_settings)
    expected = sum(max(sky, 1) * max(cond, 1) for sky, cond in sizes)
    left = get_engine().query(
        "SELECT count(*) FROM iot_lake_raw.weather AS o "
        "LEFT JOIN UNNEST(o.sky_cover_condition) AS s (coverage, base_height, cloud_type) ON TRUE "
        "LEFT JOIN UNNEST(o.weather_condition) AS c (present_weather_condition, code, source) "
        "ON TRUE WHERE o.day = '2024-01-01'"
    ).rows
    cross = get_engine().query(
        "SELECT count(*) FROM iot_lake_raw.weather AS o "
        "CROSS JOIN UNNEST(o.sky_cover_condition) AS s (coverage, base_height, cloud_type) "
        "CROSS JOIN UNNEST(o.weather_condition) AS c (present_weather_condition, code, source) "
        "WHERE o.day = '2024-01-01'"
    ).rows
    assert left == [(expected,)] and expected == 10
    assert cross[0][0] == sum(sky * cond for sky, cond in sizes) < 6
    fields = get_engine().query(
        "SELECT s.cloud_type, s.base_height FROM iot_lake_raw.weather AS o "
        "CROSS JOIN UNNEST(o.sky_cover_condition) AS s (coverage, base_height, cloud_type) "
        "WHERE o.day = '2024-01-01'"
    ).rows
    layers = [layer for r in records for layer in r["sky_cover_condition"]]
    assert sorted(fields, key=str) == sorted(
        [(layer["cloud_type"], layer["base_height"]) for layer in layers], key=str
    )


def test_projected_partitions_come_from_the_where_clause_and_the_template(lake_settings) -> None:
    """No partition is registered: the day folders a query names are read, as on Athena."""
    raw = lake_settings.uri("raw")
    rng = random.Random(2)
    at = datetime(2026, 11, 3, 1, tzinfo=UTC)
    write_object(raw, [message("722540-13904", at, rng)], at, "2026-11-03")
    write_object(raw, [message("722540-13904", at, rng), "{not json"], at, "undated")
    write_object(raw, [message("722540-13904", at, rng)], at, "2026-11-04")
    ensure_tables(lake_settings)
    assert get_catalog(lake_settings).get_partitions("iot_lake_raw", "weather_lines") == []
    rows = get_engine().query(
        "SELECT day, count(*) FROM iot_lake_raw.weather_lines "
        "WHERE day IN ('2026-11-03', 'undated') GROUP BY day ORDER BY day"
    ).rows
    assert rows == [("2026-11-03", 1), ("undated", 2)]
    assert get_engine().query(
        "SELECT count(*) FROM iot_lake_raw.weather WHERE day = '2026-11-04'"
    ).rows == [(1,)]
    assert get_engine().query(
        "SELECT count(*) FROM iot_lake_raw.weather_lines WHERE day = '2026-12-25'"
    ).rows == [(0,)]
    # Athena refuses a query that does not name the injected key's values: so does this
    with pytest.raises(QueryError, match="CONSTRAINT_VIOLATION"):
        get_engine().query("SELECT count(*) FROM iot_lake_raw.weather_lines")
    with pytest.raises(QueryError, match="CONSTRAINT_VIOLATION"):
        get_engine().query("SELECT count(*) FROM iot_lake_raw.weather_lines WHERE day > '2026'")
    # a static condition plus a non-static use of the key in WHERE: refused too
    with pytest.raises(QueryError, match="only static equality"):
        get_engine().query(
            "SELECT count(*) FROM iot_lake_raw.weather_lines AS l "
            "WHERE l.day IN ('2026-11-03', 'undated') AND substr(l.day, 1, 4) = '2026'"
        )


def test_path_is_the_object_uri_like_athenas_hidden_column(lake_settings) -> None:
    raw = lake_settings.uri("raw")
    at = datetime(2026, 11, 3, 1, 2, 3, tzinfo=UTC)
    uri = write_object(raw, ["a", "", "b"], at, "2026-11-03")
    ensure_tables(lake_settings)
    rows = get_engine().query(
        "SELECT \"$path\", line FROM iot_lake_raw.weather_lines WHERE day = '2026-11-03'"
    ).rows
    # every line is a row, the blank one too (as Hive's TextInputFormat gives it)
    assert sorted(rows, key=repr) == sorted([(uri, "a"), (uri, None), (uri, "b")], key=repr)
    assert "-2026-11-03-01-02-03-" in uri
    # without "$path" in the statement the view has no such column (hidden, as on Athena)
    assert get_engine().query(
        "SELECT * FROM iot_lake_raw.weather_lines WHERE day = '2026-11-03' LIMIT 1"
    ).rows[0].__len__() == 2


def test_write_partition_replaces_a_day_and_leaves_others(lake_settings) -> None:
    _table(lake_settings)
    db = lake_settings.curated_database
    publish.write_partition("SELECT 'a' AS station, 1.0 AS value", db, "readings", ["d1"])
    publish.write_partition("SELECT 'b' AS station, 2.0 AS value", db, "readings", ["d2"])
    publish.write_partition(
        "SELECT 'c' AS station, 3.0 AS value UNION ALL SELECT 'd', 4.0", db, "readings", ["d2"]
    )
    rows = get_engine().query("SELECT dt, station, value FROM readings ORDER BY station").rows
    assert rows == [("d1", "a", 1.0), ("d2", "c", 3.0), ("d2", "d", 4.0)]
    fs, path = filesystem(join(lake_settings.uri("curated"), "readings"))
    # The replaced d2 is kept aside for the grace period; nothing staged is left behind.
    assert sorted(p.rsplit("/", 1)[-1] for p in fs.ls(path)) == ["_superseded", "dt=d1", "dt=d2"]


def test_a_failing_write_leaves_the_published_partition_untouched(lake_settings) -> None:
    _table(lake_settings)
    db = lake_settings.curated_database
    publish.write_partition("SELECT 'a' AS station, 1.0 AS value", db, "readings", ["d1"])
    with pytest.raises(QueryError, match="unchanged"):
        publish.write_partition(
            "SELECT 'b' AS station, CAST('x' AS double) AS value", db, "readings", ["d1"]
        )
    assert get_engine().query("SELECT station FROM readings").rows == [("a",)]
    fs, path = filesystem(join(lake_settings.uri("curated"), "readings"))
    assert [p.rsplit("/", 1)[-1] for p in fs.ls(path)] == ["dt=d1"], "no staging left behind"


def test_queries_read_only_the_partitions_their_where_clause_selects(lake_settings) -> None:
    _table(lake_settings)
    db = lake_settings.curated_database
    publish.write_partition("SELECT 'a' AS station, 1.0 AS value", db, "readings", ["d1"])
    publish.write_partition("SELECT 'b' AS station, 2.0 AS value", db, "readings", ["d2"])
    # corrupt d2: a query that reads it fails, one pruned to d1 never opens it
    fs, path = filesystem(join(lake_settings.uri("curated"), "readings", "dt=d2"))
    for name in fs.ls(path):
        with fs.open(name, "wb") as handle:
            handle.write(b"not parquet")
    assert get_engine().query("SELECT station FROM readings WHERE dt = 'd1'").rows == [("a",)]
    with pytest.raises(QueryError):
        get_engine().query("SELECT station FROM readings")


def test_unregistered_partitions_are_invisible(lake_settings) -> None:
    _table(lake_settings)
    db = lake_settings.curated_database
    publish.write_partition("SELECT 'a' AS station, 1.0 AS value", db, "readings", ["d1"])
    get_catalog(lake_settings).delete_partition(db, "readings", ["d1"])
    assert get_engine().query("SELECT count(*) FROM readings").rows == [(0,)]


def test_connect_gives_the_dashboard_every_table_as_a_view(lake_settings) -> None:
    _table(lake_settings)
    publish.write_partition(
        "SELECT 'a' AS station, 1.5 AS value", lake_settings.curated_database, "readings", ["d1"]
    )
    con = get_engine(lake_settings).connect()
    assert con.sql("SELECT station, value, dt FROM iot_lake.readings").fetchall() == [
        ("a", 1.5, "d1")
    ]


def test_aws_write_partition_unloads_to_a_fresh_prefix_and_swaps_the_partition(
    aws_lake_on_server,
) -> None:
    import boto3

    aws_lake = aws_lake_on_server
    catalog = get_catalog(aws_lake)
    table = parquet_table_input(
        "readings", [("station", "string")], "s3://lake-curated/readings/", [("dt", "string")]
    )
    catalog.upsert_table("iot_lake", table)
    s3 = boto3.client("s3", region_name="us-east-1")
    old = "readings/dt=2024-01-01/run=old/part-0.parquet"
    s3.put_object(Bucket="lake-curated", Key=old, Body=b"old")
    catalog.put_partition(
        "iot_lake", "readings", ["2024-01-01"], "s3://lake-curated/readings/dt=2024-01-01/run=old/"
    )
    select = "SELECT station FROM iot_lake_raw.weather WHERE day = '2024-01-01'"
    result = publish.write_partition(select, "iot_lake", "readings", ["2024-01-01"], aws_lake)

    location = result["location"]
    assert location.startswith("s3://lake-curated/readings/dt=2024-01-01/run=")
    assert result["previous"] == "s3://lake-curated/readings/dt=2024-01-01/run=old/"
    athena = boto3.client("athena", region_name="us-east-1")
    ids = athena.list_query_executions(WorkGroup="iot_lake_test")["QueryExecutionIds"]
    assert len(ids) == 1
    execution = athena.get_query_execution(QueryExecutionId=ids[0])["QueryExecution"]
    assert execution["Query"] == (
        f"UNLOAD ({select}) TO '{location}' WITH (format = 'PARQUET', compression = 'GZIP')"
    )
    assert execution["QueryExecutionContext"]["Database"] == "iot_lake"
    # Athena (and moto) append <execution id>.csv to the location the query was given
    assert execution["ResultConfiguration"]["OutputLocation"].startswith("s3://lake-athena/results/")
    assert execution["WorkGroup"] == "iot_lake_test"
    partition = catalog.get_partition("iot_lake", "readings", ["2024-01-01"])
    assert partition["StorageDescriptor"]["Location"] == location
    # The replaced prefix stays for queries still reading it, until the grace period ends.
    old_prefix = "readings/dt=2024-01-01/run=old/"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="lake-curated", Prefix=old_prefix)[
        "Contents"]] == [old]
    assert superseded.expire_superseded(aws_lake) == []
    later = datetime.now(UTC) + timedelta(hours=aws_lake.superseded_grace_hours, minutes=1)
    assert superseded.expire_superseded(aws_lake, now=later) == [
        "s3://lake-curated/readings/dt=2024-01-01/run=old/"
    ]
    assert "Contents" not in s3.list_objects_v2(Bucket="lake-curated", Prefix=old_prefix)
    assert catalog.get_partition("iot_lake", "readings", ["2024-01-01"]) == partition


def test_aws_run_query_uses_the_workgroup_and_results_location(aws_lake) -> None:
    import boto3

    rows = get_engine(aws_lake).query(
        "SELECT count(*) FROM {{ lake.raw_database }}.weather WHERE day = '{{ ds }}'",
        ds="2024-01-01",
        database="iot_lake_raw",
    ).rows
    assert isinstance(rows, list)
    athena = boto3.client("athena", region_name="us-east-1")
    [execution_id] = athena.list_query_executions(WorkGroup="iot_lake_test")["QueryExecutionIds"]
    execution = athena.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"]
    assert execution["Query"] == (
        "SELECT count(*) FROM iot_lake_raw.weather WHERE day = '2024-01-01'"
    )
    assert execution["QueryExecutionContext"]["Database"] == "iot_lake_raw"
    # Athena (and moto) append <execution id>.csv to the location the query was given
    assert execution["ResultConfiguration"]["OutputLocation"].startswith("s3://lake-athena/results/")


def test_count_if_over_no_rows_is_zero_as_on_athena(lake_settings) -> None:
    """Trino's count_if of no rows is 0 (a count); DuckDB's is NULL, which made a check
    like ``count_if(...) = 0`` fail locally on an empty day and pass on Athena."""
    assert get_engine().query(
        "SELECT count_if(x) FROM (SELECT true AS x) WHERE false").rows == [(0,)]
    assert get_engine().query(
        "SELECT count_if(x) = 0 FROM (SELECT true AS x) WHERE false"
    ).rows == [(True,)]


def test_a_query_gives_names_typed_rows_records_and_one_row(lake_settings) -> None:
    result = get_engine(lake_settings).query(
        "SELECT {{ params.n }} AS n, 'x' AS s, CAST(NULL AS double) AS v, true AS b "
        "WHERE '{{ ds }}' = '2024-01-02'",
        params={"n": 3},
        ds="2024-01-02",
    )
    assert result.names == ["n", "s", "v", "b"]
    assert result.rows == [(3, "x", None, True)]
    assert result.records() == [{"n": 3, "s": "x", "v": None, "b": True}]
    assert result.one() == {"n": 3, "s": "x", "v": None, "b": True}


@pytest.mark.parametrize("rows", [0, 2])
def test_one_row_is_exactly_one_or_a_clear_error(lake_settings, rows: int) -> None:
    result = get_engine(lake_settings).query(
        f"SELECT x FROM (VALUES (1), (2)) AS t(x) ORDER BY x LIMIT {rows}")
    with pytest.raises(QueryError, match=rf"expected exactly one row of \['x'\], got {rows}"):
        result.one()


def test_the_engine_follows_the_backend(lake_settings, aws_lake) -> None:
    from iot_lake.engine.athena import AthenaEngine
    from iot_lake.engine.duckdb import DuckDBEngine

    assert isinstance(get_engine(lake_settings), DuckDBEngine)
    assert isinstance(get_engine(aws_lake), AthenaEngine)
