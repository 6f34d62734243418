"""Thing registration: local CA + Mosquitto mutual TLS and ACL (real broker), AWS on moto."""

from __future__ import annotations

import json
import os
import queue
import ssl
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import paho.mqtt.client as paho
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID
from moto import mock_aws

from iot_lake.errors import PkiError
from simulators.things import __main__ as things_cli
from simulators.things.aws import (
    POLICY_FILE,
    POLICY_NAME,
    THING_GROUP,
    THING_TYPE,
    AwsRegistrar,
    register_things,
    render_policy,
)
from simulators.things.broker import Broker
from simulators.things.local import (
    RULES_ENGINE,
    ensure_local_pki,
    render_acl,
    thing_names,
    write_mosquitto_config,
)
from tests.simulators.conftest import mqtt_client

# --- local PKI and config files ---------------------------------------------------------


def _snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_local_pki_creates_a_chain_per_thing_and_is_idempotent(tmp_path: Path) -> None:
    pki = ensure_local_pki(tmp_path, thing_names(3))
    before = _snapshot(tmp_path)

    ensure_local_pki(tmp_path, thing_names(3))

    assert _snapshot(tmp_path) == before
    ca = x509.load_pem_x509_certificate(pki.ca_file.read_bytes())
    for name in [*thing_names(3), RULES_ENGINE]:
        cert_path, key_path = pki.credentials(name)
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        cert.verify_directly_issued_by(ca)
        assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == name
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        assert key.public_key() == cert.public_key()
        assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(pki.ca_key.stat().st_mode) == 0o600


def test_server_certificate_names_localhost_and_loopback(tmp_path: Path) -> None:
    pki = ensure_local_pki(tmp_path, [])
    cert = x509.load_pem_x509_certificate(pki.server_cert.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value

    assert "localhost" in san.get_values_for_type(x509.DNSName)
    assert {str(ip) for ip in san.get_values_for_type(x509.IPAddress)} >= {"127.0.0.1"}


def test_adding_a_thing_keeps_existing_certificates(tmp_path: Path) -> None:
    ensure_local_pki(tmp_path, ["weather-station-01"])
    first = (tmp_path / "weather-station-01" / "certificate.pem.crt").read_bytes()

    ensure_local_pki(tmp_path, ["weather-station-01", "weather-station-02"])

    assert (tmp_path / "weather-station-01" / "certificate.pem.crt").read_bytes() == first
    assert (tmp_path / "weather-station-02" / "certificate.pem.crt").is_file()


def test_a_certificate_of_another_ca_is_replaced(tmp_path: Path) -> None:
    ensure_local_pki(tmp_path / "a", ["weather-station-01"])
    ensure_local_pki(tmp_path / "b", ["weather-station-01"])
    foreign = tmp_path / "b" / "weather-station-01"
    mine = tmp_path / "a" / "weather-station-01"
    for name in ("certificate.pem.crt", "private.pem.key"):
        (mine / name).write_bytes((foreign / name).read_bytes())

    pki = ensure_local_pki(tmp_path / "a", ["weather-station-01"])

    ca = x509.load_pem_x509_certificate(pki.ca_file.read_bytes())
    cert = x509.load_pem_x509_certificate((mine / "certificate.pem.crt").read_bytes())
    cert.verify_directly_issued_by(ca)


@pytest.mark.parametrize("name", ["", "a/b", "sensor/#", "x y", "+"])
def test_unsafe_thing_names_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(PkiError, match="invalid thing name"):
        ensure_local_pki(tmp_path, [name])


def test_acl_lets_things_only_write_weather_and_the_engine_only_read() -> None:
    acl = render_acl(["weather-station-02", "weather-station-01", RULES_ENGINE])

    assert acl.count("topic write sensor/weather") == 2
    assert f"user {RULES_ENGINE}\ntopic read sensor/#" in acl
    assert "readwrite" not in acl and "#\n" not in acl.split(RULES_ENGINE)[0]


def test_mosquitto_config_requires_client_certificates_and_persists(tmp_path: Path) -> None:
    ensure_local_pki(tmp_path, thing_names(2))

    conf = write_mosquitto_config(tmp_path, host="127.0.0.1", port=18999).read_text()

    for line in (
        "listener 18999 127.0.0.1",
        "require_certificate true",
        "use_identity_as_username true",
        "allow_anonymous false",
        f"acl_file {tmp_path.resolve() / 'mosquitto.acl'}",
        "persistence true",
        "max_queued_messages 1000000",
    ):
        assert line in conf.splitlines()
    acl = (tmp_path / "mosquitto.acl").read_text()
    assert "user weather-station-01" in acl and "user weather-station-02" in acl


def test_cli_create_writes_certificates_and_broker_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    certs = tmp_path / "certs"

    code = things_cli.main(["--certs-dir", str(certs), "--port", "18998", "create", "--count", "2"])

    assert code == 0
    assert (certs / "weather-station-02" / "private.pem.key").is_file()
    assert "listener 18998 127.0.0.1" in (certs / "mosquitto.conf").read_text()
    assert "mosquitto -c" in capsys.readouterr().out


# --- the real broker: who may connect, publish and read ------------------------------------


def _client(
    broker: Broker, name: str, protocol: int = paho.MQTTv311
) -> Iterator[tuple[paho.Client, queue.Queue[paho.MQTTMessage]]]:
    cert, key = broker.credentials(name)
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=name, protocol=protocol)
    client.tls_set(ca_certs=str(broker.ca_file), certfile=str(cert), keyfile=str(key))
    received: queue.Queue[paho.MQTTMessage] = queue.Queue()
    client.on_message = lambda _c, _u, message: received.put(message)
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        yield client, received
    finally:
        client.disconnect()
        client.loop_stop()


