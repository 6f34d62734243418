"""The backend is chosen in the factories only: no other code asks which backend it runs on.

``LakeSettings.is_local`` / ``.backend`` may be read in ``config.py`` (where they are
defined) and in functions named ``get_*`` that return one of two implementations
(``catalog.get_catalog``: ``LocalCatalog`` or ``GlueCatalog``). Everything else asks the
object it holds: ``storage.is_directory_store(fs)`` asks a filesystem (a directory or an
object store), ``engine.defers_waits`` asks the engine.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("plugins", "dags")
BACKEND_ATTRIBUTES = frozenset({"is_local", "backend"})
DEFINED_IN = "plugins/iot_lake/config.py"

# Files whose backend reads other branches of issue 19 move into factories; the merger
# empties this list once they are merged (each entry fails the test when its file no
# longer reads the backend, so the list cannot go stale).
PENDING: frozenset[str] = frozenset()


def _reads_the_backend(node: ast.AST) -> bool:
    if isinstance(node, ast.Attribute) and node.attr in BACKEND_ATTRIBUTES:
        return True
    return (  # getattr(lake, "is_local")
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "getattr"
        and len(node.args) >= 2
        and isinstance(node.args[1], ast.Constant)
        and node.args[1].value in BACKEND_ATTRIBUTES
    )


def _reads_outside_factories(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, where) of each backend read not inside a function named ``get_*``."""
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST, function: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                visit(child, child.name)
                continue
            if _reads_the_backend(child) and not (function or "").startswith("get_"):
                found.append((child.lineno, function or "<module>"))
            visit(child, function)

    visit(tree, None)
    return found


def backend_reads(root: Path) -> dict[str, list[str]]:
    """``{file: ["file:line in function", ...]}`` of the reads outside factories under
    ``root``'s ``plugins/`` and ``dags/`` (paths relative to ``root``)."""
    out: dict[str, list[str]] = {}
    for top in SCANNED:
        for path in sorted((root / top).rglob("*.py")):
            name = path.relative_to(root).as_posix()
            if name == DEFINED_IN:
                continue
            tree = ast.parse(path.read_text(), name)
            reads = _reads_outside_factories(tree)
            if reads:
                out[name] = [f"{name}:{line} in {where}" for line, where in reads]
    return out


def test_only_factories_ask_which_backend_runs() -> None:
    reads = backend_reads(ROOT)
    outside = [line for name, lines in reads.items() if name not in PENDING for line in lines]
    assert not outside, (
        "the backend is read outside config.py and get_* factories; move the choice into a "
        "factory that returns one of two implementations, or ask the object you hold:\n"
        + "\n".join(outside)
    )


def test_the_pending_list_names_only_files_that_still_read_the_backend() -> None:
    stale = sorted(PENDING - set(backend_reads(ROOT)))
    assert not stale, f"remove from PENDING (they no longer read the backend): {stale}"


def test_the_scan_finds_every_form_and_spares_factories(tmp_path: Path) -> None:
    (tmp_path / "dags").mkdir()
    plugins = tmp_path / "plugins" / "iot_lake"
    plugins.mkdir(parents=True)
    (tmp_path / "dags" / "d.py").write_text("from iot_lake.config import settings\n"
                                            "LOCAL = settings().is_local\n")
    (plugins / "a.py").write_text(
        "def run(lake):\n"
        "    if lake.is_local:\n"
        "        return 1\n"
        "    return lake.backend == 'aws'\n"
        "def get_thing(lake):\n"
        "    return 'local' if lake.is_local else 'aws'\n"
        "def get_other(lake):\n"
        "    def inner():\n"
        "        return getattr(lake, 'is_local')\n"
        "    return inner\n"
        "class C:\n"
        "    def method(self):\n"
        "        return self.settings.is_local\n"
    )
    (plugins / "b.py").write_text(
        "from iot_lake import storage\n"
        "def f(fs):\n"
        "    return storage.is_directory_store(fs)\n"
    )
    (plugins / "config.py").write_text("def is_local(s):\n    return s.backend == 'local'\n")
    assert backend_reads(tmp_path) == {
        "dags/d.py": ["dags/d.py:2 in <module>"],
        "plugins/iot_lake/a.py": [
            "plugins/iot_lake/a.py:2 in run",
            "plugins/iot_lake/a.py:4 in run",
            "plugins/iot_lake/a.py:9 in inner",
            "plugins/iot_lake/a.py:13 in method",
        ],
    }
