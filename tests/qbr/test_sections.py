"""Each section's numbers and sentence on the hand-built acme (see conftest), and what a bare
account's sections say is missing."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from accounts.models import Contract
from expansion.models import OpportunityKind
from qbr import rules
from qbr.selectors import assemble
from tests.factories import OpportunityFactory

pytestmark = pytest.mark.django_db


def _by_key(sections: list[dict]) -> dict[str, dict]:
    return {s["key"]: s for s in sections}


def _facts(section: dict) -> dict[str, str]:
    return {f["label"]: f["value"] for f in section["facts"]}


def _day(d) -> str:
    return f"{d:%b} {d.day}, {d.year}"


@pytest.fixture
def sections(acme_book, quarter) -> dict[str, dict]:
    return _by_key(assemble(account=acme_book, start=quarter.start, end=quarter.end))


def test_sections_come_in_the_default_order_with_the_health_line_hidden(sections):
    assert list(sections) == list(rules.SECTION_KEYS)
    assert [k for k, s in sections.items() if not s["visible"]] == ["health"]


def test_health_line_states_the_score_at_the_period_end(sections, quarter):
    health = sections["health"]
    assert health["sentence"] == f"Health green at 81 on {_day(quarter.end)} (internal score)."
    assert _facts(health) == {"Health score": "81", "Band": "green"}


def test_outcomes_quantify_roi_in_the_customers_currency(sections, quarter):
    outcomes = sections["outcomes"]
    in_period = 1000 * quarter.days  # EUR 365,000 a year is EUR 1,000 a day
    assert _facts(outcomes) == {
        "FTEs saved": "1.5",
        "Infra avoided per year": "€365,000",
        "Infra avoided this period": f"€{in_period:,}",
        "Sooner to market": "60 days",
        "Milestones reached": "2 of 3",
        "Time to value": f"not yet ({quarter.days - 1} days in)",
    }
    assert outcomes["sentence"] == (
        "Compliance dashboard on decoded Ethereum data. 1.5 FTE of in-house indexing saved "
        f"and €{in_period:,} of node and indexer spend avoided this period. 1 onboarding "
        "milestone reached this period."
    )
    assert outcomes["table"]["rows"] == [
        ["Compliance dashboard on decoded Ethereum data", "On track"],
        ["Retire the in-house indexer", "On track"],
    ]
    assert [row[0] for row in outcomes["extra_table"]["rows"]] == ["First query", "Value defined"]
    assert outcomes["missing"] == ""


def test_usage_pairs_each_product_and_chain_with_its_trend_and_workflow(sections, quarter):
    usage = sections["usage"]
    total = 100 * quarter.days
    assert _facts(usage) == {
        "Units this period": f"{total:,}",
        "Trend": "steady",
        "Chains used": "1",
    }
    flow = "Compliance dashboard on decoded Ethereum data"
    assert usage["table"]["rows"] == [
        ["Developer API", f"{total:,}", "steady", flow],
        ["Ethereum", f"{total:,}", "steady", flow],
    ]
    weekly, by_chain = usage["charts"]
    assert weekly["kind"] == "line"
    weeks = quarter.days // 7
    assert weekly["series"] == [{"name": "Developer API", "values": [700.0] * weeks}]
    assert weekly["categories"][-1] == f"{quarter.end - timedelta(days=6):%b} " + str(
        (quarter.end - timedelta(days=6)).day
    )
    assert by_chain["categories"] == ["Ethereum"]
    assert by_chain["series"][0]["values"] == [float(total)]
    assert usage["sentence"] == (
        f"{total:,} units consumed this period across 1 chain, steady from the first half to "
        "the second. Ethereum leads, powering: compliance dashboard on decoded Ethereum data."
    )


def test_untapped_value_names_lapsed_use_and_what_similar_accounts_use(sections):
    untapped = sections["untapped"]
    assert untapped["table"]["rows"] == [
        ["Dataset", "base.raw.transactions", "Used before this period, not in it", ""],
        ["Dataset", "solana.dex.trades", "Similar accounts use it", "2 of 3"],
        ["Chain", "Base", "Used before this period, not in it", ""],
        ["Chain", "Solana", "Similar accounts use it", "2 of 3"],
        ["Chain", "Polygon", "Similar accounts use it", "1 of 3"],
    ]
    assert _facts(untapped) == {
        "Similar accounts": "3",
        "Lapsed datasets and chains": "2",
        "Used by peers, not here": "3",
    }
    assert untapped["sentence"] == (
        "Similar accounts get value from solana.dex.trades (2 of 3) and Solana (2 of 3), which "
        "you do not use yet; you stopped using base.raw.transactions and Base this period."
    )
    chart = untapped["charts"][0]
    assert chart["categories"] == ["Solana", "solana.dex.trades", "Polygon"]
    assert chart["series"][0]["values"] == [2, 2, 1]


def test_similar_accounts_are_read_in_a_fixed_number_of_queries(
    acme_book, quarter, django_assert_max_num_queries
):
    from qbr.selectors import Context, untapped_section

    ctx = Context(acme_book, quarter.start, quarter.end, quarter.end, [], None)
    ctx.account.current_plan = "developer"
    with django_assert_max_num_queries(7):
        untapped_section(ctx)


def test_commit_under_pace_drafts_a_joint_adoption_plan(sections, quarter):
    commit = sections["commit"]
    consumed = 100 * quarter.days
    renews = quarter.start + timedelta(days=364)
    assert commit["verdict"] == "under"
    assert _facts(commit) == {
        "Commit": "100,000 units",
        "Consumed": f"{consumed:,} ({consumed / 1000:.0f}%)",
        "Run-rate at contract end": "36,500 (36%)",  # 100 a day for the contract's 365 days
        "Pace": "Under pace",
    }
    assert commit["sentence"].startswith(
        f"You have used {consumed / 1000:.0f}% of your commit; at this run-rate you reach 36% "
        f"by {_day(renews)}. We propose a joint adoption plan"
    )
    chart = commit["charts"][0]
    assert [s["name"] for s in chart["series"]] == [
        "Consumed",
        "Commit, pro rata",
        "Run-rate projection",
    ]
    consumed_series = chart["series"][0]["values"]
    assert consumed_series[:3] == [100.0, 800.0, 1500.0]  # cumulative on days 1, 8 and 15
    assert consumed_series[-1] is None  # the contract's end is after the period
    assert chart["series"][2]["values"][-1] == 36_500.0
    assert commit["link"] is None
    assert sections["next_steps"]["sentence"].startswith("A joint adoption plan")


def test_commit_over_pace_frames_the_upsize_and_links_the_open_opportunity(acme_book, quarter):
    Contract.objects.filter(account=acme_book).update(commit_units=Decimal(20_000))
    OpportunityFactory(
        account=acme_book, kind=OpportunityKind.COMMIT_UPSIZE, target="commit", thesis="Upsize"
    )
    commit = _by_key(assemble(account=acme_book, start=quarter.start, end=quarter.end))["commit"]
    assert commit["verdict"] == "over"
    assert "Let us size the next commit now" in commit["sentence"]
    assert commit["link"] == {
        "label": "Open commit upsize: Upsize",
        "url": f"/accounts/{acme_book.external_id}/expansion/",
    }


def test_roadmap_closes_the_loop_on_what_they_asked_for(sections, quarter):
    roadmap = sections["roadmap"]
    asked, shipped = quarter.start - timedelta(days=60), quarter.start + timedelta(days=40)
    assert roadmap["sentence"] == (
        f"You asked for Solana DEX trades in {asked:%B %Y}; shipped in {shipped:%B %Y}."
    )
    assert roadmap["table"]["rows"] == [
        [_day(quarter.start + timedelta(days=3)), "Polygon lending", "Planned", ""],
        [_day(asked), "Solana DEX trades", "Shipped", _day(shipped)],
    ]
    assert _facts(roadmap) == {"Requests": "2", "Shipped": "1"}


def test_a_bare_account_says_what_is_missing_and_how_to_add_it(bare, quarter):
    sections = _by_key(assemble(account=bare, start=quarter.start, end=quarter.end))
    assert "No success plan yet" in sections["outcomes"]["missing"]
    assert "Success plan tab" in sections["outcomes"]["missing"]
    assert "No usage recorded in this period" in sections["usage"]["missing"]
    assert "No commit on the contract" in sections["commit"]["missing"]
    assert "add commit_units to the contract" in sections["commit"]["missing"].lower()
    assert "No feedback logged for this account yet" in sections["roadmap"]["missing"]
    assert "Feedback tab" in sections["roadmap"]["missing"]
    assert "no similar accounts" in sections["untapped"]["missing"]
    assert "No health score" in sections["health"]["missing"]
    for s in sections.values():
        # never a blank section: a sentence, or what is missing
        assert s["sentence"] or s["missing"], s["key"]


def test_layout_applies_sentences_visibility_and_order():
    sections = [rules.section(k, sentence=f"about {k}") for k in rules.SECTION_KEYS]
    layout = rules.layout_move({}, "roadmap", -1)
    layout["visible"]["health"] = True
    layout["sentences"]["usage"] = "Edited."
    out = rules.layout_apply(sections, layout)
    assert [s["key"] for s in out] == [
        "health",
        "outcomes",
        "usage",
        "untapped",
        "roadmap",
        "commit",
        "next_steps",
    ]
    assert out[0]["visible"] is True
    assert out[2]["sentence"] == "Edited."
    assert out[2]["default_sentence"] == "about usage"


def test_last_full_quarter_and_its_label():
    from datetime import date

    assert rules.last_full_quarter(date(2026, 11, 30)) == (date(2026, 7, 1), date(2026, 9, 30))
    assert rules.last_full_quarter(date(2026, 1, 1)) == (date(2025, 10, 1), date(2025, 12, 31))
    assert rules.period_label(date(2026, 7, 1), date(2026, 9, 30)) == "Q3 2026"
    assert rules.period_label(date(2026, 7, 1), date(2026, 8, 14)) == "Jul 1 – Aug 14, 2026"
