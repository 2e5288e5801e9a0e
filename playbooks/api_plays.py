"""The plays endpoint of the JSON API: one account's plays with their tasks."""

from __future__ import annotations

from datetime import date, datetime

from django.http import HttpRequest
from ninja import Router, Schema
from ninja.errors import HttpError

from accounts.models import Account

from . import plays
from .models import PlayStatus

router = Router(tags=["plays"])


class TaskOut(Schema):
    title: str
    due: date
    status: str
    owner: str | None
    completed_at: datetime | None


class PlayOut(Schema):
    playbook: str
    name: str
    status: str
    owner: str | None
    pool: str
    started_on: date
    closed_reason: str
    tasks: list[TaskOut]


@router.get("/accounts/{external_id}/plays", response=list[PlayOut])
def account_plays(request: HttpRequest, external_id: str, status: str = ""):
    """The account's plays, newest first, each with its tasks in due order. `owner` is the
    owner's email, or null while the play waits in `pool` (tier2, tier3). A play whose alert
    cleared before any task was done is `cleared`, with the reason in `closed_reason`, and its
    unfinished tasks `cancelled`. Filter with `?status=open|done|cancelled|cleared`."""
    if status and status not in PlayStatus.values:
        raise HttpError(
            400, f"status must be one of {', '.join(PlayStatus.values)}, not '{status}'"
        )
    account = (
        Account.objects.filter(external_id=external_id).first()
        if "\x00" not in external_id
        else None
    )
    if account is None:
        raise HttpError(404, f"no account '{external_id}'")
    return [
        {
            "playbook": p.playbook.key,
            "name": p.playbook.name,
            "status": p.status,
            "owner": p.owner.email if p.owner else None,
            "pool": p.pool,
            "started_on": p.started_on,
            "closed_reason": p.closed_reason,
            "tasks": [
                {
                    "title": t.title,
                    "due": t.due,
                    "status": t.status,
                    "owner": t.owner.email if t.owner else None,
                    "completed_at": t.completed_at,
                }
                for t in p.tasks.all()
            ],
        }
        for p in plays.plays_for_api(account=account, status=status)
    ]
