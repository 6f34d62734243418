"""The shrink rule (iot_lake.shrink) and its check operator, at function level."""

from __future__ import annotations

import pytest

from iot_lake import config, shrink
from iot_lake.catalog import get_catalog, parquet_table_input
from iot_lake.errors import ConfigError, DataCheckFailed
from iot_lake.operators.checks import LakeDayShrinkCheckOperator
from iot_lake.storage import join
from iot_lake.wap import publish, staging


@pytest.mark.parametrize(
    ("staged", "published", "too_small"),
    [
        (0, 0, False),  # never published: nothing to lose
        (5, 0, False),
        (0, 1, True),  # all rows gone, however few
        (0, 100, True),
        (50, 100, False),  # exactly the allowed loss
        (49, 100, True),
        (100, 100, False),
        (150, 100, False),
    ],
)
def test_all_rows_gone_or_a_drop_beyond_the_setting_is_too_small(staged, published, too_small):
    verdict = shrink.judge("t", "d", {"staged_rows": staged, "published_rows": published}, 0.5)
    assert verdict.too_small is too_small
    assert verdict.passes is not too_small
    assert shrink.judge(
        "t", "d", {"staged_rows": staged, "published_rows": published}, 0.5, accepted=True
    ).passes


def test_accept_shrink_reads_the_trigger_forms_boolean_or_text() -> None:
    assert shrink.accepted({"accept_shrink": True})
    assert shrink.accepted({"accept_shrink": "true"})
    assert not shrink.accepted({"accept_shrink": False})
    assert not shrink.accepted({})
    assert not shrink.accepted(None)


def test_the_threshold_is_a_documented_setting(lake_settings, monkeypatch) -> None:
    assert config.LakeSettings().max_day_shrink == 0.5
    monkeypatch.setenv("IOT_LAKE_MAX_DAY_SHRINK", "0.1")
    config.settings.cache_clear()
    assert config.settings().max_day_shrink == 0.1
    monkeypatch.setenv("IOT_LAKE_MAX_DAY_SHRINK", "lots")
    config.settings.cache_clear()
    with pytest.raises(ConfigError, match="IOT_LAKE_MAX_DAY_SHRINK"):
        config.settings()
    config.settings.cache_clear()


@pytest.fixture
def readings(lake_settings):
    table = parquet_table_input(
        "readings", [("temp", "double")], join(lake_settings.uri("curated"), "readings"),
        [("dt", "string")],
    )
    get_catalog(lake_settings).upsert_table("iot_lake", table)
    publish.write_partition(
        "SELECT 1.0 AS temp UNION ALL SELECT 2.0 UNION ALL SELECT 3.0", "iot_lake",
        "readings", ["2026-11-03"],
    )
    return lake_settings


def _stage(rows: int) -> None:
    select = " UNION ALL ".join(f"SELECT {n}.0 AS temp" for n in range(rows)) or (
        "SELECT 1.0 AS temp WHERE false"
    )
    staging.stage_partition(select, "iot_lake", "readings", ["2026-11-03"])


def _check(params: dict) -> dict:
    op = LakeDayShrinkCheckOperator(task_id="shrink", table="readings", day="2026-11-03")
    return op.execute({"params": params})


def test_the_operator_fails_an_empty_new_version_as_a_data_error(readings) -> None:
    _stage(0)
    with pytest.raises(DataCheckFailed, match="new version has 0 rows, the published version 3"):
        _check({"accept_shrink": False})
    assert _check({"accept_shrink": True})["accepted"] is True
    _stage(2)
    assert _check({})["passes"] is True



def test_on_aws_the_counts_run_deferred_and_a_lost_day_fails(moto_endpoint, monkeypatch) -> None:
    """The count query is waited for in the triggerer; the verdict runs on its typed row."""
    from airflow.providers.amazon.aws.triggers.athena import AthenaTrigger

    from tests.fixtures.deferral import FakeTaskInstance, deferral, resume
    from tests.fixtures.moto import lake_on_server, queue_result

    lake_on_server(moto_endpoint, monkeypatch, bucket="shrink-lake", workgroup="iot_lake_shrink")
    staged = {"database": "iot_lake", "table": "readings", "values": ["2026-11-03"],
              "location": "s3://shrink-lake/curated/readings/dt=2026-11-03/run=r1/",
              "staging_database": "iot_lake_staging"}
    ti = FakeTaskInstance("audit.shrink", {("write", "return_value"): {"staged": [staged]}})

    def operator() -> LakeDayShrinkCheckOperator:
        return LakeDayShrinkCheckOperator(
            task_id="audit.shrink", table="readings", day="2026-11-03", staged_by="write",
            poll_interval=1, max_polls=5)

    context = {"ti": ti, "params": {"accept_shrink": False}}
    deferred = deferral(lambda: operator().execute(context))
    assert isinstance(deferred.trigger, AthenaTrigger)
    [sql] = deferred.kwargs["queries"]
    assert "FROM iot_lake_staging.readings" in sql and "FROM iot_lake.readings" in sql
    queue_result([("staged_rows", "bigint"), ("published_rows", "bigint")], [["0", "240"]])
    with pytest.raises(DataCheckFailed, match="new version has 0 rows, the published version 240"
                       ) as failure:
        resume(operator(), deferred, context)
    assert staged["location"] in str(failure.value)
