"""The coffee machine on aws: temporary credentials bought with its certificate over mutual
TLS (a local HTTPS server in the credentials provider's shape), then PutObject (moto)."""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest

from simulators.coffee_machine.credentials import (
    CredentialsError,
    DeviceCredentials,
    DeviceIdentity,
    fetch_credentials,
)
from simulators.coffee_machine.machine import CoffeeMachine, PhotoFolder, s3_uploader
from simulators.things.local import ensure_local_pki

ALIAS = "iot-lake-coffee-machine"
THING = "coffee-machine-01"


class Provider(ThreadingHTTPServer):
    """Answers like the IoT credentials provider: only a client certificate whose CN is
    the thing named in ``x-amzn-iot-thingname`` gets credentials of the alias."""

    requests: list[dict[str, Any]]


class _Handler(BaseHTTPRequestHandler):
    server: Provider

    def do_GET(self) -> None:
        peer = self.connection.getpeercert()
        common_name = dict(item[0] for item in peer["subject"])["commonName"]
        thing = self.headers.get("x-amzn-iot-thingname")
        self.server.requests.append({"path": self.path, "thing": thing, "cn": common_name})
        if self.path != f"/role-aliases/{ALIAS}/credentials" or thing != common_name:
            self.send_response(403)
            self.end_headers()
            self.wfile.write(b'{"message": "Access Denied"}')
            return
        expiration = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = json.dumps(
            {
                "credentials": {
                    "accessKeyId": "ASIATEMPORARY",
                    "secretAccessKey": "temporary-secret",
                    "sessionToken": f"token-for-{thing}",
                    "expiration": expiration,
                }
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def provider(tmp_path: Path) -> Iterator[tuple[Provider, Path]]:
    pki = ensure_local_pki(
        tmp_path / "certs", [THING, "coffee-machine-02"], rules_engine=False,
        server_hosts=("localhost", "127.0.0.1"),
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.server_cert, pki.server_key)
    context.load_verify_locations(pki.ca_file)
    context.verify_mode = ssl.CERT_REQUIRED  # mutual TLS, as the provider requires
    server = Provider(("127.0.0.1", 0), _Handler)
    server.requests = []
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server, tmp_path / "certs"
    finally:
        server.shutdown()
        server.server_close()


def identity(certs: Path, thing: str = THING, as_thing: str | None = None) -> DeviceIdentity:
    return DeviceIdentity(
        as_thing or thing,
        certs / thing / "certificate.pem.crt",
        certs / thing / "private.pem.key",
        certs / "ca.crt",
    )


def test_the_certificate_buys_temporary_credentials_of_the_role_alias(provider):
    server, certs = provider
    port = server.server_address[1]
    found = fetch_credentials("localhost", ALIAS, identity(certs), port=port)
    assert found["sessionToken"] == f"token-for-{THING}"
    assert server.requests == [
        {"path": f"/role-aliases/{ALIAS}/credentials", "thing": THING, "cn": THING}
    ]


def test_another_machines_name_is_refused(provider):
    server, certs = provider
    port = server.server_address[1]
    with pytest.raises(CredentialsError, match="answered 403"):
        fetch_credentials("localhost", ALIAS, identity(certs, as_thing="coffee-machine-02"),
                          port=port)  # fmt: skip


def test_without_a_client_certificate_there_is_no_connection(provider):
    server, certs = provider
    port = server.server_address[1]
    context = ssl.create_default_context(cafile=str(certs / "ca.crt"))
    import http.client

    connection = http.client.HTTPSConnection("localhost", port, context=context, timeout=10)
    with pytest.raises((ssl.SSLError, ConnectionError, http.client.RemoteDisconnected)):
        connection.request("GET", f"/role-aliases/{ALIAS}/credentials")
        connection.getresponse().read()
    connection.close()


def test_a_press_on_aws_uploads_with_the_temporary_credentials(provider, monkeypatch):
    from moto import mock_aws

    from iot_lake.config import LakeSettings

    server, certs = provider
    port = server.server_address[1]
    lake = LakeSettings(backend="aws", region="eu-west-1", photos_uri="s3://acme-lake/photos/")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)  # nothing long-lived to fall back on
    with mock_aws():
        boto3.client("s3", region_name="eu-west-1").create_bucket(
            Bucket="acme-lake", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
        )
        session = DeviceCredentials("localhost", ALIAS, identity(certs), port=port).session(
            "eu-west-1"
        )
        credentials = session.get_credentials().get_frozen_credentials()
        assert credentials.access_key == "ASIATEMPORARY"
        assert credentials.token == f"token-for-{THING}"
        machine = CoffeeMachine(THING, PhotoFolder(seed=1), s3_uploader(lake, session.client("s3")))
        press = machine.press(datetime(2026, 11, 20, 8, 15, 2))
        key = press.photo_uri.removeprefix("s3://acme-lake/")
        assert key.startswith(f"photos/{THING}/2026-11-20/081502-")
        listed = boto3.client("s3", region_name="eu-west-1").list_objects_v2(Bucket="acme-lake")
        assert [o["Key"] for o in listed["Contents"]] == [key]
