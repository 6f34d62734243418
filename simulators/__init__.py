"""Simulated devices that feed the lake: weather stations replaying NOAA ISD over MQTT."""

import importlib.util
import sys
from pathlib import Path

# The simulators use the project library ``iot_lake`` (``plugins/``), which Airflow and
# pytest put on sys.path; a plain ``python -m simulators.<tool>`` from the checkout needs it.
if importlib.util.find_spec("iot_lake") is None:
    sys.path.append(str(Path(__file__).resolve().parents[1] / "plugins"))
