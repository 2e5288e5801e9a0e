"""Demo data for the expansion pipeline: `demo_expansion_seed(today)`, called by seed_demo after
the live recompute has drawn the opportunities the book's usage supports.

- The drawn opportunities are walked along the pipeline by the people who would move them
  (the account's CSM qualifies and hands off, its AE wins or loses), through the same service
  the board uses, so the stage history, the AE's hand-off alert and the board's win rates and
  times in stage are real. The moves are then dated back over the last weeks, so ages and
  times in stage vary.
- The book's usage draws one commit upsize (the heavy-burn story); the other commit-upsize
  cards are history: two from the current period whose trigger has since stopped holding (left
  open, marked so) and two closed in an earlier period, one won (its ARR shows up in the
  renewal contract that followed) and one lost. Their evidence says `"source": "demo history"`.
- Idempotent: once any opportunity has left `identified`, the demo's walk is not repeated.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts.models import Account, Contract, Role, User
from expansion import services as expansion_services
from expansion.models import Opportunity, OpportunityKind, Stage, StageChange

HISTORY = "demo history"
# Per kind, the stages the demo walks drawn opportunities to, in order of ARR potential (the
# biggest first); the rest stay identified.
WALK = (
    Stage.HANDED_OFF,
    Stage.WON,
    Stage.QUALIFIED,
    Stage.LOST,
    Stage.HANDED_OFF,
    Stage.QUALIFIED,
    Stage.LOST,
)
PATHS = {
    Stage.QUALIFIED: (Stage.QUALIFIED,),
    Stage.HANDED_OFF: (Stage.QUALIFIED, Stage.HANDED_OFF),
    Stage.WON: (Stage.QUALIFIED, Stage.HANDED_OFF, Stage.WON),
    Stage.LOST: (Stage.QUALIFIED, Stage.HANDED_OFF, Stage.LOST),
}
LOST_REASONS = ("budget", "timing", "competitor", "no_need")
WON_SHARE = Decimal("0.8")  # a demo win lands 80 % of the potential
JUDGED_AT = 0.65  # history: the trigger held 65 % into the period (35 % of it left)


def demo_expansion_seed(today: date) -> Counter:
    """Walk the drawn opportunities along the pipeline and add the commit-upsize history.
    Returns how many opportunities sit in each stage."""
    if not Opportunity.objects.exclude(stage=Stage.IDENTIFIED).exists():
        with transaction.atomic():
            manager = User.objects.filter(role=Role.MANAGER).order_by("pk").first()
            _walk(today, manager)
            _history(today)
    return Counter(Opportunity.objects.values_list("stage", flat=True))


def _walk(today: date, manager: User | None) -> None:
    drawn = (
        Opportunity.objects.filter(stage=Stage.IDENTIFIED, account__ae__isnull=False)
        .select_related("account__csm", "account__ae")
        .order_by("kind", "-arr_potential", "account__external_id")
    )
    by_kind: dict[str, list[Opportunity]] = {}
    for opp in drawn:
        by_kind.setdefault(opp.kind, []).append(opp)
    n = 0
    for kind in OpportunityKind.values:
        for opp, goal in zip(by_kind.get(kind, []), WALK, strict=False):
            _move_along(opp, goal, today=today, manager=manager, n=n)
            n += 1


def _move_along(opp: Opportunity, goal: str, *, today: date, manager: User | None, n: int):
    csm = opp.account.csm or manager
    ae = opp.account.ae
    steps = PATHS[goal]
    for step in steps:
        who = ae if step in (Stage.WON, Stage.LOST) else csm
        opp = expansion_services.opportunity_move(
            opportunity=opp,
            to_stage=step,
            user=who,
            won_arr=(opp.arr_potential * WON_SHARE).quantize(Decimal("1"))
            if step == Stage.WON
            else None,
            lost_reason=LOST_REASONS[n % len(LOST_REASONS)] if step == Stage.LOST else "",
            note="demo",
        )
    # Date the walk back: drawn 20-60 days ago, each step some days after the one before.
    drawn_days_ago = 20 + (n * 7) % 41
    _date_back(opp, today=today, drawn_days_ago=drawn_days_ago, gaps=(4 + n % 6, 6 + n % 9, 9))


def _at(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(15, 0)), timezone.get_current_timezone())


def _date_back(opp: Opportunity, *, today: date, drawn_days_ago: int, gaps: tuple) -> None:
    day = today - timedelta(days=drawn_days_ago)
    Opportunity.objects.filter(pk=opp.pk).update(created_at=_at(day))
    last = day
    for i, change in enumerate(StageChange.objects.filter(opportunity=opp).order_by("id")):
        if i:
            last = min(last + timedelta(days=gaps[(i - 1) % len(gaps)]), today)
        StageChange.objects.filter(pk=change.pk).update(changed_at=_at(last))
    closed = {"closed_on": last} if opp.stage in (Stage.WON, Stage.LOST) else {}
    Opportunity.objects.filter(pk=opp.pk).update(stage_changed_at=_at(last), **closed)


def _history(today: date) -> None:
    """Commit-upsize opportunities from before today's evidence (see the module docstring)."""
    taken = set(
        Opportunity.objects.filter(kind=OpportunityKind.COMMIT_UPSIZE).values_list(
            "account_id", flat=True
        )
    )
    candidates = (
        Account.objects.filter(ae__isnull=False, csm__isnull=False, tier__in=(1, 2))
        .exclude(pk__in=taken)
        .filter(contracts__commit_units__isnull=False)
        .distinct()
        .order_by("external_id")
    )
    renewed_up, current = [], []
    for account in candidates:
        contracts = list(Contract.objects.filter(account=account).order_by("start"))
        for before, after in zip(contracts, contracts[1:], strict=False):
            if (
                after.arr > before.arr
                and before.commit_units
                and today - timedelta(days=330) <= after.start <= today
            ):
                renewed_up.append((account, before, after))
                break
        else:
            live = [c for c in contracts if c.start <= today <= c.end and c.commit_units]
            if live and today - live[0].start > (live[0].end - live[0].start) * JUDGED_AT:
                current.append((account, live[0]))
    if len(renewed_up) >= 2:
        (won_acct, won_before, won_after), (lost_acct, lost_before, _) = renewed_up[:2]
        won = _historical(won_acct, won_before, share=0.93, today=today, stage=Stage.WON)
        won.won_arr = won_after.arr - won_before.arr
        lost = _historical(lost_acct, lost_before, share=0.91, today=today, stage=Stage.LOST)
        lost.lost_reason = "budget"
        won.save(update_fields=["won_arr"])
        lost.save(update_fields=["lost_reason"])
    for (account, contract), stage in zip(
        current[:2], (Stage.IDENTIFIED, Stage.QUALIFIED), strict=False
    ):
        _historical(account, contract, share=0.9, today=today, stage=stage)


