"""Playbooks, plays and tasks: the services that start and work plays, and the reads behind
My work, the account's Plays tab, the playbook editor and the plays API.

Triggers
--------
A playbook's trigger is an alert kind (`AlertKind`), optionally with a detail: `kind` or
`kind:detail`. Without a detail it matches every alert of that kind; with one, only these:

| kind               | detail                              | matches an alert when              |
|--------------------|-------------------------------------|------------------------------------|
| override           | sharp_drop, coasting,               | that override fired                |
|                    | data_trust_incident, champion_left  |                                    |
| band_change        | green, yellow, red                  | the account moved into that band   |
| commit_threshold   | 70, 90                              | that share of the commit was used  |
| onboarding_overdue | a milestone key, e.g. first_query   | that milestone is overdue          |
| renewal_risk       | days, 1-365                         | the renewal is at most that many   |
|                    |                                     | days away when the alert is raised |
| score_drop         | points, 1-100                       | the score fell at least that much  |
| usage_spike        | a ratio, 1-1000                     | usage ran at least that many times |
|                    |                                     | its prior daily average            |

A playbook applies to the tiers in `tiers` (empty: every tier). Only active playbooks with at
least one step start plays; with no playbooks loaded, alerts start nothing.

Owners and pools
----------------
- owner_rule `csm`: the account's CSM owns the play and its tasks.
- owner_rule `pool`: a tier-2 or tier-3 account's play goes to the tier's pool queue (`tier2`,
  `tier3`) with no owner, even when the account has a CSM: tier 2 is worked by a pod from a
  shared queue and tier 3 has no named human, so whoever is free picks it up. Tier 1 always goes
  to the named CSM.
- An account without a CSM goes to its tier's pool (`tier1`, `tier2`, `tier3`) whatever the
  rule, so nothing is ever assigned to nobody.
Tasks take the owner and pool of their play. A CSM's pool queue shows `tierN` for every tier N
of the accounts they own, and `tier3` always (the digital tier has no named CSMs). Any CSM may
claim or complete a pooled task; claiming takes the whole play (the task, the play's other
unclaimed tasks and the play itself), so one person works a play end to end.

At most one open play per account and playbook (a partial unique constraint): a second alert
while the play is open adds nothing; once the play is done or cancelled, the next alert starts a
new one.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Case, Count, Exists, OuterRef, Prefetch, Q, QuerySet, Value, When
from django.utils import timezone

from accounts.models import Account, Role, User
from accounts.permissions import (
    can_edit_account,
    can_work_item,
    can_work_pools,
    is_csm,
    sees_whole_team,
)
from accounts.permissions import can_edit_playbooks as can_edit_playbooks
from cs_portal.params import whole_number

from .models import (
    Alert,
    AlertKind,
    MilestoneKey,
    OwnerRule,
    Play,
    Playbook,
    PlaybookStep,
    PlayStatus,
    Task,
    TaskStatus,
)

log = logging.getLogger(__name__)

OVERRIDE_KEYS = ("sharp_drop", "coasting", "data_trust_incident", "champion_left")
BANDS = ("green", "yellow", "red")
COMMIT_SHARES = ("70", "90")
# kind -> the details it accepts (a fixed list) ...
CHOICE_DETAILS: dict[str, tuple[str, ...]] = {
    AlertKind.OVERRIDE: OVERRIDE_KEYS,
    AlertKind.BAND_CHANGE: BANDS,
    AlertKind.COMMIT_THRESHOLD: COMMIT_SHARES,
    AlertKind.ONBOARDING_OVERDUE: tuple(MilestoneKey.values),
}
# ... or a whole number in a range, with what it counts.
NUMBER_DETAILS: dict[str, tuple[int, int, str]] = {
    AlertKind.RENEWAL_RISK: (1, 365, "days to renewal"),
    AlertKind.SCORE_DROP: (1, 100, "points of score lost in 7 days"),
    AlertKind.USAGE_SPIKE: (1, 1000, "times the prior daily average"),
}
TIERS = (1, 2, 3)
MAX_STEPS = 30
MAX_DUE_DAYS = 730  # two years: an offset beyond any contract period is a typo
WEEK_DAYS = 7
GROUP_LIMIT = 100  # rows shown per My work group; the counts are always exact
TRIGGER_EXAMPLES = ("override:coasting", "renewal_risk", "commit_threshold:90", "usage_spike")


def today() -> date:
    """The portal's notion of today (the same as the book's)."""
    from accounts.selectors import today as accounts_today

    return accounts_today()


# --- triggers -------------------------------------------------------------------------------


def trigger_normalise(raw: str) -> str:
    """Validate a trigger and return it in canonical form (lowercase, no spaces).

    Raises ValidationError with a message a manager can act on."""
    text = (raw or "").strip().lower().replace(" ", "")
    if not text:
        raise ValidationError(
            "Give a trigger: an alert kind, optionally kind:detail (for example "
            + ", ".join(TRIGGER_EXAMPLES)
            + ")."
        )
    kind, sep, detail = text.partition(":")
    if kind not in AlertKind.values:
        raise ValidationError(
            f"Unknown trigger '{raw.strip()}': the kind before ':' must be one of "
            + ", ".join(AlertKind.values)
            + "."
        )
    if not sep:
        return kind
    if not detail:
        raise ValidationError(
            f"Trigger '{raw.strip()}' ends with ':'; give a detail after it or use just '{kind}'."
        )
    if kind in CHOICE_DETAILS:
        allowed = CHOICE_DETAILS[kind]
        if detail not in allowed:
            raise ValidationError(
                f"Unknown trigger detail '{detail}' for {kind}: use one of "
                + ", ".join(allowed)
                + "."
            )
        return f"{kind}:{detail}"
    if kind in NUMBER_DETAILS:
        low, high, what = NUMBER_DETAILS[kind]
        number = whole_number(detail)
        if number is None or not low <= number <= high:
            raise ValidationError(
                f"The detail of {kind} must be a whole number of {what} "
                f"from {low} to {high}, not '{detail}'."
            )
        return f"{kind}:{int(detail)}"
    raise ValidationError(f"The trigger {kind} takes no detail; use just '{kind}'.")


def trigger_matches(trigger: str, alert: Alert) -> bool:
    """Whether a (validated) trigger fires on this alert; see the module docstring."""
    kind, _, detail = trigger.partition(":")
    if alert.kind != kind:
        return False
    if not detail:
        return True
    data = alert.data or {}
    try:
        if kind == AlertKind.OVERRIDE:
            return data.get("override") == detail
        if kind == AlertKind.BAND_CHANGE:
            return data.get("band") == detail
        if kind == AlertKind.COMMIT_THRESHOLD:
            return round(float(data["threshold"]) * 100) == int(detail)
        if kind == AlertKind.ONBOARDING_OVERDUE:
            return data.get("milestone") == detail
        if kind == AlertKind.RENEWAL_RISK:
            return (date.fromisoformat(data["renewal"]) - alert.as_of).days <= int(detail)
        if kind == AlertKind.SCORE_DROP:
            return float(data["points"]) >= int(detail)
        if kind == AlertKind.USAGE_SPIKE:
            return float(data["spike_ratio"]) >= int(detail)
    except (KeyError, TypeError, ValueError):
        return False  # an alert without the number cannot prove the detail
    return False


def trigger_help() -> list[tuple[str, str, str]]:
    """(kind, label, what may follow ':') for every trigger kind, for the editor's help."""
    out = []
    for kind, label in AlertKind.choices:
        if kind in CHOICE_DETAILS:
            detail = "one of " + ", ".join(CHOICE_DETAILS[kind])
        else:
            low, high, what = NUMBER_DETAILS[kind]
            detail = f"{low}-{high} ({what})"
        out.append((kind, label, detail))
    return out


