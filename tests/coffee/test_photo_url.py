"""What counts as a photo object URL, on each backend, and why the others are rejected."""

from __future__ import annotations

import pyarrow as pa
import pytest

from iot_lake.coffee.photo_url import photo_url_problem, valid_mask

PHOTOS = "file:///srv/lake/photos"
S3_URLS = [
    "s3://iot-lake-photos/photos/coffee-machine-01/2026-11-20/0001.jpg",
    "https://iot-lake-photos.s3.eu-west-1.amazonaws.com/photos/m/1.jpg",
    "https://iot-lake-photos.s3.amazonaws.com/photos/m/1.jpg",
    "https://iot-lake-photos.s3-us-west-2.amazonaws.com/photos/m/1.jpg",
]
BAD = {
    None: "is NULL",
    "": "is empty",
    "http://iot-lake-photos.s3.us-east-1.amazonaws.com/a.jpg": "scheme 'http'",
    "https://example.com/photos/a.jpg": "not an S3 object URL",
    "s3://Not_A_Bucket/a.jpg": "not an S3 object URL",
    "s3://iot-lake-photos/": "not an S3 object URL",
    "/srv/lake/photos/a.jpg": "scheme 'none'",
    "file:///etc/passwd": "outside the lake's photos store",
    f"{PHOTOS}/../secrets/a.jpg": "climbs out",
}


@pytest.mark.parametrize("url", S3_URLS)
def test_s3_object_urls_are_valid_on_both_backends(url: str) -> None:
    assert photo_url_problem(url, None) is None
    assert photo_url_problem(url, PHOTOS) is None


def test_local_photo_store_urls_are_valid_only_on_the_local_backend() -> None:
    url = f"{PHOTOS}/coffee-machine-01/2026-11-20/0001.jpg"
    assert photo_url_problem(url, PHOTOS) is None
    assert "aws backend needs an S3 URL" in photo_url_problem(url, None)


@pytest.mark.parametrize(("url", "reason"), BAD.items())
def test_invalid_urls_are_explained(url: str | None, reason: str) -> None:
    assert reason in photo_url_problem(url, PHOTOS)


@pytest.mark.parametrize("photos_uri", [None, PHOTOS])
def test_the_vectorised_rule_agrees_with_the_explanation(photos_uri: str | None) -> None:
    urls = [*S3_URLS, f"{PHOTOS}/m/2.jpg", *BAD]
    mask = valid_mask(pa.array(urls, pa.string()), photos_uri).to_pylist()
    assert mask == [photo_url_problem(u, photos_uri) is None for u in urls]
