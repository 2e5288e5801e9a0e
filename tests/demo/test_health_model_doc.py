"""docs/health-model.md's generator: every signal and override of the engine is explained, the
figures are the backtest service's, and the seeding happens in a throwaway database."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from cs_portal.imports import run_import
from demo.management.commands import health_model_doc as doc
from health import engine
from health.backtest import backtest_run
from tests.factories import AccountFactory, ContractFactory

LANDED = date(2026, 6, 30)
FIRST = LANDED - timedelta(days=240)

pytestmark = pytest.mark.usefixtures("eager_celery")


def test_every_signal_and_override_has_a_rule_and_a_reason():
    doc.check_coverage()
    rules = doc.signal_rules()
    assert set(rules) == set(engine.SIGNAL_KEYS)
    assert rules["recency"].startswith("days since the last day with meaningful usage")
    assert rules["usage_trend"].endswith("none in 56 days (with history) → 0.")  # continued line
    assert set(doc.override_keys()) == set(doc.override_rules())
    assert {"sharp_drop", "coasting", "dormant", "data_trust_incident", "champion_left"} == set(
        doc.override_keys()
    )
    assert set(doc.WHY) == set(engine.SIGNAL_KEYS) | set(doc.override_keys())


@pytest.fixture
def book(db):
    """Three steady customers, one churner whose usage fades, one that goes silent."""
    rows = []

    def usage(key: str, level) -> None:
        day = FIRST
        while day <= LANDED:
            value = level(day)
            if value > 0:
                rows.append(
                    {"account": key, "date": day.isoformat(), "metric": "units", "value": value}
                )
                rows.append(
                    {"account": key, "date": day.isoformat(), "metric": "active_users", "value": 2}
                )
            day += timedelta(days=1)

    for key, end in (("a", "2026-12-31"), ("b", "2026-12-31"), ("c", "2026-12-31")):
        acct = AccountFactory(external_id=key, tier=3, seats=3)
        ContractFactory(account=acct, start=date(2026, 1, 1), end=date.fromisoformat(end))
        usage(key, lambda d: 100)
    churner = AccountFactory(external_id="churner", tier=3, seats=3)
    ContractFactory(
        account=churner, start=date(2025, 6, 1), end=date(2026, 5, 31), arr=Decimal(20000)
    )
    usage("churner", lambda d: 0 if d > date(2026, 5, 31) else 100 if d < date(2026, 3, 1) else 30)
    sleeper = AccountFactory(external_id="sleeper", tier=3, seats=3)
    ContractFactory(account=sleeper, start=date(2026, 1, 1), end=date(2026, 12, 31))
    usage("sleeper", lambda d: 100 if d <= date(2026, 5, 10) else 0)
    assert run_import("usage", json_rows=rows).ok


def test_the_document_shows_the_engine_and_the_service_figures(book):
    data = doc.backtest_figures()
    assert data["landed"] == LANDED.isoformat() and data["first"] == FIRST.isoformat()
    assert [r["offset"] for r in data["runs"]] == [90, 120, 150]

    text = doc.render(data, generated=date(2026, 7, 1), commit="abc1234")

    head = backtest_run(
        as_of=LANDED - timedelta(days=90),
        horizon_days=90,
        weights=engine.DEFAULT_WEIGHTS,
        green_min=engine.DEFAULT_GREEN_MIN,
        yellow_min=engine.DEFAULT_YELLOW_MIN,
    )
    assert text.startswith("# The health model\n\nGenerated on 2026-07-01 by `make health-doc`")
    assert "at commit `abc1234`" in text
    for key, label, _ in engine.SIGNALS:
        assert f"### {label} (`{key}`)" in text
        assert f"weight {engine.DEFAULT_WEIGHTS[key]:g}\n" in text
        assert doc.WHY[key] in text
    for key in doc.override_keys():
        assert f"### `{key}` → " in text and doc.WHY[key] in text
    assert f"**green ≥ {engine.DEFAULT_GREEN_MIN}**" in text
    assert f"| health score (default model) | {head.model.auc:.3f} | |" in text
    for baseline in head.baselines:
        by = f"{head.beats_by(baseline):+.3f}".replace("-", "−")
        assert f"| {baseline.label} | {baseline.auc:.3f} | {by} |" in text
    for row in head.bands:
        rate = "—" if row["bad_rate"] is None else f"{row['bad_rate']:.0%}"
        assert f"| {row['band']} | {row['accounts']} | {row['bad']} | {rate} |" in text
    assert f"{head.bad} ({head.bad / head.accounts:.0%}) went bad" in text
    first_decile = head.model.deciles[0]
    assert f"| {first_decile['decile']} | " in text
    assert f"| {first_decile['accounts']} | {first_decile['bad']} |" in text
    assert "The default model's AUC is" in text


def test_the_command_seeds_a_throwaway_database_and_writes_the_document(
    book, tmp_path, monkeypatch
):
    """The child processes never see the configured database (no DATABASE_URL or REDIS_URL, a
    SQLite file in a temporary directory); the figures come back as JSON from the last one."""
    figures = doc.backtest_figures()
    calls = []

    def fake_run(argv, env=None, **kwargs):
        if argv[:2] == ["git", "rev-parse"]:
            return subprocess.CompletedProcess(argv, 0, "abc1234\n", "")
        calls.append((argv[2:], env))
        out = json.dumps(figures) + "\n" if argv[-1] == "--figures" else "ok\n"
        return subprocess.CompletedProcess(argv, 0, out, "")

    monkeypatch.setenv("DATABASE_URL", "postgres://should-not-be-used/db")
    monkeypatch.setenv("REDIS_URL", "redis://should-not-be-used/0")
    monkeypatch.setattr(doc.subprocess, "run", fake_run)
    out = tmp_path / "health-model.md"

    call_command(
        "health_model_doc", "--output", str(out), "--today", "2026-07-01", stdout=StringIO()
    )

    assert [argv for argv, _ in calls] == [
        ["migrate", "--noinput"],
        ["seed_demo", "--today", "2026-07-01"],
        ["health_model_doc", "--figures"],
    ]
    for _, env in calls:
        assert "DATABASE_URL" not in env and "REDIS_URL" not in env
        assert Path(env["SQLITE_PATH"]).name == "demo.sqlite3"
        assert not Path(env["SQLITE_PATH"]).parent.exists()  # deleted afterwards
    assert out.read_text() == doc.render(
        figures, generated=datetime.now(UTC).date(), commit="abc1234"
    )
