"""NRR and GRR on both bases, checked to the cent against the hand calculation in conftest."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from cockpit.retention import CONSUMPTION, CONTRACT, retention_as_of, retention_trend
from cockpit.rules import (
    CHURN,
    CONTRACTION,
    EXPANSION,
    FLAT,
    ContractTerm,
    arr_on,
    classify,
    month_ends,
    price_periods,
    retention,
)
from tests.cockpit.conftest import AS_OF

D = Decimal


def test_rules_on_plain_numbers():
    r = retention(
        {1: D("100"), 2: D("50"), 3: D("40"), 4: D("0")}, {1: D("120"), 3: D("10"), 5: D("999")}
    )
    assert (r.starting, r.ending) == (D("190.00"), D("130.00"))
    assert (r.expansion, r.contraction, r.churn) == (D("20.00"), D("30.00"), D("50.00"))
    assert r.cohort_accounts == 3  # account 4 had nothing, 5 is a new logo
    assert r.nrr == D("130") / D("190")
    assert r.grr == D("110") / D("190")


def test_classify_by_endpoints_only():
    assert classify(D(10), D(11)) == EXPANSION
    assert classify(D(10), D(9)) == CONTRACTION
    assert classify(D(10), D(0)) == CHURN
    assert classify(D(10), D(10)) == FLAT


def test_grr_never_exceeds_one_and_empty_cohort_has_no_ratio():
    assert retention({1: D(10)}, {1: D(1000)}).grr == 1
    empty = retention({}, {1: D(5)})
    assert empty.nrr is None and empty.grr is None and empty.cohort_accounts == 0


def test_arr_on_sums_active_contracts_and_price_periods_do_not_overlap():
    terms = [
        ContractTerm(1, date(2025, 1, 1), date(2025, 12, 31), D(100), D(1000)),
        ContractTerm(1, date(2025, 6, 1), date(2026, 5, 31), D(300), None),
    ]
    assert arr_on(terms, date(2025, 7, 1)) == {1: D(400)}
    assert arr_on(terms, date(2026, 7, 1)) == {}
    assert ContractTerm(2, date(2025, 1, 1), date(2025, 12, 31), D(0), None).unit_price == 0
    assert price_periods(terms) == [
        (1, date(2025, 1, 1), date(2025, 5, 31), D("0.1")),
        (1, date(2025, 6, 1), date(2026, 5, 31), D(1)),
    ]


def test_month_ends_are_labelled_by_month_and_end_on_the_day():
    days = month_ends(date(2026, 3, 15), months=4)
    assert days == [date(2025, 12, 31), date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 15)]


@pytest.mark.django_db
def test_contract_retention_to_the_cent(contract_cohort):
    r = retention_as_of(as_of=AS_OF, basis=CONTRACT, account_ids=None)
    assert r.starting == D("265000.00")  # 100,000 + 80,000 + 50,000 + 20,000 + 15,000
    assert r.ending == D("230000.75")  # 130,000.50 + 60,000.25 + 0 + 25,000 + 15,000
    assert r.expansion == D("35000.50")  # 30,000.50 + 5,000
    assert r.contraction == D("19999.75")
    assert r.churn == D("50000.00")
    assert r.cohort_accounts == 5
    assert round(r.nrr, 6) == D("0.867927")  # 230,000.75 / 265,000
    assert round(r.grr, 6) == D("0.735850")  # 195,000.25 / 265,000
    names = {contract_cohort[n].pk: n for n in contract_cohort}
    kinds = {names[m.account_id]: m.kind for m in r.movements}
    assert kinds == {
        "expands": EXPANSION,
        "shrinks": CONTRACTION,
        "churns": CHURN,
        "reactivates": EXPANSION,
        "stacked": FLAT,
    }


@pytest.mark.django_db
def test_contract_retention_of_one_book(contract_cohort, alice):
    mine = [contract_cohort[n].pk for n in ("expands", "shrinks", "churns")]
    r = retention_as_of(as_of=AS_OF, basis=CONTRACT, account_ids=mine)
    assert (r.starting, r.ending) == (D("230000.00"), D("190000.75"))
    assert (r.expansion, r.contraction, r.churn) == (D("30000.50"), D("19999.75"), D("50000.00"))


@pytest.mark.django_db
def test_consumption_retention_to_the_cent(consumption_cohort):
    r = retention_as_of(as_of=AS_OF, basis=CONSUMPTION, account_ids=None)
    assert r.starting == D("83000.00")  # 50,000 + 3,000 + 20,000 + 10,000
    assert r.ending == D("96000.50")  # 80,000 + 1,000.50 + 0 + 15,000
    assert r.expansion == D("35000.00")  # 30,000 (metered) + 5,000 (repriced)
    assert r.contraction == D("1999.50")
    assert r.churn == D("20000.00")
    assert r.cohort_accounts == 4  # fresh is a new logo
    assert round(r.nrr, 6) == D("1.156633")  # 96,000.50 / 83,000
    assert round(r.grr, 6) == D("0.734946")  # 61,000.50 / 83,000


@pytest.mark.django_db
def test_trend_measures_each_month_end_with_the_same_rule(contract_cohort, consumption_cohort):
    points = retention_trend(as_of=AS_OF, account_ids=None)
    assert [p.as_of for p in points][-2:] == [date(2026, 5, 31), AS_OF]
    assert len(points) == 12
    last = points[-1]
    assert last.contract.starting == D("265000.00") + D("120000.00") + D("10000.00") + D(
        "36000.00"
    ) + D("50000.00")
    assert last.consumption.ending == D("96000.50")


@pytest.mark.django_db
def test_figures_are_cached_until_the_contracts_change(
    contract_cohort, maya, django_assert_num_queries
):
    from cockpit.selectors import retention_figures
    from tests.factories import ContractFactory

    first = retention_figures(user=maya, as_of=AS_OF, basis=CONTRACT)
    with django_assert_num_queries(2):  # the data version: contracts and the usage watermark
        again = retention_figures(user=maya, as_of=AS_OF, basis=CONTRACT)
    assert again == first
    ContractFactory(
        account=contract_cohort["newlogo"],
        start=date(2025, 1, 1),
        end=date(2025, 12, 31),
        arr=D("10000.00"),
    )
    later = retention_figures(user=maya, as_of=AS_OF, basis=CONTRACT)
    assert later.starting_arr == D("275000.00") and later.cohort_accounts == 6


@pytest.mark.django_db
def test_no_consumption_figure_while_usage_does_not_cover_the_base_year(consumption_cohort):
    from tests.factories import UsageDayFactory

    UsageDayFactory(date=date(2024, 7, 2))  # the base year starts on 1 July 2024: a day short
    assert retention_as_of(as_of=AS_OF, basis=CONSUMPTION, account_ids=None).cohort_accounts == 0
    UsageDayFactory(date=date(2024, 7, 1))
    r = retention_as_of(as_of=AS_OF, basis=CONSUMPTION, account_ids=None)
    assert (r.cohort_accounts, r.starting) == (4, D("83000.00"))
