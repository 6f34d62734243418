"""The coffee machine's AWS credentials, the IoT way: its thing certificate buys them.

The AWS IoT credentials provider exchanges a device's X.509 certificate (mutual TLS) for
temporary credentials of the role behind a role alias
(``GET https://<credentials endpoint>/role-aliases/<alias>/credentials`` with the header
``x-amzn-iot-thingname``). The role (``include/iam/coffee_machine_device_policy.json``)
allows one thing: ``s3:PutObject`` under the photos prefix named after the thing. The
machine holds no long-lived keys; the credentials expire (``credentialDurationSeconds``
of the role alias, one hour) and are fetched again before they do.

Provisioned by ``iot_lake.provisioning.coffee`` (role, role alias, IoT policy that
allows ``iot:AssumeRoleWithCertificate`` on the alias).
"""

from __future__ import annotations

import json
import ssl
import threading
from dataclasses import dataclass
from http.client import HTTPSConnection
from pathlib import Path
from typing import Any
from urllib.parse import quote


class CredentialsError(RuntimeError):
    """The credentials provider refused or answered something else than credentials."""


@dataclass(frozen=True)
class DeviceIdentity:
    thing_name: str
    certificate: Path
    private_key: Path
    ca_file: Path | None = None  # None: the system's trust store (Amazon's CA on AWS)


def fetch_credentials(
    endpoint: str, role_alias: str, identity: DeviceIdentity, port: int = 443, timeout: float = 10
) -> dict[str, Any]:
    """One call to the credentials provider: accessKeyId, secretAccessKey, sessionToken,
    expiration (ISO 8601)."""
    context = ssl.create_default_context(cafile=str(identity.ca_file) if identity.ca_file else None)
    context.load_cert_chain(str(identity.certificate), str(identity.private_key))
    connection = HTTPSConnection(endpoint, port, context=context, timeout=timeout)
    try:
        connection.request(
            "GET",
            f"/role-aliases/{quote(role_alias, safe='')}/credentials",
            headers={"x-amzn-iot-thingname": identity.thing_name},
        )
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    if response.status != 200:
        raise CredentialsError(
            f"credentials provider {endpoint} answered {response.status}: {body[:200]!r}"
        )
    try:
        credentials = json.loads(body)["credentials"]
        for name in ("accessKeyId", "secretAccessKey", "sessionToken", "expiration"):
            credentials[name]
    except (ValueError, KeyError, TypeError) as exc:
        raise CredentialsError(f"credentials provider {endpoint} answered {body[:200]!r}") from exc
    return credentials


class DeviceCredentials:
    """botocore's refreshable credentials, fed by the credentials provider."""

    def __init__(self, endpoint: str, role_alias: str, identity: DeviceIdentity, port: int = 443):
        self.endpoint, self.role_alias, self.identity, self.port = (
            endpoint,
            role_alias,
            identity,
            port,
        )
        self._lock = threading.Lock()

    def metadata(self) -> dict[str, str]:
        with self._lock:
            found = fetch_credentials(self.endpoint, self.role_alias, self.identity, self.port)
        return {
            "access_key": found["accessKeyId"],
            "secret_key": found["secretAccessKey"],
            "token": found["sessionToken"],
            "expiry_time": found["expiration"],
        }

    def session(self, region: str) -> Any:
        """A boto3 session whose credentials refresh themselves from the certificate."""
        import boto3
        import botocore.session
        from botocore.credentials import RefreshableCredentials

        credentials = RefreshableCredentials.create_from_metadata(
            metadata=self.metadata(), refresh_using=self.metadata, method="iot-credentials-provider"
        )
        core = botocore.session.get_session()
        core._credentials = credentials  # the documented way to plug refreshable credentials
        core.set_config_variable("region", region)
        return boto3.session.Session(botocore_session=core)
