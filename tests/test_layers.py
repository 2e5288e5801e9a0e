"""Dependencies run one way: a lower app never imports a higher one (it announces through a
registry it owns, and the higher apps subscribe). Checked on the source, imports anywhere in
a module included (function-local imports were how cycles used to hide)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# app → the apps above it, which it must not import.
ABOVE = {
    "health": ("playbooks", "datatrust", "voc", "qbr", "expansion", "cockpit"),
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("app", sorted(ABOVE))
def test_lower_app_never_imports_a_higher_one(app):
    offenders = []
    for path in sorted((ROOT / app).rglob("*.py")):
        if "migrations" in path.parts:
            continue
        for name in imported_modules(path):
            if name.split(".")[0] in ABOVE[app]:
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offenders == []
