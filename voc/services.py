"""Writes for the voice of the customer.

Items
-----
- A CSM logs an item on an account page (`feedback_log`), a file brings them (`feedback`
  import), or a vote adds an account to a theme (`theme_vote`). Each keeps the account's ARR,
  tier and band of the day it was logged.
- Behavioural items come from `failed_queries` usage with reason `chain_not_covered` or
  `dataset_not_found`, in the same transaction as the recompute that scored that usage
  (`after_recompute`, registered with `health.events.on_recompute`): one item per (account,
  reason, chain or dataset), its failures per day kept in `FailureDay`, so the item's first seen,
  last seen and count are exact however often the same days are read again.
- Churn reasons: when an account's last contract has ended and no contract follows, the
  recompute logs one `churn_reason` item for that end date, filed under the theme of the
  account's worst open item (what they were waiting for) or, without one, a "reason not
  recorded" theme; a renewal imported late withdraws it.

Themes and the loop
-------------------
New items are routed to the theme of their type + chain + dataset (created on first use; a
theme merged into another forwards there). Product renames, describes, merges, splits and moves
items, and moves themes along the workflow (`voc.rules.TRANSITIONS`), every step recorded in
`ThemeEvent`. Shipping sends one "tell the customer" per account of the theme, ever: a task for
the CSM in tiers 1-2 (the tier's pool without one), a `feedback_shipped` nudge in tier 3. When
every account's task is done, the theme's loop closes by itself (at the next recompute) or by
product's hand.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Max, Min, Q, Sum
from django.utils.text import slugify

from accounts.models import Account, Contract, User
from accounts.selectors import accounts_with_commercials, with_health
from cs_portal import clock
from health import events
from health.selectors import failed_queries_by_target
from playbooks.models import Nudge, Task, TaskStatus
from playbooks.nudges.services import nudges_enqueue

from . import rules
from .models import (
    SEVERITY_RANK,
    FailureDay,
    FeedbackItem,
    FeedbackType,
    LoopTell,
    Source,
    Theme,
    ThemeEvent,
    ThemeStatus,
)

log = logging.getLogger(__name__)

LIVE_LOOKBACK_DAYS = 7  # a live recompute rereads this many days of failed queries (late files)
INPUTS_WINDOW_DAYS = 28  # the recompute's aggregates count failed queries over this window
CHURN_LOOKBACK_DAYS = 365  # a contract that ended longer ago than this is history, not news
CHURN_TITLE = "Contract ended without renewal"
CHURN_UNKNOWN = "churn|unknown|"  # the theme of churns with no open feedback to blame
TELL_DUE_DAYS = 7
NUDGE_KIND = Nudge.Kind.FEEDBACK_SHIPPED


# --- themes ------------------------------------------------------------------------------------


def _slug(base: str) -> str:
    return slugify(base.replace("_", " ").replace(".", " "))[:80] or "theme"


def _unique_key(base: str, taken: set[str]) -> str:
    key = _slug(base)
    candidate, n = key, 2
    while candidate in taken:
        candidate = f"{key}-{n}"
        n += 1
    taken.add(candidate)
    return candidate


def _taken_keys(prefixes: set[str]) -> set[str]:
    query = Q()
    for prefix in prefixes:
        query |= Q(key__startswith=_slug(prefix))
    return set(Theme.objects.filter(query).values_list("key", flat=True)) if prefixes else set()


def _final(theme: Theme, themes: dict[int, Theme]) -> Theme:
    seen = set()
    while theme.merged_into_id and theme.merged_into_id not in seen:
        seen.add(theme.pk)
        theme = themes.get(theme.merged_into_id) or Theme.objects.get(pk=theme.merged_into_id)
    return theme


def themes_route(groupings: set[tuple[str, str, str]]) -> dict[tuple[str, str, str], Theme]:
    """The theme each (type, chain, dataset) routes to, creating the missing ones in one
    insert; a theme merged into another forwards to it."""
    keys = {rules.grouping(*g): g for g in groupings}
    found = {t.grouping: t for t in Theme.objects.filter(grouping__in=list(keys))}
    missing = [g for k, g in keys.items() if k not in found]
    if missing:
        taken = _taken_keys({" ".join(p for p in g if p) for g in missing})
        new = []
        for type_, chain, dataset in missing:
            key = rules.grouping(type_, chain, dataset)
            base = " ".join(p for p in (type_, chain, dataset) if p)
            title = rules.default_title(type_, chain, dataset) if type_ != "churn" else ""
            if key == CHURN_UNKNOWN:  # not a tag anyone chose: a feature theme of its own
                type_, chain, title = FeedbackType.FEATURE, "", "Churned: reason not recorded"
            new.append(
                Theme(
                    key=_unique_key(base, taken),
                    title=title[:200],
                    type=type_,
                    chain=chain,
                    dataset=dataset,
                    grouping=key,
                )
            )
        Theme.objects.bulk_create(new, ignore_conflicts=True)
        found = {t.grouping: t for t in Theme.objects.filter(grouping__in=list(keys))}
    merged = {t.merged_into_id for t in found.values() if t.merged_into_id}
    targets = Theme.objects.in_bulk(list(merged)) if merged else {}
    return {g: _final(found[k], targets) for k, g in keys.items()}


def _event(theme: Theme, kind: str, *, by: User | None, note: str = "", **status) -> ThemeEvent:
    return ThemeEvent.objects.create(theme=theme, kind=kind, by=by, note=note[:300], **status)


def theme_edit(*, theme: Theme, title: str, description: str, by: User) -> Theme:
    """Rename a theme and write its description (a rename is kept in its history)."""
    title = title.strip()[:200] or theme.title
    if title != theme.title:
        _event(theme, ThemeEvent.Kind.RENAME, by=by, note=f"{theme.title} → {title}")
        theme.title = title
    theme.description = description.strip()
    theme.save(update_fields=["title", "description", "updated_at"])
    return theme


def theme_status_change(*, theme: Theme, to: str, by: User | None, reason: str = "") -> Theme:
    """Move a theme along the workflow (raises rules.TransitionError for a move it does not
    allow). Shipping sends the "tell the customer" tasks and nudges; closing the loop needs
    every account told."""
    with transaction.atomic():
        theme = Theme.objects.select_for_update().get(pk=theme.pk)
        rules.check_transition(theme.status, to, reason=reason)
        if to == ThemeStatus.LOOP_CLOSED and (waiting := tells_waiting(theme)):
            raise rules.TransitionError(
                f"{waiting} account{'s are' if waiting != 1 else ' is'} still to be told; the "
                "loop closes when every task is done"
            )
        _event(
            theme,
            ThemeEvent.Kind.STATUS,
            by=by,
            note=reason,
            from_status=theme.status,
            to_status=to,
        )
        theme.status = to
        fields = ["status", "updated_at"]
        if to == ThemeStatus.DECLINED:
            theme.declined_reason = reason.strip()[:300]
            fields.append("declined_reason")
        if to == ThemeStatus.SHIPPED:
            theme.shipped_on = clock.today()
            fields.append("shipped_on")
        theme.save(update_fields=fields)
        if to == ThemeStatus.SHIPPED:
            tells_send(theme=theme)
    return theme


def themes_merge(*, source: Theme, target: Theme, by: User) -> Theme:
    """Move every item of `source` into `target`; `source` forwards new items there."""
    if source.pk == target.pk:
        raise rules.TransitionError("a theme cannot be merged into itself")
    if source.status in (ThemeStatus.SHIPPED, ThemeStatus.LOOP_CLOSED):
        raise rules.TransitionError("a shipped theme keeps its items (its accounts were told)")
    if target.merged_into_id:
        raise rules.TransitionError(f"{target.title} was itself merged; pick the theme it went to")
    with transaction.atomic():
        moved = FeedbackItem.objects.filter(theme=source).update(theme=target)
        Theme.objects.filter(merged_into=source).update(merged_into=target)
        source.merged_into = target
        source.save(update_fields=["merged_into", "updated_at"])
        _event(source, ThemeEvent.Kind.MERGE, by=by, note=f"merged into {target.title}")
        _event(target, ThemeEvent.Kind.MERGE, by=by, note=f"{source.title}: {moved} items in")
    return target


def items_move(*, item_ids: list[int], source: Theme, target: Theme, by: User) -> int:
    """Move some of a theme's items to another theme; returns how many moved."""
    if target.merged_into_id:
        raise rules.TransitionError(f"{target.title} was merged; pick the theme it went to")
    with transaction.atomic():
        moved = FeedbackItem.objects.filter(theme=source, pk__in=item_ids).update(theme=target)
        if moved:
            _event(source, ThemeEvent.Kind.MOVE, by=by, note=f"{moved} items to {target.title}")
            _event(target, ThemeEvent.Kind.MOVE, by=by, note=f"{moved} items from {source.title}")
    return moved


