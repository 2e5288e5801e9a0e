"""QBRs over the JSON API: an account's saved QBRs and one QBR's deck. Reads follow the
accounts' rule (every role with a token reads); token auth comes from the project's NinjaAPI."""

from __future__ import annotations

from datetime import date, datetime

from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema
from ninja.errors import HttpError

from accounts import selectors as account_selectors

from . import selectors
from .deck import CONTENT_TYPE, deck_bytes, deck_filename

router = Router(tags=["qbr"])


class PeriodOut(Schema):
    start: date
    end: date


class QbrOut(Schema):
    id: int
    period: PeriodOut
    status: str
    created_at: datetime
    held_on: date | None


@router.get("/accounts/{external_id}/qbrs", response=list[QbrOut])
def account_qbrs(request: HttpRequest, external_id: str):
    """The account's QBRs, latest period first: drafts, prepared (saved) and held ones."""
    account = account_selectors.account_detail(external_id=external_id)
    if account is None:
        raise HttpError(404, f"no account '{external_id}'")
    return [
        {
            "id": q.pk,
            "period": {"start": q.period_start, "end": q.period_end},
            "status": q.status,
            "created_at": q.created_at,
            "held_on": q.held_on,
        }
        for q in selectors.account_qbrs(account=account)
    ]


@router.get(
    "/qbrs/{int:qbr_id}.pptx",
    openapi_extra={
        "responses": {
            200: {
                "description": "The QBR as a 16:9 PowerPoint deck",
                "content": {CONTENT_TYPE: {"schema": {"type": "string", "format": "binary"}}},
            },
            404: {"description": "No such QBR"},
        }
    },
)
def qbr_deck(request: HttpRequest, qbr_id: int):
    """The QBR's deck (.pptx): rendered from its snapshot once saved, live while a draft."""
    qbr = selectors.qbr_for(pk=qbr_id)
    if qbr is None:
        raise HttpError(404, f"no QBR {qbr_id}")
    response = HttpResponse(deck_bytes(qbr), content_type=CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{deck_filename(qbr)}"'
    return response
