"""docker-compose.yaml: valid for Docker Compose, and every service runs code that exists.

Docker's engine cannot run here; Debian's ``docker-compose`` (1.29, package
``docker-compose``) parses, interpolates and validates the file against the compose
schema without an engine (``config``), which is what CI needs.
"""

from __future__ import annotations

import ast
import importlib
import json
import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from iot_lake.config import PROJECT_ROOT

# docker-compose (a Debian package) renders the files most tests read; Mosquitto runs
# the broker's config.
pytestmark = pytest.mark.services

COMPOSE_FILE = PROJECT_ROOT / "docker-compose.yaml"
ENV_EXAMPLE = PROJECT_ROOT / ".env.example"
AIRFLOW_COMPONENTS = {"api-server", "scheduler", "dag-processor", "triggerer"}
INSTALL_HINT = "install Debian's compose: apt-get install -y docker-compose"


def compose_command() -> list[str]:
    """``docker-compose`` (Debian) or, where installed, the ``docker compose`` plugin."""
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    ):
        return [docker, "compose"]
    pytest.fail(f"no Docker Compose binary to validate {COMPOSE_FILE.name}: {INSTALL_HINT}")


def compose_config(env_file: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            *compose_command(),
            "--project-directory",
            str(PROJECT_ROOT),
            "--env-file",
            str(env_file),
            "-f",
            str(COMPOSE_FILE),
            "config",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=PROJECT_ROOT,
    )


@cache
def resolved() -> dict[str, Any]:
    """The file as Compose resolves it (anchors merged, .env.example interpolated)."""
    result = compose_config(ENV_EXAMPLE)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_compose_validates_the_file_with_the_example_environment():
    result = compose_config(ENV_EXAMPLE)

    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    assert {
        "postgres",
        "mariadb",
        "minio",
        "minio-init",
        "dynamodb",
        "mosquitto",
        "lake-setup",
        "airflow-init",
        "airflow-apiserver",
        "airflow-scheduler",
        "airflow-dag-processor",
        "airflow-triggerer",
        "ingest",
        "weather-stations",
        "coffee-machine",
    } <= set(services)


def test_a_missing_secret_stops_compose_with_the_name_of_the_setting(tmp_path):
    env = tmp_path / "incomplete.env"
    env.write_text(
        "\n".join(
            line
            for line in ENV_EXAMPLE.read_text().splitlines()
            if not line.startswith("MINIO_ROOT_PASSWORD=")
        )
    )

    result = compose_config(env)

    assert result.returncode != 0
    assert "MINIO_ROOT_PASSWORD" in result.stderr


def test_every_service_waits_for_healthy_or_finished_dependencies():
    services = resolved()["services"]
    for name, service in services.items():
        for dependency, rule in (service.get("depends_on") or {}).items():
            condition = rule["condition"]
            assert dependency in services, f"{name} depends on unknown {dependency}"
            if condition == "service_healthy":
                assert "healthcheck" in services[dependency], f"{dependency} has no healthcheck"
    long_running = {n for n, s in services.items() if s.get("restart") == "unless-stopped"}
    assert long_running - {"ingest"} <= {n for n, s in services.items() if "healthcheck" in s}
    setup = services["lake-setup"]["depends_on"]
    assert {setup[s]["condition"] for s in ("mariadb", "dynamodb")} == {"service_healthy"}
    assert services["mosquitto"]["depends_on"]["lake-setup"]["condition"] == (
        "service_completed_successfully"
    )  # the broker starts on the certificates the setup wrote
    assert services["ingest"]["depends_on"]["mosquitto"]["condition"] == "service_healthy"
    for component in (
        "airflow-apiserver",
        "airflow-scheduler",
        "airflow-dag-processor",
        "airflow-triggerer",
    ):
        assert services[component]["depends_on"]["airflow-init"]["condition"] == (
            "service_completed_successfully"
        )


@cache
def airflow_commands() -> set[str]:
    """Sub-commands of the installed Airflow CLI, read from its source (no slow import)."""
    import airflow

    source = Path(airflow.__file__).parent / "cli" / "cli_config.py"
    tree = ast.parse(source.read_text())
    return {
        keyword.value.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and getattr(node.func, "id", "") in {"ActionCommand", "GroupCommand"}
        for keyword in node.keywords
        if keyword.arg == "name" and isinstance(keyword.value, ast.Constant)
    }