def theme_split(*, theme: Theme, item_ids: list[int], title: str, by: User) -> Theme:
    """Split some items off into a new theme of the same type, chain and dataset."""
    if not FeedbackItem.objects.filter(theme=theme, pk__in=item_ids).exists():
        raise rules.TransitionError("pick at least one of this theme's items to split off")
    with transaction.atomic():
        new = Theme.objects.create(
            key=_unique_key(title, _taken_keys({title})),
            title=title.strip()[:200],
            type=theme.type,
            chain=theme.chain,
            dataset=theme.dataset,
        )
        moved = FeedbackItem.objects.filter(theme=theme, pk__in=item_ids).update(theme=new)
        _event(theme, ThemeEvent.Kind.SPLIT, by=by, note=f"{moved} items split off to {new.title}")
        _event(new, ThemeEvent.Kind.SPLIT, by=by, note=f"split off {theme.title} ({moved} items)")
    return new


# --- items --------------------------------------------------------------------------------------


def accounts_state(account_ids: set[int], on: date) -> dict[int, tuple[Decimal, int, str]]:
    """(ARR, tier, band) of each account on a day, in one query: what an item keeps."""
    if not account_ids:
        return {}
    qs = with_health(accounts_with_commercials(as_of=on).filter(pk__in=account_ids), as_of=on)
    return {
        pk: (arr or Decimal(0), tier, band or "")
        for pk, arr, tier, band in qs.values_list("pk", "current_arr", "tier", "health_band")
    }


