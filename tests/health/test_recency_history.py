"""Recency and dormant on imported histories: the last activity is found past the 90-day
window, and the default model gains recency without touching an edited one."""

from __future__ import annotations

import importlib
from datetime import timedelta

import pytest
from django.apps import apps

from cs_portal.imports import run_import
from health.engine import DEFAULT_WEIGHTS
from health.models import HealthModel, HealthSnapshot
from health.services import health_recompute, last_complete_day
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db

migration = importlib.import_module("health.migrations.0005_default_model_with_recency")


def used(external_id: str, first: int, last: int) -> list[dict]:
    """Daily units from `first` days ago to `last` days ago (inclusive)."""
    day = last_complete_day()
    return [
        {
            "account": external_id,
            "date": (day - timedelta(days=n)).isoformat(),
            "metric": "units",
            "value": "500",
            "chain": "ethereum",
        }
        for n in range(last, first + 1)
    ]


def test_recency_sees_past_the_90_day_window_and_dormant_fires():
    for ext in ("active", "quiet40", "gone150", "gone300"):
        AccountFactory(external_id=ext, tier=2)
    rows = (
        used("active", 200, 0)
        + used("quiet40", 200, 40)
        + used("gone150", 300, 150)
        + used("gone300", 320, 300)
    )
    assert run_import("usage", json_rows=rows).ok
    health_recompute()
    snaps = {
        s.account.external_id: s
        for s in HealthSnapshot.objects.filter(date=last_complete_day()).select_related("account")
    }
    recency = {
        ext: next(x for x in s.signals if x["key"] == "recency")["raw"] for ext, s in snaps.items()
    }
    assert recency == {"active": 0, "quiet40": 40, "gone150": 150, "gone300": 300}
    dormant = {ext for ext, s in snaps.items() if "dormant" in {o["key"] for o in s.overrides}}
    assert dormant == {"quiet40", "gone150", "gone300"}
    assert snaps["active"].score > snaps["quiet40"].score > snaps["gone300"].score


def test_the_untouched_default_model_gets_a_new_version_with_recency():
    old = HealthModel.objects.create(version=1, weights=migration.OLD_DEFAULT, note="Default")
    migration.add_recency_to_the_default(apps, None)
    new = HealthModel.objects.order_by("-version").first()
    assert (new.version, new.weights) == (2, DEFAULT_WEIGHTS)
    assert migration.NEW_DEFAULT == DEFAULT_WEIGHTS  # the migration and the engine agree
    old.refresh_from_db()
    assert old.weights == migration.OLD_DEFAULT  # every version is kept


def test_an_edited_model_is_left_as_the_manager_set_it():
    edited = {**migration.OLD_DEFAULT, "usage_trend": 30, "breadth": 4}
    HealthModel.objects.create(version=3, weights=edited, note="Usage first")
    migration.add_recency_to_the_default(apps, None)
    assert list(HealthModel.objects.values_list("version", flat=True)) == [3]
