"""Start/stop the local DynamoDB-compatible endpoint (dynalite) for the local backend.

dynalite is a Node.js implementation of the DynamoDB API on LevelDB: it keeps its tables
on disk across restarts (moto's server keeps them only in memory), validates requests
like DynamoDB does, and installs from npm with no download beyond the registry (its
LevelDB binding ships prebuilt). It is pinned in ``simulators/iot_core/dynalite/``
(``package.json`` + ``package-lock.json``) and installed with ``npm ci``.

    python -m simulators.iot_core.dynamodb_local install   # npm ci (idempotent)
    python -m simulators.iot_core.dynamodb_local start     # + creates the cold table
    python -m simulators.iot_core.dynamodb_local status
    python -m simulators.iot_core.dynamodb_local stop

The endpoint is ``settings().dynamodb_endpoint`` (default ``http://127.0.0.1:8000``);
the data live in ``<lake home>/dynamodb/`` (``--data-dir``).
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import boto3
from botocore.config import Config

from iot_lake.config import settings
from simulators.iot_core.dynamodb import dynamodb_client, ensure_table

log = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent / "dynalite"
CLI = PACKAGE_DIR / "node_modules" / "dynalite" / "cli.js"
SERVE = PACKAGE_DIR / "serve.js"
"""dynalite's CLI behind a guard: a client killed mid-request no longer ends the server."""
PID_FILE = "dynalite.pid"
LOG_FILE = "dynalite.log"


class DynamoDBLocalError(RuntimeError):
    """The local endpoint cannot be installed or started; the message says what to do."""


def install() -> Path:
    """``npm ci`` the pinned dynalite unless it is already installed; return its CLI."""
    if CLI.is_file():
        return CLI
    npm = shutil.which("npm")
    if npm is None:
        raise DynamoDBLocalError("npm is not installed: install Node.js 20+ (apt-get install npm)")
    subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--prefix", str(PACKAGE_DIR)],
        check=True,
        cwd=PACKAGE_DIR,
    )
    if not CLI.is_file():
        raise DynamoDBLocalError(f"npm ci finished but {CLI} is missing")
    return CLI


def _host_port(endpoint: str) -> tuple[str, int]:
    parts = urlsplit(endpoint)
    if parts.scheme != "http" or not parts.hostname or not parts.port:
        raise DynamoDBLocalError(f"endpoint must look like http://127.0.0.1:8000, got {endpoint!r}")
    return parts.hostname, parts.port


def is_up(endpoint: str) -> bool:
    """Whether something answers DynamoDB's ListTables at ``endpoint``."""
    host, port = _host_port(endpoint)
    try:
        with socket.create_connection((host, port), timeout=0.5):
            pass
    except OSError:
        return False
    probe = boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(retries={"max_attempts": 1}, connect_timeout=1, read_timeout=2),
    )
    try:
        probe.list_tables(Limit=1)
    except Exception:  # not DynamoDB, or not ready yet
        return False
    return True


def start(
    endpoint: str, data_dir: Path, timeout_s: float = 20.0, table_ms: int | None = None
) -> int | None:
    """Start dynalite on ``endpoint`` with its data in ``data_dir``; return its pid.

    Returns None when the endpoint already answers (started before, or another server).
    ``table_ms`` overrides dynalite's simulated table create/delete time (500 ms).
    """
    if is_up(endpoint):
        return None
    install()
    host, port = _host_port(endpoint)
    data_dir.mkdir(parents=True, exist_ok=True)
    node = shutil.which("node")
    if node is None:
        raise DynamoDBLocalError("node is not installed: install Node.js 20+")
    with open(data_dir / LOG_FILE, "ab") as log_file:
        process = subprocess.Popen(
            [
                node,
                str(SERVE),
                "--host",
                host,
                "--port",
                str(port),
                "--path",
                str(data_dir / "db"),
                *(
                    []
                    if table_ms is None
                    else ["--createTableMs", str(table_ms), "--deleteTableMs", str(table_ms)]
                ),
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    (data_dir / PID_FILE).write_text(f"{process.pid}\n")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise DynamoDBLocalError(
                f"dynalite exited with {process.returncode}; see {data_dir / LOG_FILE}"
            )
        if is_up(endpoint):
            log.info("dynalite (pid %d) serves %s from %s", process.pid, endpoint, data_dir)
            return process.pid
        time.sleep(0.1)
    process.terminate()
    raise DynamoDBLocalError(f"dynalite did not answer on {endpoint} within {timeout_s}s")


def stop(data_dir: Path, timeout_s: float = 10.0) -> bool:
    """Stop the dynalite started with this ``data_dir``; False if none was running."""
    pid_file = data_dir / PID_FILE
    if not pid_file.is_file():
        return False
    pid = int(pid_file.read_text().strip())
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pid_file.unlink(missing_ok=True)
        return False
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if _exited(pid):
            break
        time.sleep(0.05)
    else:
        os.kill(pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)
    return True


def _exited(pid: int) -> bool:
    try:  # reap it if it is our own child (a zombie still answers kill(pid, 0))
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return True
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def main(argv: list[str] | None = None) -> int:
    lake = settings()
    parser = argparse.ArgumentParser(prog="python -m simulators.iot_core.dynamodb_local")
    parser.add_argument("command", choices=("install", "start", "stop", "status"))
    parser.add_argument("--endpoint", default=lake.dynamodb_endpoint)
    parser.add_argument("--data-dir", type=Path, default=Path(lake.home) / "dynamodb")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    if args.command == "install":
        print(install())
    elif args.command == "start":
        pid = start(args.endpoint, args.data_dir)
        created = ensure_table(dynamodb_client(endpoint=args.endpoint), lake.cold_readings_table)
        state = "started" if pid else "already running"
        print(
            f"dynamodb-local {state} at {args.endpoint}; table {lake.cold_readings_table} "
            f"{'created' if created else 'exists'}"
        )
    elif args.command == "stop":
        print("stopped" if stop(args.data_dir) else "not running")
    else:
        up = is_up(args.endpoint)
        print(f"dynamodb-local at {args.endpoint}: {'up' if up else 'down'}")
        return 0 if up else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
