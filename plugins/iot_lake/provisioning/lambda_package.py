"""What the coffee photo Lambda ships: its zip, byte for byte the same for the same sources.

The zip holds the entry point, the library modules the handler imports and the files it
reads (paths as in the repository, ``plugins/...`` and ``include/...``), plus the sources
of the pure-Python libraries the runtime lacks. Fixed timestamps make its SHA-256 a
function of the sources, so the ``coffee`` step updates the function only when they change.
"""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from pathlib import Path

from iot_lake.config import INCLUDE_DIR

# What the zip holds: the entry point, the library modules the handler imports, the
# files it reads. Paths relative to the repository (plugins/..., include/...).
LAMBDA_ENTRY = INCLUDE_DIR / "lambda" / "coffee_photo" / "lambda_function.py"
LAMBDA_MODULES = (
    "__init__.py",
    "config.py",
    "errors.py",
    "coffee/__init__.py",
    "coffee/faces.py",
    "coffee/photo_handler.py",
    "coffee/photo_url.py",
    "coffee/photo_writers.py",
)
LAMBDA_INCLUDE = ("sql/aurora/insert_coffee_photo.sql",)
# Pure-Python libraries the handler imports that the runtime lacks: their sources go under
# plugins/ (on the entry point's sys.path). sqlparse strips comments off Data API SQL.
LAMBDA_VENDORED = ("sqlparse",)
LIBRARY_DIR = Path(__file__).resolve().parents[1]  # the installed iot_lake package
_ZIP_TIME = (2020, 1, 1, 0, 0, 0)  # fixed: the same sources give the same CodeSha256


def lambda_zip() -> bytes:
    """The function's code, byte for byte the same for the same sources."""
    files: list[tuple[str, Path]] = [("lambda_function.py", LAMBDA_ENTRY)]
    files += [(f"plugins/iot_lake/{name}", LIBRARY_DIR / name) for name in LAMBDA_MODULES]
    files += [(f"include/{name}", INCLUDE_DIR / name) for name in LAMBDA_INCLUDE]
    files += [item for package in LAMBDA_VENDORED for item in _vendored(package)]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, path in sorted(files):
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def _vendored(package: str) -> list[tuple[str, Path]]:
    """(name in the zip, source) of an installed pure-Python package, with its licence."""
    import importlib
    from importlib import metadata

    root = Path(importlib.import_module(package).__file__ or "").parent
    files = [
        (f"plugins/{package}/{path.relative_to(root).as_posix()}", path)
        for path in root.rglob("*.py")
        if "__pycache__" not in path.parts
    ]
    for item in metadata.files(package) or []:
        if item.name.upper().startswith(("LICENSE", "COPYING")):
            files.append((f"plugins/{package}.LICENSE", Path(str(item.locate()))))
    return files


def code_sha256(code: bytes) -> str:
    """As Lambda reports it: base64 of the SHA-256 digest."""
    return base64.b64encode(hashlib.sha256(code).digest()).decode()
