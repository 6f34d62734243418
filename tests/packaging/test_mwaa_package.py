"""The MWAA package works with nothing else of the repository.

``./lake package mwaa`` is built, unpacked into an MWAA-shaped tree
(``/usr/local/airflow/{dags,plugins,requirements,startup.sh}`` under a temporary root) and
used by a fresh Python that sees only that tree: every DAG parses, and ``register_tables``
and ``lake_setup`` run against a moto server (Glue answers carrying real server defaults),
the second ``lake_setup`` reporting ``no changes``.
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import uuid
import zipfile
from contextlib import closing
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
REGION = "eu-west-3"


def _build(out: Path, settings: Path | None = None) -> subprocess.CompletedProcess[str]:
    command = [str(ROOT / "lake"), "package", "mwaa", "--out", str(out)]
    if settings:
        command += ["--settings", str(settings)]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, check=True)


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("mwaa")
    settings = work / "aws.env"
    settings.write_text(
        "# the deployment's settings, exported by startup.sh on every MWAA component\n"
        f"IOT_LAKE_REGION={REGION}\n"
        "IOT_LAKE_NAME_PREFIX=acme\n"
        "IOT_LAKE_RAW_URI=s3://acme-mwaa-raw/\n"
        "IOT_LAKE_CURATED_URI=s3://acme-mwaa-lake/curated/\n"
        "IOT_LAKE_PHOTOS_URI=s3://acme-mwaa-lake/photos/\n"
        "IOT_LAKE_QUERY_RESULTS_URI=s3://acme-mwaa-lake/athena-results/\n"
        # the coffee photo Lambda is deployed too (from the library inside plugins.zip)
        f"IOT_LAKE_AURORA_CLUSTER_ARN=arn:aws:rds:{REGION}:123456789012:cluster:acme-coffee\n"
        f"IOT_LAKE_AURORA_SECRET_ARN=arn:aws:secretsmanager:{REGION}:123456789012:secret:acme\n"
    )
    out = work / "dist"
    built = _build(out, settings)
    print(built.stdout)
    return out


def test_the_package_holds_exactly_what_mwaa_takes(package: Path) -> None:
    assert sorted(p.name for p in package.iterdir()) == [
        "dags",
        "plugins.zip",
        "requirements.txt",
        "startup.sh",
    ]
    assert sorted(p.name for p in (package / "dags").iterdir()) == sorted(
        [p.name for p in (ROOT / "dags").glob("*.py")] + ["constraints.txt"]
    )
    names = zipfile.ZipFile(package / "plugins.zip").namelist()
    top = {name.split("/", 1)[0] for name in names}
    assert top == {".airflowignore", "iot_lake", "iot_lake_dashboard.py"}
    included = {n.removeprefix("iot_lake/include/") for n in names if "/include/" in n}
    assert included == {
        p.relative_to(ROOT / "include").as_posix()
        for p in (ROOT / "include").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    startup = (package / "startup.sh").read_text()
    assert "export IOT_LAKE_BACKEND='aws'" in startup
    assert f"export IOT_LAKE_REGION='{REGION}'" in startup


def test_two_builds_are_byte_identical(package: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    _build(again, None)
    assert (again / "plugins.zip").read_bytes() == (package / "plugins.zip").read_bytes()
    assert (again / "requirements.txt").read_bytes() == (package / "requirements.txt").read_bytes()


def test_requirements_are_the_target_images_versions(package: Path) -> None:
    """Pinned to the default MWAA target's image, or the tested version where the image's
    constraints do not name the package (tests/packaging/test_mwaa_targets.py resolves it,
    test_mwaa_environment.py runs the DAG-level tests on it)."""
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import package_mwaa
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    target = package_mwaa.TARGETS[package_mwaa.DEFAULT_TARGET]
    lines = (package / "requirements.txt").read_text().splitlines()
    assert '--constraint "/usr/local/airflow/dags/constraints.txt"' in lines
    pins = [line for line in lines if line and not line.startswith(("#", "--"))]
    requirements = {r.split("[", 1)[0] for r in package_mwaa.REQUIREMENTS}
    assert {p.split("[", 1)[0].split("==")[0] for p in pins} == requirements | set(target.overrides)
    image = package_mwaa.constraint_pins(target.folder / "airflow_constraints.txt")
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    locked = {p["name"]: p["version"] for p in lock["package"] if "version" in p}
    constraints = (package / "dags" / "constraints.txt").read_text().splitlines()
    assert f"apache-airflow=={target.airflow}" in constraints
    for pin in pins:
        name, version = re.fullmatch(r"([A-Za-z0-9_.-]+)(?:\[[a-z0-9,]+\])?==(\S+)", pin).groups()
        assert version == target.overrides.get(name, image.get(name, locked[name])), pin
        assert f"{name}=={version}" in constraints, pin  # allowed by the constraints
    assert "moto" not in image and "pytest" not in image  # no dev tools


def test_requirements_cover_every_import_of_the_dags_and_the_library() -> None:
    """Each third-party import under dags/ and plugins/ comes with Airflow or a requirement."""
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import package_mwaa
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    graph: dict[str, set[str]] = {}
    for p in lock["package"]:
        deps = {d["name"] for d in p.get("dependencies", [])}
        for extra in (p.get("optional-dependencies") or {}).values():
            deps |= {d["name"] for d in extra}  # the [s3fs] extra and the like
        graph[p["name"]] = deps
    roots = ["apache-airflow"] + [r.split("[", 1)[0] for r in package_mwaa.REQUIREMENTS]
    closure: set[str] = set()
    while roots:
        name = roots.pop()
        if name not in closure:
            closure.add(name)
            roots += graph.get(name, ())
    providers = importlib.metadata.packages_distributions()
    missing = {}
    for path in [*(ROOT / "plugins").rglob("*.py"), *(ROOT / "dags").glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top in sys.stdlib_module_names or top in ("iot_lake", "iot_lake_dashboard"):
                    continue
                dists = {re.sub(r"[-_.]+", "-", d).lower() for d in providers.get(top, [])}
                if not dists & closure:
                    missing[top] = f"{path.relative_to(ROOT)} ({sorted(dists)})"
    assert missing == {}


@pytest.fixture
def mwaa_tree(package: Path, tmp_path: Path) -> Path:
    """The package as MWAA lays it out, under a temporary root (nothing else of the repo)."""
    home = tmp_path / "usr" / "local" / "airflow"
    shutil.copytree(package / "dags", home / "dags")
    with zipfile.ZipFile(package / "plugins.zip") as archive:
        archive.extractall(home / "plugins")
    (home / "requirements").mkdir()
    shutil.copy(package / "requirements.txt", home / "requirements" / "requirements.txt")
    shutil.copy(package / "startup.sh", home / "startup.sh")
    return home


@pytest.fixture
def mysql_database():
    import MySQLdb

    name = f"iot_lake_mwaa_{uuid.uuid4().hex[:12]}"
    yield name
    with closing(MySQLdb.connect(host="127.0.0.1", user="root", passwd="")) as conn:
        conn.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")


def test_dags_parse_and_setup_runs_in_an_mwaa_tree_with_nothing_else(
    mwaa_tree: Path, moto_endpoint: str, mysql_database: str, tmp_path: Path
) -> None:
    harness = tmp_path / "harness"
    harness.mkdir()
    shutil.copy(ROOT / "tests" / "fixtures" / "aws_answers.py", harness / "aws_answers.py")
    runner = harness / "mwaa_runner.py"
    shutil.copy(HERE / "mwaa_runner.py", runner)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("IOT_LAKE_", "AIRFLOW", "PYTHON", "AWS_"))
    }
    env.update(
        {
            # As MWAA: the plugins folder is on sys.path, and nothing of the checkout is.
            "PYTHONPATH": str(mwaa_tree / "plugins"),
            "PYTHONSAFEPATH": "1",
            "AIRFLOW_HOME": str(mwaa_tree),
            "AIRFLOW__CORE__DAGS_FOLDER": str(mwaa_tree / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(mwaa_tree / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "True",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{mwaa_tree / 'airflow.db'}",
            "AWS_ENDPOINT_URL": moto_endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AIRFLOW_CONN_AWS_DEFAULT": json.dumps({"conn_type": "aws"}),
            "AIRFLOW_CONN_AWS_DEPLOY": json.dumps({"conn_type": "aws"}),  # the deploy role
            "AIRFLOW_CONN_COFFEE_MYSQL": json.dumps(
                {
                    "conn_type": "mysql",
                    "host": "127.0.0.1",
                    "port": 3306,
                    "login": "root",
                    "schema": mysql_database,
                }
            ),
        }
    )
    python = sys.executable
    script = (
        f". {mwaa_tree / 'startup.sh'} && "
        f"{python} -m airflow db migrate >/dev/null && "
        f"exec {python} {runner} {mwaa_tree} {harness}"
    )
    done = subprocess.run(
        ["sh", "-c", script], cwd=mwaa_tree, env=env, capture_output=True, text=True, timeout=600
    )
    [line] = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")] or [
        pytest.fail(
            f"runner failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-6000:]}"
        )
    ]
    result = json.loads(line.removeprefix("RESULT "))
    print(json.dumps(result, indent=2))

    assert result["simulators_importable"] is False
    assert result["tests_importable"] is False
    assert result["iot_lake"].startswith(str(mwaa_tree / "plugins" / "iot_lake"))
    assert result["include_dir"] == str(mwaa_tree / "plugins" / "iot_lake" / "include")
    assert result["import_errors"] == {}
    assert result["dag_ids"] == ["coffee_lake", "lake_setup", "weather_lake"]
    first, second = result["register_tables"]
    assert first and second == [], (first, second)  # created, then nothing to change
    assert all(set(states.values()) == {"success"} for states in result["lake_setup_states"])
    assert result["identities"] == ["created"] * 3  # boundary, runtime policy, deploy role
    first_report, second_report = result["lake_setup_reports"]
    # every resource of every step (docs/aws.md, but the administrator's identities) + the
    # Aurora database and table; the photo function's failed-event queue, its on-failure
    # destination and the queue's alarm make 29
    assert first_report == "29 created", first_report
    assert second_report == "no changes (29 of 29 resources unchanged)", second_report
    assert result["server_defaults_seen"].get("GetTable", 0) > 0
