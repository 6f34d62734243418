"""The Glue catalog against answers shaped like real Glue's, and against concurrent writers.

Real ``GetTable``/``GetPartition`` carry server defaults (``Retention: 0``,
``Compressed``, ``NumberOfBuckets: -1``, SerDe parameters...); an upsert must still settle.
Real Glue raises ``ConcurrentModificationException`` when writers change one table at once
(the parallel check/profile listeners all write ``quality_results``); moto never does, so
it is injected. Real threads against a moto server.
"""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from iot_lake import config
from iot_lake.catalog import parquet_table_input
from iot_lake.catalog.glue import GlueCatalog
from tests.fixtures.aws_answers import ConcurrentWrites, ServerDefaults, everywhere

DB = "iot_lake"


def _table(name: str = "quality_results") -> dict:
    return parquet_table_input(
        name,
        [("check_name", "string"), ("passed", "boolean")],
        f"s3://lake-curated/{name}/",
        [("dt", "string")],
        description="results of the data quality checks",
    )


@pytest.fixture
def glue(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("IOT_LAKE_BACKEND", "aws")
    monkeypatch.setenv("IOT_LAKE_CURATED_URI", "s3://lake-curated/")
    config.settings.cache_clear()
    yield config.settings()
    config.settings.cache_clear()


def test_upsert_settles_on_answers_with_server_defaults(glue) -> None:
    defaults, writes = ServerDefaults(), ConcurrentWrites(every=10**9)  # records only
    with everywhere(defaults, None, writes):
        catalog = GlueCatalog(region=glue.region)
        assert catalog.upsert_table(DB, _table()) is True
        stored = catalog.get_table(DB, "quality_results")
        # the answer is the real shape: the defaults are there...
        assert stored["Retention"] == 0
        assert stored["StorageDescriptor"]["NumberOfBuckets"] == -1
        assert stored["StorageDescriptor"]["Compressed"] is False
        assert stored["StorageDescriptor"]["SerdeInfo"]["Parameters"] == {
            "serialization.format": "1"
        }
        # ...and a second upsert finds nothing to change and sends no write.
        assert catalog.upsert_table(DB, _table()) is False
        assert [op for op, _ in writes.answers] == ["CreateTable"]
        # A real change is still one.
        changed = _table()
        changed["StorageDescriptor"]["Columns"].append({"Name": "detail", "Type": "string"})
        assert catalog.upsert_table(DB, changed) is True
        assert [op for op, _ in writes.answers] == ["CreateTable", "UpdateTable"]
        # A partition that already points where it should is not rewritten.
        location = "s3://lake-curated/quality_results/dt=2024-01-01/"
        assert catalog.put_partition(DB, "quality_results", ["2024-01-01"], location) is None
        partition = catalog.get_partition(DB, "quality_results", ["2024-01-01"])
        assert partition["StorageDescriptor"]["NumberOfBuckets"] == -1  # real shape
        assert catalog.put_partition(DB, "quality_results", ["2024-01-01"], location) == location
        assert Counter(op for op, _ in writes.answers) == {
            "CreateTable": 1,
            "UpdateTable": 1,
            "CreatePartition": 2,  # the second answered AlreadyExists, and nothing followed
        }
        assert ("CreatePartition", "AlreadyExistsException") in writes.answers
    assert defaults.seen["GetTable"] >= 3 and defaults.seen["GetPartition"] >= 2


def test_concurrent_writers_of_one_table_never_fail_and_never_lose_a_partition(glue) -> None:
    """12 threads (as parallel listeners): each upserts the table and registers a day,
    four of them the same day; every third Glue write answers ConcurrentModification."""
    writes = ConcurrentWrites(every=3)
    days = ["2024-01-01"] * 4 + [f"2024-01-{d:02d}" for d in range(2, 10)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(days))

    def writer(index: int, day: str) -> None:
        try:
            catalog = GlueCatalog(region=glue.region)  # one client per thread, as tasks
            barrier.wait()
            catalog.upsert_table(DB, _table())
            catalog.put_partition(
                DB, "quality_results", [day], f"s3://lake-curated/quality_results/{day}/{index}"
            )
        except BaseException as exc:
            errors.append(exc)

    with everywhere(ServerDefaults(), None, writes):
        GlueCatalog(region=glue.region).ensure_database(DB)
        threads = [threading.Thread(target=writer, args=(i, day)) for i, day in enumerate(days)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert errors == []
        partitions = GlueCatalog(region=glue.region).get_partitions(DB, "quality_results")

    assert sorted(p["Values"][0] for p in partitions) == sorted(set(days))
    same_day = next(p for p in partitions if p["Values"] == ["2024-01-01"])
    written = {f"s3://lake-curated/quality_results/2024-01-01/{i}/" for i in range(4)}
    assert same_day["StorageDescriptor"]["Location"] in written
    codes = Counter(code for _, code in writes.answers)
    assert writes.injected > 0 and codes["ConcurrentModificationException"] == writes.injected
    assert codes["AlreadyExistsException"] > 0  # the create-then-update path was taken
