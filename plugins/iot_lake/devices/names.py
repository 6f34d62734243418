"""Names of the weather stations' IoT resources, one place for provisioning and simulators.

Every name carries the deployment's name prefix (``settings().name_prefix``), so two
deployments can share an account and the setup role's ``${name_prefix}-*`` grants cover
them. With the default prefix ``iot-lake`` they are the names of the first deployments.
"""

from __future__ import annotations

from pathlib import Path

from iot_lake.config import DEFAULT_NAME_PREFIX, INCLUDE_DIR

__all__ = ["DEFAULT_NAME_PREFIX", "POLICY_FILE", "WEATHER_TOPIC"]

WEATHER_TOPIC = "sensor/weather"
"""The MQTT topic every station publishes its observations to."""

POLICY_FILE: Path = INCLUDE_DIR / "iot" / "policies" / "weather_station.json"
"""The stations' device policy (placeholders as every ``include/`` document)."""

THING_TYPE_DESCRIPTION = "iot-lake simulated NOAA ISD weather station"
THING_TYPE_ATTRIBUTES = ["isd_station"]


def thing_type(prefix: str) -> str:
    return f"{prefix}-weather-station"


def thing_group(prefix: str) -> str:
    return f"{prefix}-weather-stations"


def device_policy(prefix: str) -> str:
    """The deployed name of ``POLICY_FILE``."""
    return f"{prefix}-weather-station"


def rule_role(prefix: str) -> str:
    """The role IoT rules assume for their actions (``Deployment.role_name("iot-rules")``)."""
    return f"{prefix}-iot-rules"
