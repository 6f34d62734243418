"""Import one DAG file the way the DAG processor does and report what the import did.

Run as a script in a fresh interpreter (``python probe_dag_file.py FILE``): prints a JSON
object with the wall time of the import, the heavy modules it pulled in, the files it
opened outside Python's own code and the sockets it tried to connect.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from pathlib import Path

HEAVY_MODULES = (
    "duckdb", "pyarrow", "pandas", "numpy", "boto3", "botocore", "s3fs", "cv2", "MySQLdb",
    "awscrt", "awsiot", "paho", "sqlglot", "jsonschema", "cryptography.x509", "moto",
)


def main(path: str) -> None:
    import airflow.sdk  # noqa: F401  (the DAG processor has Airflow loaded already)

    before = set(sys.modules)
    code_roots = tuple({sys.prefix, sys.base_prefix, sys.exec_prefix})
    opened: list[str] = []
    connects: list[str] = []

    def audit(event: str, args: tuple) -> None:
        if event == "open" and isinstance(args[0], str):
            name = args[0]
            if not name.startswith((*code_roots, "/dev/null")) and not name.endswith(
                (".py", ".pyc", ".so")
            ):
                opened.append(name)
        elif event == "socket.connect":
            connects.append(repr(args[1]))

    sys.addaudithook(audit)
    start = time.perf_counter()
    spec = importlib.util.spec_from_file_location(f"probe_{Path(path).stem}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    elapsed_ms = (time.perf_counter() - start) * 1000
    new = set(sys.modules) - before
    heavy = sorted(m for m in new if m.split(".")[0] in {h.split(".")[0] for h in HEAVY_MODULES}
                   and any(m == h or m.startswith(h + ".") for h in HEAVY_MODULES))
    print(json.dumps({"file": path, "import_ms": elapsed_ms, "heavy_modules": heavy,
                      "opened": sorted(set(opened)), "connects": connects}))


if __name__ == "__main__":
    main(sys.argv[1])