def _tiers(playbook: Playbook) -> set[int]:
    return {int(t) for t in (playbook.tiers or []) if str(t) in {"1", "2", "3"}}


def playbook_applies(playbook: Playbook, *, tier: int) -> bool:
    tiers = _tiers(playbook)
    return not tiers or tier in tiers


def _owner_for(*, rule: str, account: Account) -> tuple[int | None, str]:
    """(owner id, pool) for a new play on `account` under an owner rule."""
    pool = f"tier{account.tier}"
    if rule == OwnerRule.POOL and account.tier != 1:
        return None, pool
    if account.csm_id:
        return account.csm_id, ""
    return None, pool


def user_pools(user: User) -> list[str]:
    """The pool queues a user works: managers see every pool; a CSM the tiers they own accounts
    in plus the digital tier's; other roles none."""
    if sees_whole_team(user):
        return [f"tier{t}" for t in TIERS]
    if not is_csm(user):
        return []
    owned = set(Account.objects.filter(csm=user).values_list("tier", flat=True).distinct())
    return [f"tier{t}" for t in TIERS if t in owned or t == 3]


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


def _startable_playbooks() -> list[Playbook]:
    """Active playbooks with their steps (2 queries); those without steps cannot start."""
    books = (
        Playbook.objects.filter(active=True)
        .prefetch_related(Prefetch("steps", queryset=PlaybookStep.objects.order_by("order")))
        .order_by("key")
    )
    return [b for b in books if b.steps.all()]


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
    books = _startable_playbooks()
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
        owner_id, pool = _owner_for(rule=book.owner_rule, account=accounts[account_id])
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
            + ", ".join(str(t) for t in sorted(_tiers(playbook)))
            + f" accounts; {account.name} is tier {account.tier}."
        )
    running = Play.objects.filter(account=account, playbook=playbook, status=PlayStatus.OPEN)
    if running.exists():
        raise ValidationError(f"{playbook.name} is already running on {account.name}.")
    owner_id, pool = _owner_for(rule=playbook.owner_rule, account=account)
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