def feedback_log(
    *,
    account: Account,
    on: date,
    type: str,
    severity: str,
    title: str,
    detail: str = "",
    chain: str = "",
    dataset: str = "",
    source: str = "",
    by: User | None,
    theme: Theme | None = None,
) -> FeedbackItem:
    """Log one item on an account, filed under `theme` or the theme its tags route to."""
    if theme is None:
        theme = themes_route({(type, chain, dataset)})[(type, chain, dataset)]
    arr, tier, band = accounts_state({account.pk}, on).get(account.pk, (Decimal(0), None, ""))
    return FeedbackItem.objects.create(
        account=account,
        theme=theme,
        date=on,
        type=type,
        severity=severity,
        title=title.strip()[:200],
        detail=detail.strip(),
        chain=chain,
        dataset=dataset,
        source=source,
        arr_at_log=arr,
        tier_at_log=tier,
        band_at_log=band,
        logged_by=by,
    )


def theme_vote(
    *, theme: Theme, account: Account, severity: str, note: str, by: User
) -> FeedbackItem:
    """Vote for a theme on a customer's behalf: an item of the theme's own tags on that
    account (its ARR counts once however many times the account votes). The same vote twice in
    a day is one item."""
    title = (note.strip() or f"Wants: {theme.title}")[:200]
    same = FeedbackItem.objects.filter(account=account, date=clock.today(), title=title).exclude(
        source=Source.BEHAVIORAL
    )
    if (found := same.first()) is not None:
        return found
    return feedback_log(
        account=account,
        on=clock.today(),
        type=theme.type,
        severity=severity,
        title=title,
        detail=note,
        chain=theme.chain,
        dataset=theme.dataset,
        source="",
        by=by,
        theme=theme,
    )


