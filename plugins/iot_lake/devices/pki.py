"""Local device identity: a CA, per-thing certificates and the Mosquitto config that trusts them.

This module (``iot_lake.devices.pki``, also ``simulators.things.local``) is the local
stand-in for AWS IoT's certificate registry and policies. Mosquitto plays IoT Core: it
only accepts clients that present a certificate signed by the local CA
(``require_certificate``), takes the certificate's CN as the MQTT user name
(``use_identity_as_username``) and enforces an ACL built from the certificates that exist,
so every thing may only publish ``sensor/weather`` and only the local rules engine
(``iot-rules-engine``) may read ``sensor/#``.

Layout under ``certs_dir`` (git-ignored)::

    ca.crt, ca.key                      local certificate authority
    server.crt, server.key              the broker's certificate (localhost, 127.0.0.1)
    <thing>/certificate.pem.crt         one key pair per thing (CN = thing name), the same
    <thing>/private.pem.key             file names AWS IoT uses for its downloads
    iot-rules-engine/...                privileged client of the local rules engine
    mosquitto.conf, mosquitto.acl       written by :func:`write_mosquitto_config`
    mosquitto-data/                     broker persistence and log

Everything is idempotent: valid existing files are kept, so re-running never invalidates
certificates that devices already hold.
The X.509 work itself (keys, signing, what counts as still valid) is
:mod:`iot_lake.devices.certificates`.
"""

from __future__ import annotations

import getpass
import logging
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from iot_lake.config import LakeSettings
from iot_lake.devices.certificates import ensure_ca, ensure_leaf
from iot_lake.devices.names import WEATHER_TOPIC  # the one topic a thing may write

log = logging.getLogger(__name__)

WAL_PLUGIN_FILE = "mosquitto_wal.so"
BUILD_DIR_ENV = "IOT_LAKE_BUILD_DIR"


def build_dir() -> Path:
    """Where the broker's compiled write-ahead-log plugin lives (``.build/`` by default)."""
    from iot_lake.config import PROJECT_ROOT

    return Path(os.environ.get(BUILD_DIR_ENV, PROJECT_ROOT / ".build"))

RULES_ENGINE = "iot-rules-engine"
"""Client identity of the local rules engine: may read every ``sensor/#`` topic."""
RULES_ENGINE_TOPICS = "sensor/#"
CERT_FILE = "certificate.pem.crt"
KEY_FILE = "private.pem.key"
CA_CERT = "ca.crt"
CA_KEY = "ca.key"
SERVER_CERT = "server.crt"
SERVER_KEY = "server.key"
CONF_FILE = "mosquitto.conf"
ACL_FILE = "mosquitto.acl"
DATA_DIR = "mosquitto-data"
DEFAULT_THING_PREFIX = "weather-station"
# Names the broker certificate is valid for: this machine, and the compose service name.
DEFAULT_SERVER_HOSTS: tuple[str, ...] = ("localhost", "127.0.0.1", "::1", "mosquitto")
BROKER_HOSTS_ENV = "IOT_LAKE_BROKER_HOSTS"  # comma-separated extra names (a LAN address...)
# AWS IoT thing names allow [a-zA-Z0-9:_-]; the same rule keeps names safe as MQTT user
# names, directory names and ACL entries.
_THING_NAME = re.compile(r"^[A-Za-z0-9:_-]{1,128}$")


@dataclass(frozen=True)
class LocalPki:
    """Paths of the generated identity material (everything is under ``certs_dir``)."""

    certs_dir: Path

    @property
    def ca_file(self) -> Path:
        return self.certs_dir / CA_CERT

    @property
    def ca_key(self) -> Path:
        return self.certs_dir / CA_KEY

    @property
    def server_cert(self) -> Path:
        return self.certs_dir / SERVER_CERT

    @property
    def server_key(self) -> Path:
        return self.certs_dir / SERVER_KEY

    def credentials(self, name: str) -> tuple[Path, Path]:
        """(certificate, private key) of a thing or of the rules engine; they must exist."""
        cert, key = credential_paths(self.certs_dir, name)
        if not (cert.is_file() and key.is_file()):
            from iot_lake.errors import PkiError

            raise PkiError(
                f"no certificate for {name!r} under {self.certs_dir}; create it with "
                f"`python -m simulators.things create --names {name}`"
            )
        return cert, key


