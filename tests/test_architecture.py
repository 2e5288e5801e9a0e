"""The layers, checked on the source (docs/architecture.md says what they are and why).

    cs_portal core  ←  accounts  ←  health  ←  playbooks, expansion  ←  datatrust, voc  ←  qbr
                    ←  cockpit, demo  ←  the project modules (settings, urls, api router, views)

A module may import its own app and any app in a lower layer; never an app in its own layer
or above (siblings stay independent: they meet through the registries of the layers below).
Raw SQL (any string literal) may name only its own app's tables: another app's table is read
through that app's selectors, or at least through its model's `_meta.db_table`, so a schema
change there shows up as an error here instead of silently wrong SQL.
Every import counts, function-local ones included: they were how cycles used to hide. Only
imports under `if TYPE_CHECKING:` are ignored, since they never run.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

from django.apps import apps

ROOT = Path(__file__).resolve().parents[1]

LAYERS: dict[str, int] = {
    "cs_portal": 0,
    "accounts": 1,
    "health": 2,
    "playbooks": 3,
    "expansion": 3,
    "datatrust": 4,
    "voc": 4,
    "qbr": 5,
    "cockpit": 6,
    "demo": 6,
}
# The project package's wiring sits on top of every app: it mounts their URLs and API routers,
# configures Celery and Django. The rest of `cs_portal` is the core everything builds on.
PROJECT_MODULES = {
    "cs_portal.settings",
    "cs_portal.urls",
    "cs_portal.api",
    "cs_portal.wsgi",
    "cs_portal.asgi",
    "cs_portal.views",
}
TOP = max(LAYERS.values()) + 1


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> tuple[str, int] | None:
    """(app, layer) of a dotted module name, or None for third-party and stdlib modules."""
    app = module.split(".")[0]
    if app not in LAYERS:
        return None
    if any(module == m or module.startswith(m + ".") for m in PROJECT_MODULES):
        return "project", TOP
    return app, LAYERS[app]


def _type_checking_blocks(tree: ast.AST) -> set[int]:
    """ids of the nodes inside `if TYPE_CHECKING:` blocks."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If):
            test = node.test
            name = getattr(test, "id", None) or getattr(test, "attr", None)
            if name == "TYPE_CHECKING":
                for child in node.body:
                    skipped.update(id(n) for n in ast.walk(child))
    return skipped


def imports_of(source: str, module: str, filename: str) -> list[str]:
    """Every module this source imports at run time, relative imports resolved."""
    tree = ast.parse(source, filename=filename)
    skipped = _type_checking_blocks(tree)
    package = module.split(".")
    if not filename.endswith("__init__.py"):
        package = package[:-1]
    names: list[str] = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names.append(target)
    return names


@cache
def tables() -> dict[str, str]:
    """Every model table of our apps (auto-created many-to-many tables included) → its app."""
    found = {}
    for model in apps.get_models(include_auto_created=True):
        if model._meta.app_label in LAYERS:
            found[model._meta.db_table] = model._meta.app_label
    return found


def tables_named(text: str) -> list[str]:
    """The model tables named as whole words in `text` (a column alias such as health_score
    is not a table)."""
    words = set(re.findall(r"\b[a-z][a-z0-9_]*\b", text))
    return sorted(words & set(tables()))


def sql_strings(source: str, filename: str) -> str:
    """Every string literal of the module (f-string parts included): where raw SQL lives."""
    tree = ast.parse(source, filename=filename)
    return "\n".join(
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    )


def offenders(module: str, source: str, filename: str) -> list[str]:
    """What this module reaches for that its layer may not: imports of its own layer's other
    apps or of higher layers, and raw SQL naming their tables."""
    own = layer_of(module)
    if own is None:
        return []
    app, level = own
    found = []
    for name in sorted(set(imports_of(source, module, filename))):
        other = layer_of(name)
        if other is None or other[0] == app:
            continue
        if other[1] >= level:
            found.append(f"{filename} imports {name} ({other[0]} is not below {app})")
    for table in tables_named(sql_strings(source, filename)):
        label = tables()[table]
        if label != app:
            found.append(f"{filename} names {label}'s table {table} in raw SQL")
    return found


def source_files() -> list[Path]:
    files = []
    for app in LAYERS:
        base = ROOT / app
        if base.is_dir():
            files += [p for p in sorted(base.rglob("*.py")) if "migrations" not in p.parts]
    return files


def test_no_module_reaches_across_or_up_the_layers():
    found = []
    for path in source_files():
        found += offenders(module_name(path), path.read_text(), str(path.relative_to(ROOT)))
    assert found == []


# --- the check itself can fail -----------------------------------------------------------------


def test_an_upward_import_is_caught_even_inside_a_function():
    source = "def later():\n    from playbooks.hooks import after_recompute\n"
    assert offenders("health.broken", source, "health/broken.py") == [
        "health/broken.py imports playbooks.hooks (playbooks is not below health)"
    ]


def test_a_sibling_import_and_a_project_import_are_caught():
    source = "import voc.models\nfrom cs_portal.urls import urlpatterns\n"
    assert offenders("playbooks.x", source, "playbooks/x.py") == [
        "playbooks/x.py imports cs_portal.urls (project is not below playbooks)",
        "playbooks/x.py imports voc.models (voc is not below playbooks)",
    ]


def test_raw_sql_naming_another_apps_table_is_caught_but_its_own_tables_are_fine():
    source = (
        "SQL = 'SELECT 1 FROM playbooks_milestone m JOIN accounts_account a ON true'\n"
        "OTHER = f'SELECT health_score FROM health_usagefact WHERE x = {1}'\n"
    )
    assert offenders("health.aggregates", source, "health/aggregates.py") == [
        "health/aggregates.py names accounts's table accounts_account in raw SQL",
        "health/aggregates.py names playbooks's table playbooks_milestone in raw SQL",
    ]


def test_relative_imports_resolve_and_type_checking_imports_are_ignored():
    source = (
        "from typing import TYPE_CHECKING\n"
        "from .models import Alert\n"
        "from ..health import engine\n"
        "if TYPE_CHECKING:\n"
        "    from datatrust.models import Dataset\n"
    )
    assert imports_of(source, "playbooks.alerts.rules", "playbooks/alerts/rules.py") == [
        "typing",
        "playbooks.alerts.models",
        "playbooks.health",
    ]
    assert offenders("playbooks.alerts.rules", source, "playbooks/alerts/rules.py") == []


def test_the_project_modules_sit_on_top():
    source = "from demo.management.commands import seed_demo\nfrom playbooks import urls\n"
    assert offenders("cs_portal.urls", source, "cs_portal/urls.py") == []
    assert offenders("cs_portal.imports", source, "cs_portal/imports.py") == [
        "cs_portal/imports.py imports demo.management.commands (demo is not below cs_portal)",
        "cs_portal/imports.py imports playbooks (playbooks is not below cs_portal)",
    ]


def test_every_app_at_the_root_has_a_layer():
    apps_on_disk = {
        p.parent.name for p in ROOT.glob("*/apps.py") if p.parent.name not in {"bench", "tests"}
    }
    assert apps_on_disk <= set(LAYERS), apps_on_disk - set(LAYERS)
