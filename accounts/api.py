from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.http import HttpRequest, QueryDict
from ninja import Router, Schema
from ninja.errors import HttpError

from . import selectors
from .forms import BookFilterForm

router = Router(tags=["accounts"])


class AccountOut(Schema):
    external_id: str
    name: str
    segment: str
    tier: int
    plan: str | None
    arr: Decimal
    commit_units: Decimal | None
    renewal_date: date | None
    csm: str | None
    ae: str | None
    se: str | None
    seats: int | None


CENTS = Decimal("0.01")


def _money(value: Decimal | None) -> Decimal | None:
    # SQLite sums decimals as floats and hands back unscaled values ("120000.5"); always answer
    # with cents, as PostgreSQL does, so clients see the same figure on either database.
    return None if value is None else Decimal(value).quantize(CENTS)


def _out(account) -> dict:
    return {
        "external_id": account.external_id,
        "name": account.name,
        "segment": account.segment,
        "tier": account.tier,
        "plan": account.current_plan,
        "arr": _money(account.current_arr),
        "commit_units": _money(account.current_commit),
        "renewal_date": account.renewal_date,
        "csm": account.csm.email if account.csm else None,
        "ae": account.ae.email if account.ae else None,
        "se": account.se.email if account.se else None,
        "seats": account.seats,
    }


@router.get("/accounts", response=list[AccountOut])
def accounts_list(
    request: HttpRequest,
    tier: str = "",
    segment: str = "",
    plan: str = "",
    csm: str = "",
    renewal: str = "",
    q: str = "",
    sort: str = "",
):
    """The book with the same filters as the browser (csm takes a user id, 'me' or 'none')."""
    params = {
        k: v
        for k, v in {
            "tier": tier,
            "segment": segment,
            "plan": plan,
            "csm": csm,
            "renewal": renewal,
            "q": q,
            "sort": sort,
        }.items()
        if v
    }

    query = QueryDict(mutable=True)
    query.update(params)
    query.setdefault("csm", "all")
    try:
        filters = BookFilterForm(query, user=request.user).filters()
    except selectors.FilterError as exc:
        raise HttpError(400, str(exc)) from None
    return [_out(a) for a in selectors.book_accounts(filters=filters, user=request.user)]


@router.get("/accounts/{external_id}", response=AccountOut)
def account_get(request: HttpRequest, external_id: str):
    account = selectors.account_detail(external_id=external_id)
    if account is None:
        raise HttpError(404, f"no account '{external_id}'")
    return _out(account)
