"""DAG validation tier: every DAG file imports cleanly and follows the project's rules."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from iot_lake.dag_defaults import ALLOWED_TAGS, OWNER

ROOT = Path(__file__).resolve().parents[2]
DAG_FILES = sorted((ROOT / "dags").glob("*.py"))
EXPECTED_DAGS = {"weather_lake", "coffee_lake", "lake_setup"}
REQUIRED_DAG_ARGUMENTS = {
    "start_date", "catchup", "max_active_runs", "doc_md", "tags", "default_args",
    "template_searchpath",
}


@pytest.fixture(scope="session")
def dag_bag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags"))


def test_dag_files_import_without_errors(dag_bag) -> None:
    assert dag_bag.import_errors == {}


def test_the_pipeline_dags_are_all_there(dag_bag) -> None:
    assert set(dag_bag.dag_ids) >= EXPECTED_DAGS


def test_every_dag_has_owner_tags_doc_and_limits(dag_bag) -> None:
    for dag_id, dag in dag_bag.dags.items():
        assert dag.owner == OWNER, dag_id
        assert dag.tags and "iot-lake" in dag.tags, f"{dag_id}: tag 'iot-lake' missing"
        assert set(dag.tags) <= ALLOWED_TAGS, f"{dag_id}: tags {set(dag.tags) - ALLOWED_TAGS}"
        assert dag.doc_md and len(dag.doc_md.strip()) > 40, f"{dag_id}: doc_md too thin"
        assert dag.start_date is not None, dag_id
        assert dag.max_active_runs >= 1, dag_id


def test_every_task_retries(dag_bag) -> None:
    for dag_id, dag in dag_bag.dags.items():
        for task in dag.tasks:
            assert task.retries >= 1, f"{dag_id}.{task.task_id} has retries={task.retries}"


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_dag_arguments_are_explicit_in_the_file(path: Path) -> None:
    """start_date, catchup, max_active_runs ... are chosen on purpose, not inherited."""
    tree = ast.parse(path.read_text())
    calls = [
        node for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and getattr(node.func, "id", getattr(node.func, "attr", None)) in {"dag", "DAG"}
    ]
    assert calls, f"{path.name} defines no DAG"
    for call in calls:
        missing = REQUIRED_DAG_ARGUMENTS - {kw.arg for kw in call.keywords}
        assert not missing, f"{path.name}: DAG arguments not set explicitly: {sorted(missing)}"


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_dag_file_does_no_io_and_no_heavy_import_at_top_level(path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'plugins'}"}
    result = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("probe_dag_file.py")), str(path)],
        capture_output=True, text=True, env=env, check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["heavy_modules"] == [], f"{path.name} imports {report['heavy_modules']}"
    assert report["opened"] == [], f"{path.name} opens {report['opened']}"
    assert report["connects"] == [], f"{path.name} connects to {report['connects']}"


# Either syntax reads plugins/.airflowignore the same way.
@pytest.mark.parametrize("syntax", ["glob", "regexp"])
def test_the_plugin_loader_sees_only_the_ui_plugin(syntax: str) -> None:
    """The library under plugins/iot_lake/ is imported by path, never as plugin files."""
    from airflow._shared.module_loading import find_path_from_directory

    found = sorted(
        Path(p).relative_to(ROOT / "plugins").as_posix()
        for p in find_path_from_directory(str(ROOT / "plugins"), ".airflowignore", syntax)
        if p.endswith(".py")
    )
    assert found == ["iot_lake_dashboard.py"]


def test_loading_the_plugins_warns_about_nothing() -> None:
    """Every CLI call and task log loads the plugins: no deprecation printed each time.

    (Airflow 3.3 builds pathspec's ``GitWildMatchPattern`` for .airflowignore globs, which
    pathspec 1.x deprecates; the lock keeps pathspec 0.12.)
    """
    import warnings

    from airflow._shared.module_loading import find_path_from_directory

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        list(find_path_from_directory(str(ROOT / "plugins"), ".airflowignore", "glob"))
    assert [str(w.message) for w in caught] == []
