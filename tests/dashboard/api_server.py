"""Run Airflow's API server with the iot-lake plugin on a free loopback port (tests, screenshots).

All users are admins (SimpleAuthManager's ``simple_auth_manager_all_admins``), so a
browser logs in by visiting ``/auth/token/login`` and gets the UI's session cookie.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class ApiServer:
    url: str
    log: Path

    def login_url(self, next_path: str) -> str:
        return f"{self.url}/auth/token/login?next={next_path}"


@contextlib.contextmanager
def api_server(
    plugins_folder: Path,
    log_dir: Path,
    timeout: float = 120,
    while_starting: Callable[[], object] | None = None,
    users: dict[str, str] | None = None,
) -> Iterator[ApiServer]:
    """Start ``airflow api-server`` (core API + UI + plugins), wait until healthy, stop it.

    ``while_starting`` runs after the process is launched and before waiting for it
    (the server takes seconds to import Airflow: build fixtures meanwhile). ``users``
    (name -> password, all admins) turns off "everyone is admin": pages need a login.
    """
    port = free_port()
    env = os.environ.copy()
    env.update(
        AIRFLOW__CORE__PLUGINS_FOLDER=str(plugins_folder),
        AIRFLOW__CORE__AUTH_MANAGER=(
            "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
        ),
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="True",
        AIRFLOW__API__BASE_URL=f"http://127.0.0.1:{port}",
        AIRFLOW__API_AUTH__JWT_SECRET="iot-lake-test-only-secret-0123456789abcdef",
        AIRFLOW__CORE__LAZY_LOAD_PLUGINS="False",
        PYTHONPATH=os.pathsep.join([str(ROOT / "plugins"), str(ROOT), env.get("PYTHONPATH", "")]),
    )
    if users:
        passwords = log_dir / "passwords.json"
        passwords.write_text(json.dumps(users))
        env.update(
            AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="False",
            AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=",".join(f"{u}:admin" for u in users),
            AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=str(passwords),
        )
    log = log_dir / "api-server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "airflow",
                "api-server",
                "--apps",
                "core",
                "-H",
                "127.0.0.1",
                "-p",
                str(port),
                "-w",
                "1",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=ROOT,
            start_new_session=True,  # its own process group, stopped as one below
        )
    server = ApiServer(f"http://127.0.0.1:{port}", log)
    try:
        if while_starting is not None:
            while_starting()
        _wait_healthy(server, process, timeout)
        yield server
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _wait_healthy(server: ApiServer, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"api-server exited with {process.returncode}:\n{server.log.read_text()[-3000:]}"
            )
        try:
            with urllib.request.urlopen(f"{server.url}/api/v2/monitor/health", timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(
        f"api-server not healthy after {timeout}s:\n{server.log.read_text()[-3000:]}"
    )