def _historical(
    account: Account, contract: Contract, *, share: float, today: date, stage: str
) -> Opportunity:
    """One commit-upsize opportunity whose evidence is from the demo's history: judged 65 % into
    `contract`'s period with `share` of its commit consumed."""
    closed = stage in (Stage.WON, Stage.LOST)
    period_days = (contract.end - contract.start).days + 1
    judged = min(contract.start + timedelta(days=round(period_days * JUDGED_AT)), today)
    commit = float(contract.commit_units)
    days_left = (contract.end - judged).days
    elapsed = (judged - contract.start).days + 1
    consumed = commit * share
    needed = consumed + consumed / elapsed * days_left
    arr = float(contract.arr) * max(needed / commit - 1, 0)
    thesis = (
        f"Consumed {round(share * 100)} % of {commit:,.0f} committed units with {days_left} days "
        f"left; at the run-rate then ({consumed / elapsed:,.0f} units a day) they needed "
        f"~{round(needed, -3):,.0f} for the period. ARR potential ${arr:,.0f}: the overage at "
        f"their unit price."
    )
    now = _at(judged)
    opp = Opportunity.objects.create(
        account=account,
        kind=OpportunityKind.COMMIT_UPSIZE,
        target=f"period {contract.start.isoformat()}",
        stage=stage,
        thesis=thesis,
        evidence={
            "trigger": "commit_upsize",
            "source": HISTORY,
            "consumed_share": share,
            "commit": commit,
            "days_left": days_left,
            "period_start": contract.start.isoformat(),
            "period_end": contract.end.isoformat(),
            "needed_for_period": round(needed, 1),
            "chart": "burn_up",
            "as_of": judged.isoformat(),
        },
        arr_potential=Decimal(f"{arr:.2f}"),
        owner=account.csm,
        ae=account.ae,
        trigger_holds=False,  # judged on an earlier day; today's usage does not draw it
        evidence_as_of=judged,
        stage_changed_at=now,
        closed_on=min(judged + timedelta(days=30), today) if closed else None,
    )
    Opportunity.objects.filter(pk=opp.pk).update(created_at=now)
    path = [("", Stage.IDENTIFIED, None)]
    if stage != Stage.IDENTIFIED:
        path.append((Stage.IDENTIFIED, Stage.QUALIFIED, account.csm))
    if closed:
        path += [
            (Stage.QUALIFIED, Stage.HANDED_OFF, account.csm),
            (Stage.HANDED_OFF, stage, account.ae),
        ]
    step = timedelta(days=30 // max(len(path) - 1, 1)) if closed else timedelta(days=5)
    StageChange.objects.bulk_create(
        StageChange(
            opportunity=opp,
            from_stage=before,
            to_stage=after,
            changed_by=who,
            changed_at=now + step * i,
            note=HISTORY,
        )
        for i, (before, after, who) in enumerate(path)
    )
    Opportunity.objects.filter(pk=opp.pk).update(stage_changed_at=now + step * (len(path) - 1))
    return opp


def demo_expansion_summary() -> str:
    counts = Counter(Opportunity.objects.values_list("kind", "stage"))
    kinds = Counter(Opportunity.objects.values_list("kind", flat=True))
    missing = [
        f"{k}/{s}" for k in OpportunityKind.values for s in Stage.values if not counts[(k, s)]
    ]
    text = ", ".join(f"{n} {k}" for k, n in kinds.most_common())
    missing_text = f"; no card yet for {', '.join(missing)}" if missing else ""
    return text + (missing_text or "; every kind at every stage")
