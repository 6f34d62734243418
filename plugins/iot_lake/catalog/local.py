"""The ``local`` catalog: Glue-shaped JSON definitions beside the lake.

Layout under ``settings().uri("catalog")``::

    <db>/_database.json
    <db>/<table>/table.json
    <db>/<table>/partitions/<v1>/<v2>/.../partition.json     one object per partition

One object per partition lets concurrent runs of different days register partitions
without a read-modify-write race; every object is written atomically.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from iot_lake.catalog import Catalog, check_partition_values, partition_storage
from iot_lake.storage import atomic_open, filesystem, join

PARTITION_FILE = "partition.json"


class LocalCatalog(Catalog):
    """Glue-shaped JSON definitions stored under a URI (a directory or any fsspec store)."""

    def __init__(self, root_uri: str) -> None:
        self.root = root_uri.rstrip("/")
        self.fs, self.root_path = filesystem(self.root)

    def _uri(self, *parts: str) -> str:
        return join(self.root, *parts)

    def _read(self, *parts: str) -> dict[str, Any] | None:
        path = join(self.root_path, *parts)
        if not self.fs.exists(path):
            return None
        with self.fs.open(path, "rb") as handle:
            return json.loads(handle.read())

    def _write(self, document: dict[str, Any], *parts: str) -> None:
        data = json.dumps(document, indent=2, sort_keys=True, default=str).encode()
        with atomic_open(self._uri(*parts)) as handle:
            handle.write(data)

    def ensure_database(self, name: str, description: str = "") -> bool:
        if self._read(name, "_database.json") is not None:
            return False
        self._write(
            {"Name": name, "Description": description, "CreateTime": _now()},
            name,
            "_database.json",
        )
        return True

    def list_databases(self) -> list[str]:
        if not self.fs.exists(self.root_path):
            return []
        return sorted(
            p.rstrip("/").rsplit("/", 1)[-1]
            for p in self.fs.ls(self.root_path, detail=False)
            if self.fs.exists(join(p, "_database.json"))
        )

    def list_tables(self, db: str) -> list[str]:
        base = join(self.root_path, db)
        if not self.fs.exists(base):
            return []
        return sorted(
            p.rstrip("/").rsplit("/", 1)[-1]
            for p in self.fs.ls(base, detail=False)
            if self.fs.exists(join(p, "table.json"))
        )

    def get_table(self, db: str, name: str) -> dict[str, Any] | None:
        return self._read(db, name, "table.json")

    def _create_table(self, db: str, table_input: dict[str, Any]) -> bool:
        now = _now()
        table = {**table_input, "DatabaseName": db, "CreateTime": now, "UpdateTime": now}
        self._write(table, db, table_input["Name"], "table.json")
        return True

    def _update_table(self, db: str, table_input: dict[str, Any]) -> None:
        current = self.get_table(db, table_input["Name"]) or {}
        table = {
            **table_input,
            "DatabaseName": db,
            "CreateTime": current.get("CreateTime", _now()),
            "UpdateTime": _now(),
        }
        self._write(table, db, table_input["Name"], "table.json")

    @staticmethod
    def _partition_file(values: list[str]) -> str:
        for value in values:
            if not value or "/" in value or "%" in value or value.startswith((".", "_")):
                from iot_lake.errors import CatalogError

                raise CatalogError(
                    f"partition value {value!r} cannot be stored in the local catalog "
                    "(empty, or contains '/' or '%', or starts with '.' or '_')"
                )
        return "/".join([*values, PARTITION_FILE])

    def get_partitions(self, db: str, table: str) -> list[dict[str, Any]]:
        base = join(self.root_path, db, table, "partitions")
        if not self.fs.exists(base):
            return []
        out = []
        for path in self.fs.find(base):
            if path.rsplit("/", 1)[-1] != PARTITION_FILE:
                continue
            with self.fs.open(path, "rb") as handle:
                out.append(json.loads(handle.read()))
        out.sort(key=lambda p: p["Values"])
        return out

    def get_partition(self, db: str, table: str, values: list[str]) -> dict[str, Any] | None:
        return self._read(db, table, "partitions", self._partition_file(values))

    def put_partition(
        self,
        db: str,
        table: str,
        values: list[str],
        location: str,
        storage_descriptor: dict[str, Any] | None = None,
    ) -> str | None:
        definition = self.require_table(db, table)
        check_partition_values(definition, values)
        previous = self.get_partition(db, table, values)
        old_location = previous["StorageDescriptor"]["Location"] if previous else None
        partition = {
            "DatabaseName": db,
            "TableName": table,
            "Values": [str(v) for v in values],
            "StorageDescriptor": partition_storage(definition, location, storage_descriptor),
            "CreationTime": previous.get("CreationTime", _now()) if previous else _now(),
            "LastAnalyzedTime": _now(),
        }
        if previous and _comparable(
            {k: v for k, v in previous.items() if k not in ("CreationTime", "LastAnalyzedTime")}
        ) == _comparable(
            {k: v for k, v in partition.items() if k not in ("CreationTime", "LastAnalyzedTime")}
        ):
            return old_location
        self._write(partition, db, table, "partitions", self._partition_file(values))
        return old_location

    def delete_partition(self, db: str, table: str, values: list[str]) -> bool:
        path = join(self.root_path, db, table, "partitions", self._partition_file(values))
        if not self.fs.exists(path):
            return False
        self.fs.rm(path)
        return True



def _comparable(table_input: dict[str, Any]) -> str:
    return json.dumps(table_input, sort_keys=True, default=str)


def _now() -> str:
    return datetime.now(UTC).isoformat()
