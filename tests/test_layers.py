"""Dependencies run one way: a lower app never imports a higher one (it announces through a
registry it owns, and the higher apps subscribe), and never reads a higher app's tables by
name in raw SQL. Checked on the source, imports anywhere in a module included (function-local
imports were how cycles used to hide)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# app → the apps above it, which it must not import or read by table name.
ABOVE = {
    "health": ("playbooks", "datatrust", "voc", "qbr", "expansion", "cockpit"),
}


def imported_modules(source: str, filename: str = "<source>") -> set[str]:
    tree = ast.parse(source, filename=filename)
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def strings(source: str, filename: str) -> str:
    """Every string literal of the module (f-string parts included), where SQL lives."""
    tree = ast.parse(source, filename=filename)
    return "\n".join(
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    )


def offenders(app: str, source: str, filename: str) -> list[str]:
    """What in this module of `app` reaches up: imports of a higher app, or its tables named in
    a string (raw SQL; Django names a table `<app label>_<model>`)."""
    found = [
        f"{filename} imports {name}"
        for name in sorted(imported_modules(source, filename))
        if name.split(".")[0] in ABOVE[app]
    ]
    text = strings(source, filename)
    for higher in ABOVE[app]:
        for table in sorted(set(re.findall(rf"\b{higher}_[a-z0-9_]+\b", text))):
            found.append(f"{filename} reads the table {table}")
    return found


@pytest.mark.parametrize("app", sorted(ABOVE))
def test_lower_app_never_imports_a_higher_one_nor_reads_its_tables(app):
    found = []
    for path in sorted((ROOT / app).rglob("*.py")):
        if "migrations" in path.parts:
            continue
        found += offenders(app, path.read_text(), str(path.relative_to(ROOT)))
    assert found == []


def test_the_check_catches_an_upward_import_and_a_cross_app_table():
    source = (
        "def later():\n"
        "    from playbooks.hooks import after_recompute\n"
        "SQL = 'SELECT COUNT(*) FROM playbooks_milestone'\n"
    )
    assert offenders("health", source, "health/broken.py") == [
        "health/broken.py imports playbooks.hooks",
        "health/broken.py reads the table playbooks_milestone",
    ]