def _failure_accounts(account_ids: list[int] | None, start: date, end: date) -> list[int] | None:
    """Narrow a recompute's scope to the accounts that can have behavioural failures in the
    window: those the recompute's own aggregates saw failing (no second scan of usage for the
    whole book) and those with failure days on record there (a corrected file may have zeroed
    them). None: every account in scope."""
    inputs = events.recompute_inputs()
    if inputs is None or (end - start).days >= INPUTS_WINDOW_DAYS:
        return account_ids
    sample = next(iter(inputs.values()), None)
    if sample is not None and not hasattr(sample, "unlicensed_failures_28"):
        return account_ids
    failing = {a for a, inp in inputs.items() if getattr(inp, "unlicensed_failures_28", 0) > 0}
    recorded = FailureDay.objects.filter(date__gte=start, date__lte=end)
    if account_ids is not None:
        recorded = recorded.filter(item__account_id__in=account_ids)
    failing |= set(recorded.values_list("item__account_id", flat=True).distinct())
    return sorted(failing)


def behavioral_items_update(
    *, as_of: date, account_ids: list[int] | None, days: int = LIVE_LOOKBACK_DAYS
) -> dict[str, int]:
    """Read the failed queries (chain not covered, dataset not found) of the `days` days up to
    `as_of` for these accounts (None: all) and bring the behavioural items up to date: new ones
    created (with their theme), each day's failures replaced, counts, first and last seen
    recomputed from the days. Idempotent. Returns counts of what changed."""
    start = as_of - timedelta(days=days - 1)
    scope = _failure_accounts(account_ids, start, as_of)
    if scope is not None and not scope:
        return {"created": 0, "updated": 0}
    rows = failed_queries_by_target(
        account_ids=scope, start=start, end=as_of, reasons=rules.BEHAVIORAL_REASONS
    )
    per_day: dict[tuple[int, str, str, str], dict[date, float]] = defaultdict(
        lambda: defaultdict(float)
    )
    for account_id, day, reason, chain, dataset, total in rows:
        key = (account_id, *rules.behavioral_key(reason, chain, dataset))
        per_day[key][day] += total

    def key_of(item: FeedbackItem) -> tuple[int, str, str, str]:
        return item.account_id, item.reason, item.chain, item.dataset

    items = FeedbackItem.objects.filter(source=Source.BEHAVIORAL)
    if scope is not None:
        items = items.filter(account_id__in=scope)
    # The items with failures in the window, as read now or as recorded before.
    failing_accounts = {k[0] for k in per_day}
    existing = {
        key_of(i): i
        for i in items.filter(
            Q(days__date__gte=start, days__date__lte=as_of) | Q(account_id__in=failing_accounts)
        ).distinct()
    }
    missing = [k for k in per_day if k not in existing]
    created = 0
    if missing:
        groupings = {("coverage_gap", chain, dataset) for _, _, chain, dataset in missing}
        themes = themes_route(groupings)
        state = accounts_state({k[0] for k in missing}, as_of)
        new = []
        for key in missing:
            account_id, reason, chain, dataset = key
            arr, tier, band = state.get(account_id, (Decimal(0), None, ""))
            new.append(
                FeedbackItem(
                    account_id=account_id,
                    theme=themes[("coverage_gap", chain, dataset)],
                    date=min(per_day[key]),
                    type=FeedbackType.COVERAGE_GAP,
                    severity="low",
                    title=rules.behavioral_title(reason, chain, dataset),
                    chain=chain,
                    dataset=dataset,
                    source=Source.BEHAVIORAL,
                    reason=reason,
                    arr_at_log=arr,
                    tier_at_log=tier,
                    band_at_log=band,
                )
            )
        # ignore_conflicts: another worker creating the same item a moment ago wins quietly.
        FeedbackItem.objects.bulk_create(new, ignore_conflicts=True)
        created = len(new)
        wanted = set(per_day) | set(existing)
        existing = {
            key_of(i): i
            for i in FeedbackItem.objects.filter(
                source=Source.BEHAVIORAL, account_id__in={k[0] for k in wanted}
            )
            if key_of(i) in wanted
        }
    touched = list(existing.values())
    if not touched:
        return {"created": created, "updated": 0}
    # Each day's count as read now: new days created, changed ones updated, days the usage no
    # longer shows deleted (an unchanged day is not written, so a repeat writes nothing).
    fresh = {
        (existing[key].pk, day): round(total)
        for key, by_day in per_day.items()
        if key in existing
        for day, total in by_day.items()
        if round(total) > 0
    }
    stored = {
        (d.item_id, d.date): d
        for d in FailureDay.objects.filter(item__in=touched, date__gte=start, date__lte=as_of)
    }
    FailureDay.objects.filter(pk__in=[d.pk for k, d in stored.items() if k not in fresh]).delete()
    changed_days = []
    for k, n in fresh.items():
        if k in stored and stored[k].failures != n:
            stored[k].failures = n
            changed_days.append(stored[k])
    FailureDay.objects.bulk_update(changed_days, ["failures"], batch_size=1000)
    FailureDay.objects.bulk_create(
        [
            FailureDay(item_id=i, date=d, failures=n)
            for (i, d), n in fresh.items()
            if (i, d) not in stored
        ],
        batch_size=2000,
    )
    totals = {
        row["item"]: row
        for row in FailureDay.objects.filter(item__in=touched)
        .values("item")
        .annotate(first=Min("date"), last=Max("date"), total=Sum("failures"))
    }
    gone, changed = [], []
    for item in touched:
        row = totals.get(item.pk)
        if row is None:
            gone.append(item.pk)
            continue
        values = {
            "date": row["first"],
            "first_seen": row["first"],
            "last_seen": row["last"],
            "failures": row["total"],
            "severity": rules.behavioral_severity(row["total"]),
        }
        if any(getattr(item, f) != v for f, v in values.items()):
            for f, v in values.items():
                setattr(item, f, v)
            changed.append(item)
    FeedbackItem.objects.bulk_update(
        changed, ["date", "first_seen", "last_seen", "failures", "severity"], batch_size=500
    )
    if gone:  # a corrected file took back every failure it had
        FeedbackItem.objects.filter(pk__in=gone).delete()
    return {"created": created, "updated": len(changed), "withdrawn": len(gone)}


