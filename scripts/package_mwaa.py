"""Build what Amazon MWAA takes, for one MWAA Airflow version, and nothing else.

    ./lake package mwaa [--airflow-version 3.3.1] [--out dist/mwaa] [--settings config/aws.env]

writes ``<out>/``::

    dags/                 the DAG files (+ constraints.txt, see below) -> s3://<env bucket>/dags/
    plugins.zip           iot_lake/ with include/ as package data, the dashboard plugin
    requirements.txt      the library's dependencies beyond the image, with --constraint
    startup.sh            exports the IOT_LAKE_* settings of --settings (and the aws backend)

MWAA syncs ``dags/``, unzips ``plugins.zip`` into ``/usr/local/airflow/plugins`` (on
``sys.path``) and runs ``pip3 install --constraint mwaa_essential_constraints.txt -r
requirements.txt`` (its ``safe-pip-install``) into an image that already holds Airflow and
its providers; nothing else of the checkout exists there, so the library finds its SQL,
table and policy files inside its own package (``iot_lake/include``, see ``iot_lake.config``).

Versions: the bundle is built for a named MWAA Airflow version (``TARGETS``; default the
newest MWAA runs). ``scripts/mwaa/<version>/`` holds that image's two constraint files, as
aws/amazon-mwaa-docker-images ships them in ``images/airflow/<version>/etc/``: the essential
ones MWAA enforces on every install (Airflow, SQLAlchemy, Flask, Celery, ...; never
overridable) and the Airflow constraints the image was built with. ``dags/constraints.txt``
is the latter (so pip keeps every package of the image as it is), plus the tested version
of what the image's constraints do not name; ``requirements.txt`` names only what the
library imports beyond Airflow, each at the image's version, or newer where the target's
``overrides`` say why. Nothing MWAA enforces is ever pinned differently
(tests/packaging/test_mwaa_targets.py resolves each target against PyPI). A target the
library cannot run on is refused, with the reasons (``REFUSED``).
Everything is written deterministically (sorted, fixed zip timestamps), so two builds of
one commit are byte-identical and S3 object versions change only when content does.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tomllib
import urllib.parse
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MWAA_DIR = ROOT / "scripts" / "mwaa"
MWAA_HOME = "/usr/local/airflow"
CONSTRAINTS = "constraints.txt"
ESSENTIAL = "mwaa_essential_constraints.txt"
IMAGE_CONSTRAINTS = "airflow_constraints.txt"
# The distributions the library imports beyond Apache Airflow itself (a test checks this
# list against every import under plugins/ and dags/ and the lock's dependency graph).
REQUIREMENTS = (
    "apache-airflow-providers-amazon[s3fs]",
    "apache-airflow-providers-common-sql",
    # MySqlHook's default client is mysqlclient (sdist only on PyPI): MWAA's images build it
    # with their gcc and MariaDB-devel (System-Packages-BOM), docs/aws.md says why it stays
    "apache-airflow-providers-mysql",
    "boto3",
    "cryptography",
    "duckdb",
    "fsspec",
    # the local face analyser (iot_lake.coffee.faces); on aws the photo Lambda uses
    # Rekognition, but every module of the library must import where it ships
    "opencv-python-headless",
    "pyarrow",
    "sqlglot",
)


@dataclass(frozen=True)
class Target:
    """An MWAA Airflow version the bundle is built and tested for."""

    airflow: str
    python: str  # the image's Python (images/airflow/<v>/Dockerfiles/Dockerfile.base)
    # name -> version: where the library needs a newer release than the image's
    # constraints pin, and why (never a name MWAA's essential constraints pin)
    overrides: dict[str, str] = field(default_factory=dict)

    @property
    def python_minor(self) -> str:
        return ".".join(self.python.split(".")[:2])

    @property
    def folder(self) -> Path:
        return MWAA_DIR / self.airflow


TARGETS = {
    "3.3.1": Target(
        "3.3.1",
        python="3.12.13",
        overrides={
            # Airflow 3.3 reads .airflowignore with pathspec's GitWildMatchPattern, which
            # pathspec 1.x (the image's 1.1.1) deprecates: a DeprecationWarning in every
            # DAG parse and task log. Airflow asks for pathspec>=0.9.0; the lock's pin.
            "pathspec": "0.12.1",
            # the image's sqlglot 30.15.0 writes DuckDB lambdas with the arrow (x -> ...)
            # that duckdb 2.0 (not in the image; the tested version) rejects: the local
            # engine's transpiled Athena SQL fails (weather_typed_records). Tested version.
            "sqlglot": "30.30.0",
        },
    )
}
DEFAULT_TARGET = "3.3.1"  # the newest Airflow in aws/amazon-mwaa-docker-images
REFUSED = {
    "3.0.6": (
        "its Airflow lacks what the library and DAGs use: AirflowException, "
        "AirflowFailException, AirflowNotFoundException, BaseHook and TriggerRule in "
        "airflow.sdk (2 of 3 DAGs fail to import); the common-sql 1.27.5 and amazon 9.12.0 "
        "providers MWAA ships lack SQLCheckResult and retry a failed Athena query; its "
        "scheduler orphans the inlet-only asset iot_lake_raw.weather (apache/airflow#58303), "
        "so write_observations fails; BaseTrigger.on_kill is never called, so marking a "
        "deferred task failed leaves its Athena query running; plugins have no "
        "external_views. Newer providers cannot fix that: MWAA enforces apache-airflow==3.0.6, "
        "SQLAlchemy==1.4.54 and Flask==2.2.5, and the task API of 3.0.6 breaks with newer "
        "fastapi/cadwyn/pydantic. A bundle would install and then fail at run time"
    ),
    "3.2.1": (
        "no CI environment runs the DAG-level tests on its constraints, so a bundle for it "
        "would be untested (add scripts/mwaa/3.2.1/ and a TARGETS entry, then "
        "tests/packaging/test_mwaa_environment.py runs on it)"
    ),
}
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_SKIP = re.compile(r"(^|/)(__pycache__|\.pytest_cache)(/|$)|\.pyc$")
_SETTING = re.compile(r"^(IOT_LAKE_[A-Z0-9_]+|AIRFLOW_CONN_[A-Z0-9_]+)$")
# Names of settings, connection fields and extras that carry a credential. A *_SECRET_ARN
# or *_SECRET_ID names where a secret lives, and is no secret itself.
_SECRET = re.compile(r"PASSWORD|PASSWD|PASSPHRASE|TOKEN|SECRET|PRIVATE|CREDENTIAL|API_?KEY", re.I)
_NOT_SECRET = re.compile(r"SECRET_(ARN|ID|NAME)$", re.I)
_SECRETS_DOC = (
    "connections with credentials belong in AWS Secrets Manager, MWAA's secrets backend "
    "(airflow/connections/<conn_id>; docs/aws.md, 'Connections'), never in startup.sh, which "
    "MWAA keeps in plain text in S3"
)


def target(version: str) -> Target:
    """The supported target of that MWAA Airflow version, or SystemExit saying why not."""
    if version in TARGETS:
        return TARGETS[version]
    why = REFUSED.get(version, "it is not an MWAA Airflow version this project supports")
    raise SystemExit(
        f"./lake package mwaa: MWAA Airflow {version} is refused: {why}.\n"
        f"Supported: {', '.join(sorted(TARGETS))} (default {DEFAULT_TARGET}); or run the "
        "compose image (docker/airflow/Dockerfile) on ECS/EC2."
    )


def locked_versions(lock_file: Path = ROOT / "uv.lock") -> dict[str, str]:
    """Package name -> version pinned by uv.lock (names normalised as PEP 503)."""
    lock = tomllib.loads(lock_file.read_text())
    return {_normalise(p["name"]): p["version"] for p in lock["package"] if "version" in p}


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def constraint_pins(path: Path) -> dict[str, str]:
    """name -> version of a pip constraints file's ``name==version`` lines."""
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            name, sep, version = line.partition("==")
            if not sep:
                raise SystemExit(f"{path}: expected name==version, got {line!r}")
            pins[_normalise(name.split("[", 1)[0].strip())] = version.split(";", 1)[0].strip()
    return pins


