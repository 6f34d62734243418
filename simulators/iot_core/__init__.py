"""Local stand-in for AWS IoT Core's rules engine, Kinesis Data Firehose and DynamoDB.

Run it with ``python -m simulators.iot_core`` (see ``docs/ingestion.md``).
"""

import importlib.util
import sys
from pathlib import Path

# The service uses the project library ``iot_lake`` (``plugins/``), which Airflow and pytest
# put on sys.path; a plain ``python -m simulators.iot_core`` from the checkout needs it too.
if importlib.util.find_spec("iot_lake") is None:
    sys.path.append(str(Path(__file__).resolve().parents[2] / "plugins"))
