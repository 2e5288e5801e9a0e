"""Start, cancel, claim and complete plays and tasks; save a playbook."""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import date, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from accounts.models import Account, User
from accounts.permissions import (
    can_edit_account,
    can_work_pools,
)
from cs_portal.clock import today
from playbooks.models import (
    Alert,
    OwnerRule,
    Play,
    Playbook,
    PlaybookStep,
    PlayStatus,
    Task,
    TaskStatus,
)

from .rules import (
    StepInput,
    owner_for,
    playbook_applies,
    playbook_key_problems,
    playbook_name_problems,
    playbook_tiers,
    steps_clean,
    task_can_work,
    tiers_clean,
    trigger_matches,
    trigger_normalise,
)
from .selectors import startable_playbooks

log = logging.getLogger(__name__)


# --- starting plays -------------------------------------------------------------------------


def _new_tasks(play: Play, steps: list[PlaybookStep]) -> list[Task]:
    return [
        Task(
            account_id=play.account_id,
            play=play,
            title=s.title,
            detail=s.detail,
            due=play.started_on + timedelta(days=s.due_days),
            owner_id=play.owner_id,
            pool=play.pool,
        )
        for s in steps
    ]


def plays_start_for_alerts(alerts: list[Alert]) -> list[Play]:
    """Start the plays these new alerts call for; returns the plays started.

    For each alert, every active playbook whose trigger matches it and whose tiers include the
    account's tier starts a play, owned per its owner rule, with one task per step due
    `due_days` after today. An account that already has an open play of that playbook gets
    nothing (nor do two alerts of one batch start it twice). Set-based: 7 queries plus a
    savepoint, whatever the number of alerts. Race-safe: the insert skips the rows the
    one-open-play constraint refuses (a play another worker started a moment ago), so the
    caller's transaction is never broken.
    """
    if not alerts:
        return []
    books = startable_playbooks()
    if not books:
        return []
    account_ids = {a.account_id for a in alerts}
    accounts = {
        a.pk: a for a in Account.objects.filter(pk__in=account_ids).only("pk", "tier", "csm_id")
    }
    wanted: dict[tuple[int, int], tuple[Playbook, Alert]] = {}
    for alert in sorted(alerts, key=lambda a: a.pk or 0):
        account = accounts.get(alert.account_id)
        if account is None:
            continue
        for book in books:
            if trigger_matches(book.trigger, alert) and playbook_applies(book, tier=account.tier):
                wanted.setdefault((account.pk, book.pk), (book, alert))
    if not wanted:
        return []
    running = set(
        Play.objects.filter(
            status=PlayStatus.OPEN,
            account_id__in=account_ids,
            playbook_id__in={b.pk for b in books},
        ).values_list("account_id", "playbook_id")
    )
    on = today()
    new = []
    for (account_id, book_id), (book, alert) in wanted.items():
        if (account_id, book_id) in running:
            continue
        owner_id, pool = owner_for(rule=book.owner_rule, account=accounts[account_id])
        new.append(
            Play(
                account_id=account_id,
                playbook_id=book_id,
                owner_id=owner_id,
                pool=pool,
                alert_id=alert.pk,
                started_on=on,
            )
        )
    if not new:
        return []
    steps = {b.pk: list(b.steps.all()) for b in books}
    with transaction.atomic():
        Play.objects.bulk_create(new, ignore_conflicts=True)
        # The plays this call inserted: the ones on these alerts that have no tasks yet (the
        # alerts are new, so only this call can have started plays on them).
        started = list(
            Play.objects.filter(alert_id__in={p.alert_id for p in new}, status=PlayStatus.OPEN)
            .filter(~Exists(Task.objects.filter(play=OuterRef("pk"))))
            .select_related("playbook")
        )
        Task.objects.bulk_create([t for p in started for t in _new_tasks(p, steps[p.playbook_id])])
    if started:
        log.info("started %d plays from %d alerts", len(started), len(alerts))
    return started