@pytest.fixture
def engine(mqtt_broker: Broker) -> Iterator[queue.Queue[paho.MQTTMessage]]:
    """The rules engine's view: everything readable under sensor/#."""
    gen = _client(mqtt_broker, RULES_ENGINE)
    client, received = next(gen)
    client.subscribe("sensor/#", qos=1)[1]
    time.sleep(0.3)
    yield received
    next(gen, None)


def _mqtt_connects(broker: Broker, cert: Path | None, key: Path | None) -> bool:
    """Whether an MQTT client with this certificate (or none) gets a successful CONNACK."""
    connected = queue.Queue[bool]()
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="probe")
    client.tls_set(
        ca_certs=str(broker.ca_file),
        certfile=str(cert) if cert else None,
        keyfile=str(key) if key else None,
    )
    client.on_connect = lambda _c, _u, _f, reason, _p: connected.put(not reason.is_failure)
    client.on_disconnect = lambda *_: connected.put(False)
    try:
        client.connect(broker.host, broker.port)
    except (ssl.SSLError, OSError):
        return False
    client.loop_start()
    try:
        return connected.get(timeout=5)
    except queue.Empty:
        return False
    finally:
        client.disconnect()
        client.loop_stop()


def test_client_without_certificate_is_refused(mqtt_broker: Broker) -> None:
    assert not _mqtt_connects(mqtt_broker, None, None)


def test_client_with_certificate_of_another_ca_is_refused(
    mqtt_broker: Broker, tmp_path: Path
) -> None:
    other = ensure_local_pki(tmp_path / "rogue", ["weather-station-01"])

    assert not _mqtt_connects(mqtt_broker, *other.credentials("weather-station-01"))
    # ... while the genuine certificate of the same thing gets through.
    assert _mqtt_connects(mqtt_broker, *mqtt_broker.credentials("weather-station-01"))


def test_thing_publishes_weather_but_not_another_topic(
    mqtt_broker: Broker, engine: queue.Queue[paho.MQTTMessage]
) -> None:
    acks: dict[int, object] = {}
    gen = _client(mqtt_broker, "weather-station-03", paho.MQTTv5)
    client, _ = next(gen)
    client.on_publish = lambda _c, _u, mid, reason, _p: acks.__setitem__(mid, reason)
    try:
        denied = client.publish("sensor/other", b"nope", qos=1)
        allowed = client.publish("sensor/weather", b"ok", qos=1)
        allowed.wait_for_publish(5)
        denied.wait_for_publish(5)
    finally:
        next(gen, None)

    assert str(acks[denied.mid]) == "Not authorized"
    assert str(acks[allowed.mid]) == "Success"
    message = engine.get(timeout=5)
    assert (message.topic, message.payload) == ("sensor/weather", b"ok")
    assert engine.empty()


