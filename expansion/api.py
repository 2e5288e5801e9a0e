"""The expansion app's part of the JSON API: list opportunities, move one along the pipeline."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest
from ninja import Router, Schema, Status
from ninja.errors import HttpError

from accounts.models import Account

from . import services
from .models import LostReason, Opportunity, OpportunityKind, Stage

router = Router()
MAX_LIMIT = 1000


class OpportunityOut(Schema):
    id: int
    account: str
    kind: str
    target: str
    thesis: str
    evidence: dict
    arr_potential: float
    stage: str
    won_arr: float | None
    lost_reason: str
    trigger_holds: bool
    owner: str | None
    ae: str | None
    created_at: datetime
    updated_at: datetime


class MoveIn(Schema):
    stage: str
    won_arr: float | None = None
    lost_reason: str = ""
    note: str = ""


class ErrorOut(Schema):
    detail: str


def _out(o: Opportunity) -> dict:
    return {
        "id": o.pk,
        "account": o.account.external_id,
        "kind": o.kind,
        "target": o.target,
        "thesis": o.thesis,
        "evidence": o.evidence,
        "arr_potential": float(o.arr_potential),
        "stage": o.stage,
        "won_arr": float(o.won_arr) if o.won_arr is not None else None,
        "lost_reason": o.lost_reason,
        "trigger_holds": o.trigger_holds,
        "owner": o.owner.email if o.owner else None,
        "ae": o.ae.email if o.ae else None,
        "created_at": o.created_at,
        "updated_at": o.updated_at,
    }


def _one_of(name: str, value: str, allowed: list[str]) -> None:
    if value not in allowed:
        raise HttpError(400, f"{name} must be one of {', '.join(allowed)}, not '{value}'")


@router.get(
    "/opportunities",
    response=list[OpportunityOut],
    tags=["expansion"],
    operation_id="expansion_api_opportunities",
)
def opportunities(request: HttpRequest, account: str = "", kind: str = "", stage: str = ""):
    """Expansion opportunities, largest ARR potential first (at most 1,000). Filters: account
    (external id), kind (commit_upsize, upgrade, breadth, seats), stage (identified, qualified,
    handed_off, won, lost)."""
    qs = Opportunity.objects.select_related("account", "owner", "ae")
    if account:
        found = Account.objects.filter(external_id=account).values_list("pk", flat=True).first()
        if found is None:
            raise HttpError(400, f"account '{account}' does not exist")
        qs = qs.filter(account_id=found)
    if kind:
        _one_of("kind", kind, OpportunityKind.values)
        qs = qs.filter(kind=kind)
    if stage:
        _one_of("stage", stage, Stage.values)
        qs = qs.filter(stage=stage)
    return [_out(o) for o in qs.order_by("-arr_potential", "id")[:MAX_LIMIT]]


@router.patch(
    "/opportunities/{opportunity_id}",
    response={200: OpportunityOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut},
    tags=["expansion"],
    operation_id="expansion_api_opportunity_move",
)
def opportunity_move(request: HttpRequest, opportunity_id: int, payload: MoveIn):
    """Move an opportunity to another stage (AEs and managers; a CSM on their own accounts).
    `won` needs `won_arr` (> 0), `lost` a `lost_reason` (budget, timing, competitor, no_need,
    other); handing off alerts the account's AE once."""
    opp = Opportunity.objects.select_related("account").filter(pk=opportunity_id).first()
    if opp is None:
        return Status(404, {"detail": f"no opportunity {opportunity_id}"})
    _one_of("stage", payload.stage, Stage.values)
    if payload.lost_reason:
        _one_of("lost_reason", payload.lost_reason, LostReason.values)
    if len(payload.note) > 300:
        raise HttpError(400, "note is longer than 300 characters")
    won = None
    if payload.won_arr is not None:
        if not 0 < payload.won_arr < 1e12:
            raise HttpError(400, "won_arr must be more than 0")
        won = Decimal(str(payload.won_arr)).quantize(Decimal("0.01"))
    try:
        moved = services.opportunity_move(
            opportunity=opp,
            to_stage=payload.stage,
            user=request.user,
            won_arr=won,
            lost_reason=payload.lost_reason,
            note=payload.note,
        )
    except PermissionDenied as exc:
        return Status(403, {"detail": str(exc)})
    except ValidationError as exc:
        return Status(400, {"detail": " ".join(exc.messages)})
    moved = Opportunity.objects.select_related("account", "owner", "ae").get(pk=moved.pk)
    return Status(200, _out(moved))
