"""The library ships alone (MWAA: dags/ + plugins.zip): nothing under plugins/ may import
the simulators, which exist only in the checkout."""

from __future__ import annotations

import ast
from pathlib import Path

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"


def _imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module))
        elif (  # importlib.import_module("simulators...") / __import__("simulators...")
            isinstance(node, ast.Call)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and getattr(node.func, "attr", getattr(node.func, "id", ""))
            in ("import_module", "__import__")
        ):
            out.append((node.lineno, node.args[0].value))
    return out


def simulator_imports(root: Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        for line, module in _imported_modules(ast.parse(path.read_text(), str(path))):
            if module == "simulators" or module.startswith("simulators."):
                found.append(f"{path.relative_to(root.parent)}:{line} imports {module}")
    return found


def test_no_module_under_plugins_imports_simulators() -> None:
    assert len(list(PLUGINS.rglob("*.py"))) > 50  # the scan sees the library
    assert simulator_imports(PLUGINS) == []


def test_the_scan_finds_every_import_form(tmp_path: Path) -> None:
    package = tmp_path / "plugins"
    package.mkdir()
    (package / "a.py").write_text("import simulators.things\n")
    (package / "b.py").write_text("def f():\n    from simulators.iot_core import rules\n")
    (package / "c.py").write_text("import importlib\nimportlib.import_module('simulators')\n")
    (package / "d.py").write_text("from iot_lake.devices import pki\nimport simulatorsx\n")
    assert simulator_imports(package) == [
        "plugins/a.py:1 imports simulators.things",
        "plugins/b.py:2 imports simulators.iot_core",
        "plugins/c.py:2 imports simulators",
    ]
