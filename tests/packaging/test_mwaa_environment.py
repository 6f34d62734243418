"""The DAG-level tests pass on what MWAA runs, not only on the lock.

For each supported MWAA target, ``scripts/mwaa_env.sh`` installs the bundle of ``./lake
package mwaa`` as MWAA installs it (its requirements.txt under MWAA's essential
constraints, from PyPI) into a venv on the image's Python minor version, and runs there
the tests that parse the DAGs and run them with ``dag.test()``, on moto for the aws
backend and on the real local services for the local one. Nothing may fail or skip.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SUPPORTED = ["3.3.1"]
# The tests that import the library, parse the DAGs and run them (dag.test, moto).
DAG_LEVEL = [
    "tests/dags",
    "tests/packaging/test_mwaa_package.py",
    "tests/provisioning/test_lake_setup_dag.py",
    "tests/weather/test_weather_lake_aws.py",
    "tests/weather/test_weather_lake_dag.py",
    "tests/coffee/test_coffee_lake_dag.py",
]


@pytest.mark.services  # MWAA's Python (3.12) and its requirements from PyPI
@pytest.mark.parametrize("version", SUPPORTED)
@pytest.mark.timeout(1800)
def test_the_dag_level_tests_pass_on_the_mwaa_target(version: str, tmp_path: Path) -> None:
    report = tmp_path / "junit.xml"
    done = subprocess.run(
        [str(ROOT / "scripts" / "mwaa_env.sh"), version, "-q", f"--junitxml={report}", *DAG_LEVEL],
        capture_output=True,
        text=True,
        timeout=1700,
    )
    assert report.exists(), f"({done.returncode})\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    suite = ET.parse(report).getroot().find("testsuite")
    counts = {k: int(suite.get(k)) for k in ("tests", "failures", "errors", "skipped")}
    venv = ROOT / ".mwaa" / version / "venv" / "bin" / "python"
    # the environment is what the bundle pins: Airflow, the image's Python, mysqlclient
    # built from its sdist, every requirement at the bundle's version
    bundle = (ROOT / ".mwaa" / version / "dist" / "requirements.txt").read_text()
    pins = dict(re.findall(r"^([a-z0-9-]+)(?:\[[a-z0-9,]+\])?==(\S+)$", bundle, re.M))
    pins |= {"apache-airflow": version, "mysqlclient": _pin(version, "mysqlclient")}
    probe = (
        "import importlib.metadata as m, json, sys; "
        f"print(json.dumps([sys.version_info[:2], {{n: m.version(n) for n in {list(pins)}}}]))"
    )
    python, installed = json.loads(
        subprocess.run([str(venv), "-c", probe], capture_output=True, text=True).stdout
    )
    print(json.dumps({"target": version, "python": python, **counts}))
    assert counts["failures"] == counts["errors"] == 0, done.stdout[-6000:]
    assert counts["skipped"] == 0, "a skipped test on MWAA's versions is a failure in disguise"
    # every DAG-level test the lock's venv collects ran there too
    collected = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--collect-only",
            "-q",
            "-p",
            "no:cacheprovider",
            *DAG_LEVEL,
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout
    expected = int(re.search(r"(\d+) tests? collected", collected).group(1))
    assert counts["tests"] == expected, (counts, expected)
    assert done.returncode == 0, done.stdout[-3000:]
    assert installed == pins
    assert ".".join(map(str, python)) == _python_minor(bundle)


def _pin(version: str, name: str) -> str:
    text = (ROOT / "scripts" / "mwaa" / version / "airflow_constraints.txt").read_text()
    return re.search(rf"^{name}==(\S+)$", text, re.M).group(1)


def _python_minor(requirements: str) -> str:
    return re.search(r"\(Python ([0-9.]+)\)", requirements).group(1)
