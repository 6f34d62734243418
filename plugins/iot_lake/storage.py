"""One storage seam: a directory on `local`, S3 (or any fsspec endpoint) on `aws`.

Writers never let a reader see half an object or half a partition: objects are written
aside and renamed (directories) or put in one request (S3); partitions are staged,
audited and swapped in by :mod:`iot_lake.wap`.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import IO, Any
from urllib.parse import unquote

import fsspec
from fsspec import AbstractFileSystem

log = logging.getLogger(__name__)

S3_SCHEMES = ("s3", "s3a")


def filesystem(uri: str) -> tuple[AbstractFileSystem, str]:
    """The fsspec filesystem for ``uri`` and the path inside it.

    ``file://`` URIs are percent-decoded as RFC 8089 says (``Path.as_uri()`` encodes
    ``=`` of ``dt=...`` folders), which fsspec itself does not do. ``s3://`` URIs in an
    Airflow process use the lake's AWS connection (``settings().aws_conn_id``), as Glue and
    Athena do, through the Amazon provider's own ``ObjectStoragePath`` filesystem; outside
    Airflow (simulators, CLIs) s3fs uses the default credential chain.
    """
    if uri.startswith("file://"):
        uri = "file://" + unquote(uri[len("file://") :])
    scheme = uri.split("://", 1)[0] if "://" in uri else ""
    if scheme in S3_SCHEMES and "airflow" in sys.modules:
        fs = connection_filesystem()
        return fs, fs._strip_protocol(uri)
    fs, path = fsspec.core.url_to_fs(uri)
    return fs, path


_FILESYSTEMS: dict[tuple[str, ...], AbstractFileSystem] = {}
_FILESYSTEMS_LOCK = threading.Lock()


def connection_filesystem(conn_id: str | None = None) -> AbstractFileSystem:
    """The S3 filesystem of an Airflow AWS connection (default: the lake's).

    Built by the Amazon provider (``airflow.providers.amazon.aws.fs.s3.get_fs``, what
    ``ObjectStoragePath("s3://<conn_id>@bucket/...")`` uses): the connection's credentials,
    role to assume, region and endpoint, refreshed as the session refreshes them. One per
    connection and environment in a process (building one resolves credentials).
    """
    from airflow.providers.amazon.aws.fs.s3 import get_fs

    from iot_lake.config import settings

    conn_id = conn_id or settings().aws_conn_id
    key = (
        conn_id,
        os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}", ""),
        os.environ.get("AWS_ENDPOINT_URL", ""),
        os.environ.get("AWS_ENDPOINT_URL_S3", ""),
    )
    with _FILESYSTEMS_LOCK:
        if key not in _FILESYSTEMS:
            _FILESYSTEMS[key] = get_fs(conn_id)
        return _FILESYSTEMS[key]


def local_uri(path: str | os.PathLike[str]) -> str:
    """``file://`` URI of a local path, unencoded so it reads like the path itself."""
    return "file://" + os.path.abspath(path)


def join(uri: str, *parts: str) -> str:
    """Join URI parts with single slashes (works for file:// and s3:// alike)."""
    out = uri.rstrip("/")
    for part in parts:
        out = f"{out}/{part.strip('/')}"
    return out


def list_objects(uri: str) -> list[dict[str, Any]]:
    """The objects under ``uri`` that a table reader sees, by key: ``{"uri", "size", "etag"}``.

    Athena and Hive skip objects whose name or folder starts with '_' or '.'. ``etag`` is
    S3's (None on a directory, where the size is what identifies a version of an object).
    """
    fs, base = filesystem(uri)
    if not fs.exists(base):
        return []
    scheme = uri.split("://", 1)[0]
    found = fs.find(base, detail=True)
    out = []
    for path in sorted(found):
        relative = path[len(base.rstrip("/")) :].lstrip("/")
        if any(part.startswith((".", "_")) for part in relative.split("/")):
            continue
        info = found[path]
        out.append({
            "uri": f"{scheme}://{path}",
            "size": int(info.get("size") or 0),
            "etag": info.get("ETag") or info.get("etag"),
        })  # fmt: skip
    return out


def delete_tree(uri: str) -> None:
    """Delete ``uri`` and everything under it (a directory, an S3 prefix, or one object).

    Missing is fine: it runs on the way out of failures and in expiry, where the tree
    may be gone already. On S3 only keys under ``<uri>/`` (and ``uri`` itself) go, never
    a sibling that shares the name as a prefix (``run=1`` vs ``run=10``).
    """
    fs, path = _fresh(uri)
    with suppress(FileNotFoundError):
        fs.rm(path, recursive=True)


def list_dir(uri: str) -> list[str]:
    """URIs of the entries right under ``uri`` (objects and folders), sorted; [] if none.

    Not recursive, and fresh: other processes write there (s3fs would otherwise answer
    from its listings cache).
    """
    fs, path = _fresh(uri)
    try:
        names = fs.ls(path, detail=False)
    except FileNotFoundError:
        return []
    return sorted(_uri_of(fs, uri, name) for name in names)


def read_json(uri: str) -> Any:
    """The JSON document stored at ``uri`` (a small object: ledgers, manifests)."""
    fs, path = _fresh(uri)
    with fs.open(path, "rb") as handle:
        return json.loads(handle.read())


def write_json(uri: str, document: Any) -> None:
    """Store ``document`` at ``uri`` whole or not at all (:func:`atomic_open`)."""
    with atomic_open(uri) as handle:
        handle.write(json.dumps(document, sort_keys=True).encode())


def in_directory_store(uri: str) -> bool:
    """Whether ``uri`` lives in a directory (renames are atomic there), not an object
    store (S3, MinIO: no rename, a publish swaps catalog locations instead)."""
    scheme = uri.split("://", 1)[0] if "://" in uri else "file"
    return scheme in ("file", "local")


def move_directory(source: str, target: str) -> None:
    """Rename directory ``source`` to ``target`` (parents made, durable on return).

    Directory stores only (:func:`in_directory_store`); ``target`` must not exist.
    """
    fs, src = filesystem(source)
    _, dst = filesystem(target)
    if not is_directory_store(fs):
        raise ValueError(f"{source} is in an object store: it has no rename")
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    os.rename(src, dst)
    _fsync_dir(os.path.dirname(dst))


def remove_empty_parents(uri: str, stop: str) -> None:
    """Remove the folders above ``uri`` that are now empty, up to the one named ``stop``
    (included when empty). Nothing to do in an object store: it has no empty folders."""
    fs, path = filesystem(uri)
    if not is_directory_store(fs):
        return
    parent = os.path.dirname(path.rstrip("/"))
    while os.path.basename(parent) != stop and parent not in ("", "/"):
        try:
            os.rmdir(parent)
        except OSError:  # not empty: something else lives there
            return
        parent = os.path.dirname(parent)
    with suppress(OSError):
        os.rmdir(parent)


def exists(uri: str) -> bool:
    """Whether an object or a folder is at ``uri`` now (no cached listing)."""
    fs, path = _fresh(uri)
    return bool(fs.exists(path))


def _fresh(uri: str) -> tuple[AbstractFileSystem, str]:
    fs, path = filesystem(uri.rstrip("/"))
    fs.invalidate_cache(path)
    return fs, path


def _uri_of(fs: AbstractFileSystem, uri: str, path: str) -> str:
    """``path`` (as fsspec names it) as a URI in the scheme ``uri`` was given in."""
    if "://" not in uri:
        return path
    return f"{uri.split('://', 1)[0]}://{path}"


def is_directory_store(fs: AbstractFileSystem) -> bool:
    """Whether ``fs`` is a directory tree (renames are atomic, folders exist on their own)
    rather than an object store (S3, MinIO): a property of the store, not of the backend."""
    return "file" in fs.protocol or "local" in fs.protocol


@contextmanager
def atomic_open(uri: str, mode: str = "wb") -> Iterator[IO[bytes]]:
    """Open ``uri`` for writing so that it appears whole or not at all.

    Locally the bytes go to a hidden sibling, are fsynced and renamed over the target.
    On S3 the object appears when its single PUT, or its multipart upload, completes; but
    fsspec's files complete it on ``close()`` even when the writer raised (``__exit__``
    closes): on error the upload is discarded instead (s3fs's ``discard()`` aborts the
    multipart upload; a small buffer is never PUT), so no truncated object appears.
    """
    fs, path = filesystem(uri)
    if not is_directory_store(fs):
        handle = fs.open(path, mode)
        try:
            yield handle
        except BaseException:
            _discard(handle)
            raise
        handle.close()
        return
    directory, name = os.path.split(path)
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, f".{name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        _fsync_dir(directory)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _discard(handle: IO[bytes]) -> None:
    """Throw an unfinished remote write away without committing it (best effort: the
    writer's error matters more; an upload left open is aborted by the bucket's
    ``AbortIncompleteMultipartUpload`` rule)."""
    try:
        handle.discard()  # type: ignore[attr-defined]
    except Exception:
        log.exception("could not abort the upload of %s", getattr(handle, "path", handle))
    finally:
        # close() would flush and commit what was written: mark the file closed instead.
        handle.closed = True  # type: ignore[misc]


def _fsync_dir(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
