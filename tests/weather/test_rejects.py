"""Hostile records: quarantined in weather_rejects with a reason, never fatal, never lost."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pytest

from iot_lake.catalog import get_catalog
from iot_lake.engine import get_engine
from iot_lake.sql.transpile import to_duckdb
from iot_lake.weather import synthetic
from iot_lake.weather.pipeline import flatten_day, stage_day
from iot_lake.weather.reconcile import ReconciliationError, raw_objects, reconcile_day
from iot_lake.weather.tables import RAW_LINES, ensure_tables, raw_table_input

DAY = "2026-11-03"
START = datetime(2026, 11, 3, tzinfo=UTC)
STATION = "722540-13904"


def _good(hour: int, **changes) -> dict:
    m = synthetic.message(STATION, START + timedelta(hours=hour), random.Random(hour), 1, 1)
    m.update(changes)
    return m


def _measure(value) -> dict:
    return {"value": value, "quality": "5"}


# (raw line, a fragment of the reason it must be rejected with)
BAD_RECORDS = [
    (_good(1, air_temperature=_measure("warm")), "air_temperature.value is not a finite number"),
    # written into day=D by hand (Firehose would put them in day=undated)
    (_good(2, time="29/11/2026 12:00"), "bad or missing time: 29/11/2026 12:00"),
    ({k: v for k, v in _good(3).items() if k != "time"}, "bad or missing time: missing"),
    ({k: v for k, v in _good(4).items() if k != "weather_station"}, "missing weather_station"),
    (_good(5, weather_station="not-a-station"), "is not USAF-WBAN"),
    (_good(6, dew_point=_measure(float("inf"))), "dew_point"),
    (_good(7, wind_speed=_measure(float("-inf"))), "wind_speed"),
    (_good(8, air_temperature=_measure(float("nan"))), "air_temperature"),
    (_good(9, air_temperature=_measure(75.0)), "air_temperature.value 75.0 outside [-93.2, 61.8]"),
    (_good(10, sea_level_pressure=_measure(500.0)), "sea_level_pressure.value 500.0 outside"),
    (_good(11, visibility_distance=_measure(-1.0)), "visibility_distance.value -1.0 outside"),
    (_good(12, sky_ceiling=_measure(99999.0)), "sky_ceiling.value 99999.0 outside"),
    (_good(13, wind_direction=_measure(400.0)), "wind_direction.value 400.0 outside"),
    (_good(14, wind_speed=12), "wind_speed is not an object"),
    (_good(15, sky_cover_condition=[{"coverage": "x", "base_height": "high",
                                     "cloud_type": None}]), "base_height is not a number"),
    (_good(16, sky_cover_condition=[{"coverage": "x", "base_height": 99999.0,
                                     "cloud_type": None}]), "base_height outside"),
    (_good(17, liquid_precip={"hours": 1}), "liquid_precip is not an array"),
    (_good(18, time="2026-11-04T01:00:00Z"), "is not on day 2026-11-03 of its folder"),
    ("this is not json", "not valid JSON"),
    ("[1, 2, 3]", "not a JSON object"),
    ("", "not valid JSON"),
]


def _line(record) -> str:
    # json.dumps writes NaN and Infinity bare, as a careless producer would
    return record if isinstance(record, str) else json.dumps(record)


@pytest.fixture
def hostile_day(lake_settings):
    """24 good messages plus every kind of bad record, some in day=undated."""
    raw = lake_settings.uri("raw")
    good = [_good(h) for h in range(24)]
    synthetic.write_raw(raw, good)
    synthetic.write_raw(raw, good[:3], arrival=lambda m: START + timedelta(hours=20))  # resent
    lines = [_line(record) for record, _ in BAD_RECORDS]
    # a bad record in the middle of good ones: its neighbours are published
    mixed = [_line(_good(20, latitude=1.0)), *lines, _line(_good(21, latitude=2.0))]
    synthetic.write_object(raw, mixed, START + timedelta(hours=22), DAY)
    # records whose time is not a date land in day=undated; arrival decides the run
    synthetic.write_object(raw, [_line(_good(0, time="yesterday"))],
                           START + timedelta(hours=23), "undated")
    synthetic.write_object(raw, [_line(_good(0, time=None))],
                           START + timedelta(days=1, minutes=3), "undated")  # day D+1's
    ensure_tables(lake_settings)
    return {"good": good, "bad_lines": len(lines), "mixed": len(mixed)}


def test_bad_records_are_rejected_with_their_reason_and_the_day_is_published(
    lake_settings, hostile_day
) -> None:
    result = flatten_day(DAY)
    assert result["observations"] == 24
    assert result["rejects"] == len(BAD_RECORDS) + 1  # + the undated one that arrived on D
    rejects = get_engine().query(
        "SELECT source, line_number, reason, raw, rejected_at FROM weather_rejects "
        "WHERE dt = '{{ ds }}'",
        ds=DAY,
    ).rows
    by_raw = {raw: (source, reason) for source, _, reason, raw, _ in rejects}
    for record, fragment in BAD_RECORDS:
        source, reason = by_raw[_line(record)]
        assert fragment in reason, (record, reason)
        assert "/weather/day=2026-11-03/" in source and source.endswith(".gz")
    undated = [r for r in rejects if "/weather/day=undated/" in r[0]]
    assert [r[2] for r in undated] == ["time yesterday is not an ISO date-time (day=undated)"]
    assert {r[1] for r in rejects} == {None} and {r[4] for r in rejects} == {None}
    # neighbours of the bad records in the same object are published
    assert get_engine().query(
        "SELECT count(*) FROM weather_observations WHERE latitude IN (1.0, 2.0)"
    ).rows == [(0,)], "hours 20/21 first arrived earlier with their own latitude"


def test_rejected_values_never_reach_the_published_table(lake_settings, hostile_day) -> None:
    flatten_day(DAY)
    [(non_finite, too_hot)] = get_engine().query(
        "SELECT count_if(NOT is_finite(air_temperature) OR NOT is_finite(dew_point) "
        "OR NOT is_finite(wind_speed)), count_if(air_temperature > 61.8) "
        "FROM weather_observations WHERE dt = '{{ ds }}'",
        ds=DAY,
    ).rows
    assert (non_finite, too_hot) == (0, 0)


def test_a_day_with_bad_records_reconciles_from_the_raw_objects(lake_settings, hostile_day) -> None:
    stage_day(DAY)  # the audit reconciles the staged day
    figures = reconcile_day(DAY)
    assert figures == {
        "raw_objects": figures["raw_objects"],
        "raw_records": 24 + 3 + hostile_day["mixed"] + 1,
        "ingest_errors": 0,
        "lines_read": 24 + 3 + hostile_day["mixed"] + 1,
        "observations": 24,
        "rejects": len(BAD_RECORDS) + 1,
        "duplicates_removed": 3 + 2,  # 3 resends + hours 20 and 21 sent again in `mixed`
    }


def test_a_record_that_vanishes_fails_the_reconciliation(lake_settings, hostile_day) -> None:
    written = stage_day(DAY)  # the audit reconciles what the write step staged
    lost_one = {**written, "observations": written["observations"] - 1}
    with pytest.raises(
        ReconciliationError, match=r"raw records 51 \+ ingestion errors 0 = 51 != observations 23"
    ):
        reconcile_day(DAY, written=lost_one)


def test_objects_the_table_does_not_see_fail_the_reconciliation(lake_settings, hostile_day) -> None:
    """As an hour the catalog never registered did: the raw objects are counted directly."""
    table = raw_table_input(RAW_LINES, lake_settings)
    table["Parameters"]["storage.location.template"] = (
        lake_settings.uri("raw") + "/weather/wrong=${day}/"
    )
    get_catalog(lake_settings).upsert_table(lake_settings.raw_database, table)
    # the flatten's view of day=D sees nothing (the undated record of D comes through
    # weather_undated_lines)
    assert stage_day(DAY)["observations"] == 0
    with pytest.raises(ReconciliationError, match="read 1 records but the raw objects hold 51"):
        reconcile_day(DAY)


def test_a_rerun_writes_identical_rejects(lake_settings, hostile_day) -> None:
    flatten_day(DAY)
    first = sorted(get_engine().query("SELECT * FROM weather_rejects").rows, key=repr)
    flatten_day(DAY)
    assert sorted(get_engine().query("SELECT * FROM weather_rejects").rows, key=repr) == first


def test_the_reconciliation_reports_its_figures_as_check_results(
    lake_settings, hostile_day
) -> None:
    """What the quality listener records for the dashboard, on success and on failure."""
    from types import SimpleNamespace

    from iot_lake.weather.reconcile import reconcile_task

    stage_day(DAY)  # the audit reconciles the staged day
    task = SimpleNamespace()
    figures = reconcile_task(DAY, task)
    assert [(r.name, r.success, r.actual) for r in task.check_results] == [
        ("raw_records_accounted_for", True, str(figures["raw_records"])),
        ("every_raw_record_read", True, str(figures["raw_records"])),
    ]
    table = raw_table_input(RAW_LINES, lake_settings)
    table["Parameters"]["storage.location.template"] = "file:///nowhere/day=${day}/"
    get_catalog(lake_settings).upsert_table(lake_settings.raw_database, table)
    written = stage_day(DAY)  # restaged through a view that sees no object
    with pytest.raises(ReconciliationError) as failed:
        reconcile_task(DAY, task, written=written)
    # the failure says where the staged day is kept (nothing was published)
    assert "The published partitions are unchanged" in str(failed.value)
    for version in written["staged"]:
        assert version["location"] in str(failed.value)
    assert [r.success for r in task.check_results] == [False, False]


def test_the_whole_record_cast_types_clean_records_as_the_careful_path_does(
    lake_settings, hostile_day, monkeypatch
) -> None:
    """The fast path (one cast of the whole record) and the field-by-field path that
    suspicious lines take give the same staged rows and rejects, line for line."""
    from iot_lake.weather import bounds, pipeline

    def staged() -> tuple[list, list]:
        stage_day(DAY)
        return tuple(
            sorted(get_engine().query(
                f"SELECT * FROM iot_lake_staging.{table} WHERE dt = '{{{{ ds }}}}'", ds=DAY
            ).rows, key=repr)
            for table in ("weather_observations", "weather_rejects")
        )

    fast = staged()
    assert len(fast[0]) >= 24 and len(fast[1]) == len(BAD_RECORDS) + 1
    every_line_careful = {**bounds.sql_params(), "careful_pattern": "."}
    monkeypatch.setattr(pipeline, "flatten_params", lambda: every_line_careful)
    assert staged() == fast


def _staged_day() -> dict:
    """Everything a staged day is: its figures, and every row of the typed pass, the
    observations and the rejects (sorted: row order in a Parquet file is not a result)."""
    written = stage_day(DAY)
    tables = {
        table: sorted(get_engine().query(
            f"SELECT * FROM iot_lake_staging.{table} WHERE dt = '{{{{ ds }}}}'", ds=DAY
        ).rows, key=repr)
        for table in ("weather_typed_records", "weather_observations", "weather_rejects")
    }
    figures = {k: written[k] for k in ("rows", "observations", "rejects", "lines_read",
                                       "duplicates")}
    return {"figures": figures, **tables}


def test_try_forms_that_never_raise_stage_the_same_day_as_duckdbs_try(
    lake_settings, hostile_day, monkeypatch
) -> None:
    """The local engine writes try(json_parse(x)) and try(date_parse(..)) without DuckDB's
    TRY (iot_lake.sql.trino_json.duckdb_try_sql, iot_lake.sql.transpile._try_strptime: TRY
    re-evaluates a vector row by row once a row fails); the hostile day stages the same typed
    records, observations (the same copies kept), rejects with the same reasons and the same
    figures as with TRY."""
    from iot_lake.sql import transpile, trino_json

    fast = _staged_day()
    assert fast["figures"]["rejects"] == len(BAD_RECORDS) + 1
    assert fast["figures"]["duplicates"] >= 3  # the three resent messages, at least
    assert "TRY_STRPTIME(" in to_duckdb("SELECT try(date_parse(x, '%Y')) FROM t")
    monkeypatch.setattr(trino_json, "duckdb_try_sql",
                        lambda x: f"TRY({trino_json.duckdb_sql(x)})")
    monkeypatch.setattr(transpile, "_try_strptime", lambda tree: tree)
    assert "TRY_STRPTIME(" not in to_duckdb("SELECT try(date_parse(x, '%Y')) FROM t")
    assert _staged_day() == fast


def test_a_run_reads_only_the_undated_objects_that_arrived_on_its_day(
    lake_settings, hostile_day
) -> None:
    """Undated objects of other arrival days are not even read: one that no reader could
    open (not gzip) does not touch day D's run, and day D's figures do not count it."""
    from iot_lake.storage import atomic_open, join

    raw = lake_settings.uri("raw")
    for arrival in (START - timedelta(days=30), START + timedelta(days=1, hours=2)):
        with atomic_open(join(raw, synthetic.object_key(arrival, "undated"))) as handle:
            handle.write(b"not gzip at all")
    stage_day(DAY)
    figures = reconcile_day(DAY)  # raises unless the run read exactly the objects listed
    assert figures["rejects"] == len(BAD_RECORDS) + 1  # the one undated record of day D
    assert figures["raw_records"] == 24 + 3 + hostile_day["mixed"] + 1
    assert not [uri for uri in raw_objects(DAY, lake_settings)
                if "/day=undated/" in uri and f"/arrived={DAY}/" not in uri]


def test_what_trinos_json_parse_refuses_is_not_valid_json_here_too(lake_settings) -> None:
    """Athena's json_parse takes RFC 7159 text only (Trino docs, functions/json.md): a
    trailing comma or a bare NaN/Infinity makes the record 'not valid JSON' there, so it
    must here too, not a record published (trailing comma) or rejected for another reason.
    """
    raw = lake_settings.uri("raw")
    clean = json.dumps(_good(1))
    trailing = clean[:-1] + ", }"
    nan = json.dumps(_good(2, dew_point=_measure(float("nan"))))
    synthetic.write_object(raw, [clean, trailing, nan], START + timedelta(hours=3), DAY)
    ensure_tables(lake_settings)
    result = flatten_day(DAY)
    assert (result["observations"], result["rejects"]) == (1, 2)
    reasons = dict(get_engine().query(
        "SELECT raw, reason FROM weather_rejects WHERE dt = '{{ ds }}'", ds=DAY
    ).rows)
    assert reasons == {
        trailing: "not valid JSON",
        nan: "not valid JSON (dew_point.value is NaN, not a JSON number)",
    }
