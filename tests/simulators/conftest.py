"""Fixtures of the simulator tests: hand-built ISD records and the real Mosquitto broker."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import jsonschema
import paho.mqtt.client as paho
import pytest

from simulators.things.broker import Broker
from simulators.things.local import RULES_ENGINE
from tests.fixtures.mqtt import fresh_mqtt_broker, mqtt_broker  # noqa: F401  (fixtures)

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_PATH = ROOT / "include" / "schemas" / "weather_message.schema.json"


def build_record(
    *,
    usaf: str = "722540",
    wban: str = "13904",
    date: str = "20140101",
    time: str = "0053",
    latitude: str = "+30183",
    longitude: str = "-097680",
    report_type: str = "FM-15",
    elevation: str = "+0151",
    wind_direction: str = "160",
    wind_direction_quality: str = "5",
    wind_speed: str = "0026",
    wind_speed_quality: str = "5",
    ceiling: str = "22000",
    ceiling_quality: str = "5",
    visibility: str = "016093",
    visibility_quality: str = "5",
    air_temperature: str = "+0056",
    air_temperature_quality: str = "5",
    dew_point: str = "-0011",
    dew_point_quality: str = "5",
    sea_level_pressure: str = "10268",
    sea_level_pressure_quality: str = "5",
    additional: str = "",
) -> str:
    """One ISD record, field by field, in the documented column layout."""
    mandatory = (
        f"{len(additional):04d}{usaf}{wban}{date}{time}4{latitude}{longitude}{report_type}"
        f"{elevation}KAUS V030{wind_direction}{wind_direction_quality}N{wind_speed}"
        f"{wind_speed_quality}{ceiling}{ceiling_quality}9N{visibility}{visibility_quality}N5"
        f"{air_temperature}{air_temperature_quality}{dew_point}{dew_point_quality}"
        f"{sea_level_pressure}{sea_level_pressure_quality}"
    )
    assert len(mandatory) == 105, len(mandatory)
    return mandatory + additional


@pytest.fixture
def isd_record() -> Callable[..., str]:
    """Builder of ISD records: ``isd_record(air_temperature="+9999", additional="ADD...")``."""
    return build_record


@pytest.fixture(scope="session")
def message_schema() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


@pytest.fixture
def engine_reader(mqtt_broker: Broker) -> Iterator[queue.Queue[paho.MQTTMessage]]:  # noqa: F811
    """Messages on ``sensor/#`` as the rules engine reads them from the session broker."""
    received: queue.Queue[paho.MQTTMessage] = queue.Queue()
    client = mqtt_client(mqtt_broker, RULES_ENGINE, received)
    client.subscribe("sensor/#", qos=1)
    time.sleep(0.3)
    try:
        yield received
    finally:
        client.disconnect()
        client.loop_stop()


def mqtt_client(
    broker: Broker,
    name: str,
    received: queue.Queue[paho.MQTTMessage] | None = None,
    *,
    clean_session: bool = True,
) -> paho.Client:
    """A connected, looping paho client with ``name``'s certificate (caller disconnects)."""
    cert, key = broker.credentials(name)
    client = paho.Client(
        paho.CallbackAPIVersion.VERSION2, client_id=name, clean_session=clean_session
    )
    client.tls_set(ca_certs=str(broker.ca_file), certfile=str(cert), keyfile=str(key))
    if received is not None:
        client.on_message = lambda _c, _u, message: received.put(message)
    connected = threading.Event()
    client.on_connect = lambda *_: connected.set()
    client.connect(broker.host, broker.port)
    client.loop_start()
    assert connected.wait(5), f"{name} could not connect to the test broker"
    return client