def test_a_thing_cannot_read_other_things_messages(
    mqtt_broker: Broker, engine: queue.Queue[paho.MQTTMessage]
) -> None:
    spy_gen = _client(mqtt_broker, "weather-station-04")
    spy, spied = next(spy_gen)
    spy.subscribe("sensor/#", qos=1)
    time.sleep(0.3)
    pub_gen = _client(mqtt_broker, "weather-station-05")
    publisher, _ = next(pub_gen)
    try:
        publisher.publish("sensor/weather", b"private", qos=1).wait_for_publish(5)
        assert engine.get(timeout=5).payload == b"private"
        time.sleep(0.3)
    finally:
        next(pub_gen, None)
        next(spy_gen, None)

    assert spied.empty()


def test_a_new_thing_is_admitted_without_restarting_the_broker(
    mqtt_broker: Broker, engine: queue.Queue[paho.MQTTMessage]
) -> None:
    gen = _client(mqtt_broker, "late-station-99")
    client, _ = next(gen)
    try:
        client.publish("sensor/weather", b"late", qos=1).wait_for_publish(5)
    finally:
        next(gen, None)

    assert engine.get(timeout=5).payload == b"late"


# --- AWS IoT (moto) ------------------------------------------------------------------------


@pytest.fixture
def aws() -> Iterator[boto3.session.Session]:
    with mock_aws():
        yield boto3.session.Session(region_name="us-east-1")


def test_policy_document_is_least_privilege() -> None:
    policy = json.loads(render_policy("eu-west-1", "123456789012"))
    statements = {s["Action"]: s for s in policy["Statement"]}

    assert set(statements) == {"iot:Connect", "iot:Publish"}
    assert all(s["Effect"] == "Allow" for s in policy["Statement"])
    connect = statements["iot:Connect"]
    assert connect["Resource"] == (
        "arn:aws:iot:eu-west-1:123456789012:client/${iot:Connection.Thing.ThingName}"
    )
    assert connect["Condition"] == {"Bool": {"iot:Connection.Thing.IsAttached": "true"}}
    assert statements["iot:Publish"]["Resource"] == (
        "arn:aws:iot:eu-west-1:123456789012:topic/sensor/weather"
    )
    assert "*" not in POLICY_FILE.read_text()


def test_aws_registration_attaches_each_certificate_to_its_own_thing(
    aws: boto3.session.Session, tmp_path: Path
) -> None:
    names = thing_names(3)
    sent: list[dict[str, object]] = []
    aws.events.register(
        "provide-client-params.iot.*", lambda params, **_: sent.append(dict(params))
    )

    registrations = register_things(names, tmp_path, session=aws)

    iot = aws.client("iot")
    assert iot.describe_thing_type(thingTypeName=THING_TYPE)["thingTypeName"] == THING_TYPE
    in_group = iot.list_things_in_thing_group(thingGroupName=THING_GROUP)["things"]
    assert sorted(in_group) == names
    stored = json.loads(iot.get_policy(policyName=POLICY_NAME)["policyDocument"])
    assert stored == json.loads(render_policy("us-east-1", "123456789012"))
    for registration in registrations:
        principals = iot.list_thing_principals(thingName=registration.thing)["principals"]
        assert principals == [registration.certificate_arn]
        policies = iot.list_attached_policies(target=registration.certificate_arn)["policies"]
        assert [p["policyName"] for p in policies] == [POLICY_NAME]
        assert iot.describe_thing(thingName=registration.thing)["thingTypeName"] == THING_TYPE
        assert stat.S_IMODE(os.stat(registration.key_path).st_mode) == 0o600
        x509.load_pem_x509_certificate(registration.cert_path.read_bytes())
    assert len({r.certificate_id for r in registrations}) == 3
    # The keys were made here and only CSRs went out (moto signs its own key, so the
    # check is on what was sent): one CSR per thing, for that thing's local key.
    csrs = [
        x509.load_pem_x509_csr(p["certificateSigningRequest"].encode())
        for p in sent
        if "certificateSigningRequest" in p
    ]
    assert len(csrs) == 3
    for registration, csr in zip(registrations, csrs, strict=True):
        key = serialization.load_pem_private_key(registration.key_path.read_bytes(), None)
        assert csr.public_key() == key.public_key()
        assert csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == (
            registration.thing
        )
    assert not any("PRIVATE KEY" in json.dumps(p, default=str) for p in sent)


