"""Reads behind My work, the Plays tab, the playbook editor and the plays API."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db.models import Case, Count, Exists, OuterRef, Prefetch, Q, QuerySet, Value, When

from accounts.models import Account, User
from accounts.permissions import (
    is_csm,
    sees_whole_team,
)
from cs_portal.clock import today
from playbooks.models import (
    Play,
    Playbook,
    PlaybookStep,
    PlayStatus,
    Task,
    TaskStatus,
)

from .rules import WEEK_DAYS, playbook_applies, tasks_with_days, user_pools

GROUP_LIMIT = 100  # rows shown per My work group; the counts are always exact


def startable_playbooks() -> list[Playbook]:
    """Active playbooks with their steps (2 queries); those without steps cannot start."""
    books = (
        Playbook.objects.filter(active=True)
        .prefetch_related(Prefetch("steps", queryset=PlaybookStep.objects.order_by("order")))
        .order_by("key")
    )
    return [b for b in books if b.steps.all()]


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


def _work_base() -> QuerySet[Task]:
    return Task.objects.select_related("account", "play__playbook", "owner")


def work_view(*, user: User, owner: str = "me", subject: User | None = None) -> WorkView:
    """My work: open tasks grouped Overdue / Today / This week (the next 7 days) / Later, the
    pool queue, what was done today, and for a manager's team view the workload per person.

    `owner` and `subject` come from `plays.forms.WorkOwnerForm`."""
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
    # Everyone with open work, and every active CSM (with or without any).
    people = {
        u.pk: u
        for u in User.objects.filter(Q(pk__in=owner_ids) | Q(is_active=True))
        if u.pk in owner_ids or is_csm(u)
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


def account_play(*, account: Account, play_id: int) -> Play | None:
    """One of the account's plays, with its playbook (and the account already at hand)."""
    play = account.plays.select_related("playbook").filter(pk=play_id).first()
    if play is not None:
        play.account = account
    return play