# --- working tasks --------------------------------------------------------------------------


def task_can_work(user: User, task: Task) -> bool:
    """Who may complete a task: its owner, the account's CSM, managers; a pooled (unclaimed)
    task, any CSM."""
    return can_work_item(user, owner_id=task.owner_id, account=task.account, pooled=bool(task.pool))


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


# --- editing playbooks ----------------------------------------------------------------------


@dataclass
class StepInput:
    """One step as typed in the editor; `due_days` is validated by `playbook_save`."""

    title: str
    detail: str = ""
    due_days: str | int = ""

    @property
    def blank(self) -> bool:
        return not (
            str(self.title).strip() or str(self.detail).strip() or str(self.due_days).strip()
        )


def _due_days(raw: str | int) -> int:
    text = str(raw).strip()
    if not text:
        raise ValidationError("give the due day as a whole number of days after the start")
    if text.startswith("-") and text[1:].isdigit():
        raise ValidationError(
            f"the due day cannot be negative ({text}); 0 means the day the play starts"
        )
    if not (text.isascii() and text.isdigit()):
        raise ValidationError(f"the due day must be a whole number of days, not '{text}'")
    value = int(text)
    if value > MAX_DUE_DAYS:
        raise ValidationError(f"the due day must be at most {MAX_DUE_DAYS} days, not {value}")
    return value


def _tiers_clean(raw: list) -> list[int]:
    out = set()
    for t in raw or []:
        text = str(t).strip()
        if text not in {"1", "2", "3"}:
            raise ValidationError(f"tiers must be 1, 2 or 3, not '{text}'")
        out.add(int(text))
    return sorted(out)


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
        if not key:
            errors["key"].append("Give the playbook a key, e.g. 'renewal-cadence'.")
        elif not _is_slug(key) or len(key) > 60:
            errors["key"].append(
                "The key may use lowercase letters, digits, '-' and '_' (at most 60 characters)."
            )
        elif key == "new":
            errors["key"].append("'new' is reserved; choose another key.")
        elif Playbook.objects.filter(key=key).exists():
            errors["key"].append(f"A playbook with the key '{key}' already exists.")
    name = (name or "").strip()
    if not name:
        errors["name"].append("Give the playbook a name.")
    elif len(name) > 120:
        errors["name"].append("The name must be at most 120 characters.")
    try:
        trigger = trigger_normalise(trigger)
    except ValidationError as exc:
        errors["trigger"].extend(exc.messages)
    try:
        tier_list = _tiers_clean(tiers)
    except ValidationError as exc:
        errors["tiers"].extend(exc.messages)
        tier_list = []
    if owner_rule not in OwnerRule.values:
        errors["owner_rule"].append(
            "The owner rule must be 'csm' (the account's CSM) or 'pool' (the tier's pool queue)."
        )
    clean: list[tuple[str, str, int]] = []
    previous = None
    for n, step in enumerate((s for s in steps if not s.blank), start=1):
        title = str(step.title).strip()
        problems = []
        if not title:
            problems.append("give it a title")
        elif len(title) > 200:
            problems.append("the title must be at most 200 characters")
        try:
            due = _due_days(step.due_days)
        except ValidationError as exc:
            problems.extend(exc.messages)
            due = None
        if due is not None and previous is not None and due < previous:
            problems.append(
                f"it is due on day {due}, before the step above it (day "
                f"{previous}); order the steps by due day"
            )
        if due is not None:
            previous = due
        if problems:
            errors["steps"].append(f"Step {n}: " + "; ".join(problems) + ".")
        clean.append((title, str(step.detail).strip(), due if due is not None else 0))
    if not clean:
        errors["steps"].append("Add at least one step.")
    elif len(clean) > MAX_STEPS:
        errors["steps"].append(f"A playbook has at most {MAX_STEPS} steps.")
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


