"""Themes: ARR of distinct accounts split into at risk and to win, the status workflow with its
history, shipping (one tell per account), closing the loop, the outcome report, and product's
merge, split and move."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from cs_portal import clock
from expansion.models import Stage
from playbooks.models import Nudge, Task
from tests.factories import (
    FeedbackItemFactory,
    HealthSnapshotFactory,
    OpportunityFactory,
    ThemeFactory,
)
from tests.voc.conftest import failed, import_usage, used
from voc import rules, selectors, services
from voc.models import FeedbackItem, LoopTell, Theme, ThemeEvent


def row_of(theme: Theme) -> selectors.ThemeRow:
    return selectors.theme_row(theme)


@pytest.fixture
def solana(book) -> Theme:
    """A Solana coverage-gap theme: acme with three items, globex with one."""
    theme = ThemeFactory(key="coverage-gap-solana", title="Coverage gap: Solana", chain="solana")
    for n in range(3):
        FeedbackItemFactory(account=book["acme"], theme=theme, title=f"acme asks {n}")
    FeedbackItemFactory(account=book["globex"], theme=theme, severity="high")
    return theme


def test_a_themes_arr_counts_each_distinct_account_once(solana):
    row = row_of(solana)

    assert (row.accounts, row.items, row.arr) == (2, 4, Decimal(350_000))  # 100k + 250k


def test_arr_at_risk_is_red_yellow_or_renewing_and_to_win_is_open_dependent_expansion(
    solana, book, as_of
):
    HealthSnapshotFactory(account=book["acme"], date=as_of, band="yellow", score=55)
    HealthSnapshotFactory(account=book["globex"], date=as_of, band="green", score=80)
    assert row_of(solana).arr_at_risk == Decimal(100_000)  # acme is yellow, globex green

    # globex renewing within 180 days puts its ARR at risk too.
    globex = book["globex"]
    globex.contracts.update(end=clock.today() + timedelta(days=120))
    assert row_of(solana).arr_at_risk == Decimal(350_000)

    def opp(account, target, arr, **kw):
        return OpportunityFactory(
            account=account, kind="breadth", target=target, arr_potential=Decimal(arr), **kw
        )

    opp(book["acme"], "solana", 15_000)  # depends on the theme's chain
    opp(globex, "solana.dex.trades", 7_000)  # a dataset on that chain
    opp(globex, "ton", 9_000)  # another chain
    opp(book["acme"], "solana.nfts.trades", 4_000, stage=Stage.LOST)  # not open
    opp(book["initech"], "solana", 3_000)  # not an account of the theme
    assert row_of(solana).arr_to_win == Decimal(22_000)


def test_the_workflow_records_who_moved_it_and_when(solana, pat):
    for to in ("triaged", "planned", "in_progress"):
        services.theme_status_change(theme=solana, to=to, by=pat)

    moves = list(ThemeEvent.objects.filter(theme=solana).values_list("from_status", "to_status"))
    assert moves == [("new", "triaged"), ("triaged", "planned"), ("planned", "in_progress")]
    assert set(ThemeEvent.objects.values_list("by", flat=True)) == {pat.pk}
    with pytest.raises(rules.TransitionError, match="cannot move to loop_closed"):
        services.theme_status_change(theme=solana, to="loop_closed", by=pat)


def test_declining_needs_a_reason_and_a_declined_theme_can_reopen(solana, pat):
    with pytest.raises(rules.TransitionError, match="say why"):
        services.theme_status_change(theme=solana, to="declined", by=pat)
    solana.refresh_from_db()
    assert solana.status == "new" and not ThemeEvent.objects.exists()

    services.theme_status_change(theme=solana, to="declined", by=pat, reason="Not on the roadmap")
    solana.refresh_from_db()
    assert (solana.status, solana.declined_reason) == ("declined", "Not on the roadmap")
    with pytest.raises(rules.TransitionError):
        services.theme_status_change(theme=solana, to="shipped", by=pat)
    services.theme_status_change(theme=solana, to="triaged", by=pat)
    assert Theme.objects.get(pk=solana.pk).status == "triaged"


def test_shipping_tells_each_account_exactly_once_and_the_loop_closes_when_all_are_told(
    solana, book, pat, alice, bob
):
    FeedbackItemFactory(account=book["initech"], theme=solana)  # tier 3

    services.theme_status_change(theme=solana, to="shipped", by=pat)

    tasks = Task.objects.order_by("account__external_id")
    assert [(t.account.external_id, t.owner) for t in tasks] == [("acme", alice), ("globex", bob)]
    assert tasks[0].title == "Tell Acme Analytics: Coverage gap: Solana shipped"
    nudge = Nudge.objects.get()
    assert (nudge.account, nudge.kind, nudge.key) == (
        book["initech"],
        "feedback_shipped",
        solana.key,
    )
    assert LoopTell.objects.count() == 3
    solana.refresh_from_db()
    assert solana.shipped_on == clock.today()
    # Sending again (a retry, a second click) tells nobody twice.
    assert services.tells_send(theme=solana) == []
    assert (Task.objects.count(), Nudge.objects.count()) == (2, 1)

    with pytest.raises(rules.TransitionError, match="2 accounts are still to be told"):
        services.theme_status_change(theme=solana, to="loop_closed", by=pat)
    assert services.themes_close_loops() == []

    tasks.update(status="done")
    assert services.themes_close_loops() == [solana]
    solana.refresh_from_db()
    assert solana.status == "loop_closed"
    last = ThemeEvent.objects.filter(theme=solana, kind="status").last()
    assert (last.to_status, last.by, last.note) == ("loop_closed", None, "every account was told")


def test_the_outcome_report_says_who_usage_shows_unblocked(solana, book, pat, as_of):
    """acme failed on Solana before and uses it since: unblocked. globex still fails."""
    ship = as_of - timedelta(days=5)
    before = ship - timedelta(days=3)
    rows = [failed(a, before, 8, chain="solana") for a in ("acme", "globex")]
    rows += [used("acme", ship + timedelta(days=n), 500, chain="solana") for n in range(3)]
    rows += [failed("globex", ship + timedelta(days=1), 4, chain="solana")]
    rows += [failed("acme", ship + timedelta(days=1), 6, reason="timeout", chain="solana")]
    import_usage(rows)
    Theme.objects.filter(pk=solana.pk).update(status="shipped", shipped_on=ship)
    OpportunityFactory(
        account=book["acme"],
        kind="breadth",
        target="solana",
        stage=Stage.WON,
        won_arr=Decimal(12_000),
        closed_on=ship + timedelta(days=2),
    )
    OpportunityFactory(
        account=book["acme"],
        kind="seats",
        stage=Stage.WON,
        won_arr=Decimal(5_000),
        closed_on=ship - timedelta(days=30),
    )  # won before it shipped

    outcome = selectors.outcome_report(Theme.objects.get(pk=solana.pk))

    verdicts = {
        r.info.external_id: (r.verdict, r.failures_after, r.used_after) for r in outcome.rows
    }
    assert verdicts == {"acme": ("unblocked", 0, 1500), "globex": ("still_failing", 4, 0)}
    assert (outcome.unblocked_arr, outcome.won) == (Decimal(100_000), Decimal(12_000))


def test_an_outcome_with_nobody_unblocked_says_so(solana, pat, client, as_of):
    Theme.objects.filter(pk=solana.pk).update(status="shipped", shipped_on=as_of)
    client.force_login(pat)

    page = client.get(f"/voc/themes/{solana.key}/").content.decode()

    assert "usage shows no account unblocked yet" in page


def test_merge_split_and_move_keep_every_item_and_the_history(solana, book, pat):
    ton = ThemeFactory(key="coverage-gap-ton", title="TON", chain="ton")
    FeedbackItemFactory(account=book["initech"], theme=ton)

    services.themes_merge(source=ton, target=solana, by=pat)
    assert FeedbackItem.objects.filter(theme=solana).count() == 5
    # New TON items follow the merge.
    routed = services.themes_route({("coverage_gap", "ton", "")})
    assert routed[("coverage_gap", "ton", "")] == solana
    assert ton.key not in {
        r.theme.key for r in selectors.themes_overview(filters=selectors.ThemeFilters())
    }

    acme_items = list(solana.items.filter(account=book["acme"]).values_list("pk", flat=True))
    new = services.theme_split(
        theme=solana, item_ids=acme_items, title="Solana DEX decoding", by=pat
    )
    assert (new.key, new.chain, new.items.count()) == ("solana-dex-decoding", "solana", 3)
    assert row_of(solana).accounts == 2  # globex and initech

    moved = services.items_move(item_ids=acme_items[:1], source=new, target=solana, by=pat)
    assert moved == 1 and row_of(new).items == 2
    kinds = list(ThemeEvent.objects.filter(theme=solana).values_list("kind", flat=True))
    assert kinds == ["merge", "split", "move"]


def test_items_keep_the_arr_they_were_logged_with(book, alice, as_of):
    acme = book["acme"]
    item = services.feedback_log(
        account=acme,
        on=as_of,
        type="docs",
        severity="low",
        title="Docs on decoded logs",
        by=alice,
    )
    acme.contracts.update(arr=Decimal(300_000))

    item.refresh_from_db()
    assert item.arr_at_log == Decimal(100_000) and item.tier_at_log == 2
    assert row_of(item.theme).arr == Decimal(300_000)  # the theme reads today's ARR
    assert item.theme.title == "Docs (untagged)"