def device_defaults() -> tuple[str, int, Path]:
    """(mqtt host, mqtt port, certs dir) from ``IOT_LAKE_*`` env vars or config defaults.

    The Airflow connection is not consulted: importing Airflow costs seconds and a
    simulator has no business needing it.
    """
    host = os.environ.get("IOT_LAKE_MQTT_HOST", LakeSettings.mqtt_host)
    port = int(os.environ.get("IOT_LAKE_MQTT_PORT", LakeSettings.mqtt_port))
    certs = Path(os.environ.get("IOT_LAKE_CERTS_DIR", LakeSettings.certs_dir))
    return host, port, certs


def thing_names(count: int, prefix: str = DEFAULT_THING_PREFIX) -> list[str]:
    """The fleet's thing names: ``weather-station-01`` .. (station i uses thing i)."""
    if count < 1:
        from iot_lake.errors import PkiError

        raise PkiError(f"count must be at least 1, got {count}")
    return [f"{prefix}-{i:02d}" for i in range(1, count + 1)]


def validate_thing_name(name: str) -> str:
    if not _THING_NAME.match(name):
        from iot_lake.errors import PkiError

        raise PkiError(
            f"invalid thing name {name!r}: use 1-128 characters from [A-Za-z0-9:_-] "
            "(the AWS IoT rule, also safe as MQTT user name and directory name)"
        )
    return name


def credential_paths(certs_dir: str | os.PathLike[str], name: str) -> tuple[Path, Path]:
    """Where the certificate and key of ``name`` live (whether or not they exist yet)."""
    folder = Path(certs_dir) / validate_thing_name(name)
    return folder / CERT_FILE, folder / KEY_FILE


def broker_hosts() -> tuple[str, ...]:
    """The defaults plus ``IOT_LAKE_BROKER_HOSTS``."""
    extra = [h.strip() for h in os.environ.get(BROKER_HOSTS_ENV, "").split(",") if h.strip()]
    return tuple(dict.fromkeys([*DEFAULT_SERVER_HOSTS, *extra]))


def ensure_local_pki(
    certs_dir: str | os.PathLike[str],
    things: Iterable[str],
    *,
    rules_engine: bool = True,
    server_hosts: Sequence[str] | None = None,
) -> LocalPki:
    """Create (or keep) the CA, the broker certificate and one certificate per thing.

    Idempotent: a file is only (re)written when it is missing, does not chain to the CA,
    does not match its key, or expires within two weeks. ``server_hosts`` defaults to
    :func:`broker_hosts`, so the CLI and the setup issue the same broker certificate.
    """
    root = Path(certs_dir)
    root.mkdir(parents=True, exist_ok=True)
    names = [validate_thing_name(n) for n in things]
    if rules_engine and RULES_ENGINE not in names:
        names.append(RULES_ENGINE)
    ca_cert, ca_key = ensure_ca(root / CA_CERT, root / CA_KEY)
    ensure_leaf(
        root / SERVER_CERT,
        root / SERVER_KEY,
        "localhost",
        ca_cert,
        ca_key,
        server_hosts=tuple(server_hosts or broker_hosts()),
    )
    for name in names:
        cert_path, key_path = credential_paths(root, name)
        cert_path.parent.mkdir(exist_ok=True)
        ensure_leaf(cert_path, key_path, name, ca_cert, ca_key)
    return LocalPki(root)


def registered_things(certs_dir: str | os.PathLike[str]) -> list[str]:
    """Things that hold a certificate under ``certs_dir`` (the rules engine excluded)."""
    root = Path(certs_dir)
    if not root.is_dir():
        return []
    return sorted(
        p.parent.name
        for p in root.glob(f"*/{CERT_FILE}")
        if p.parent.name != RULES_ENGINE and _THING_NAME.match(p.parent.name)
    )


def render_acl(things: Iterable[str]) -> str:
    """Mosquitto ACL: each thing may only write the weather topic; the engine only reads."""
    lines = [
        "# Generated by iot_lake.devices.pki; regenerate rather than edit.",
        "# Least privilege, as the IoT policy in include/iot/policies/ on AWS:",
        f"# things publish {WEATHER_TOPIC} only; {RULES_ENGINE} reads {RULES_ENGINE_TOPICS}.",
        "",
    ]
    for name in sorted(set(things)):
        if name == RULES_ENGINE:
            continue
        lines += [f"user {validate_thing_name(name)}", f"topic write {WEATHER_TOPIC}", ""]
    lines += [f"user {RULES_ENGINE}", f"topic read {RULES_ENGINE_TOPICS}", ""]
    return "\n".join(lines)


