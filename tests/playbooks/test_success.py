"""Success plans, onboarding milestones and time to value (playbooks/success/) and the
account's Success tab."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Plan
from health.services import health_recompute, last_complete_day
from playbooks.models import Alert, Milestone, SuccessPlan
from playbooks.success import services as success
from playbooks.success.rules import roi_baseline
from playbooks.success.selectors import account_ttv, ttv_median_by_tier
from tests.conftest import table_rows
from tests.factories import AccountFactory, ContractFactory
from tests.playbooks.success_helpers import usage

pytestmark = pytest.mark.django_db
D = last_complete_day()


def keys_and_due(account) -> list[tuple[str, date]]:
    return list(account.milestones.order_by("due", "id").values_list("key", "due"))


# --- milestone plans --------------------------------------------------------------------------


def test_tier1_plan_is_fast_and_follows_the_plan_bought(alice):
    start = date(2026, 3, 2)
    account = AccountFactory(tier=1, csm=alice)
    ContractFactory(account=account, start=start, plan=Plan.DEVELOPER)

    success.milestones_plan(account=account, start=start)

    assert keys_and_due(account) == [
        ("value_defined", date(2026, 3, 9)),
        ("access_provisioned", date(2026, 3, 12)),
        ("first_query", date(2026, 3, 16)),
        ("first_api_call", date(2026, 3, 23)),
        ("first_production_pipeline", date(2026, 4, 1)),
        ("first_dependent_consumer", date(2026, 4, 16)),
    ]


def test_tier2_is_looser_and_datastreams_adds_the_stream_milestone():
    start = date(2026, 3, 2)
    account = AccountFactory(tier=2)
    ContractFactory(account=account, start=start, plan=Plan.DATASTREAMS)

    success.milestones_plan(account=account, start=start)

    assert keys_and_due(account) == [
        ("value_defined", date(2026, 3, 16)),
        ("access_provisioned", date(2026, 3, 16)),
        ("first_query", date(2026, 3, 23)),
        ("first_api_call", date(2026, 4, 1)),
        ("first_stream_event", date(2026, 4, 1)),
        ("first_production_pipeline", date(2026, 5, 1)),
        ("first_dependent_consumer", date(2026, 5, 31)),
    ]


def test_tier3_is_digital_no_value_conversation_and_product_milestone_by_plan():
    start = date(2026, 3, 2)
    explorer = AccountFactory(tier=3, segment="self_serve")
    ContractFactory(account=explorer, start=start, plan=Plan.EXPLORER)
    developer = AccountFactory(tier=3, segment="self_serve")
    ContractFactory(account=developer, start=start, plan=Plan.DEVELOPER)

    success.milestones_plan(account=explorer, start=start)
    success.milestones_plan(account=developer, start=start)

    assert keys_and_due(explorer) == [
        ("access_provisioned", date(2026, 3, 5)),
        ("first_query", date(2026, 3, 9)),
        ("first_production_pipeline", date(2026, 4, 16)),
        ("first_dependent_consumer", date(2026, 5, 31)),
    ]
    assert [k for k, _ in keys_and_due(developer)] == [
        "access_provisioned",
        "first_api_call",
        "first_production_pipeline",
        "first_dependent_consumer",
    ]


def test_planning_twice_keeps_dates_and_completions():
    start = date(2026, 3, 2)
    account = AccountFactory(tier=2)
    ContractFactory(account=account, start=start, plan=Plan.EXPLORER)
    success.milestones_plan(account=account, start=start)
    Milestone.objects.filter(account=account, key="value_defined").update(
        completed_on=date(2026, 3, 10), evidence="Kickoff"
    )

    success.milestones_plan(account=account, start=start + timedelta(days=30))

    assert Milestone.objects.filter(account=account).count() == 5
    vd = Milestone.objects.get(account=account, key="value_defined")
    assert (vd.due, vd.completed_on, vd.evidence) == (
        date(2026, 3, 16),
        date(2026, 3, 10),
        "Kickoff",
    )


# --- completion from usage --------------------------------------------------------------------


def _open(account, *keys, due=date(2026, 1, 1)):
    for key in keys:
        Milestone.objects.create(account=account, key=key, due=due)


def test_usage_completes_only_what_it_can_prove_with_the_exact_first_day():
    account = AccountFactory(tier=2)
    _open(
        account,
        "first_query",
        "first_api_call",
        "first_stream_event",
        "first_production_pipeline",
        "first_dependent_consumer",
    )
    usage(account, D - timedelta(days=20), "queries", 0)  # a zero is not a first query
    usage(account, D - timedelta(days=12), "queries", 3, chain="ethereum")
    usage(account, D - timedelta(days=12), "queries", 4, chain="base")
    usage(account, D - timedelta(days=5), "queries", 40)
    usage(account, D - timedelta(days=8), "api_calls", 1250)
    usage(account, D - timedelta(days=8), "units", 900)  # units prove nothing by themselves

    done = success.milestones_complete_from_usage(as_of=D)

    assert done == 2
    rows = {m.key: (m.completed_on, m.evidence) for m in account.milestones.all()}
    assert rows["first_query"] == (
        D - timedelta(days=12),
        f"Usage: 7 queries on {(D - timedelta(days=12)).isoformat()} (first day with any)",
    )
    assert rows["first_api_call"] == (
        D - timedelta(days=8),
        f"Usage: 1,250 API calls on {(D - timedelta(days=8)).isoformat()} (first day with any)",
    )
    assert rows["first_stream_event"] == (None, "")
    assert rows["first_production_pipeline"] == (None, "")
    assert rows["first_dependent_consumer"] == (None, "")


def test_usage_after_as_of_does_not_count_and_scope_is_respected():
    inside, outside = AccountFactory(), AccountFactory()
    for account in (inside, outside):
        _open(account, "first_query")
        usage(account, D - timedelta(days=3), "queries", 5)

    assert success.milestones_complete_from_usage(as_of=D - timedelta(days=4)) == 0
    assert success.milestones_complete_from_usage(as_of=D, account_ids=[inside.pk]) == 1
    assert success.milestones_complete_from_usage(as_of=D, account_ids=[]) == 0

    assert Milestone.objects.get(account=inside).completed_on == D - timedelta(days=3)
    assert Milestone.objects.get(account=outside).completed_on is None


def test_completed_milestones_are_never_moved():
    account = AccountFactory()
    Milestone.objects.create(
        account=account,
        key="first_query",
        due=date(2026, 1, 1),
        completed_on=date(2025, 12, 1),
        evidence="From the record",
    )
    usage(account, D - timedelta(days=3), "queries", 5)

    assert success.milestones_complete_from_usage(as_of=D) == 0
    m = Milestone.objects.get(account=account)
    assert (m.completed_on, m.evidence) == (date(2025, 12, 1), "From the record")


def test_completion_is_set_based_a_fixed_number_of_queries():
    def run(n: int) -> int:
        Milestone.objects.all().delete()
        for _ in range(n):
            account = AccountFactory()
            _open(account, "first_query", "first_api_call")
            usage(account, D - timedelta(days=2), "queries", 1)
            usage(account, D - timedelta(days=1), "api_calls", 1)
        with CaptureQueriesContext(connection) as ctx:
            assert success.milestones_complete_from_usage(as_of=D) == 2 * n
        return len(ctx.captured_queries)

    assert run(3) == run(12) <= 4


def test_the_recompute_completes_milestones_before_overdue_alerts_are_raised(alice):
    account = AccountFactory(tier=2, csm=alice)
    ContractFactory(account=account)
    for n in range(1, 15):
        usage(account, D - timedelta(days=n), "units", 500)
    usage(account, D - timedelta(days=6), "queries", 12)
    # Both overdue; usage proves the first query, nobody has a production pipeline yet.
    due = D - timedelta(days=10)
    _open(account, "first_query", "first_production_pipeline", due=due)

    health_recompute(as_of=D, account_ids=[account.pk])

    assert Milestone.objects.get(account=account, key="first_query").completed_on == (
        D - timedelta(days=6)
    )
    [alert] = Alert.objects.filter(account=account, kind="onboarding_overdue")
    assert alert.key == f"first_production_pipeline:{due}"
    assert alert.owner == alice
    assert alert.detail == f"Due {due}, 10 days ago, not done yet."

    health_recompute(as_of=D, account_ids=[account.pk])
    assert Alert.objects.filter(account=account, kind="onboarding_overdue").count() == 1


# --- manual completion ------------------------------------------------------------------------


@pytest.fixture
def acme_milestone(acme):
    return Milestone.objects.create(
        account=acme, key="first_production_pipeline", due=D - timedelta(days=3)
    )


def test_owner_completes_a_milestone_once(acme_milestone, alice):
    on = D - timedelta(days=1)
    m = success.milestone_complete(
        milestone=acme_milestone, user=alice, on=on, evidence="dbt job loading dex trades nightly"
    )
    again = success.milestone_complete(milestone=m, user=alice, on=D, evidence="other")

    m.refresh_from_db()
    assert (m.completed_on, m.evidence) == (on, "dbt job loading dex trades nightly")
    assert again.completed_on == on


def test_completion_validates_date_and_defaults_evidence(acme_milestone, alice):
    with pytest.raises(ValidationError) as exc:
        success.milestone_complete(
            milestone=acme_milestone, user=alice, on=date.today() + timedelta(days=2)
        )
    assert exc.value.message_dict == {"on": ["A milestone cannot be completed in the future."]}
    m = success.milestone_complete(milestone=acme_milestone, user=alice)
    assert (m.completed_on, m.evidence) == (date.today(), "Marked complete by Alice Archer")


def test_another_csm_cannot_complete(acme_milestone, bob):
    with pytest.raises(PermissionDenied):
        success.milestone_complete(milestone=acme_milestone, user=bob)
    acme_milestone.refresh_from_db()
    assert acme_milestone.completed_on is None


def test_complete_view_htmx_returns_the_milestones_fragment(acme_milestone, alice_client):
    url = f"/accounts/acme/success/milestones/{acme_milestone.pk}/complete"
    response = alice_client.post(
        url, {"evidence": "Airflow DAG live", "on": str(D)}, headers={"HX-Request": "true"}
    )

    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith('<section class="card" id="milestones">')
    assert "Airflow DAG live" in body
    assert "<html" not in body
    assert response["Vary"] == "HX-Request" or "HX-Request" in response["Vary"]
    acme_milestone.refresh_from_db()
    assert acme_milestone.completed_on == D


def test_complete_view_bad_date_is_422_and_writes_nothing(acme_milestone, alice_client):
    url = f"/accounts/acme/success/milestones/{acme_milestone.pk}/complete"
    response = alice_client.post(url, {"on": "26/11/2026"})
    assert response.status_code == 422
    assert "Give the date as YYYY-MM-DD." in response.content.decode()
    acme_milestone.refresh_from_db()
    assert acme_milestone.completed_on is None


def test_complete_view_denied_to_others_writes_nothing(acme_milestone, bob_client, pat_client):
    url = f"/accounts/acme/success/milestones/{acme_milestone.pk}/complete"
    before = table_rows()
    assert bob_client.post(url, {"evidence": "x"}).status_code == 403
    assert pat_client.post(url, {"evidence": "x"}).status_code == 403
    assert table_rows() == before


def test_milestone_of_another_account_is_404(acme, alice_client):
    other = Milestone.objects.create(account=AccountFactory(), key="value_defined", due=D)
    response = alice_client.post(f"/accounts/acme/success/milestones/{other.pk}/complete")
    assert response.status_code == 404
    other.refresh_from_db()
    assert other.completed_on is None


def test_plan_onboarding_from_the_page(acme, alice_client):
    ContractFactory(account=acme, start=date(2026, 2, 1), plan=Plan.EXPLORER)
    response = alice_client.post("/accounts/acme/success/milestones")
    assert response.status_code == 302
    assert [k for k, _ in keys_and_due(acme)] == [
        "value_defined",
        "access_provisioned",
        "first_query",
        "first_production_pipeline",
        "first_dependent_consumer",
    ]


# --- success plans ----------------------------------------------------------------------------


PLAN = {
    "outcomes": "Retire the Ethereum archive nodes\n\n  Compliance reporting on 6 chains ",
    "currency": "eur",
    "ftes_saved": "2.5",
    "infra_avoided_per_year": "180,000",
    "time_to_market_days": "90",
    "targets": "Nodes off by Q2",
    "status": "on_track",
}


def test_save_cleans_and_stores_the_plan(acme, alice):
    plan = success.success_plan_save(account=acme, user=alice, data=PLAN)

    plan.refresh_from_db()
    assert plan.outcomes == "Retire the Ethereum archive nodes\nCompliance reporting on 6 chains"
    assert (plan.currency, plan.ftes_saved, plan.infra_avoided_per_year) == (
        "EUR",
        Decimal("2.5"),
        Decimal("180000.00"),
    )
    assert (plan.time_to_market_days, plan.targets, plan.status) == (
        90,
        "Nodes off by Q2",
        "on_track",
    )
    assert roi_baseline(plan) == [
        ("FTEs saved", "2.5 FTE"),
        ("Nodes / indexers / infra avoided", "€180,000 per year"),
        ("Time to market", "90 days faster"),
    ]
    # Saving again updates the same plan.
    success.success_plan_save(account=acme, user=alice, data={**PLAN, "status": "at_risk"})
    assert SuccessPlan.objects.get(account=acme).status == "at_risk"
    assert SuccessPlan.objects.count() == 1


def test_validation_names_every_bad_field(acme, alice):
    with pytest.raises(ValidationError) as exc:
        success.success_plan_save(
            account=acme,
            user=alice,
            data={
                "outcomes": "  \n ",
                "currency": "euro",
                "ftes_saved": "-1",
                "infra_avoided_per_year": "lots",
                "time_to_market_days": "1.5",
                "status": "great",
            },
        )
    assert exc.value.message_dict == {
        "outcomes": ["Write at least one outcome the customer wants (one per line)."],
        "currency": ["Use a three-letter ISO currency code such as USD, EUR or GBP."],
        "ftes_saved": ["Give a number of zero or more."],
        "infra_avoided_per_year": ["'lots' is not a number."],
        "time_to_market_days": ["Give whole days between 0 and 3650."],
        "status": ["Choose draft, on track, at risk or achieved."],
    }
    assert not SuccessPlan.objects.exists()


def test_unknown_currency_code_shows_the_code():
    plan = SuccessPlan(currency="NOK", infra_avoided_per_year=Decimal("50000"), outcomes="x")
    assert roi_baseline(plan) == [("Nodes / indexers / infra avoided", "50,000 NOK per year")]


def test_plan_view_saves_for_the_owner_and_manager(acme, alice_client, maya_client):
    response = alice_client.post("/accounts/acme/success/plan", PLAN)
    assert response.status_code == 302
    assert response["Location"] == "/accounts/acme/success/"
    response = maya_client.post(
        "/accounts/acme/success/plan", {**PLAN, "currency": "GBP"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert "Success plan saved." in response.content.decode()
    assert "£180,000 per year" in response.content.decode()
    assert SuccessPlan.objects.get(account=acme).currency == "GBP"


def test_plan_view_rejects_bad_input_with_422_and_keeps_what_was_typed(acme, alice_client):
    response = alice_client.post(
        "/accounts/acme/success/plan",
        {**PLAN, "outcomes": "", "ftes_saved": "two"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 422
    body = response.content.decode()
    assert "Write at least one outcome" in body and "&#x27;two&#x27; is not a number." in body
    assert 'value="two"' in body
    assert not SuccessPlan.objects.exists()


def test_plan_view_denied_to_others_writes_nothing(acme, bob_client, pat_client):
    before = table_rows()
    assert bob_client.post("/accounts/acme/success/plan", PLAN).status_code == 403
    assert pat_client.post("/accounts/acme/success/plan", PLAN).status_code == 403
    assert bob_client.post("/accounts/acme/success/milestones").status_code == 403
    assert table_rows() == before


# --- time to value ----------------------------------------------------------------------------


def _reached(tier: int, days: int | None, start=date(2026, 1, 5)):
    account = AccountFactory(tier=tier)
    ContractFactory(account=account, start=start)
    ContractFactory(account=account, start=start + timedelta(days=365))  # a renewal
    Milestone.objects.create(
        account=account,
        key="first_dependent_consumer",
        due=start + timedelta(days=45),
        completed_on=None if days is None else start + timedelta(days=days),
    )
    return account


def test_ttv_runs_from_the_first_contract_to_the_first_dependent_consumer():
    account = _reached(2, 52)
    Milestone.objects.create(
        account=account,
        key="first_production_pipeline",
        due=date(2026, 2, 1),
        completed_on=date(2026, 1, 20),
    )

    ttv = account_ttv(account=account, today=date(2026, 6, 1))

    assert (ttv.start, ttv.value_on, ttv.days, ttv.days_so_far) == (
        date(2026, 1, 5),
        date(2026, 2, 26),
        52,
        None,
    )


def test_ttv_not_reached_counts_days_so_far_and_no_contract_has_no_clock():
    waiting = _reached(3, None)
    ttv = account_ttv(account=waiting, today=date(2026, 2, 4))
    assert (ttv.days, ttv.days_so_far) == (None, 30)
    bare = account_ttv(account=AccountFactory(), today=date(2026, 2, 4))
    assert (bare.start, bare.days, bare.days_so_far) == (None, None, None)


def test_book_median_by_tier_in_one_query():
    for days in (30, 50, 100):
        _reached(2, days)
    _reached(2, None)
    for days in (20, 41):
        _reached(1, days)

    with CaptureQueriesContext(connection) as ctx:
        rows = ttv_median_by_tier()

    assert len(ctx.captured_queries) == 1
    assert [(r.tier, r.median_days, r.reached, r.onboarding) for r in rows] == [
        (1, 30.5, 2, 0),
        (2, 50, 3, 1),
        (3, None, 0, 0),
    ]


# --- the Success tab --------------------------------------------------------------------------


def test_success_tab_shows_plan_roi_milestones_and_ttv(acme, pat_client):
    ContractFactory(account=acme, start=date.today() - timedelta(days=100))
    SuccessPlan.objects.create(
        account=acme,
        outcomes="Retire the indexer",
        currency="CHF",
        infra_avoided_per_year=Decimal("240000"),
        status="on_track",
    )
    Milestone.objects.create(
        account=acme,
        key="first_query",
        due=D - timedelta(days=80),
        completed_on=D - timedelta(days=90),
        evidence="Usage: 5 queries",
    )
    Milestone.objects.create(
        account=acme, key="first_production_pipeline", due=date.today() - timedelta(days=4)
    )

    response = pat_client.get("/accounts/acme/success/")

    assert response.status_code == 200
    body = response.content.decode()
    assert "Retire the indexer" in body
    assert "CHF 240,000 per year" in body
    assert 'data-testid="overdue">overdue 4 days' in body
    assert "Usage: 5 queries" in body
    assert "100 days since start" in body
    assert "Complete</button>" not in body  # read-only for product
    assert response["Vary"] == "HX-Request" or "HX-Request" in response["Vary"]


def test_success_tab_empty_states_say_what_to_do(acme, alice_client):
    body = alice_client.get("/accounts/acme/success/").content.decode()
    assert "No success plan yet." in body
    assert "Create the success plan" in body
    assert "No onboarding milestones." in body
    assert "Plan onboarding milestones" in body


def test_success_tab_edit_fragment_for_htmx_and_404_for_unknown(acme, alice_client, bob_client):
    response = alice_client.get("/accounts/acme/success/?edit=1", headers={"HX-Request": "true"})
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<section class="card" id="plan-card">')
    assert 'id="plan-form"' in body
    # Someone who cannot edit gets the read-only card, not a form.
    assert 'id="plan-form"' not in bob_client.get("/accounts/acme/success/?edit=1").content.decode()
    assert alice_client.get("/accounts/nope/success/").status_code == 404


def test_playbooks_provides_the_onboarding_signal_its_milestones(db):
    """health reads milestones through its input registry, never playbooks' table."""
    from datetime import date

    from health.aggregates import build_inputs
    from playbooks.models import Milestone
    from tests.conftest import usage_landed
    from tests.factories import AccountFactory

    day = date(2026, 3, 31)
    account = AccountFactory()
    usage_landed(day)
    Milestone.objects.create(
        account=account, key="first_query", due=date(2026, 3, 1), completed_on=date(2026, 2, 25)
    )
    Milestone.objects.create(
        account=account, key="first_api_call", due=date(2026, 3, 10), completed_on=date(2026, 3, 20)
    )
    Milestone.objects.create(account=account, key="first_stream_event", due=date(2026, 4, 30))
    [inp] = build_inputs(day, [account.pk])
    assert (inp.milestones_due, inp.milestones_on_time) == (2, 1)
