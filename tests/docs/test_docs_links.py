"""The docs point at things that exist: links, anchors, repository paths, DAG pages.

Docs drift when code moves; these checks make a moved file or a renamed heading fail
here instead of leaving a dead link for a reader to find.
"""

from __future__ import annotations

import ast
import re
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted([ROOT / "README.md", ROOT / "bench" / "README.md", *(ROOT / "docs").glob("*.md")])
DAG_FILES = sorted((ROOT / "dags").glob("*.py"))

FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
# A repository path named in backticks: `plugins/iot_lake/...`, `include/sql/...`, ...
REPO_PATH = re.compile(
    r"`((?:dags|plugins|include|tests|bench|scripts|simulators|docs|config|docker)/[^`\s]*)`"
)
# Placeholders and globs stand for many paths: `<table>`, `{a,b}`, `*`, `...`, `${x}`.
PATTERN_CHARS = set("<>{}*?$…") | {"..."}
# Paths the docs name that are made, not checked in (each says where it comes from).
NOT_CHECKED_IN = {
    "config/aws.env": "the reader's copy of config/aws.env.example (git-ignored)",
    "dags/constraints.txt": "inside the MWAA bundle that ./lake package mwaa builds",
    "plugins/sqlparse/": "inside the coffee Lambda's zip, vendored from the lock",
    "scripts/mwaa/3.2.1/": "a target docs/aws.md says is not added yet",
}


def prose(text: str) -> str:
    """The page without its fenced code blocks (shell examples are not links)."""
    return FENCE.sub("", text)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"`|\*\*|__", "", heading).strip().lower()
    kept = "".join(
        ch for ch in text
        if ch in " -_" or unicodedata.category(ch)[0] in {"L", "N"}
    )
    return kept.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    found = set()
    for heading in HEADING.findall(prose(page.read_text())):
        base = slug(heading)
        count = seen.get(base, 0)
        found.add(base if count == 0 else f"{base}-{count}")
        seen[base] = count + 1
    return found


def dag_doc(path: Path) -> str:
    """The doc_md the DAG gets: its module docstring when it passes ``doc_md=__doc__``."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) in {"dag", "DAG"}:
            for keyword in node.keywords:
                if keyword.arg != "doc_md":
                    continue
                if isinstance(keyword.value, ast.Name) and keyword.value.id == "__doc__":
                    return ast.get_docstring(tree) or ""
                if isinstance(keyword.value, ast.Constant):
                    return str(keyword.value.value)
    raise AssertionError(f"{path.name}: no dag(..., doc_md=...) found")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page: Path) -> None:
    broken = []
    for target in LINK.findall(prose(page.read_text())):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto: ...
            continue
        file_part, _, anchor = target.partition("#")
        linked = (page.parent / file_part).resolve() if file_part else page
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{target}: no heading with anchor #{anchor}")
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_repository_path_named_exists(page: Path) -> None:
    missing = [
        path for path in REPO_PATH.findall(prose(page.read_text()))
        if not any(mark in path for mark in PATTERN_CHARS) and path not in NOT_CHECKED_IN
        and not (ROOT / path.split("#")[0].split("::")[0].rstrip(".,:;")).exists()
    ]
    assert not missing, f"{page.relative_to(ROOT)} names paths that do not exist: {missing}"


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_each_dag_doc_links_to_its_page(path: Path) -> None:
    """A DAG's doc_md is its diagram and a link; the page in docs/ says how it works."""
    pages = re.findall(r"docs/[\w-]+\.md", dag_doc(path))
    assert pages, f"{path.name}: doc_md names no page under docs/"
    assert all((ROOT / page).exists() for page in pages), f"{path.name}: {pages}"


@pytest.mark.parametrize(
    "page", [p for p in PAGES if p.parent.name == "docs" and p.name != "decisions.md"],
    ids=lambda p: p.name,
)
def test_each_docs_page_links_to_the_decisions(page: Path) -> None:
    """The reasons live in docs/decisions.md, once; a how-to page points there."""
    targets = [target.partition("#")[0] for target in LINK.findall(prose(page.read_text()))]
    assert "decisions.md" in targets, f"{page.name} does not link to decisions.md"