def play_start(
    *,
    account: Account,
    playbook: Playbook,
    started_by: User | None = None,
    alert: Alert | None = None,
) -> Play:
    """Start one play by hand (or for one alert): owner per the playbook's rule, tasks from its
    steps. Raises ValidationError if the playbook is inactive, has no steps, does not apply to
    the account's tier, or already runs on the account."""
    steps = list(playbook.steps.order_by("order"))
    if not playbook.active:
        raise ValidationError(f"{playbook.name} is switched off; a manager can turn it on.")
    if not steps:
        raise ValidationError(f"{playbook.name} has no steps yet.")
    if not playbook_applies(playbook, tier=account.tier):
        raise ValidationError(
            f"{playbook.name} is for tier "
            + ", ".join(str(t) for t in sorted(playbook_tiers(playbook)))
            + f" accounts; {account.name} is tier {account.tier}."
        )
    running = Play.objects.filter(account=account, playbook=playbook, status=PlayStatus.OPEN)
    if running.exists():
        raise ValidationError(f"{playbook.name} is already running on {account.name}.")
    owner_id, pool = owner_for(rule=playbook.owner_rule, account=account)
    try:
        with transaction.atomic():
            play = Play.objects.create(
                account=account,
                playbook=playbook,
                owner_id=owner_id,
                pool=pool,
                alert=alert,
                started_on=today(),
            )
            Task.objects.bulk_create(_new_tasks(play, steps))
    except IntegrityError:  # started by someone else a moment ago
        raise ValidationError(f"{playbook.name} is already running on {account.name}.") from None
    log.info(
        "play %s started on %s by %s",
        playbook.key,
        account.external_id,
        started_by.email if started_by else "the system",
    )
    return play


def play_cancel(*, play: Play, user: User) -> bool:
    """Stop an open play: its open tasks are removed (done ones stay as history). Editors of
    the account only. Returns False if the play was no longer open (cancelling is idempotent)."""
    if not can_edit_account(user, play.account):
        raise PermissionDenied("Only the account's CSM or a CS manager can cancel its plays.")
    with transaction.atomic():
        changed = Play.objects.filter(pk=play.pk, status=PlayStatus.OPEN).update(
            status=PlayStatus.CANCELLED, finished_at=timezone.now()
        )
        if changed:
            Task.objects.filter(play=play, status=TaskStatus.OPEN).delete()
    play.refresh_from_db()
    return bool(changed)


def task_complete(*, task: Task, user: User) -> bool:
    """Mark a task done; when it was the play's last open task, the play is done too.

    Idempotent: completing a done task changes nothing and keeps the first completion (who and
    when). Returns True if this call completed it. Raises PermissionDenied for users who may
    not work the task (see `task_can_work`)."""
    if not task_can_work(user, task):
        raise PermissionDenied(
            "This task belongs to someone else: its owner, the account's "
            "CSM or a CS manager can complete it."
        )
    now = timezone.now()
    with transaction.atomic():
        done = Task.objects.filter(pk=task.pk, status=TaskStatus.OPEN).update(
            status=TaskStatus.DONE, completed_at=now, completed_by=user
        )
        if done and task.play_id:
            (
                Play.objects.filter(pk=task.play_id, status=PlayStatus.OPEN)
                .filter(~Exists(Task.objects.filter(play=OuterRef("pk"), status=TaskStatus.OPEN)))
                .update(status=PlayStatus.DONE, finished_at=now)
            )
    task.refresh_from_db()
    return bool(done)


def task_claim(*, task: Task, user: User) -> bool:
    """Take a pooled task, and with it its play and the play's other unclaimed tasks.

    Any CSM (or manager) may claim. Returns False if the task is already theirs; raises
    ValidationError if someone else claimed it first or it is not in a pool."""
    if not can_work_pools(user):
        raise PermissionDenied("Only CSMs and CS managers work the pool queues.")
    if task.owner_id == user.pk:
        return False
    if not task.pool or task.status != TaskStatus.OPEN:
        raise ValidationError("Only open tasks in a pool queue can be claimed.")
    with transaction.atomic():
        claimed = Task.objects.filter(
            pk=task.pk, owner__isnull=True, status=TaskStatus.OPEN
        ).update(owner=user)
        if claimed and task.play_id:
            Task.objects.filter(
                play_id=task.play_id, owner__isnull=True, status=TaskStatus.OPEN
            ).update(owner=user)
            Play.objects.filter(pk=task.play_id, owner__isnull=True).update(owner=user)
    task.refresh_from_db()
    if not claimed:
        if task.owner_id == user.pk:
            return False
        who = task.owner.display_name if task.owner else "someone"
        raise ValidationError(f"{who} already claimed “{task.title}”.")
    return True


