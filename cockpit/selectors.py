"""Reads for the cockpit's panels and the retention endpoint. Each panel is a few set-based
queries over the book (or one CSM's book); nothing runs a query per account."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from accounts.models import Account, User
from accounts.permissions import sees_whole_team

from .retention import retention_as_of
from .rules import Retention


def book_ids(*, user: User) -> list[int] | None:
    """The accounts whose figures `user` sees: None (the whole book) for managers and admins,
    otherwise the accounts they are the CSM of."""
    if sees_whole_team(user):
        return None
    return list(Account.objects.filter(csm=user).order_by().values_list("pk", flat=True))


@dataclass
class RetentionFigures:
    as_of: date
    basis: str
    nrr: Decimal | None
    grr: Decimal | None
    starting_arr: Decimal
    ending_arr: Decimal
    expansion: Decimal
    contraction: Decimal
    churn: Decimal
    cohort_accounts: int


def retention_figures(*, user: User, as_of: date, basis: str) -> RetentionFigures:
    """The endpoint's answer: trailing-12-month retention as of a day on one basis."""
    r: Retention = retention_as_of(as_of=as_of, basis=basis, account_ids=book_ids(user=user))
    return RetentionFigures(
        as_of=as_of,
        basis=basis,
        nrr=r.nrr,
        grr=r.grr,
        starting_arr=r.starting,
        ending_arr=r.ending,
        expansion=r.expansion,
        contraction=r.contraction,
        churn=r.churn,
        cohort_accounts=r.cohort_accounts,
    )