def bundle_pins(tgt: Target, locked: dict[str, str]) -> dict[str, str]:
    """What dags/constraints.txt pins: the image's constraints, the overrides, and the
    tested (locked) version of each requirement the image's constraints do not name."""
    essential = constraint_pins(tgt.folder / ESSENTIAL)
    pins = constraint_pins(tgt.folder / IMAGE_CONSTRAINTS)
    clash = sorted(set(tgt.overrides) & set(essential))
    if clash:
        raise SystemExit(f"MWAA {tgt.airflow}: overrides {clash} are essential constraints")
    pins.update({_normalise(n): v for n, v in tgt.overrides.items()})
    for requirement in REQUIREMENTS:
        name = _normalise(requirement.split("[", 1)[0])
        pins.setdefault(name, locked[name])
    conflicts = {n: (pins[n], v) for n, v in essential.items() if n in pins and pins[n] != v}
    if conflicts:
        raise SystemExit(f"MWAA {tgt.airflow}: pins differ from MWAA's: {conflicts}")
    return pins | essential  # Airflow itself too: these constraints alone keep the image


def requirements_text(tgt: Target, pins: dict[str, str]) -> str:
    lines = [
        f"# iot-lake for Amazon MWAA with Apache Airflow {tgt.airflow} (Python "
        f"{tgt.python_minor}), generated by",
        "# `./lake package mwaa`: do not edit, rebuild.",
        f'--constraint "{MWAA_HOME}/dags/{CONSTRAINTS}"',
    ]
    for requirement in REQUIREMENTS:
        name = _normalise(requirement.split("[", 1)[0])
        lines.append(f"{requirement}=={pins[name]}")
    named = {_normalise(r.split("[", 1)[0]) for r in REQUIREMENTS}
    # an override of a package of the image only takes effect when it is requested
    lines += [f"{name}=={pins[name]}" for name in sorted(tgt.overrides) if name not in named]
    return "\n".join(lines) + "\n"