def playbook_save(
    *,
    playbook: Playbook | None,
    key: str = "",
    name: str,
    description: str = "",
    trigger: str,
    tiers: list,
    owner_rule: str,
    active: bool,
    steps: list[StepInput],
) -> Playbook:
    """Create (playbook=None, with `key`) or update a playbook template and replace its steps.

    Validates everything before writing anything: a known trigger, tiers 1-3, a known owner
    rule, at least one step, each with a title and a whole, non-negative due day, and due days
    that never go backwards (steps are kept in the order given). Raises ValidationError with
    one message per field (`steps` lists each bad step by number). Plays already running keep
    their tasks: a template change applies to plays started after it.
    """
    errors: dict[str, list[str]] = defaultdict(list)
    if playbook is None:
        key = (key or "").strip().lower()
        errors["key"] += playbook_key_problems(key)
        if not errors["key"] and Playbook.objects.filter(key=key).exists():
            errors["key"].append(f"A playbook with the key '{key}' already exists.")
    name = (name or "").strip()
    errors["name"] += playbook_name_problems(name)
    try:
        trigger = trigger_normalise(trigger)
    except ValidationError as exc:
        errors["trigger"].extend(exc.messages)
    try:
        tier_list = tiers_clean(tiers)
    except ValidationError as exc:
        errors["tiers"].extend(exc.messages)
        tier_list = []
    if owner_rule not in OwnerRule.values:
        errors["owner_rule"].append(
            "The owner rule must be 'csm' (the account's CSM) or 'pool' (the tier's pool queue)."
        )
    clean, errors["steps"] = steps_clean(steps)
    errors = {field: messages for field, messages in errors.items() if messages}
    if errors:
        raise ValidationError(dict(errors))
    with transaction.atomic():
        if playbook is None:
            playbook = Playbook(key=key)
        playbook.name, playbook.description = name, (description or "").strip()
        playbook.trigger, playbook.tiers = trigger, tier_list
        playbook.owner_rule, playbook.active = owner_rule, bool(active)
        playbook.save()
        playbook.steps.all().delete()
        PlaybookStep.objects.bulk_create(
            [
                PlaybookStep(playbook=playbook, order=i, title=title, detail=detail, due_days=due)
                for i, (title, detail, due) in enumerate(clean, start=1)
            ]
        )
    return playbook


# --- tasks other apps hand in -----------------------------------------------------------------


def task_save(
    *,
    account: Account,
    by: User,
    title: str,
    due: date,
    owner: User | None = None,
    detail: str = "",
    task: Task | None = None,
) -> Task:
    """Create a stand-alone task on `account` (no play), or revise `task` (one this account
    holds) with the same fields: how a higher app (a QBR's mutual action plan) hands in work
    it keeps track of, so saving the same rows again revises rather than duplicates. The owner
    defaults to the account's CSM. The account's CSM or a manager only; a done or cancelled
    task is left as it is."""
    if not can_edit_account(by, account):
        raise PermissionDenied("Only the account's CSM or a manager can add tasks to it.")
    title = title.strip()
    if not title or len(title) > 200:
        raise ValidationError({"title": "Give the task a title of up to 200 characters."})
    owner_id = owner.pk if owner is not None else account.csm_id
    if task is None:
        return Task.objects.create(
            account=account, title=title, detail=detail, due=due, owner_id=owner_id
        )
    if task.account_id != account.pk:
        raise ValidationError("That task belongs to another account.")
    if task.status == TaskStatus.OPEN:
        Task.objects.filter(pk=task.pk).update(
            title=title, detail=detail, due=due, owner_id=owner_id
        )
        task.refresh_from_db()
    return task


def stand_alone_tasks_cancel(*, account: Account, by: User, task_ids: list[int]) -> int:
    """Cancel open stand-alone tasks (no play) of `account` that a higher app handed in with
    `task_save` and no longer needs (a next step taken off a QBR's plan), so they leave their
    owners' work. Done tasks stay done. Returns how many were cancelled."""
    if not task_ids:
        return 0
    if not can_edit_account(by, account):
        raise PermissionDenied("Only the account's CSM or a manager can change its tasks.")
    return Task.objects.filter(
        pk__in=task_ids, account=account, play__isnull=True, status=TaskStatus.OPEN
    ).update(status=TaskStatus.CANCELLED)