def _parser_of(module: str) -> Any:
    """The argparse parser a ``python -m`` entry point builds, found by convention."""
    try:
        main = importlib.import_module(f"{module}.__main__")
    except ModuleNotFoundError:  # a plain module run with python -m
        main = importlib.import_module(module)
    for name in ("build_parser", "parser"):
        factory = getattr(main, name, None)
        if callable(factory):
            return factory()
    parse = getattr(main, "parse_args", None)
    if callable(parse):

        class _Parser:
            @staticmethod
            def parse_args(args: list[str]) -> Any:
                return parse(args)

        return _Parser()
    raise AssertionError(f"{module}.__main__ exposes no build_parser/parser/parse_args")


def test_every_service_command_refers_to_code_that_exists_with_valid_options(monkeypatch):
    monkeypatch.syspath_prepend(str(PROJECT_ROOT / "plugins"))
    checked = []
    for name, service in resolved()["services"].items():
        argv = [*(service.get("entrypoint") or []), *(service.get("command") or [])]
        if "build" not in service or not argv:
            continue  # third-party images run their own entry points
        if argv[:2] == ["python", "-m"]:
            module, args = argv[2], argv[3:]
            package = PROJECT_ROOT / "plugins" if module.startswith("iot_lake") else PROJECT_ROOT
            path = package / module.replace(".", "/")
            assert (path / "__main__.py").is_file() or path.with_suffix(".py").is_file(), name
            _parser_of(module).parse_args(args)  # exits (SystemExit) on an unknown option
            checked.append(module)
        elif argv[0] in AIRFLOW_COMPONENTS:
            assert argv[0] in airflow_commands(), f"{name}: airflow {argv[0]}"
            checked.append(argv[0])
        else:
            script = " ".join(argv)
            for command in re.findall(r"airflow ([a-z-]+)", script):
                assert command in airflow_commands(), f"{name}: airflow {command}"
            checked.append(name)
    assert {
        "iot_lake.provisioning",
        "simulators.iot_core",
        "simulators.weather_station",
        "simulators.coffee_machine",
    } <= set(checked)
    assert set(checked) >= AIRFLOW_COMPONENTS


def test_mounted_and_copied_files_exist():
    for name, service in resolved()["services"].items():
        for volume in service.get("volumes") or []:
            source = volume["source"] if isinstance(volume, dict) else volume.split(":")[0]
            if volume.get("type") == "bind" if isinstance(volume, dict) else source.startswith("/"):
                path = Path(source)
                if path.name == "certs":
                    continue  # written by lake-setup at the first start
                assert path.exists(), f"{name} mounts missing {path}"
        build = service.get("build")
        if build:
            dockerfile = Path(build["context"]) / build["dockerfile"]
            for line in dockerfile.read_text().splitlines():
                if line.startswith("COPY"):
                    source = line.split()[-2]
                    assert (PROJECT_ROOT / source).exists(), f"Dockerfile copies {source}"


def test_broker_healthcheck_uses_the_identity_the_setup_generates():
    from simulators.things.local import CA_CERT, CERT_FILE, KEY_FILE, RULES_ENGINE

    test = resolved()["services"]["mosquitto"]["healthcheck"]["test"]
    assert f"/mosquitto/certs/{CA_CERT}" in test
    assert f"/mosquitto/certs/{RULES_ENGINE}/{CERT_FILE}" in test
    assert f"/mosquitto/certs/{RULES_ENGINE}/{KEY_FILE}" in test


