"""The MWAA bundle is built for one MWAA Airflow version and installs there as it is.

MWAA installs ``requirements.txt`` with ``pip3 install --constraint
mwaa_essential_constraints.txt -r requirements.txt`` (its ``safe-pip-install``) into an
image that already holds Airflow and its providers, and never lets a customer override the
essential pins (aws/amazon-mwaa-docker-images, ``images/airflow/<version>/etc/``; a copy
of both constraint files of each supported target lives in ``scripts/mwaa/<version>/``).
So: no bundle pin may differ from an essential pin, the bundle must resolve against
those pins for the image's Python and platform, and a target the library cannot run on
is refused by the package command, with the reasons.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MWAA = ROOT / "scripts" / "mwaa"
UV = shutil.which("uv") or str(ROOT / ".tools" / "bin" / "uv")  # as scripts/bootstrap.sh
SUPPORTED = ["3.3.1"]


def _package_mwaa():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import package_mwaa
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    return package_mwaa


def _name(requirement: str) -> str:
    return re.sub(r"[-_.]+", "-", re.split(r"[\[=<>!~; ]", requirement, maxsplit=1)[0]).lower()


def _pins(text: str) -> dict[str, str]:
    """name -> version of every ``name==version`` line (comments and options skipped)."""
    pins = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            requirement, _, version = line.partition("==")
            pins[_name(requirement)] = version.split(";", 1)[0].strip()
    return pins


def _build(out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ROOT / "lake"), "package", "mwaa", "--out", str(out), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module", params=SUPPORTED)
def bundle(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp(f"mwaa-{request.param}") / "dist"
    built = _build(out, "--airflow-version", request.param)
    assert built.returncode == 0, built.stderr
    return request.param, out


def test_the_default_target_is_the_newest_mwaa_version(tmp_path: Path) -> None:
    built = _build(tmp_path / "dist")
    assert built.returncode == 0, built.stderr
    newest = max(SUPPORTED, key=lambda v: tuple(map(int, v.split("."))))
    assert f"Apache Airflow {newest}" in (tmp_path / "dist" / "requirements.txt").read_text()


def test_the_bundle_pins_nothing_that_mwaa_enforces(bundle) -> None:
    version, out = bundle
    essential = _pins((MWAA / version / "mwaa_essential_constraints.txt").read_text())
    assert essential["apache-airflow"] == version
    requirements = _pins((out / "requirements.txt").read_text())
    constraints = _pins((out / "dags" / "constraints.txt").read_text())
    named = sorted(set(requirements) & set(essential))
    conflicts = {
        name: (constraints[name], pin)
        for name, pin in essential.items()
        if name in constraints and constraints[name] != pin
    }
    assert named == [], "requirements.txt names what MWAA enforces"
    assert conflicts == {}, "constraints.txt differs from MWAA's essential constraints"
    image = _pins((MWAA / version / "airflow_constraints.txt").read_text())
    for name, pin in requirements.items():  # each requirement is allowed by the constraints
        assert constraints.get(name) == pin, name
        # newer than the image only where the library declares why (OVERRIDES)
        if name in image and image[name] != pin:
            assert name in _package_mwaa().TARGETS[version].overrides, (name, pin, image[name])


@pytest.mark.services  # resolves against PyPI, as pip on MWAA does
def test_the_bundle_resolves_against_mwaa_constraints_as_pip_on_mwaa_would(
    bundle, tmp_path: Path
) -> None:
    """Against PyPI, for the image's Python on Linux x86_64: any conflict fails.

    Every distribution must come as a wheel, except mysqlclient (sdist only on PyPI), which
    MWAA builds with the image's gcc and MariaDB-devel (docs/aws.md, item 9 of issue 18).
    """
    version, out = bundle
    target = _package_mwaa().TARGETS[version]
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(
        (out / "requirements.txt")
        .read_text()
        .replace("/usr/local/airflow/dags/", f"{out / 'dags'}/")
    )
    report = tmp_path / "resolved.txt"
    done = subprocess.run(
        [
            UV,
            "pip",
            "compile",
            str(requirements),
            "--constraint",
            str(MWAA / version / "mwaa_essential_constraints.txt"),
            "--python-version",
            target.python_minor,
            "--python-platform",
            "x86_64-manylinux_2_28",
            "--only-binary",
            ":all:",
            "--no-binary",
            "mysqlclient",
            "--index-strategy",
            "first-index",
            "--no-header",
            "--no-annotate",
            "--quiet",
            "--output-file",
            str(report),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        # PyPI only, as MWAA's pip: no local wheel folders or other indexes of this machine
        env={k: v for k, v in os.environ.items() if not k.startswith(("UV_", "PIP_"))}
        | {"UV_NO_CONFIG": "1"},
    )
    assert done.returncode == 0, done.stderr[-4000:]
    resolved = _pins(report.read_text())
    essential = _pins((MWAA / version / "mwaa_essential_constraints.txt").read_text())
    assert resolved["apache-airflow"] == version
    assert {n: resolved[n] for n in essential if n in resolved} == {
        n: v for n, v in essential.items() if n in resolved
    }
    image = _pins((MWAA / version / "airflow_constraints.txt").read_text())
    replaced = {n: (image[n], v) for n, v in resolved.items() if n in image and image[n] != v}
    assert set(replaced) <= set(target.overrides), replaced  # nothing of the image moves
    print(json.dumps({"target": version, "resolved": len(resolved), "replaced": replaced}))


@pytest.mark.parametrize("version", ["3.0.6", "3.2.1", "2.10.3", "9.9.9"])
def test_a_target_the_library_cannot_run_on_is_refused_with_why(
    version: str, tmp_path: Path
) -> None:
    built = _build(tmp_path / "dist", "--airflow-version", version)
    assert built.returncode != 0
    assert not (tmp_path / "dist").exists(), "nothing is written for a refused target"
    message = built.stderr
    assert f"MWAA Airflow {version}" in message and "3.3.1" in message, message
    if version == "3.0.6":
        for why in ("airflow.sdk", "SQLCheckResult", "58303", "on_kill", "SQLAlchemy==1.4.54"):
            assert why in message, (why, message)


def _settings(tmp_path: Path, line: str) -> Path:
    settings = tmp_path / "aws.env"
    settings.write_text(f"IOT_LAKE_REGION=eu-west-3\n{line}\n")
    return settings


@pytest.mark.parametrize(
    "line",
    [
        "AIRFLOW_CONN_COFFEE_MYSQL=mysql://admin:hunter2@aurora.example:3306/iot_lake",
        'AIRFLOW_CONN_COFFEE_MYSQL=\'{"conn_type": "mysql", "password": "s3cr3t-pw"}\'',
        "AIRFLOW_CONN_AWS_DEFAULT=aws://?aws_secret_access_key=k3y-a8c&region_name=eu-west-3",
        'AIRFLOW_CONN_AWS_DEFAULT={"conn_type": "aws", "extra": {"aws_session_token": "tok-9f8e"}}',
        "AIRFLOW_CONN_AWS_DEFAULT=aws://AKIAEXAMPLE:wJalrXUtnFEMI@",
        "IOT_LAKE_MYSQL_PASSWORD=hunter2",
        "IOT_LAKE_API_TOKEN=tok-77aa",
    ],
)
def test_startup_sh_never_carries_a_secret(line: str, tmp_path: Path) -> None:
    built = _build(tmp_path / "dist", "--settings", str(_settings(tmp_path, line)))
    assert built.returncode != 0, "a secret was written into startup.sh"
    assert not (tmp_path / "dist").exists()
    assert "Secrets Manager" in built.stderr, built.stderr
    [secret] = re.findall(r"hunter2|wJalrXUtnFEMI|s3cr3t-pw|k3y-a8c|tok-9f8e|tok-77aa", line)
    assert secret not in built.stderr + built.stdout, "the refusal echoed the secret"


def test_settings_and_connections_without_secrets_still_reach_startup_sh(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path,
        "AIRFLOW_CONN_AWS_DEFAULT=aws://?region_name=eu-west-3\n"
        "IOT_LAKE_AURORA_SECRET_ARN=arn:aws:secretsmanager:eu-west-3:123456789012:secret:c",
    )
    built = _build(tmp_path / "dist", "--settings", str(settings))
    assert built.returncode == 0, built.stderr
    startup = (tmp_path / "dist" / "startup.sh").read_text()
    assert "export AIRFLOW_CONN_AWS_DEFAULT='aws://?region_name=eu-west-3'" in startup
    assert "export IOT_LAKE_AURORA_SECRET_ARN='arn:aws:secretsmanager:" in startup


@pytest.mark.parametrize("version", SUPPORTED)
def test_mwaa_images_build_mysqlclient_the_library_installs(version: str) -> None:
    """mysqlclient (MySqlHook's default client) ships no Linux wheel, only an sdist: the
    resolver test allows no other sdist, and MWAA's image must hold what builds it. Its
    bill of materials (images/airflow/<v>/BillOfMaterials/<v>/System-Packages-BOM.txt)
    lists gcc, pkg-config and MariaDB-devel (the image compiles its own Python, headers
    included); test_mwaa_environment builds the same sdist and runs the coffee DAG on it."""
    image = _pins((MWAA / version / "airflow_constraints.txt").read_text())
    assert "mysqlclient" in image  # the version MWAA's constraints build
    bom = (MWAA / version / "System-Packages-BOM.txt").read_text().splitlines()
    packages = {re.match(r"(.+?)-\d", line.split(":", 1)[0]) for line in bom[1:] if ":" in line}
    names = {m.group(1) for m in packages if m}
    assert {"gcc", "pkgconf-pkg-config", "MariaDB-devel", "glibc-devel"} <= names


def test_the_compose_image_builds_mysqlclient_before_installing_the_lock() -> None:
    """The compose image (docker/airflow/Dockerfile) pip-installs the lock's mysqlclient,
    an sdist: the compiler, pkg-config and the client headers come first."""
    dockerfile = (ROOT / "docker" / "airflow" / "Dockerfile").read_text()
    install = dockerfile.index("pip install")
    apt = re.search(r"apt-get install[^\n]*(?:\\\n[^\n]*)*", dockerfile[:install])
    assert apt, "no apt-get install before pip install"
    for package in ("build-essential", "pkg-config", "default-libmysqlclient-dev"):
        assert package in apt.group(0), package
