"""Which ``photo_url`` values point at a photo object the lake's users can open.

Valid on both backends: an S3 object URL, ``s3://<bucket>/<key>`` or the virtual-hosted
``https://<bucket>.s3.<region>.amazonaws.com/<key>`` (also the legacy global
``<bucket>.s3.amazonaws.com`` and dash-region ``<bucket>.s3-<region>.amazonaws.com``).
Valid on ``local`` only: a ``file://`` URL under the lake's photos store
(``settings().uri("photos")``), which is where the local simulator uploads.
Everything else (NULL, empty, ``http://``, another host, a local path on ``aws``) is
rejected with a reason; the original pipeline dropped such rows silently.

The same rules exist twice on purpose: an RE2 pattern that Arrow evaluates on a whole
batch at C++ speed, and :func:`photo_url_problem`, which explains the (rare) rejects.

A key may hold spaces, '+', '#', '?', '%' or non-ASCII letters (the photo handler's key
pattern allows them): :func:`object_url` percent-encodes the key (UTF-8, RFC 3986: only
'/' and the unreserved characters stay as they are), so the URL names that very object
and :func:`object_key` gives the key back. A raw '#' or '?' would cut the URL short.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote, urlsplit

if TYPE_CHECKING:
    import pyarrow as pa

# S3 bucket naming rules: 3-63 of [a-z0-9.-], starting and ending alphanumeric.
_BUCKET = r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]"
_REGION = r"[a-z]{2}(?:-gov)?-[a-z]+-[0-9]"
S3_URL_PATTERN = (
    rf"^(?:s3://{_BUCKET}/|https://{_BUCKET}\.s3(?:[.\-]{_REGION})?\.amazonaws\.com/)[^\s?#]+$"
)
_DOT_DOT = "/.."


def object_url(base: str, key: str) -> str:
    """The URL of object ``key`` under ``base`` (``s3://bucket``, ``https://host``, the
    local photos store), the key percent-encoded."""
    return f"{base.rstrip('/')}/{quote(key, safe='/')}"


def s3_object_url(bucket: str, region: str, key: str) -> str:
    """The virtual-hosted HTTPS URL of an S3 object, as the photo handler stores it."""
    return object_url(f"https://{bucket}.s3.{region}.amazonaws.com", key)


def object_key(url: str, base: str) -> str:
    """The key :func:`object_url` encoded into ``url`` (``url`` must start with ``base``)."""
    prefix = f"{base.rstrip('/')}/"
    if not url.startswith(prefix):
        raise ValueError(f"{url!r} is not under {prefix!r}")
    return unquote(url[len(prefix) :])


def valid_url_pattern(photos_uri: str | None) -> str:
    """The RE2/Python pattern of valid URLs; ``photos_uri`` is set on the local backend."""
    if not photos_uri:
        return S3_URL_PATTERN
    local = rf"^{re.escape(photos_uri.rstrip('/'))}/[^\s?#]+$"
    return f"(?:{S3_URL_PATTERN})|(?:{local})"


def photo_url_problem(url: str | None, photos_uri: str | None) -> str | None:
    """Why ``url`` is not a valid photo object URL, or None when it is."""
    if url is None:
        return "photo_url is NULL"
    if not url.strip():
        return "photo_url is empty"
    if re.fullmatch(valid_url_pattern(photos_uri), url):
        if _DOT_DOT in url:
            return f"photo_url {url!r} climbs out of its prefix with '..'"
        return None
    scheme = urlsplit(url).scheme.lower()
    if scheme == "file":
        if not photos_uri:
            return f"photo_url {url!r} is a local file URL; the aws backend needs an S3 URL"
        return f"photo_url {url!r} is outside the lake's photos store {photos_uri!r}"
    if scheme in ("https", "s3"):
        return (
            f"photo_url {url!r} is not an S3 object URL "
            "(https://<bucket>.s3.<region>.amazonaws.com/<key> or s3://<bucket>/<key>)"
        )
    return f"photo_url {url!r} has scheme {scheme or 'none'!r}; expected s3, https or file"


def valid_mask(urls: pa.Array, photos_uri: str | None) -> pa.Array:
    """Boolean mask (never NULL) of the valid URLs in ``urls``, computed by Arrow."""
    import pyarrow.compute as pc

    matches = pc.match_substring_regex(urls, valid_url_pattern(photos_uri))
    climbs = pc.match_substring(urls, _DOT_DOT)
    return pc.fill_null(pc.and_(matches, pc.invert(climbs)), False)
