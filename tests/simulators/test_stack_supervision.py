"""scripts/stack.sh supervises the broker and the ingest service: a SIGKILLed one is
started again, the ingest service replays the broker's WAL, and nothing acknowledged is lost.

Real script, real Mosquitto (with its WAL plugin), real dynalite, real kill -9; every port,
directory and pid file of its own.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from simulators.things.broker import free_port
from tests.fixtures.ingest import ROOT, publish, read_delivered, weather_payloads

# A real Mosquitto and ingest service, supervised by scripts/stack.sh.
pytestmark = [pytest.mark.services, pytest.mark.timeout(300)]


class _StackBroker:  # what tests.fixtures.ingest.publish needs to reach the stack's broker
    def __init__(self, certs: Path, port: int) -> None:
        self.certs_dir, self.host, self.port = certs, "127.0.0.1", port
        self.ca_file = certs / "ca.crt"

    def credentials(self, name: str) -> tuple[Path, Path]:
        return (
            self.certs_dir / name / "certificate.pem.crt",
            self.certs_dir / name / "private.pem.key",
        )


def _listening(port: int) -> bool:
    import socket

    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def _wait(predicate, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


def test_the_stack_restarts_a_killed_broker_and_ingest_service_and_loses_nothing(
    tmp_path: Path,
) -> None:
    run = tmp_path / "run"
    port = free_port()
    env = {
        **os.environ,
        "IOT_LAKE_RUN_DIR": str(run),
        "IOT_LAKE_HOME": str(tmp_path / "lake"),
        "IOT_LAKE_CERTS_DIR": str(tmp_path / "certs"),
        "IOT_LAKE_MQTT_PORT": str(port),
        "IOT_LAKE_DYNAMODB_ENDPOINT": f"http://127.0.0.1:{free_port()}",
        "IOT_LAKE_BACKEND": "local",
        "IOT_LAKE_DEMO_BUFFER_INTERVAL": "1",
        "IOT_LAKE_THINGS": "2",
        "AIRFLOW_CONN_LAKE_DEFAULT": json.dumps({"conn_type": "generic", "extra": {}}),
    }
    stack = str(ROOT / "scripts" / "stack.sh")

    def child(name: str) -> int:
        """The supervised process's pid (0 while the supervisor is replacing it)."""
        try:
            return int((run / f"{name}.child").read_text())
        except (FileNotFoundError, ValueError):
            return 0

    def log(name: str) -> str:
        return (run / f"{name}.log").read_text(errors="replace")

    subprocess.run([stack, "start"], env=env, check=True, timeout=240)
    try:
        broker = _StackBroker(tmp_path / "certs", port)
        payloads = weather_payloads(1000)
        assert publish(broker, "weather-station-01", payloads[:500]) == 500

        old = child("ingest")
        assert old > 0  # never os.kill(0, ...): that would be this test's own group
        os.kill(old, signal.SIGKILL)
        _wait(lambda: child("ingest") not in (0, old), 30, "the ingest service to start again")
        _wait(lambda: log("ingest").count("reading the write-ahead log") == 2, 60, "a replay")

        old = child("mosquitto")
        assert old > 0
        os.kill(old, signal.SIGKILL)
        _wait(lambda: child("mosquitto") not in (0, old), 30, "the broker to start again")
        _wait(lambda: _listening(port), 30, "the broker to listen")
        assert publish(broker, "weather-station-02", payloads[500:]) == 500  # reconnects

        raw = tmp_path / "lake" / "raw"
        _wait(lambda: set(payloads) <= set(read_delivered(raw)), 60, "every message delivered")
        assert "exited with status 137" in log("ingest")  # 128 + SIGKILL
    finally:
        subprocess.run([stack, "stop"], env=env, timeout=120)
    assert not (run / "ingest.pid").exists() and not (run / "mosquitto.pid").exists()