def churn_items_refresh(*, as_of: date, account_ids: list[int] | None) -> dict[str, int]:
    """Log a churn-reason item for each account in scope whose last contract ended (within the
    last year) with nothing after it, once per end date; withdraw the ones a late renewal
    disproves. Returns counts."""
    contracts = Contract.objects.all()
    if account_ids is not None:
        contracts = contracts.filter(account_id__in=account_ids)
    last_end = dict(
        contracts.values("account_id").annotate(last=Max("end")).values_list("account_id", "last")
    )
    churned = {
        a: end
        for a, end in last_end.items()
        if end < as_of and end >= as_of - timedelta(days=CHURN_LOOKBACK_DAYS)
    }
    churn_items = FeedbackItem.objects.filter(source=Source.CHURN_REASON, logged_by__isnull=True)
    if account_ids is not None:
        churn_items = churn_items.filter(account_id__in=account_ids)
    stale = [
        i.pk
        for i in churn_items.only("pk", "account_id", "date")
        if last_end.get(i.account_id) is not None and last_end[i.account_id] > i.date
    ]
    if stale:
        FeedbackItem.objects.filter(pk__in=stale).delete()
    have = set(
        FeedbackItem.objects.filter(
            source=Source.CHURN_REASON, account_id__in=list(churned)
        ).values_list("account_id", "date")
    )
    wanted = {a: end for a, end in churned.items() if (a, end) not in have}
    if not wanted:
        return {"created": 0, "withdrawn": len(stale)}
    blame = _worst_open_items(list(wanted))
    arr = defaultdict(Decimal)
    for account_id, start, end, value in Contract.objects.filter(
        account_id__in=list(wanted)
    ).values_list("account_id", "start", "end", "arr"):
        if start <= wanted[account_id] <= end:
            arr[account_id] += value
    groupings = {
        (b.type, b.chain, b.dataset) if (b := blame.get(a)) else tuple(CHURN_UNKNOWN.split("|"))
        for a in wanted
    }
    themes = themes_route(groupings)
    tiers = dict(Account.objects.filter(pk__in=list(wanted)).values_list("pk", "tier"))
    new = []
    for account_id, end in wanted.items():
        b = blame.get(account_id)
        key = (b.type, b.chain, b.dataset) if b else tuple(CHURN_UNKNOWN.split("|"))
        detail = (
            f"The contract ended on {end.isoformat()} (${arr[account_id]:,.0f} ARR) and no "
            "renewal followed. "
            + (
                f"Their most severe open feedback was: {b.title} ({b.get_severity_display()})."
                if b
                else "They had no open feedback: ask their CSM why, and log it."
            )
        )
        new.append(
            FeedbackItem(
                account_id=account_id,
                theme=themes[key],
                date=end,
                type=b.type if b else FeedbackType.FEATURE,
                severity="high",
                title=CHURN_TITLE,
                detail=detail,
                chain=b.chain if b else "",
                dataset=b.dataset if b else "",
                source=Source.CHURN_REASON,
                arr_at_log=arr[account_id],
                tier_at_log=tiers.get(account_id),
            )
        )
    FeedbackItem.objects.bulk_create(new, ignore_conflicts=True)
    log.info("churn reasons: %d accounts ended without renewal", len(new))
    return {"created": len(new), "withdrawn": len(stale)}


