"""Rows for the plays, My work, playbook editor and plays API tests: alerts as alerts_raise
stores them, playbooks, tasks and plays by hand, and the default sharp-drop steps."""

from __future__ import annotations

from datetime import date, timedelta

from playbooks.models import Alert, AlertKind, Play, Playbook, PlaybookStep, Task

SHARP_DROP_TITLES = [
    "Call the data engineer: is a pipeline broken, paused or being rebuilt in-house?",
    "Check their pipelines for failed loads, schema changes and failed queries",
    "Send the exec sponsor a note: what we saw, what we found, what happens next",
    "Confirm usage is back to its 28-day level or agree a recovery plan",
]
SHARP_DROP_DAYS = [0, 1, 2, 7]


_seq = iter(range(1, 10**6))


def alert_for(
    account, kind: str, *, key: str | None = None, as_of: date | None = None, **data
) -> Alert:
    """An alert row as alerts_raise stores it; `data` is what the trigger details read."""
    as_of = as_of or date.today() - timedelta(days=1)
    return Alert.objects.create(
        account=account,
        kind=kind,
        key=key or f"{as_of}:{next(_seq)}",
        as_of=as_of,
        title=f"{account.name}: {kind}",
        detail="numbers",
        data=data,
        owner=account.csm,
    )


def override(account, name: str, **kw) -> Alert:
    return alert_for(account, AlertKind.OVERRIDE, override=name, band="red", **kw)


def playbook(
    key: str, *, trigger: str, tiers=(), owner_rule="csm", steps=(("Do it", 0),), active=True
) -> Playbook:
    book = Playbook.objects.create(
        key=key,
        name=key.replace("-", " ").title(),
        trigger=trigger,
        tiers=list(tiers),
        owner_rule=owner_rule,
        active=active,
    )
    PlaybookStep.objects.bulk_create(
        [
            PlaybookStep(playbook=book, order=i, title=title, due_days=due)
            for i, (title, due) in enumerate(steps, start=1)
        ]
    )
    return book


def task(
    account, title: str, *, due: date, owner=None, pool: str = "", play: Play | None = None, **extra
) -> Task:
    return Task.objects.create(
        account=account, title=title, due=due, owner=owner, pool=pool, play=play, **extra
    )
