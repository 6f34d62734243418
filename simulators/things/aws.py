"""Register the weather stations as AWS IoT things (checked against moto in the tests).

For each thing: the thing itself (typed, in the fleet's thing group), a certificate
issued by AWS IoT from a CSR made here (the private key never leaves the machine), that
certificate attached to *its own* thing, and the least-privilege policy of
``include/iot/policies/weather_station.json`` attached to the certificate.

Idempotent: existing things, types, groups and policies are reused; a thing whose
certificate (recorded in ``<certs>/<thing>/aws.json``) is still active and attached keeps
it. Everything this module creates is recorded in ``<certs>/aws-manifest.json`` and
:func:`deregister` removes only those resources, never anything it did not create.
Files go to ``certs/aws/<thing>/`` by default so they never overwrite the local-CA
certificates of ``certs/<thing>/``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from iot_lake.config import settings
from iot_lake.devices import names
from iot_lake.devices.names import POLICY_FILE
from iot_lake.devices.pki import CERT_FILE, KEY_FILE, validate_thing_name
from iot_lake.provisioning.documents import render

log = logging.getLogger(__name__)

# The names for the default prefix; the registrar uses ``settings().name_prefix``.
THING_TYPE = names.thing_type(names.DEFAULT_NAME_PREFIX)
THING_GROUP = names.thing_group(names.DEFAULT_NAME_PREFIX)
POLICY_NAME = names.device_policy(names.DEFAULT_NAME_PREFIX)
MANIFEST = "aws-manifest.json"
CERT_RECORD = "aws.json"


@dataclass
class Manifest:
    """Resources created by this tool (and only those may be deleted by it)."""

    path: Path
    thing_type: str | None = None
    thing_group: str | None = None
    policy: str | None = None
    things: list[str] = field(default_factory=list)
    certificates: dict[str, str] = field(default_factory=dict)  # certificate id -> thing

    @classmethod
    def load(cls, path: Path) -> Manifest:
        if not path.is_file():
            return cls(path)
        data = json.loads(path.read_text())
        return cls(
            path,
            data.get("thing_type"),
            data.get("thing_group"),
            data.get("policy"),
            list(data.get("things", [])),
            dict(data.get("certificates", {})),
        )

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "thing_type": self.thing_type,
            "thing_group": self.thing_group,
            "policy": self.policy,
            "things": self.things,
            "certificates": self.certificates,
        }
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(payload, indent=2) + "\n")
        os.replace(tmp, self.path)


@dataclass(frozen=True)
class Registration:
    thing: str
    certificate_id: str
    certificate_arn: str
    cert_path: Path
    key_path: Path


def render_policy(
    region: str, account_id: str, policy_file: Path = POLICY_FILE, partition: str = "aws"
) -> str:
    """The policy document with its ``${partition}``/``${region}``/``${account_id}`` filled."""
    document = json.loads(policy_file.read_text())
    values = {"partition": partition, "region": region, "account_id": account_id}
    return json.dumps(render(document, values, str(policy_file)))


def _csr(name: str, key: ec.EllipticCurvePrivateKey) -> str:
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM).decode()


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


class AwsRegistrar:
    """Idempotent registration of things with boto3.

    Region and names come from the lake settings (``IOT_LAKE_REGION``,
    ``IOT_LAKE_NAME_PREFIX``), as for ``lake_setup``, never from boto3's default region:
    things must live where the rules and the device policy are.
    """

    def __init__(self, certs_dir: str | os.PathLike[str], session: Any = None) -> None:
        import boto3

        lake = settings()
        self.region = lake.region
        self.session = session or boto3.session.Session(region_name=self.region)
        self.iot = self.session.client("iot", region_name=self.region)
        self.thing_type = names.thing_type(lake.name_prefix)
        self.thing_group = names.thing_group(lake.name_prefix)
        self.policy_name = names.device_policy(lake.name_prefix)
        self.certs_dir = Path(certs_dir)
        self.manifest = Manifest.load(self.certs_dir / MANIFEST)

    # -- shared resources --

    def ensure_thing_type(self) -> None:
        try:
            self.iot.describe_thing_type(thingTypeName=self.thing_type)
        except self.iot.exceptions.ResourceNotFoundException:
            self.iot.create_thing_type(
                thingTypeName=self.thing_type,
                thingTypeProperties={
                    "thingTypeDescription": "iot-lake simulated NOAA ISD weather station",
                    "searchableAttributes": ["isd_station"],
                },
            )
            self.manifest.thing_type = self.thing_type
            self.manifest.save()
            log.info("created thing type %s", self.thing_type)

    def ensure_thing_group(self) -> None:
        try:
            self.iot.describe_thing_group(thingGroupName=self.thing_group)
        except self.iot.exceptions.ResourceNotFoundException:
            self.iot.create_thing_group(
                thingGroupName=self.thing_group,
                thingGroupProperties={"thingGroupDescription": "iot-lake weather stations"},
            )
            self.manifest.thing_group = self.thing_group
            self.manifest.save()
            log.info("created thing group %s", self.thing_group)

    def ensure_policy(self) -> None:
        identity = self.session.client("sts", region_name=self.region).get_caller_identity()
        partition = identity["Arn"].split(":")[1]
        document = render_policy(self.region, identity["Account"], partition=partition)
        try:
            current = self.iot.get_policy(policyName=self.policy_name)["policyDocument"]
        except self.iot.exceptions.ResourceNotFoundException:
            self.iot.create_policy(policyName=self.policy_name, policyDocument=document)
            self.manifest.policy = self.policy_name
            self.manifest.save()
            log.info("created policy %s", self.policy_name)
            return
        if json.loads(current) != json.loads(document):
            log.warning(
                "policy %s exists with a different document; left as is (delete it or "
                "create a new version to apply %s)",
                self.policy_name,
                POLICY_FILE,
            )

    # -- things --

    def ensure_thing(self, name: str, attributes: dict[str, str] | None = None) -> Registration:
        validate_thing_name(name)
        try:
            self.iot.describe_thing(thingName=name)
        except self.iot.exceptions.ResourceNotFoundException:
            self.iot.create_thing(
                thingName=name,
                thingTypeName=self.thing_type,
                attributePayload={"attributes": attributes or {}},
            )
            self.manifest.things.append(name)
            self.manifest.save()
            log.info("created thing %s", name)
        self.iot.add_thing_to_thing_group(thingGroupName=self.thing_group, thingName=name)
        registration = self._existing_certificate(name) or self._new_certificate(name)
        attached = self.iot.list_thing_principals(thingName=name)["principals"]
        if registration.certificate_arn not in attached:
            self.iot.attach_thing_principal(thingName=name, principal=registration.certificate_arn)
        self.iot.attach_policy(policyName=self.policy_name, target=registration.certificate_arn)
        return registration

    def _existing_certificate(self, name: str) -> Registration | None:
        folder = self.certs_dir / name
        record_path = folder / CERT_RECORD
        cert_path, key_path = folder / CERT_FILE, folder / KEY_FILE
        if not (record_path.is_file() and cert_path.is_file() and key_path.is_file()):
            return None
        record = json.loads(record_path.read_text())
        try:
            description = self.iot.describe_certificate(certificateId=record["certificateId"])
        except self.iot.exceptions.ResourceNotFoundException:
            log.warning("%s: recorded certificate is gone from AWS; issuing a new one", name)
            return None
        if description["certificateDescription"]["status"] != "ACTIVE":
            log.warning("%s: recorded certificate is not active; issuing a new one", name)
            return None
        return Registration(
            name, record["certificateId"], record["certificateArn"], cert_path, key_path
        )

    def _new_certificate(self, name: str) -> Registration:
        folder = self.certs_dir / name
        folder.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        response = self.iot.create_certificate_from_csr(
            certificateSigningRequest=_csr(name, key), setAsActive=True
        )
        cert_path, key_path = folder / CERT_FILE, folder / KEY_FILE
        _write_private(
            key_path,
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )
        cert_path.write_text(response["certificatePem"])
        record = {
            "certificateId": response["certificateId"],
            "certificateArn": response["certificateArn"],
        }
        (folder / CERT_RECORD).write_text(json.dumps(record, indent=2) + "\n")
        self.manifest.certificates[response["certificateId"]] = name
        self.manifest.save()
        log.info("issued AWS IoT certificate %s for %s", response["certificateId"], name)
        return Registration(
            name, response["certificateId"], response["certificateArn"], cert_path, key_path
        )

    def data_endpoint(self) -> str:
        return self.iot.describe_endpoint(endpointType="iot:Data-ATS")["endpointAddress"]

    # -- teardown --

    def deregister(self) -> list[str]:
        """Delete what the manifest says this tool created; return what was deleted."""
        deleted: list[str] = []
        for cert_id, thing in list(self.manifest.certificates.items()):
            arn = self._certificate_arn(cert_id)
            if arn is not None:
                self._detach(thing, arn)
                self.iot.update_certificate(certificateId=cert_id, newStatus="INACTIVE")
                self.iot.delete_certificate(certificateId=cert_id, forceDelete=True)
                deleted.append(f"certificate {cert_id}")
            del self.manifest.certificates[cert_id]
            self.manifest.save()
        for thing in list(self.manifest.things):
            try:
                for principal in self.iot.list_thing_principals(thingName=thing)["principals"]:
                    self.iot.detach_thing_principal(thingName=thing, principal=principal)
                self.iot.delete_thing(thingName=thing)
                deleted.append(f"thing {thing}")
            except self.iot.exceptions.ResourceNotFoundException:
                pass
            self.manifest.things.remove(thing)
            self.manifest.save()
        if self.manifest.policy:
            try:
                self.iot.delete_policy(policyName=self.manifest.policy)
                deleted.append(f"policy {self.manifest.policy}")
            except self.iot.exceptions.ResourceNotFoundException:
                pass
            self.manifest.policy = None
            self.manifest.save()
        if self.manifest.thing_group:
            self.iot.delete_thing_group(thingGroupName=self.manifest.thing_group)
            deleted.append(f"thing group {self.manifest.thing_group}")
            self.manifest.thing_group = None
            self.manifest.save()
        if self.manifest.thing_type:
            # AWS only deletes a thing type 5 minutes after deprecation; deprecate it now
            # and keep it in the manifest so a later run finishes the job.
            self.iot.deprecate_thing_type(thingTypeName=self.manifest.thing_type)
            try:
                self.iot.delete_thing_type(thingTypeName=self.manifest.thing_type)
                deleted.append(f"thing type {self.manifest.thing_type}")
                self.manifest.thing_type = None
                self.manifest.save()
            except self.iot.exceptions.InvalidRequestException as exc:
                log.warning("thing type deprecated, delete it again in 5 minutes: %s", exc)
        return deleted

    def _certificate_arn(self, cert_id: str) -> str | None:
        try:
            return self.iot.describe_certificate(certificateId=cert_id)["certificateDescription"][
                "certificateArn"
            ]
        except self.iot.exceptions.ResourceNotFoundException:
            return None

    def _detach(self, thing: str, arn: str) -> None:
        for attached in self.iot.list_attached_policies(target=arn)["policies"]:
            self.iot.detach_policy(policyName=attached["policyName"], target=arn)
        with contextlib.suppress(self.iot.exceptions.ResourceNotFoundException):
            self.iot.detach_thing_principal(thingName=thing, principal=arn)


def register_things(
    names: Iterable[str],
    certs_dir: str | os.PathLike[str],
    *,
    session: Any = None,
    attributes: dict[str, dict[str, str]] | None = None,
) -> list[Registration]:
    """Register ``names`` on AWS IoT (type, group, policy, thing, CSR certificate)."""
    registrar = AwsRegistrar(certs_dir, session)
    registrar.ensure_thing_type()
    registrar.ensure_thing_group()
    registrar.ensure_policy()
    return [registrar.ensure_thing(name, (attributes or {}).get(name)) for name in names]