def _is_slug(text: str) -> bool:
    return text.isascii() and all(c.isalnum() or c in "-_" for c in text) and text[0].isalnum()


# --- reads ----------------------------------------------------------------------------------


def playbooks_list() -> QuerySet[Playbook]:
    """Every playbook with its number of steps and of open plays (one query)."""
    return Playbook.objects.annotate(
        step_count=Count("steps", distinct=True),
        open_plays=Count("plays", filter=Q(plays__status=PlayStatus.OPEN), distinct=True),
    ).order_by("name")


def playbook_by_key(*, key: str) -> Playbook | None:
    return (
        Playbook.objects.filter(key=key)
        .prefetch_related(Prefetch("steps", queryset=PlaybookStep.objects.order_by("order")))
        .first()
    )


def playbooks_startable(*, account: Account) -> list[Playbook]:
    """Playbooks an editor may start on the account: active, with steps, for its tier, and
    not already running there."""
    running = Play.objects.filter(account=account, playbook=OuterRef("pk"), status=PlayStatus.OPEN)
    books = (
        Playbook.objects.filter(active=True)
        .filter(~Exists(running))
        .annotate(step_count=Count("steps"))
        .filter(step_count__gt=0)
        .order_by("name")
    )
    return [b for b in books if playbook_applies(b, tier=account.tier)]


def _tasks_prefetch() -> Prefetch:
    return Prefetch(
        "tasks", queryset=Task.objects.select_related("owner", "completed_by").order_by("due", "id")
    )


def account_plays(*, account: Account) -> QuerySet[Play]:
    """The account's plays, open ones first then newest, with their tasks (3 queries)."""
    return (
        Play.objects.filter(account=account)
        .select_related("playbook", "owner", "alert")
        .prefetch_related(_tasks_prefetch())
        .annotate(is_open=Case(When(status=PlayStatus.OPEN, then=Value(0)), default=Value(1)))
        .order_by("is_open", "-started_on", "-id")
    )


@dataclass
class WorkGroup:
    key: str
    label: str
    tasks: list[Task]
    count: int

    @property
    def more(self) -> int:
        return self.count - len(self.tasks)


@dataclass
class WorkloadRow:
    owner: User | None
    pool: str
    open: int = 0
    overdue: int = 0
    today: int = 0
    week: int = 0


@dataclass
class WorkView:
    on: date
    owner: str  # "me", "all", "pool" or a user id (as given)
    subject: User | None  # whose queue is shown, when it is one person's
    team: bool  # the manager's team view
    groups: list[WorkGroup]
    pool: list[Task]
    pool_count: int
    pools: list[str]
    done_today: list[Task]
    workload: list[WorkloadRow] = field(default_factory=list)

    @property
    def open_count(self) -> int:
        return sum(g.count for g in self.groups)


class WorkFilterError(ValueError):
    """A My work query-string value that is not understood; shown to the user, answered 400."""


def work_owner_parse(raw: str | None, *, user: User) -> tuple[str, User | None]:
    """Read `owner`: for managers '' or 'all' (the team), 'me', 'pool', or a user's id; other
    roles always see their own queue ('' or 'me'). Raises WorkFilterError otherwise."""
    value = (raw or "").strip().lower()
    if not sees_whole_team(user):
        if value not in ("", "me"):
            raise WorkFilterError(
                "only CS managers see other people's work; leave owner out to see yours"
            )
        return "me", user
    if value in ("", "all"):
        return "all", None
    if value == "me":
        return "me", user
    if value == "pool":
        return "pool", None
    if (number := whole_number(value)) is not None:
        subject = User.objects.filter(pk=number).first()
        if subject is not None:
            return str(subject.pk), subject
        raise WorkFilterError(f"owner {value} is not a user; pick one from the list")
    raise WorkFilterError(f"owner must be 'all', 'me', 'pool' or a user's id, not '{raw}'")


def tasks_with_days(tasks: list[Task], *, on: date) -> list[Task]:
    """Set `days_left` (negative when overdue) and `days_late` on each task, for display."""
    for t in tasks:
        t.days_left = (t.due - on).days
        t.days_late = max(-t.days_left, 0)
    return tasks


def _work_base() -> QuerySet[Task]:
    return Task.objects.select_related("account", "play__playbook", "owner")