def constraints_text(tgt: Target, pins: dict[str, str]) -> str:
    """The target image's Airflow constraints, with the library's additions."""
    image = constraint_pins(tgt.folder / IMAGE_CONSTRAINTS)
    essential = constraint_pins(tgt.folder / ESSENTIAL)
    added = sorted(n for n in pins if n not in image and n not in essential)
    changed = sorted(n for n in image if pins[n] != image[n])
    header = [
        f"# iot-lake: the constraints of MWAA's Apache Airflow {tgt.airflow} image",
        f"# (images/airflow/{tgt.airflow}/etc/{IMAGE_CONSTRAINTS} and {ESSENTIAL}",
        "# of aws/amazon-mwaa-docker-images)",
        f"# added, at their tested versions: {', '.join(added) or 'none'}",
        f"# newer than the image, for the library: {', '.join(changed) or 'none'}",
    ]
    return "\n".join(header + [f"{n}=={v}" for n, v in sorted(pins.items())]) + "\n"


def read_settings(path: Path | None) -> dict[str, str]:
    """KEY=VALUE lines (``#`` comments); only IOT_LAKE_* and AIRFLOW_CONN_* keys, none of
    them carrying a credential (startup.sh lies in plain text in MWAA's bucket)."""
    values = {"IOT_LAKE_BACKEND": "aws"}
    if path is None:
        return values
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        key = key.strip().removeprefix("export ").strip()
        if not sep or not _SETTING.match(key):
            raise SystemExit(f"{path}:{number}: expected IOT_LAKE_*=value, got {line!r}")
        value = value.strip().strip("'\"")
        secret = _secret_in(key, value)
        if secret:
            # the field's name only: never echo the value into a terminal or a CI log
            raise SystemExit(
                f"{path}:{number}: {key} carries a credential ({secret}): refused; {_SECRETS_DOC}"
            )
        values[key] = value
    if values["IOT_LAKE_BACKEND"] != "aws":
        raise SystemExit(f"{path}: MWAA runs the aws backend, not {values['IOT_LAKE_BACKEND']}")
    return values


