"""Photo keys with spaces, '+', '#', '?', '%' and non-ASCII names (issue 18 item 6).

The key pattern allows them; the row's ``photo_url`` must be the percent-encoded URL that
names that very object, so the export takes the row (no ``coffee_rejects``) and the URL
decodes back to the key. Both backends, real MariaDB, the export itself.
"""

from __future__ import annotations

from datetime import datetime

import boto3
import pytest

from iot_lake import config
from iot_lake.coffee import export, photo_url
from iot_lake.coffee import local_notifier as notifier
from iot_lake.coffee import photo_handler as ph
from iot_lake.coffee import photo_writers as pw
from iot_lake.coffee.faces import LocalFaceAnalyzer
from simulators.coffee_machine.machine import PHOTOS_DIR
from tests.coffee.conftest import DAY, END, START
from tests.fixtures.moto import create_bucket

IMAGE = (PHOTOS_DIR / "coffee.png").read_bytes()
NAMES = [
    f"coffee-machine-01/{DAY}/080000-my photo.png",
    f"coffee-machine-01/{DAY}/080001-a+b.png",
    f"coffee-machine-01/{DAY}/080002-cup #2.png",
    f"coffee-machine-01/{DAY}/080003-who?.png",
    f"coffee-machine-02/{DAY}/080004-café crème.jpg",
    f"coffee-machine-02/{DAY}/080005-コーヒー 100%.png",
]


@pytest.mark.parametrize("key", [*NAMES, "plain/key.jpg", "a/b%2Fc d+e.png"])
@pytest.mark.parametrize(
    "base",
    ["s3://iot-lake-photos", "https://coffee-photos.s3.eu-west-1.amazonaws.com", "file:///srv/p"],
)
def test_an_object_url_decodes_back_to_its_key(base: str, key: str) -> None:
    url = photo_url.object_url(base, key)
    assert photo_url.object_key(url, base) == key
    assert not set(url[len(base) :]) & set(" #?+") and url.isascii()
    assert photo_url.photo_url_problem(url, "file:///srv/p") is None


@pytest.fixture(scope="module")
def analyzer() -> LocalFaceAnalyzer:
    return LocalFaceAnalyzer()


def _handle_and_export(handler: ph.PhotoHandler, lake, bucket: str, keys: list[str]):
    for key in keys:
        assert handler(ph.s3_event(bucket, key)).inserted == 1, key
    return export.export_day(DAY, START, END, lake=lake)


def test_local_keys_with_reserved_and_non_ascii_characters_reach_the_lake(
    coffee_db, lake_settings, analyzer
):
    connection = coffee_db.connect()
    handler = ph.PhotoHandler(lake_settings, analyzer, pw.MySqlWriter(connection))
    for name in NAMES:
        notifier.upload_photo(lake_settings, name, IMAGE)
    try:
        summary = notifier.drain(lake_settings, lambda event, _: handler(event).as_dict())
    finally:
        connection.close()
    assert (summary.inserted, summary.rejected, summary.failed) == (len(NAMES), 0, [])

    result = export.export_day(DAY, START, END, lake=lake_settings)

    assert (result.exported, result.rejected) == (len(NAMES), 0)
    base = lake_settings.uri("photos")
    urls = [url for (url,) in coffee_db.execute("SELECT photo_url FROM coffees ORDER BY id")]
    assert [photo_url.object_key(url, base) for url in urls] == NAMES
    assert all(urls[i] != f"{base}/{NAMES[i]}" for i in (0, 2, 3, 4))  # encoded, not raw


def test_aws_keys_with_reserved_and_non_ascii_characters_reach_the_lake(
    coffee_db, moto_endpoint, monkeypatch, analyzer
):
    bucket = "coffee-photos"
    monkeypatch.setenv("IOT_LAKE_BACKEND", "aws")
    monkeypatch.setenv("IOT_LAKE_REGION", "us-east-1")
    monkeypatch.setenv("IOT_LAKE_CURATED_URI", f"s3://{bucket}/curated")
    monkeypatch.setenv("IOT_LAKE_PHOTOS_URI", f"s3://{bucket}/photos")
    config.settings.cache_clear()
    lake = config.settings()
    create_bucket(moto_endpoint, bucket)
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    keys = [f"photos/{name}" for name in NAMES]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=IMAGE)
    connection = coffee_db.connect()
    try:
        handler = ph.PhotoHandler(lake, analyzer, pw.MySqlWriter(connection))
        result = _handle_and_export(handler, lake, bucket, keys)
    finally:
        connection.close()

    assert (result.exported, result.rejected) == (len(NAMES), 0)
    base = f"https://{bucket}.s3.us-east-1.amazonaws.com"
    urls = [url for (url,) in coffee_db.execute("SELECT photo_url FROM coffees ORDER BY id")]
    assert all(url.startswith(f"{base}/photos/coffee-machine-0") for url in urls)
    decoded = [photo_url.object_key(url, base) for url in urls]
    assert decoded == keys
    for key in decoded:  # each URL names the object that is there
        assert s3.head_object(Bucket=bucket, Key=key)["ContentLength"] == len(IMAGE)
    stored = coffee_db.execute("SELECT coffee_hour FROM coffees ORDER BY id")
    assert stored[0][0] == datetime(2026, 11, 20, 8, 0, 0)
