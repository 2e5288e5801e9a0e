"""Plan and complete onboarding milestones; save a success plan."""

from __future__ import annotations

from datetime import date, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction

from accounts.models import Account, User
from accounts.permissions import can_edit_account
from cs_portal import clock
from cs_portal.sql import columns
from health.models import UsageFact
from playbooks.models import Milestone, SuccessPlan

from .rules import (
    METRIC_WORDS,
    MILESTONE_OFFSETS,
    USAGE_PROOF,
    as_date,
    milestone_keys_for,
    success_plan_validate,
)
from .selectors import plan_on


def milestones_plan(*, account: Account, start: date, plan: str | None = None) -> list[Milestone]:
    """Create the standard onboarding milestones of the account's tier, due relative to `start`.

    Idempotent: milestones the account already has keep their due dates and completion. `plan`
    defaults to the plan of the contract running on `start` (it decides the product milestones).
    Returns all of the account's milestones, in due order.
    """
    if account.tier not in MILESTONE_OFFSETS:
        raise ValidationError({"tier": f"No milestone plan for tier {account.tier}."})
    plan = plan or plan_on(account, start)
    offsets = MILESTONE_OFFSETS[account.tier]
    Milestone.objects.bulk_create(
        [
            Milestone(account=account, key=key, due=start + timedelta(days=offsets[key]))
            for key in milestone_keys_for(tier=account.tier, plan=plan)
        ],
        ignore_conflicts=True,
    )
    return list(account.milestones.order_by("due", "id"))


def milestone_complete(
    *, milestone: Milestone, user: User, on: date | None = None, evidence: str = ""
) -> Milestone:
    """Tick a milestone by hand (CSM owner or manager). Completing it twice changes nothing."""
    if not can_edit_account(user, milestone.account):
        raise PermissionDenied("Only the account's CSM or a manager can complete milestones.")
    if milestone.completed_on is not None:
        return milestone
    on = on or clock.today()
    errors = {}
    if on > clock.today():
        errors["on"] = "A milestone cannot be completed in the future."
    evidence = evidence.strip()
    if len(evidence) > 200:
        errors["evidence"] = "Keep the evidence under 200 characters."
    if errors:
        raise ValidationError(errors)
    evidence = evidence or f"Marked complete by {user.display_name}"
    # Conditional update: two clicks racing complete it once, with the first one's evidence.
    updated = Milestone.objects.filter(pk=milestone.pk, completed_on__isnull=True).update(
        completed_on=on, evidence=evidence
    )
    milestone.refresh_from_db()
    if updated:
        milestone.completed_on, milestone.evidence = on, evidence
    return milestone


def milestones_complete_from_usage(*, as_of: date, account_ids: list[int] | None = None) -> int:
    """Complete the open milestones usage can prove, dated the first day the usage shows it.

    One query over the usage facts of the accounts in scope that still have such a milestone
    open (first day with queries / API calls / stream events > 0, up to `as_of`, with that day's
    total), one read of the open milestones and one bulk update. Returns how many completed.
    """
    open_qs = Milestone.objects.filter(completed_on__isnull=True, key__in=list(USAGE_PROOF))
    if account_ids is not None:
        if not account_ids:
            return 0
        open_qs = open_qs.filter(account_id__in=account_ids)
    u = columns(UsageFact, "account_id", "metric", "value", "date")
    m = columns(Milestone, "account_id", "completed_on", "key")
    scope, params = "", [as_of]
    if account_ids is not None:
        scope = f" AND {u.account_id} IN ({', '.join(['%s'] * len(account_ids))})"
        params += list(account_ids)
    metrics = ", ".join(f"'{m}'" for m in USAGE_PROOF.values())
    keys = ", ".join(f"'{k}'" for k in USAGE_PROOF)
    sql = f"""
        WITH firsts AS (
          SELECT {u.account_id} AS account_id, {u.metric} AS metric, MIN({u.date}) AS first_day
          FROM {u.table}
          WHERE {u.metric} IN ({metrics}) AND {u.value} > 0 AND {u.date} <= %s{scope}
            AND {u.account_id} IN (SELECT {m.account_id} FROM {m.table}
                               WHERE {m.completed_on} IS NULL AND {m.key} IN ({keys}))
          GROUP BY {u.account_id}, {u.metric}
        )
        SELECT f.account_id, f.metric, f.first_day, SUM(u.{u.value})
        FROM firsts f
        JOIN {u.table} u ON u.{u.account_id} = f.account_id AND u.{u.metric} = f.metric
          AND u.{u.date} = f.first_day
        GROUP BY f.account_id, f.metric, f.first_day
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        firsts = {(row[0], row[1]): (as_date(row[2]), row[3]) for row in cursor.fetchall()}
    if not firsts:
        return 0
    done = []
    for milestone in open_qs.filter(account_id__in={a for a, _ in firsts}).only(
        "id", "account_id", "key"
    ):
        metric = USAGE_PROOF[milestone.key]
        hit = firsts.get((milestone.account_id, metric))
        if hit is None:
            continue
        day, value = hit
        milestone.completed_on = day
        milestone.evidence = (
            f"Usage: {value:,.0f} {METRIC_WORDS[metric]} on {day.isoformat()} (first day with any)"
        )[:200]
        done.append(milestone)
    Milestone.objects.bulk_update(done, ["completed_on", "evidence"], batch_size=500)
    return len(done)


@transaction.atomic
def success_plan_save(*, account: Account, user: User, data: dict) -> SuccessPlan:
    """Create or update the account's success plan (CSM owner or manager), validated."""
    if not can_edit_account(user, account):
        raise PermissionDenied("Only the account's CSM or a manager can edit its success plan.")
    values = success_plan_validate(data=data)
    plan, _ = SuccessPlan.objects.update_or_create(account=account, defaults=values)
    return plan