def _secret_in(key: str, value: str) -> str | None:
    """The name of the credential a setting or an AIRFLOW_CONN_* value carries, if any."""
    if not key.startswith("AIRFLOW_CONN_"):
        return key if _is_secret(key) and value else None
    if value.startswith("{"):  # Airflow's JSON form of a connection
        try:
            fields = json.loads(value)
        except json.JSONDecodeError as error:
            raise SystemExit(f"{key}: not a JSON connection ({error.msg})") from None
        extra = fields.get("extra") or {}
    else:  # the URI form: scheme://login:password@host:port/schema?extra
        uri = urllib.parse.urlsplit(value)
        fields = {"password": uri.password}
        extra = dict(urllib.parse.parse_qsl(uri.query))
        extra = json.loads(extra.pop("__extra__", "{}")) | extra
    if isinstance(extra, str):
        extra = json.loads(extra or "{}")
    found = [name for name, v in {**fields, **extra}.items() if _is_secret(name) and v]
    return f"{'password' if 'password' in found else found[0]}" if found else None


def _is_secret(name: str) -> bool:
    return bool(_SECRET.search(name)) and not _NOT_SECRET.search(name)


def startup_text(values: dict[str, str]) -> str:
    exports = "\n".join(
        f"export {key}={_shell_quote(value)}" for key, value in sorted(values.items())
    )
    return (
        "#!/bin/sh\n"
        "# MWAA startup script (generated by ./lake package mwaa): the lake settings of every\n"
        "# Airflow component. Settings may also live in the extra of the connection\n"
        "# lake_default (e.g. in Secrets Manager); variables set here win.\n"
        f"{exports}\n"
    )


def _shell_quote(value: str) -> str:
    return "'" + value.replace("'", "'\"'\"'") + "'"


def _zip_tree(archive: zipfile.ZipFile, source: Path, prefix: str) -> None:
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source).as_posix()
        if path.is_dir() or _SKIP.search(relative):
            continue
        info = zipfile.ZipInfo(f"{prefix}{relative}", date_time=_ZIP_TIME)
        info.external_attr = 0o644 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, path.read_bytes())


def build_plugins_zip(target: Path) -> None:
    """plugins/ as it is, plus include/ inside the iot_lake package (package data)."""
    with zipfile.ZipFile(target, "w") as archive:
        _zip_tree(archive, ROOT / "plugins", "")
        _zip_tree(archive, ROOT / "include", "iot_lake/include/")


def build(
    out: Path, settings_file: Path | None = None, version: str = DEFAULT_TARGET
) -> list[Path]:
    """Write the MWAA artefacts for that MWAA Airflow version to ``out`` (replacing it);
    return the top-level entries. Everything is checked before anything is written."""
    tgt = target(version)
    pins = bundle_pins(tgt, locked_versions())
    settings = read_settings(settings_file)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    dags = out / "dags"
    shutil.copytree(ROOT / "dags", dags, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (dags / CONSTRAINTS).write_text(constraints_text(tgt, pins))
    build_plugins_zip(out / "plugins.zip")
    (out / "requirements.txt").write_text(requirements_text(tgt, pins))
    startup = out / "startup.sh"
    startup.write_text(startup_text(settings))
    startup.chmod(0o755)
    return sorted(out.iterdir())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="./lake package mwaa",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--airflow-version",
        default=DEFAULT_TARGET,
        help=f"the MWAA environment's Airflow version (supported: {', '.join(TARGETS)})",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "dist" / "mwaa")
    parser.add_argument("--settings", type=Path, help="KEY=VALUE file of IOT_LAKE_* settings")
    args = parser.parse_args(argv)
    entries = build(args.out.resolve(), args.settings, args.airflow_version)
    tgt = TARGETS[args.airflow_version]
    print(
        f"MWAA package for Apache Airflow {tgt.airflow} (Python {tgt.python_minor}) in {args.out}:"
    )
    for entry in entries:
        size = (
            sum(p.stat().st_size for p in entry.rglob("*"))
            if entry.is_dir()
            else entry.stat().st_size
        )
        print(f"  {entry.name}{'/' if entry.is_dir() else ''}  {size} bytes")
    print("upload: aws s3 sync <out>/dags s3://<bucket>/dags/ --delete; aws s3 cp the rest,")
    print("then point the environment at the new plugins.zip/requirements.txt/startup.sh versions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