def write_mosquitto_config(
    certs_dir: str | os.PathLike[str],
    *,
    host: str = "127.0.0.1",
    port: int = 8883,
    things: Iterable[str] | None = None,
    conf_path: str | os.PathLike[str] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    max_queued_messages: int = 1_000_000,
    log_dest: str | None = None,
    wal_dir: str | os.PathLike[str] | None = None,
    wal_plugin: str | os.PathLike[str] | None = None,
    wal_options: dict[str, int] | None = None,
    wal: bool = True,
) -> Path:
    """Write ``mosquitto.conf`` + ``mosquitto.acl`` for a mutual-TLS listener; return the conf.

    ``things`` defaults to every thing holding a certificate under ``certs_dir``. Run the
    broker with ``mosquitto -c <conf>``; after adding things, rewrite and send it SIGHUP
    (Mosquitto reloads the ACL file on SIGHUP).

    The broker loads the write-ahead-log plugin (``simulators/iot_core/broker_wal``, built
    into :func:`build_dir`): every
    message it accepts is in ``wal_dir`` (default ``<lake home>/iot_core/wal``, where the
    rules engine reads) before it is acknowledged. ``wal_plugin`` defaults to where
    ``simulators.iot_core.broker_wal.plugin_path`` builds it; build it before starting.
    ``wal_options``: the plugin's ``segment_bytes``, ``segment_ms``, ``sync_ms``.
    ``wal=False`` leaves the plugin out (benchmarks measure what it costs; nothing else).
    """
    if wal_dir is None:
        from iot_lake.config import settings

        wal_dir = Path(settings().home) / "iot_core" / "wal"
    wal_path = Path(wal_dir).resolve()
    plugin = Path(wal_plugin) if wal_plugin else build_dir() / WAL_PLUGIN_FILE
    pki = LocalPki(Path(certs_dir).resolve())
    for path in (pki.ca_file, pki.server_cert, pki.server_key):
        if not path.is_file():
            from iot_lake.errors import PkiError

            raise PkiError(f"{path} is missing: run ensure_local_pki() first")
    names = registered_things(pki.certs_dir) if things is None else list(things)
    data = Path(data_dir).resolve() if data_dir else pki.certs_dir / DATA_DIR
    data.mkdir(parents=True, exist_ok=True)
    acl_path = pki.certs_dir / ACL_FILE
    conf = Path(conf_path).resolve() if conf_path else pki.certs_dir / CONF_FILE
    acl_path.write_text(render_acl(names))
    destination = log_dest or f"file {data / 'mosquitto.log'}"
    conf.write_text(
        "\n".join(
            [
                "# Generated by iot_lake.devices.pki; regenerate rather than edit.",
                "per_listener_settings false",
                # Mosquitto drops root privileges to user `mosquitto` unless told otherwise;
                # stay the user who owns the generated keys.
                f"user {getpass.getuser()}",
                "allow_anonymous false",
                f"acl_file {acl_path}",
                # Sessions (clean_session False) survive a broker restart; the messages
                # themselves are safe in the WAL, not in this periodic snapshot.
                "persistence true",
                f"persistence_location {data}/",
                "persistence_file mosquitto.db",
                "autosave_interval 30",
                "persistent_client_expiration 14d",
                f"max_queued_messages {max_queued_messages}",
                "max_queued_bytes 0",
                "max_inflight_messages 1000",
                "set_tcp_nodelay true",
                f"log_dest {destination}",
                "log_type error",
                "log_type warning",
                "log_type notice",
                "log_type information",  # includes "Reloading config" after a SIGHUP
                "connection_messages true",
                "",
                f"listener {port} {host}",
                # Both MQTT 3.1.1 and 5 clients are accepted on an `mqtt` listener.
                "protocol mqtt",
                f"cafile {pki.ca_file}",
                f"certfile {pki.server_cert}",
                f"keyfile {pki.server_key}",
                "require_certificate true",
                "use_identity_as_username true",
                # A client's id is its certificate's CN, whatever id it asks for: no thing
                # can take over another's session (the IoT policy's
                # client/${iot:Connection.Thing.ThingName} on AWS).
                "use_username_as_clientid true",
                # Every accepted message is in the WAL before its PUBACK: an acknowledged
                # message survives a SIGKILL of the broker (docs/ingestion.md). After the
                # listener: before one, Mosquitto would open a default listener on 1883.
                *(
                    [
                        f"plugin {plugin}",
                        f"plugin_opt_dir {wal_path}",
                        *[f"plugin_opt_{k} {int(v)}" for k, v in (wal_options or {}).items()],
                    ]
                    if wal
                    else []
                ),
                "",
            ]
        )
    )
    return conf
