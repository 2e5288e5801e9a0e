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


# The columns an account answers with: plain rows, not model instances with three related
# users each (a whole book is thousands of accounts).
FIELDS = (
    "external_id",
    "name",
    "segment",
    "tier",
    "current_plan",
    "current_arr",
    "current_commit",
    "renewal_date",
    "seats",
    "csm__email",
    "ae__email",
    "se__email",
)


def _out(row: dict) -> dict:
    return {
        "external_id": row["external_id"],
        "name": row["name"],
        "segment": row["segment"],
        "tier": row["tier"],
        "plan": row["current_plan"],
        "arr": _money(row["current_arr"]),
        "commit_units": _money(row["current_commit"]),
        "renewal_date": row["renewal_date"],
        "csm": row["csm__email"],
        "ae": row["ae__email"],
        "se": row["se__email"],
        "seats": row["seats"],
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
    # The sort keys ride along: ordering by an annotation left out of values() breaks on
    # PostgreSQL when it is a constant (an unscored book ranks every account alike).
    rows = selectors.book_accounts(filters=filters, user=request.user).values(
        *FIELDS, "band_rank", "score_change_7d", "health_score"
    )
    return [_out(row) for row in rows]


@router.get("/accounts/{external_id}", response=AccountOut)
def account_get(request: HttpRequest, external_id: str):
    row = selectors.account_row(external_id=external_id, fields=FIELDS)
    if row is None:
        raise HttpError(404, f"no account '{external_id}'")
    return _out(row)