def work_view(*, user: User, owner: str = "me", subject: User | None = None) -> WorkView:
    """My work: open tasks grouped Overdue / Today / This week (the next 7 days) / Later, the
    pool queue, what was done today, and for a manager's team view the workload per person.

    `owner` and `subject` come from `work_owner_parse`."""
    on = today()
    week_end = on + timedelta(days=WEEK_DAYS)
    team = sees_whole_team(user)
    open_tasks = _work_base().filter(status=TaskStatus.OPEN)
    if owner == "all":
        mine, pools = open_tasks.filter(owner__isnull=False), user_pools(user)
    elif owner == "pool":
        mine, pools = open_tasks.filter(owner__isnull=True).exclude(pool=""), []
    else:
        person = subject or user
        mine, pools = open_tasks.filter(owner=person), user_pools(person)
    ranges = [
        ("overdue", "Overdue", Q(due__lt=on)),
        ("today", "Today", Q(due=on)),
        ("week", "This week", Q(due__gt=on, due__lte=week_end)),
        ("later", "Later", Q(due__gt=week_end)),
    ]
    counts = mine.aggregate(**{k: Count("pk", filter=cond) for k, _, cond in ranges})
    groups = [
        WorkGroup(
            k,
            label,
            tasks_with_days(list(mine.filter(cond).order_by("due", "id")[:GROUP_LIMIT]), on=on)
            if counts[k]
            else [],
            counts[k],
        )
        for k, label, cond in ranges
    ]
    pooled = open_tasks.filter(owner__isnull=True, pool__in=pools).order_by("due", "id")
    pool_count = pooled.count() if pools else 0
    done = _work_base().filter(status=TaskStatus.DONE, completed_at__date=on)
    if owner == "pool":
        done = done.exclude(pool="")
    elif owner != "all":
        done = done.filter(completed_by=subject or user)
    view = WorkView(
        on=on,
        owner=owner,
        subject=subject,
        team=team,
        groups=groups,
        pool=tasks_with_days(list(pooled[:GROUP_LIMIT]), on=on) if pool_count else [],
        pool_count=pool_count,
        pools=pools,
        done_today=list(done.order_by("-completed_at", "-id")[:GROUP_LIMIT]),
    )
    if team:
        view.workload = workload(on=on)
    return view


def workload(*, on: date) -> list[WorkloadRow]:
    """Open tasks per owner (every CSM, even with none) and per pool: open, overdue, due today,
    due in the next 7 days (two queries)."""
    rows = (
        Task.objects.filter(status=TaskStatus.OPEN)
        .order_by()
        .values("owner_id", "pool")
        .annotate(
            open=Count("pk"),
            overdue=Count("pk", filter=Q(due__lt=on)),
            today=Count("pk", filter=Q(due=on)),
            week=Count("pk", filter=Q(due__gt=on, due__lte=on + timedelta(days=WEEK_DAYS))),
        )
    )
    by_owner: dict[int, WorkloadRow] = {}
    by_pool: dict[str, WorkloadRow] = {}
    owner_ids = {r["owner_id"] for r in rows if r["owner_id"]}
    people = {
        u.pk: u for u in User.objects.filter(Q(pk__in=owner_ids) | Q(role=Role.CSM, is_active=True))
    }
    for person in people.values():
        by_owner[person.pk] = WorkloadRow(owner=person, pool="")
    for r in rows:
        if r["owner_id"]:
            target = by_owner[r["owner_id"]]
        else:
            target = by_pool.setdefault(r["pool"], WorkloadRow(owner=None, pool=r["pool"]))
        target.open += r["open"]
        target.overdue += r["overdue"]
        target.today += r["today"]
        target.week += r["week"]
    people_rows = sorted(by_owner.values(), key=lambda w: (-w.open, w.owner.display_name))
    pool_rows = sorted(by_pool.values(), key=lambda w: w.pool)
    return people_rows + pool_rows


def task_for_work(*, task_id: int) -> Task | None:
    return (
        Task.objects.select_related("account", "play__playbook", "owner").filter(pk=task_id).first()
    )


def plays_for_api(*, account: Account, status: str = "") -> QuerySet[Play]:
    """The account's plays with tasks for the API, newest first (3 queries)."""
    qs = (
        Play.objects.filter(account=account)
        .select_related("playbook", "owner")
        .prefetch_related(_tasks_prefetch())
        .order_by("-started_on", "-id")
    )
    if status:
        qs = qs.filter(status=status)
    return qs
