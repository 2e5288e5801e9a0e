"""Retention for integrations: the same figures the cockpit shows."""

from __future__ import annotations

from datetime import date

from django.http import HttpRequest
from ninja import Router, Schema
from ninja.errors import HttpError

from .forms import RetentionForm
from .selectors import retention_figures

router = Router(tags=["metrics"])
RATIO_PLACES = 6


class RetentionOut(Schema):
    as_of: date
    basis: str
    nrr: float | None
    grr: float | None
    starting_arr: float
    ending_arr: float
    expansion: float
    contraction: float
    churn: float
    cohort_accounts: int


@router.get("/metrics/retention", response=RetentionOut)
def metrics_retention(request: HttpRequest, as_of: str = "", basis: str = ""):
    """Trailing-12-month NRR and GRR as of a day (default today) on the contract basis (ARR of
    active contracts) or the consumption basis (units × the contract's unit price). Ratios are
    fractions (1.08 = 108 %); money in USD. The cohort is the accounts with ARR (or
    consumption) a year before; new logos are excluded, churned accounts count at zero.
    Managers and admins get the whole book; anyone else the accounts they are the CSM of."""
    form = RetentionForm({"as_of": as_of, "basis": basis})
    if problem := form.problem():
        raise HttpError(400, problem)
    f = retention_figures(
        user=request.user, as_of=form.cleaned_data["as_of"], basis=form.cleaned_data["basis"]
    )
    return {
        "as_of": f.as_of,
        "basis": f.basis,
        "nrr": None if f.nrr is None else round(float(f.nrr), RATIO_PLACES),
        "grr": None if f.grr is None else round(float(f.grr), RATIO_PLACES),
        "starting_arr": float(f.starting_arr),
        "ending_arr": float(f.ending_arr),
        "expansion": float(f.expansion),
        "contraction": float(f.contraction),
        "churn": float(f.churn),
        "cohort_accounts": f.cohort_accounts,
    }