def _directives(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition(" ")
            out.setdefault(key, []).append(value)
    return out


def test_compose_broker_enforces_the_same_rules_as_the_generated_laptop_config(tmp_path):
    from simulators.things.local import ensure_local_pki, write_mosquitto_config

    ensure_local_pki(tmp_path, ["weather-station-01"])
    generated = _directives(write_mosquitto_config(tmp_path).read_text())
    compose = _directives((PROJECT_ROOT / "docker" / "mosquitto" / "mosquitto.conf").read_text())

    # Paths, the listener address, the process user and logging differ by design.
    local_only = {
        "user",
        "acl_file",
        "persistence_location",
        "log_dest",
        "log_type",
        "listener",
        "cafile",
        "certfile",
        "keyfile",
        "plugin",
        "plugin_opt_dir",
    }
    for key, value in generated.items():
        assert key in compose, f"compose broker lacks {key}"
        if key not in local_only:
            assert compose[key] == value, key
    assert compose["require_certificate"] == ["true"]
    assert compose["use_identity_as_username"] == ["true"]
    assert compose["use_username_as_clientid"] == ["true"]
    assert compose["allow_anonymous"] == ["false"]
    assert compose["plugin"] == ["/usr/lib/mosquitto_wal.so"]
    assert compose["plugin_opt_dir"] == ["/lake/iot_core/wal"]


def test_compose_broker_and_ingest_share_the_wal_and_the_ingest_service_restarts():
    services = resolved()["services"]
    dockerfile = (PROJECT_ROOT / "docker" / "mosquitto" / "Dockerfile").read_text()
    assert "mosquitto_wal.c" in dockerfile and "/usr/lib/mosquitto_wal.so" in dockerfile
    broker_volumes = {v.split(":")[1]: v.split(":")[0] for v in services["mosquitto"]["volumes"]}
    ingest_volumes = {v.split(":")[1]: v.split(":")[0] for v in services["ingest"]["volumes"]}
    assert broker_volumes["/lake"] == ingest_volumes["/opt/airflow/.lake"] == "lake-home"
    assert services["ingest"]["environment"]["IOT_LAKE_HOME"] == "/opt/airflow/.lake"
    assert services["ingest"]["restart"] == "unless-stopped"


def test_compose_broker_config_runs_and_accepts_the_rules_engine_over_mutual_tls(tmp_path):
    """Mosquitto started on the compose config (paths moved to tmp), probed like its healthcheck."""
    from simulators.iot_core.broker_wal import plugin_path
    from simulators.things.broker import free_port
    from simulators.things.local import ensure_local_pki, write_mosquitto_config

    certs = tmp_path / "certs"
    ensure_local_pki(certs, ["weather-station-01"])
    write_mosquitto_config(certs)
    port = free_port()
    conf = (PROJECT_ROOT / "docker" / "mosquitto" / "mosquitto.conf").read_text()
    conf = conf.replace("/mosquitto/certs", str(certs)).replace("/mosquitto/data", str(tmp_path))
    conf = conf.replace("/usr/lib/mosquitto_wal.so", str(plugin_path()))
    conf = conf.replace("/lake/iot_core/wal", str(tmp_path / "wal"))
    conf = conf.replace("listener 8883 0.0.0.0", f"listener {port} 127.0.0.1")
    (tmp_path / "mosquitto.conf").write_text(conf)
    broker = subprocess.Popen(
        ["/usr/sbin/mosquitto", "-c", str(tmp_path / "mosquitto.conf")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        probe = [
            "mosquitto_sub",
            "-h",
            "localhost",
            "-p",
            str(port),
            "--cafile",
            f"{certs}/ca.crt",
            "--cert",
            f"{certs}/iot-rules-engine/certificate.pem.crt",
            "--key",
            f"{certs}/iot-rules-engine/private.pem.key",
            "-t",
            "sensor/healthcheck",
            "-E",
        ]
        for _ in range(50):
            result = subprocess.run(probe, capture_output=True, text=True, timeout=10)
            if result.returncode == 0 or broker.poll() is not None:
                break
            subprocess.run(["sleep", "0.1"])
        assert result.returncode == 0, result.stderr
        anonymous = subprocess.run(
            [
                "mosquitto_sub",
                "-h",
                "localhost",
                "-p",
                str(port),
                "--cafile",
                f"{certs}/ca.crt",
                "-t",
                "sensor/#",
                "-E",
            ],
            capture_output=True,
            text=True,
            timeout=10,
        )
        assert anonymous.returncode != 0  # no client certificate: refused
    finally:
        broker.terminate()
        output = broker.communicate(timeout=10)[0]
    assert "u'iot-rules-engine'" in output, output  # identity taken from the certificate
    assert "peer did not return a certificate" in output, output


def test_image_requirements_are_the_ones_locked_in_uv_lock():
    uv = shutil.which("uv")
    assert uv, "uv is needed to export the lock"
    exported = subprocess.run(
        [
            uv,
            "export",
            "--frozen",
            "--no-dev",
            "--no-hashes",
            "--no-emit-project",
            "--format",
            "requirements.txt",
        ],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=120,
    )
    assert exported.returncode == 0, exported.stderr

    def pins(text: str) -> list[str]:
        return [line for line in text.splitlines() if line and not line.lstrip().startswith("#")]

    committed = (PROJECT_ROOT / "docker" / "airflow" / "requirements.txt").read_text()
    assert pins(committed) == pins(exported.stdout), (
        "docker/airflow/requirements.txt is stale: uv export --frozen --no-dev --no-hashes "
        "--no-emit-project -o docker/airflow/requirements.txt"
    )


def test_example_environment_holds_no_real_secret():
    values = dict(
        line.split("=", 1)
        for line in ENV_EXAMPLE.read_text().splitlines()
        if line and not line.startswith("#")
    )
    for key, value in values.items():
        if any(word in key for word in ("PASSWORD", "SECRET")):
            assert value.startswith("change-me"), key
    assert json.dumps(values)  # plain key=value lines only
    assert sys.version_info >= (3, 11)


def _dockerfile_stages() -> dict[str, list[tuple[str, str]]]:
    """Stage name -> its COPY (source, destination) pairs, from docker/airflow/Dockerfile."""
    stages: dict[str, list[tuple[str, str]]] = {}
    current = ""
    for line in (PROJECT_ROOT / "docker" / "airflow" / "Dockerfile").read_text().splitlines():
        if line.startswith("FROM "):
            current = line.split(" AS ")[-1].strip() if " AS " in line else line.split()[1]
            stages[current] = []
        elif line.startswith("COPY") and "--from" not in line:
            *_, source, destination = line.split()
            stages[current].append((source, destination))
    return stages


def test_the_airflow_image_holds_only_what_airflow_needs():
    stages = _dockerfile_stages()
    airflow_copies = dict(stages["airflow"])
    assert airflow_copies == {
        "docker/airflow/requirements.txt": "/opt/iot-lake/requirements.txt",
        "dags": "/opt/airflow/dags",
        "plugins": "/opt/airflow/plugins",
        # include/ is package data of the library, as in the MWAA plugins.zip
        "include": "/opt/airflow/plugins/iot_lake/include",
    }
    assert dict(stages["devices"]) == {"simulators": "/opt/airflow/simulators"}
    for name, service in resolved()["services"].items():
        build = service.get("build")
        if not build or not build["dockerfile"].endswith("docker/airflow/Dockerfile"):
            continue  # not the project's Python image (e.g. the broker with its WAL plugin)
        argv = [*(service.get("entrypoint") or []), *(service.get("command") or [])]
        runs_simulator = any(arg.startswith("simulators.") for arg in argv)
        assert build["target"] == ("devices" if runs_simulator else "airflow"), name
        for volume in service.get("volumes") or []:
            target = volume["target"] if isinstance(volume, dict) else volume.split(":")[1]
            assert target in ("/opt/airflow/certs", "/opt/airflow/.lake"), (
                f"{name} mounts {target}: code comes from the image, only state is mounted"
            )


def test_every_image_is_pinned_to_a_version():
    for name, service in resolved()["services"].items():
        image = service.get("image", "")
        repository, _, tag = image.rpartition(":") if ":" in image else (image, "", "")
        assert tag and tag != "latest" and "/" not in tag, f"{name}: {image} is not pinned"
        assert repository


def test_airflow_runs_the_celery_executor_as_airflows_own_compose_file_does():
    services = resolved()["services"]
    airflow = {
        name: service
        for name, service in services.items()
        if "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN" in (service.get("environment") or {})
    }
    assert "airflow-worker" in airflow
    for name, service in airflow.items():
        env = service["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__CELERY__BROKER_URL"] == "redis://:@redis:6379/0", name
        backend = env["AIRFLOW__CELERY__RESULT_BACKEND"]
        # The driver named: SQLAlchemy 2.1's default for postgresql:// is psycopg 3, which
        # the image does not have (psycopg2 is Airflow's driver).
        assert backend.startswith("db+postgresql+psycopg2://airflow:"), name
        assert "@postgres:5432/airflow" in backend, name
        if name != "airflow-init":
            assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy"
    assert "healthcheck" in services["redis"]
    worker = services["airflow-worker"]
    assert worker["command"] == ["celery", "worker"]
    # `airflow celery worker` exists in the installed provider's CLI.
    from airflow.providers.celery.cli.definition import get_celery_cli_commands

    [group] = [c for c in get_celery_cli_commands() if c.name == "celery"]
    assert "worker" in {sub.name for sub in group.subcommands}
    assert "inspect ping" in " ".join(worker["healthcheck"]["test"])
    assert worker["environment"]["DUMB_INIT_SETSID"] == "0"  # warm shutdown
    assert worker["depends_on"]["airflow-apiserver"]["condition"] == "service_healthy"


def test_workers_scale_and_share_nothing_but_the_lake_broker_and_metadata():
    worker = resolved()["services"]["airflow-worker"]
    # --scale airflow-worker=N: no fixed container name, no published host port.
    assert "container_name" not in worker and "ports" not in worker
    targets = {
        (v["target"] if isinstance(v, dict) else v.split(":")[1])
        for v in worker.get("volumes") or []
    }
    assert "/opt/airflow/.lake" not in targets  # no lake directory shared between workers
    env = worker["environment"]
    for area in ("RAW", "CURATED", "PHOTOS", "QUERY_RESULTS", "CATALOG"):
        assert env[f"IOT_LAKE_{area}_URI"].startswith("s3://"), area
    assert env["AWS_ENDPOINT_URL_S3"] == "http://minio:9000"
