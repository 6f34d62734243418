"""Run a real Mosquitto with the local mutual-TLS config (tests, benches, the demo).

The broker is the real ``/usr/sbin/mosquitto`` started on a loopback port with the config
written by :func:`simulators.things.local.write_mosquitto_config`; :meth:`Broker.start`
returns only once the broker completes a TLS handshake with a client certificate, so
callers never race its start-up.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from simulators.iot_core.broker_wal import plugin_path
from simulators.things.local import (
    DATA_DIR,
    RULES_ENGINE,
    LocalPki,
    credential_paths,
    ensure_local_pki,
    registered_things,
    write_mosquitto_config,
)

MOSQUITTO = os.environ.get("IOT_LAKE_MOSQUITTO", shutil.which("mosquitto") or "/usr/sbin/mosquitto")
"""The broker binary (env ``IOT_LAKE_MOSQUITTO`` overrides)."""


class BrokerError(RuntimeError):
    """The broker did not start or stopped unexpectedly; the message carries its log."""


def _load_prctl() -> object | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl
    except (OSError, AttributeError):  # not Linux
        return None


_PRCTL = _load_prctl()  # resolved here: the child after fork must not dlopen anything


def _die_with_parent() -> None:
    """Child side of Popen: have Linux SIGTERM the broker if its parent dies (no leaks
    from a crashed or killed test run). A no-op elsewhere."""
    if _PRCTL is not None:
        _PRCTL(1, signal.SIGTERM)  # type: ignore[operator]  # PR_SET_PDEATHSIG


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass
class Broker:
    """A Mosquitto process serving mutual TLS on ``host:port`` with certs in ``certs_dir``."""

    certs_dir: Path
    host: str = "127.0.0.1"
    port: int = 0
    wal_dir: Path | None = None
    """Where the broker's WAL plugin writes (default ``<certs_dir>/mosquitto-data/wal``)."""
    wal_options: dict[str, int] = field(default_factory=dict)
    """The WAL plugin's ``segment_bytes``, ``segment_ms``, ``sync_ms``."""
    wal: bool = True
    """False: no WAL plugin (only to measure what it costs)."""
    conf_path: Path = field(init=False)
    process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.certs_dir = Path(self.certs_dir).resolve()
        self.conf_path = self.certs_dir / "mosquitto.conf"
        self.wal_dir = Path(self.wal_dir or self.certs_dir / DATA_DIR / "wal").resolve()

    @property
    def pki(self) -> LocalPki:
        return LocalPki(self.certs_dir)

    @property
    def ca_file(self) -> Path:
        return self.pki.ca_file

    @property
    def log_path(self) -> Path:
        return self.certs_dir / DATA_DIR / "mosquitto.log"

    def credentials(self, name: str) -> tuple[Path, Path]:
        """(cert, key) for a thing or ``iot-rules-engine``; issues one on first use.

        A new thing also gets its ACL entry, which the running broker reloads (SIGHUP).
        """
        cert, key = credential_paths(self.certs_dir, name)
        if not (cert.is_file() and key.is_file()):
            ensure_local_pki(self.certs_dir, [name])
            self._write_config()
            if self.running:
                self._reload()
        return cert, key

    def _reload(self, timeout: float = 5.0) -> None:
        """SIGHUP the broker and wait until its log says the config (and ACL) reloaded."""
        assert self.process is not None
        marker = "Reloading config"
        before = self._log_text().count(marker)
        self.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._log_text().count(marker) > before:
                time.sleep(0.05)  # the ACL file is read right after the log line
                return
            time.sleep(0.02)
        raise BrokerError(f"mosquitto did not reload within {timeout}s:\n{self._diagnostics()}")

    def _log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.is_file() else ""

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _write_config(self) -> None:
        write_mosquitto_config(
            self.certs_dir,
            host=self.host,
            port=self.port,
            wal_dir=self.wal_dir,
            wal_plugin=plugin_path(),
            wal_options=self.wal_options,
            wal=self.wal,
        )

    def start(self, timeout: float = 10.0) -> Broker:
        """Start the broker (on a free port unless one was given) and wait until it serves."""
        if self.running:
            return self
        attempts = 3 if self.port == 0 else 1
        fixed = self.port
        for attempt in range(attempts):
            self.port = fixed or free_port(self.host)
            self._write_config()
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self.process = subprocess.Popen(
                [MOSQUITTO, "-c", str(self.conf_path)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                # Linux ties the parent-death signal to the *thread* that forks: only
                # the main thread lives as long as the process.
                preexec_fn=_die_with_parent
                if threading.current_thread() is threading.main_thread()
                else None,
            )
            try:
                self._wait_ready(timeout)
                return self
            except BrokerError:
                self.stop()
                if attempt == attempts - 1:
                    raise
        return self  # pragma: no cover - loop always returns or raises

    def _wait_ready(self, timeout: float) -> None:
        cert, key = self.credentials(RULES_ENGINE)
        context = ssl.create_default_context(cafile=str(self.ca_file))
        context.load_cert_chain(str(cert), str(key))
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise BrokerError(f"mosquitto exited during start-up:\n{self._diagnostics()}")
            try:
                with (
                    socket.create_connection((self.host, self.port), timeout=1) as raw,
                    context.wrap_socket(raw, server_hostname=self.host),
                ):
                    return
            except OSError as exc:
                last_error = exc
                time.sleep(0.05)
        raise BrokerError(
            f"mosquitto on {self.host}:{self.port} did not accept TLS within {timeout}s "
            f"({last_error}):\n{self._diagnostics()}"
        )

    def _diagnostics(self) -> str:
        parts = []
        if (
            self.process is not None
            and self.process.stderr is not None
            and (self.process.poll() is not None)
        ):
            parts.append(self.process.stderr.read().decode(errors="replace"))
        if self.log_path.is_file():
            parts.append(self.log_path.read_text(errors="replace")[-4000:])
        return "\n".join(parts)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the broker (SIGTERM, then SIGKILL); persistence is saved on SIGTERM."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        if self.process.stderr is not None:
            self.process.stderr.close()
        self.process = None

    def kill(self) -> None:
        """SIGKILL the broker, as a crash would: no autosave, no clean disconnects."""
        if self.process is None:
            return
        self.process.kill()
        self.process.wait(10)
        if self.process.stderr is not None:
            self.process.stderr.close()
        self.process = None

    def restart(self, timeout: float = 10.0) -> Broker:
        """Stop and start on the same port: persistent sessions and queues survive."""
        self.stop()
        return self.start(timeout)


def start_broker(
    certs_dir: str | os.PathLike[str],
    things: Iterable[str] = (),
    *,
    host: str = "127.0.0.1",
    port: int = 0,
) -> Broker:
    """Create the PKI for ``things`` (plus any already registered) and start a broker."""
    names = sorted({*things, *registered_things(certs_dir)})
    ensure_local_pki(certs_dir, names)
    return Broker(Path(certs_dir), host=host, port=port).start()


@contextlib.contextmanager
def running_broker(
    certs_dir: str | os.PathLike[str],
    things: Iterable[str] = (),
    *,
    host: str = "127.0.0.1",
    port: int = 0,
) -> Iterator[Broker]:
    """A started broker that is stopped when the block exits, whatever happens."""
    broker = start_broker(certs_dir, things, host=host, port=port)
    try:
        yield broker
    finally:
        broker.stop()