def _worst_open_items(account_ids: list[int]) -> dict[int, FeedbackItem]:
    """Per account, its most severe (then latest) item in a theme still open."""
    found: dict[int, FeedbackItem] = {}
    for item in FeedbackItem.objects.filter(
        account_id__in=account_ids, theme__status__in=rules.OPEN_STATUSES
    ).exclude(source=Source.CHURN_REASON):
        best = found.get(item.account_id)
        rank = (SEVERITY_RANK.get(item.severity, 0), item.last_seen or item.date)
        if best is None or rank > (
            SEVERITY_RANK.get(best.severity, 0),
            best.last_seen or best.date,
        ):
            found[item.account_id] = item
    return found


# --- closing the loop -----------------------------------------------------------------------------


def _tell_title(account: Account, theme: Theme) -> str:
    return f"Tell {account.name}: {theme.title} shipped"[:200]


def _tell_detail(theme: Theme, said: list[str]) -> str:
    lines = [
        f"Product shipped “{theme.title}” on {theme.shipped_on.isoformat()}.",
        f"What they told us: {'; '.join(said[:3])}." if said else "",
        theme.description,
        "Tell them it is live (gold for the renewal) and mark this task done: the theme's loop "
        "closes when every account was told.",
    ]
    return "\n".join(line for line in lines if line)


