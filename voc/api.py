"""The voice of the customer over the JSON API: the ARR-weighted theme list and one theme with
its accounts and items. Token auth comes from the project's NinjaAPI, as for every router."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.http import HttpRequest
from ninja import Router, Schema
from ninja.errors import HttpError

from . import selectors
from .forms import ThemeFilterForm

router = Router(tags=["voc"])
CENTS = Decimal("0.01")


class ThemeOut(Schema):
    key: str
    title: str
    type: str
    chain: str
    dataset: str
    accounts: int
    arr: Decimal
    arr_at_risk: Decimal
    arr_to_win: Decimal
    items: int
    status: str
    last_activity: date | None


class ThemeAccountOut(Schema):
    external_id: str
    name: str
    tier: int
    segment: str
    band: str | None
    arr: Decimal
    renewal: date | None
    at_risk: bool
    severity: str
    items: int


class ItemOut(Schema):
    id: int
    account: str
    date: date
    type: str
    severity: str
    title: str
    detail: str
    chain: str
    dataset: str
    source: str
    failures: int
    first_seen: date | None
    last_seen: date | None
    arr_at_log: Decimal
    tier_at_log: int | None
    band_at_log: str


class ThemeDetailOut(ThemeOut):
    description: str
    declined_reason: str
    shipped_on: date | None
    accounts_detail: list[ThemeAccountOut]
    items_detail: list[ItemOut]


def _money(value) -> Decimal:
    return Decimal(value).quantize(CENTS)


def _theme(row: selectors.ThemeRow) -> dict:
    t = row.theme
    return {
        "key": t.key,
        "title": t.title,
        "type": t.type,
        "chain": t.chain,
        "dataset": t.dataset,
        "accounts": row.accounts,
        "arr": _money(row.arr),
        "arr_at_risk": _money(row.arr_at_risk),
        "arr_to_win": _money(row.arr_to_win),
        "items": row.items,
        "status": t.status,
        "last_activity": row.last_activity,
    }


@router.get("/voc/themes", response=list[ThemeOut])
def themes(
    request: HttpRequest,
    type: str = "",
    chain: str = "",
    dataset: str = "",
    status: str = "",
    segment: str = "",
    tier: str = "",
    source: str = "",
    sort: str = "-arr",
):
    """Themes with the ARR of their distinct accounts, split into ARR at risk (accounts red or
    yellow, or renewing within 180 days) and ARR to win (open breadth opportunities on those
    accounts that depend on the theme's chain or dataset). Filters: type, chain, dataset,
    status, segment (also tier and source, which narrow the items each theme counts); sort by
    arr, arr_at_risk, arr_to_win, accounts, items, last_activity or title (`-` for descending)."""
    form = ThemeFilterForm(
        {
            "type": type,
            "chain": chain,
            "dataset": dataset,
            "status": status,
            "segment": segment,
            "tier": tier,
            "source": source,
            "sort": sort,
        }
    )
    form.is_valid()
    if problems := form.problems():
        raise HttpError(400, "; ".join(problems))
    return [_theme(r) for r in selectors.themes_overview(filters=form.filters())]


@router.get("/voc/themes/{key}", response=ThemeDetailOut)
def theme(request: HttpRequest, key: str):
    """One theme with its accounts (current ARR, band, renewal, highest severity) and items
    (with the account's ARR, tier and band when each was logged)."""
    found = selectors.Theme.objects.filter(key=key).first() if "\x00" not in key else None
    if found is None:
        raise HttpError(404, f"no theme '{key}'")
    accounts, items = selectors.theme_accounts(found)
    out = _theme(selectors.theme_row(found))
    out.update(
        description=found.description,
        declined_reason=found.declined_reason,
        shipped_on=found.shipped_on,
        accounts_detail=[
            {
                "external_id": a.info.external_id,
                "name": a.info.name,
                "tier": a.info.tier,
                "segment": a.info.segment,
                "band": a.info.band or None,
                "arr": _money(a.info.arr),
                "renewal": a.info.renewal,
                "at_risk": a.info.at_risk,
                "severity": a.severity,
                "items": len(a.items),
            }
            for a in accounts
        ],
        items_detail=[
            {
                "id": i.pk,
                "account": i.account.external_id,
                "date": i.date,
                "type": i.type,
                "severity": i.severity,
                "title": i.title,
                "detail": i.detail,
                "chain": i.chain,
                "dataset": i.dataset,
                "source": i.source,
                "failures": i.failures,
                "first_seen": i.first_seen,
                "last_seen": i.last_seen,
                "arr_at_log": _money(i.arr_at_log),
                "tier_at_log": i.tier_at_log,
                "band_at_log": i.band_at_log,
            }
            for i in items
        ],
    )
    return out