def test_aws_registration_is_idempotent(aws: boto3.session.Session, tmp_path: Path) -> None:
    first = register_things(thing_names(2), tmp_path, session=aws)

    second = register_things(thing_names(2), tmp_path, session=aws)

    assert [r.certificate_id for r in second] == [r.certificate_id for r in first]
    iot = aws.client("iot")
    assert len(iot.list_certificates()["certificates"]) == 2
    assert len(iot.list_things()["things"]) == 2


def test_aws_deregistration_deletes_only_what_it_created(
    aws: boto3.session.Session, tmp_path: Path
) -> None:
    iot = aws.client("iot")
    iot.create_thing_group(thingGroupName=THING_GROUP)  # someone else's group
    iot.create_thing(thingName="someone-elses-thing")
    register_things(thing_names(2), tmp_path, session=aws)

    deleted = AwsRegistrar(tmp_path, aws).deregister()

    assert sorted(t["thingName"] for t in iot.list_things()["things"]) == ["someone-elses-thing"]
    assert iot.list_certificates()["certificates"] == []
    assert iot.describe_thing_group(thingGroupName=THING_GROUP)["thingGroupName"] == THING_GROUP
    assert f"policy {POLICY_NAME}" in deleted
    assert not any("someone" in item for item in deleted)


def test_the_iot_policy_and_the_broker_enforce_the_same_rules(mqtt_broker: Broker) -> None:
    """Side by side: each rule of include/iot/policies/weather_station.json, and the local
    broker doing the same to a real thing certificate."""
    policy = json.loads(render_policy("eu-west-1", "123456789012"))
    actions = {s["Action"]: s["Resource"] for s in policy["Statement"]}
    conf = mqtt_broker.conf_path.read_text().splitlines()

    # 1. A thing connects only with client id = its thing name; nobody takes over a session.
    assert actions["iot:Connect"].endswith(":client/${iot:Connection.Thing.ThingName}")
    assert "use_identity_as_username true" in conf and "use_username_as_clientid true" in conf
    victims = {name: threading.Event() for name in ("weather-station-02", RULES_ENGINE)}
    clients = []
    for name, dropped in victims.items():
        client = mqtt_client(mqtt_broker, name)
        client.on_disconnect = lambda *_args, dropped=dropped: dropped.set()
        clients.append(client)
    try:
        cert, key = mqtt_broker.credentials("weather-station-01")
        for wanted in victims:  # the certificate of weather-station-01 asks for their ids
            intruder = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=wanted)
            intruder.tls_set(
                ca_certs=str(mqtt_broker.ca_file), certfile=str(cert), keyfile=str(key)
            )
            intruder.connect(mqtt_broker.host, mqtt_broker.port)
            intruder.loop_start()
            time.sleep(0.5)
            intruder.disconnect()
            intruder.loop_stop()
        time.sleep(0.3)
        assert not any(dropped.is_set() for dropped in victims.values()), "a session was taken"
        log = mqtt_broker.log_path.read_text()
        assert "as weather-station-01 (" in log  # the broker used the certificate's name
    finally:
        for client in clients:
            client.disconnect()
            client.loop_stop()

    # 2. A thing publishes sensor/weather only (see test_thing_publishes_weather_but_not_...).
    assert actions["iot:Publish"].endswith(":topic/sensor/weather")
    acl = (mqtt_broker.certs_dir / "mosquitto.acl").read_text()
    assert "user weather-station-01\ntopic write sensor/weather\n" in acl

    # 3. A thing subscribes to and receives nothing (see test_a_thing_cannot_read_...).
    assert not {"iot:Subscribe", "iot:Receive"} & set(actions)
    thing_sections = [s for s in acl.split("\n\n") if s.startswith("user weather-station")]
    assert thing_sections and not any("read" in section for section in thing_sections)
