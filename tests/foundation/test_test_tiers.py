"""The test tiers: markers come from the fixtures a test uses, and the mapping keeps up.

`./lake test --quick` runs ``-m unit`` with no service started: a test that reaches
MariaDB, Mosquitto, a moto server, Chromium or an Airflow process without a tier marker
would fail there (or, worse, pass only on a machine that happens to run the service).
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import tomllib
from functools import cache
from pathlib import Path

from tests.conftest import ROOT, TIER_FIXTURES, TIERS

TESTS = ROOT / "tests"
# What code that needs more than the virtualenv looks like, by tier.
SIGNS = {
    "services": re.compile(
        r"MySQLdb\.connect|_mysql\(|start_(mqtt_)?broker\(|dynalite\.start|DynamoDBLocal\(|"
        r"redis-server|psycopg|mosquitto_pub|docker-compose|scripts/stack\.sh"
    ),
    "aws": re.compile(r"ThreadedMotoServer"),
    "browser": re.compile(r"sync_playwright|chromium\.launch"),
    "scheduler": re.compile(r"api_server\(|stack_env\(|airflow_stack"),
}


@cache
def _functions() -> list[tuple[Path, ast.FunctionDef, str, ast.Module]]:
    """Every function under tests/ (parsed once per session: the checks share it)."""
    found = []
    for path in sorted(TESTS.rglob("*.py")):
        source = path.read_text()
        tree = ast.parse(source)
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                found.append((path, node, ast.get_source_segment(source, node) or "", tree))
    return found


def _is_fixture(node: ast.FunctionDef) -> bool:
    return any("fixture" in ast.unparse(d) for d in node.decorator_list)


def _marks(node: ast.FunctionDef, tree: ast.Module) -> set[str]:
    """Tier markers on the function or its module's ``pytestmark``."""
    texts = [ast.unparse(d) for d in node.decorator_list]
    for statement in tree.body:
        if isinstance(statement, ast.Assign) and any(
            getattr(t, "id", None) == "pytestmark" for t in statement.targets
        ):
            texts.append(ast.unparse(statement.value))
    return {tier for tier in TIERS for text in texts if f"pytest.mark.{tier}" in text}


def _signs(body: str) -> set[str]:
    return {tier for tier, sign in SIGNS.items() if sign.search(body)}


def test_every_tier_is_a_registered_marker() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]
    options = declared["ini_options"]
    assert "--strict-markers" in options["addopts"]
    registered = {line.split(":", 1)[0] for line in options["markers"]}
    assert registered == set(TIERS)


def test_every_mapped_fixture_exists() -> None:
    fixtures = {node.name for _, node, _, _ in _functions() if _is_fixture(node)}
    mapped = set().union(*TIER_FIXTURES.values())
    assert mapped - fixtures == set(), "TIER_FIXTURES names fixtures that no longer exist"


def test_every_fixture_that_reaches_beyond_the_venv_gives_its_tier() -> None:
    """A fixture that starts or connects to something is mapped, or uses one that is."""
    fixtures = {node.name: node for _, node, _, _ in _functions() if _is_fixture(node)}
    tiers_of = {name: {t for t, names in TIER_FIXTURES.items() if name in names}
                for name in fixtures}

    def inherited(name: str, seen: frozenset[str] = frozenset()) -> set[str]:
        node = fixtures.get(name)
        if node is None or name in seen:
            return set()
        found = set(tiers_of[name])
        for arg in node.args.args:
            found |= inherited(arg.arg, seen | {name})
        return found

    missing = []
    for path, node, body, tree in _functions():
        if _is_fixture(node):
            needed = _signs(body) - inherited(node.name) - _marks(node, tree)
            if needed:
                missing.append(f"{path.relative_to(ROOT)}::{node.name} {sorted(needed)}")
    assert missing == [], "add these fixtures to TIER_FIXTURES in tests/conftest.py"


def test_every_test_that_reaches_beyond_the_venv_in_its_body_is_marked() -> None:
    """Fixtures cover most tests; one that starts a service itself marks itself."""
    missing = []
    for path, node, body, tree in _functions():
        if node.name.startswith("test_"):
            uses = {arg.arg for arg in node.args.args}
            from_fixtures = {t for t, names in TIER_FIXTURES.items() if uses & names}
            needed = _signs(body) - from_fixtures - _marks(node, tree)
            if needed:
                missing.append(f"{path.relative_to(ROOT)}::{node.name} {sorted(needed)}")
    assert missing == [], "mark these tests (@pytest.mark.<tier>) or give them a fixture"


def test_collection_marks_tests_by_the_fixtures_they_use() -> None:
    """The hook at work on one test of each kind, through the fixtures each one uses."""
    plain = "tests/foundation/test_config.py::test_an_unknown_backend_is_refused_with_the_choices"
    mariadb = (  # mysql_conn_id
        "tests/quality/test_check_rows.py::"
        "test_failed_column_check_still_yields_every_observed_value"
    )
    moto = "tests/foundation/test_storage_s3.py::test_a_finished_multipart_write_appears_whole"
    chromium = (  # browser, and the module's own marks
        "tests/dashboard/test_browser.py::test_a_logged_out_visit_goes_to_the_login_page_and_back"
    )
    report = (  # one collection, printing each test's tier markers
        "import sys, pytest\n"
        "class Tiers:\n"
        "    def pytest_collection_finish(self, session):\n"
        "        for item in session.items:\n"
        f"            marks = sorted({{m.name for m in item.iter_markers()"
        f" if m.name in {TIERS!r}}})\n"
        "            print('TIERS', item.nodeid, ' '.join(marks))\n"
        "sys.exit(pytest.main(['--collect-only', '-q', '-p', 'no:cacheprovider', *sys.argv[1:]],"
        " plugins=[Tiers()]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", report, plain, mariadb, moto, chromium],
        cwd=ROOT, capture_output=True, text=True, env=os.environ.copy(), check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    tiers = {line.split()[1]: line.split()[2:] for line in out.stdout.splitlines()
             if line.startswith("TIERS ")}
    assert tiers == {
        plain: ["unit"], mariadb: ["services"], moto: ["aws"], chromium: ["browser", "scheduler"],
    }
