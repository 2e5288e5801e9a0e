"""health.aggregates.open_incidents as data trust needs it: wildcard datasets, and a schema
change that caps nobody (neither the override nor the data_trust signal)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cs_portal.imports import run_import
from health.aggregates import open_incidents
from health.models import HealthSnapshot
from health.services import health_recompute
from tests.datatrust.conftest import YESTERDAY, healthy_rows, ok, use
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


def incident(key: str, kind: str, datasets: str, **extra) -> None:
    row = {
        "key": key,
        "kind": kind,
        "severity": "high",
        "started": (YESTERDAY - timedelta(days=2)).isoformat(),
        "datasets": datasets,
        "title": key,
        **extra,
    }
    ok(run_import("incidents", json_rows=[row]))


@pytest.fixture
def stellar(db):
    """`horizon` uses stellar.raw.transactions; `under` stellar.rawx.ledgers (a bare prefix
    match of `stellar.raw` would catch it); `sui` uses sui.raw.transactions."""
    accounts = {
        name: AccountFactory(external_id=name, tier=3, seats=10)
        for name in ("horizon", "under", "sui")
    }
    use(
        healthy_rows("horizon", "stellar.raw.transactions")
        + healthy_rows("under", "stellar.rawx.ledgers")
        + healthy_rows("sui", "sui.raw.transactions")
    )
    return accounts


def test_a_wildcard_dataset_matches_what_it_names_and_nothing_else(stellar):
    incident("INC-W", "outage", "stellar.raw.*")
    found = open_incidents(YESTERDAY, None)
    assert {a: [i["touches"] for i in found[a]] for a in found} == {
        stellar["horizon"].pk: [["stellar.raw.transactions"]]
    }


def test_underscore_in_a_pattern_is_a_literal_underscore(db):
    AccountFactory(external_id="a", tier=3)
    AccountFactory(external_id="b", tier=3)
    use(healthy_rows("a", "base.raw_v2.logs", n=3) + healthy_rows("b", "base.rawxv2.logs", n=3))
    incident("INC-U", "accuracy", "base.raw_v2.*")
    found = open_incidents(YESTERDAY, None)
    assert [i["touches"] for f in found.values() for i in f] == [["base.raw_v2.logs"]]


def test_a_schema_change_caps_nobody_and_leaves_data_trust_alone(stellar):
    incident(
        "CHG-S",
        "schema_change",
        "stellar.raw.*;sui.raw.transactions",
        effective=(YESTERDAY + timedelta(days=10)).isoformat(),
        note="Horizon is gone",
    )
    assert open_incidents(YESTERDAY, None) == {}
    health_recompute()
    for snap in HealthSnapshot.objects.filter(date=YESTERDAY):
        assert snap.overrides == []
        trust = next(s for s in snap.signals if s["key"] == "data_trust")
        assert (trust["score"], trust["value"]) == (100.0, "no open incidents on their data")
        assert snap.band == "green"