def tells_send(*, theme: Theme) -> list[LoopTell]:
    """One "tell the customer" per account of a shipped theme, ever: a task for the account's
    CSM (or its tier's pool) in tiers 1-2, a nudge to the product's webhook in tier 3."""
    said: dict[int, list[str]] = defaultdict(list)
    for account_id, title in theme.items.order_by("-date").values_list("account_id", "title"):
        said[account_id].append(title)
    told = set(theme.tells.values_list("account_id", flat=True))
    accounts = Account.objects.in_bulk([a for a in said if a not in told])
    if not accounts:
        return []
    due = clock.today() + timedelta(days=TELL_DUE_DAYS)
    tasks: dict[int, Task] = {}
    nudges: dict[int, Nudge] = {}
    for account_id, account in sorted(accounts.items()):
        if account.tier == 3:
            nudges[account_id] = Nudge(
                account=account,
                kind=NUDGE_KIND,
                key=theme.key,
                message=f"Shipped: {theme.title}. You asked for it; it is live now."[:300],
                payload={
                    "account": account.external_id,
                    "theme": theme.key,
                    "title": theme.title,
                    "type": theme.type,
                    "chain": theme.chain,
                    "dataset": theme.dataset,
                    "shipped_on": theme.shipped_on.isoformat(),
                },
            )
        else:
            tasks[account_id] = Task(
                account=account,
                title=_tell_title(account, theme),
                detail=_tell_detail(theme, said[account_id]),
                due=due,
                owner_id=account.csm_id,
                pool="" if account.csm_id else f"tier{account.tier}",
            )
    Task.objects.bulk_create(tasks.values())
    Nudge.objects.bulk_create(nudges.values(), ignore_conflicts=True)
    if nudges:
        stored = {
            n.account_id: n
            for n in Nudge.objects.filter(
                kind=NUDGE_KIND, key=theme.key, account_id__in=list(nudges)
            )
        }
        nudges = {a: stored[a] for a in nudges if a in stored}
    tells = LoopTell.objects.bulk_create(
        [
            LoopTell(theme=theme, account_id=a, task=tasks.get(a), nudge=nudges.get(a))
            for a in accounts
        ]
    )
    nudge_ids = [n.pk for n in nudges.values()]
    if nudge_ids:
        transaction.on_commit(lambda: nudges_enqueue(nudge_ids))
    _event(
        theme,
        ThemeEvent.Kind.LOOP,
        by=None,
        note=f"told the customers: {len(tasks)} tasks for CSMs, {len(nudges)} nudges",
    )
    return tells


def tells_waiting(theme: Theme) -> int:
    """How many of the theme's accounts are still to be told (their task is not done). A
    nudge tells by itself; a task deleted or cancelled tells nobody but waits for no one."""
    return theme.tells.filter(task__isnull=False, task__status=TaskStatus.OPEN).count()


def themes_close_loops() -> list[Theme]:
    """Close the loop of every shipped theme whose accounts were all told."""
    closed = []
    waiting = set(
        LoopTell.objects.filter(
            theme__status=ThemeStatus.SHIPPED, task__status=TaskStatus.OPEN
        ).values_list("theme_id", flat=True)
    )
    for theme in Theme.objects.filter(status=ThemeStatus.SHIPPED).exclude(pk__in=waiting):
        theme_status_change(
            theme=theme, to=ThemeStatus.LOOP_CLOSED, by=None, reason="every account was told"
        )
        closed.append(theme)
    return closed


# --- the recompute listener --------------------------------------------------------------------


def after_recompute(
    *, as_of: date, account_ids: list[int] | None, since_days: int = 1, **_: Any
) -> None:
    """Registered with `health.events.on_recompute` by VocConfig.ready(): in the recompute's
    transaction, the behavioural items from the failed queries just scored, churn reasons for
    contracts that ended without renewal, and loops that can close."""
    days = max(since_days, LIVE_LOOKBACK_DAYS) if events.is_live(as_of) else since_days
    behavioral_items_update(as_of=as_of, account_ids=account_ids, days=days)
    churn_items_refresh(as_of=as_of, account_ids=account_ids)
    themes_close_loops()
