"""Reads of QBR prep: the six sections assembled from the lower apps' selectors, a QBR's
sections (live for a draft, frozen once saved), an account's QBRs, and the QBRs due.

Every number comes through the owning app's selector: accounts (commercials, touchpoints),
health (usage, burn-up, snapshots), playbooks (success plan, milestones, time to value),
expansion (the open commit-upsize opportunity) and voc (the account's feedback and themes).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Q, QuerySet
from django.urls import reverse

from accounts import selectors as account_selectors
from accounts.models import Account, Tier, TouchpointKind, User
from accounts.permissions import is_manager
from cs_portal import clock
from expansion import selectors as expansion_selectors
from expansion.models import OpportunityKind
from health import selectors as health_selectors
from health.engine import QBR_CADENCE_DAYS
from playbooks.success import selectors as success_selectors
from playbooks.success.rules import Money
from voc import selectors as voc_selectors
from voc.rules import chain_name

from . import rules
from .models import NextStep, Qbr, QbrStatus

USAGE_METRIC = "units"
TOP_SERIES = 6
TIER2_RENEWAL_DAYS = 120
PRODUCT_NAMES = {
    "explorer": "Explorer",
    "developer": "Developer API",
    "datastreams": "Datastreams",
    "credits": "Legacy credits",
}


@dataclass
class Context:
    """What every section reads: the account (commercials as of the period's end), the period,
    the last day with data in it, and the success plan's outcome lines."""

    account: Account
    start: date
    end: date
    as_of: date
    outcomes: list[str]
    plan: object | None
    asked_by: date | None = None  # the roadmap lists what was asked up to this day (today)


def _as_of(end: date) -> date:
    return min(end, clock.last_complete_day())


def _account_on(account: Account, day: date) -> Account:
    return account_selectors.accounts_with_commercials(as_of=day).get(pk=account.pk)


# --- the sections ------------------------------------------------------------------------------


def health_section(ctx: Context) -> dict:
    day = health_selectors.latest_snapshot_date(ctx.as_of)
    snap = health_selectors.account_snapshot(account=ctx.account, as_of=day) if day else None
    if snap is None:
        return rules.section(
            "health",
            missing="No health score on or before the period's end: the account is scored "
            "after its usage is imported (Imports page) and the daily recompute runs.",
        )
    return rules.section(
        "health",
        sentence=f"Health {snap.band} at {snap.score} on {snap.date:%b} {snap.date.day}, "
        f"{snap.date.year} (internal score).",
        facts=[
            {"label": "Health score", "value": str(snap.score)},
            {"label": "Band", "value": snap.band},
        ],
    )


def outcomes_section(ctx: Context) -> dict:
    account, plan = ctx.account, ctx.plan
    milestones = success_selectors.account_milestones(account=account, today=ctx.as_of)
    reached = [
        m for m in milestones if m.milestone.completed_on and m.milestone.completed_on <= ctx.end
    ]
    in_period = [m for m in reached if m.milestone.completed_on >= ctx.start]
    ttv = success_selectors.account_ttv(account=account, today=ctx.as_of)
    if ttv.days is not None:
        ttv_value = f"{ttv.days} days"
    elif ttv.days_so_far is not None:
        ttv_value = f"not yet ({ttv.days_so_far} days in)"
    else:
        ttv_value = "—"
    facts = [
        {"label": "Milestones reached", "value": f"{len(reached)} of {len(milestones)}"},
        {"label": "Time to value", "value": ttv_value},
    ]
    rows = [
        [
            m.label,
            f"{m.milestone.completed_on:%b} {m.milestone.completed_on.day}, "
            f"{m.milestone.completed_on.year}",
            m.milestone.evidence or "",
        ]
        for m in reached
    ]
    table = {"columns": ["Milestone", "Reached", "Evidence"], "rows": rows} if rows else None
    if plan is None:
        return rules.section(
            "outcomes",
            facts=facts,
            table=table,
            missing="No success plan yet, so there are no outcomes or ROI baseline to report. "
            "Agree the outcomes and the baseline (FTEs saved, infra avoided, time to market) "
            "with the customer and add them on the account's Success plan tab, then refresh "
            "this draft.",
        )
    roi = []
    if plan.ftes_saved is not None:
        roi.append({"label": "FTEs saved", "value": f"{plan.ftes_saved:g}"})
    infra_text = ""
    if plan.infra_avoided_per_year is not None:
        period_amount = rules.prorated(plan.infra_avoided_per_year, ctx.start, ctx.end)
        per_year = str(Money(plan.infra_avoided_per_year, plan.currency))
        in_period_money = str(Money(round(period_amount), plan.currency))
        roi.append({"label": "Infra avoided per year", "value": per_year})
        roi.append({"label": "Infra avoided this period", "value": in_period_money})
        infra_text = f"{in_period_money} of node and indexer spend avoided this period"
    if plan.time_to_market_days is not None:
        roi.append({"label": "Sooner to market", "value": f"{plan.time_to_market_days} days"})
    gains = []
    if plan.ftes_saved is not None:
        gains.append(f"{plan.ftes_saved:g} FTE of in-house indexing saved")
    if infra_text:
        gains.append(infra_text)
    lead = ctx.outcomes[0] if ctx.outcomes else "Your outcomes"
    sentence = f"{lead}."
    if gains:
        joined = " and ".join(gains)
        sentence += f" {joined[0].upper()}{joined[1:]}."
    if in_period:
        n = len(in_period)
        sentence += f" {n} onboarding milestone{'s' if n != 1 else ''} reached this period."
    outcome_rows = [[line, plan.get_status_display()] for line in ctx.outcomes]
    return rules.section(
        "outcomes",
        sentence=sentence,
        facts=roi + facts,
        table={"columns": ["Outcome", "Status"], "rows": outcome_rows},
        extra_table=table,
    )


def _series_table(
    split: dict[str, list[tuple[date, float]]], ctx: Context, namer, *, strict: bool
) -> tuple[list[list[str]], dict]:
    categories: list[str] = []
    series = []
    rows = []
    for key, points in split.items():
        weeks = rules.weekly(points, ctx.start)
        if not categories:
            categories = [f"{d:%b} {d.day}" for d, _ in weeks]
        values = [round(v, 2) for _, v in weeks]
        total = sum(v for _, v in points)
        name = namer(key)
        trend = rules.trend_pct(values)
        rows.append(
            [
                name,
                rules.number(total),
                rules.trend_words(trend),
                rules.workflow_for(name, ctx.outcomes, strict=strict) or "—",
            ]
        )
        series.append({"name": name, "values": values})
    return rows, {"categories": categories, "series": series}


def _product_name(key: str) -> str:
    return PRODUCT_NAMES.get(key, key.replace("_", " ").capitalize())


def _chain_name(key: str) -> str:
    return "Other chains" if key == "other" else chain_name(key)


def usage_section(ctx: Context) -> dict:
    products, chains = (
        health_selectors.usage_by(
            account=ctx.account,
            metric=USAGE_METRIC,
            dimension=dimension,
            start=ctx.start,
            end=ctx.as_of,
            top=TOP_SERIES,
        )
        for dimension in ("product", "chain")
    )
    products = {k: v for k, v in products.items() if sum(x for _, x in v) > 0}
    chains = {k: v for k, v in chains.items() if sum(x for _, x in v) > 0 and k != "unspecified"}
    if not products and not chains:
        return rules.section(
            "usage",
            missing="No usage recorded in this period. Check that the usage import covers "
            "these dates (Imports page, kind usage) or pick a period with data.",
        )
    product_rows, product_chart = _series_table(products, ctx, _product_name, strict=False)
    chain_rows, _ = _series_table(chains, ctx, _chain_name, strict=True)
    total = sum(sum(x for _, x in v) for v in products.values())
    chain_totals = [
        (r[0], sum(x for _, x in v)) for r, v in zip(chain_rows, chains.values(), strict=True)
    ]
    top_chain = chain_rows[0][0] if chain_rows else ""
    trend = rules.trend_pct(
        [sum(vals) for vals in zip(*[s["values"] for s in product_chart["series"]], strict=True)]
    )
    chain_word = f" across {len(chains)} chain{'s' if len(chains) != 1 else ''}" if chains else ""
    sentence = (
        f"{rules.number(total)} units consumed this period{chain_word}, "
        f"{rules.trend_words(trend)} from the first half to the second."
    )
    if top_chain:
        flow = rules.workflow_for(top_chain, ctx.outcomes, strict=True)
        sentence += f" {top_chain} leads" + (
            f", powering: {flow[0].lower()}{flow[1:]}." if flow else "."
        )
    charts = [
        {
            "kind": "line",
            "title": "Units consumed per week, by product",
            "x_title": "Week starting",
            "y_title": "Units",
            **product_chart,
        }
    ]
    if chain_totals:
        charts.append(
            {
                "kind": "bar",
                "title": "Units consumed this period, by chain",
                "x_title": "Chain",
                "y_title": "Units",
                "categories": [name for name, _ in chain_totals],
                "series": [{"name": "Units", "values": [round(v, 2) for _, v in chain_totals]}],
            }
        )
    return rules.section(
        "usage",
        sentence=sentence,
        facts=[
            {"label": "Units this period", "value": rules.number(total)},
            {"label": "Trend", "value": rules.trend_words(trend)},
            {"label": "Chains used", "value": str(len(chains))},
        ],
        table={
            "columns": ["Product or chain", "Units", "Trend", "Workflow it powers"],
            "rows": product_rows + chain_rows,
        },
        charts=charts,
    )


def peers_of(account: Account, *, plan: str | None, on: date) -> QuerySet[Account]:
    """Similar accounts: same segment and the same plan on `on`, this one left out (ids, to
    be used as a subquery)."""
    qs = account_selectors.accounts_with_commercials(as_of=on).filter(segment=account.segment)
    qs = qs.filter(current_plan=plan) if plan else qs.filter(current_plan__isnull=True)
    return qs.exclude(pk=account.pk).values("pk")


def untapped_section(ctx: Context) -> dict:
    account, start, end = ctx.account, ctx.start, ctx.as_of
    before = start - timedelta(days=180)
    rows: list[list[str]] = []
    peer_counts: dict[str, int] = {}
    lapsed: list[str] = []
    lapsed_rows: list[list[str]] = []
    peers = peers_of(account, plan=account.current_plan, on=end)
    peer_total = peers.count()
    for dimension, label, namer in (("dataset", "Dataset", str), ("chain", "Chain", _chain_name)):
        now = health_selectors.usage_reach(
            accounts=[account.pk], dimension=dimension, start=start, end=end
        )
        earlier = health_selectors.usage_reach(
            accounts=[account.pk], dimension=dimension, start=before, end=start - timedelta(days=1)
        )
        for value in sorted(set(earlier) - set(now)):
            lapsed.append(namer(value))
            rows.append([label, namer(value), "Used before this period, not in it", ""])
            lapsed_rows.append(rows[-1])
        if peer_total:
            reach = health_selectors.usage_reach(
                accounts=peers, dimension=dimension, start=start, end=end
            )
            for value, n in sorted(reach.items(), key=lambda kv: (-kv[1], kv[0])):
                if value in now or value in earlier:
                    continue
                peer_counts[namer(value)] = n
                rows.append(
                    [label, namer(value), "Similar accounts use it", f"{n} of {peer_total}"]
                )
    rows = rows[:14]
    if not rows:
        return rules.section(
            "untapped",
            facts=[{"label": "Similar accounts", "value": str(peer_total)}],
            missing=(
                "Nothing untapped found: every dataset and chain they used before is still in "
                "use, and "
                + (
                    "similar accounts use nothing they do not."
                    if peer_total
                    else "there are no similar accounts (same segment and plan) to compare with."
                )
                + " Add what you know from the account's plans by hand in this sentence."
            ),
        )
    parts = []
    if peer_counts:
        top = sorted(peer_counts.items(), key=lambda kv: -kv[1])[:2]
        parts.append(
            "Similar accounts get value from "
            + rules.human_list([f"{name} ({n} of {peer_total})" for name, n in top])
            + ", which you do not use yet"
        )
    if lapsed:
        parts.append("you stopped using " + rules.human_list(lapsed[:3]) + " this period")
    sentence = "; ".join(parts)
    sentence = sentence[0].upper() + sentence[1:] + "."
    chart = []
    if peer_counts:
        top = sorted(peer_counts.items(), key=lambda kv: (-kv[1], kv[0]))[:8]
        chart.append(
            {
                "kind": "bar",
                "title": f"Similar accounts using it ({peer_total} with the same segment and plan)",
                "x_title": "Dataset or chain",
                "y_title": "Accounts",
                "categories": [name for name, _ in top],
                "series": [{"name": "Similar accounts", "values": [n for _, n in top]}],
            }
        )
    return rules.section(
        "untapped",
        sentence=sentence,
        facts=[
            {"label": "Similar accounts", "value": str(peer_total)},
            {"label": "Lapsed datasets and chains", "value": str(len(lapsed))},
            {"label": "Used by peers, not here", "value": str(len(peer_counts))},
        ],
        table={"columns": ["Kind", "Name", "Why", "Similar accounts"], "rows": rows},
        deck_table=(
            {"columns": ["No longer used", "Kind"], "rows": [[r[1], r[0]] for r in lapsed_rows]}
            if lapsed_rows
            else None
        ),
        charts=chart,
    )


def commit_section(ctx: Context) -> dict:
    account = ctx.account
    burn = health_selectors.commit_burn_up(account=account, as_of=ctx.as_of)
    if burn is None or burn.commit <= 0:
        return rules.section(
            "commit",
            missing="No commit on the contract running at the period's end, so there is no "
            "consumption to measure against it. Add commit_units to the contract (contracts "
            "import) to track consumption and its run-rate projection.",
        )
    consumed = burn.consumed[-1][1] if burn.consumed else 0.0
    rate, projected = rules.run_rate_projection(burn.consumed, as_of=ctx.as_of, end=burn.period_end)
    verdict = rules.pace_verdict(projected=projected, commit=burn.commit)
    share = 100 * consumed / burn.commit
    projected_share = 100 * projected / burn.commit
    period_days = (burn.period_end - burn.period_start).days + 1
    cats, consumed_s, pace_s, projection_s = [], [], [], []
    running_by_day = dict(burn.consumed)
    day = burn.period_start
    while day <= burn.period_end:
        cats.append(f"{day:%b} {day.day}")
        elapsed = (day - burn.period_start).days + 1
        pace_s.append(round(burn.commit * elapsed / period_days, 2))
        if day <= ctx.as_of:
            consumed_s.append(round(running_by_day.get(day, consumed), 2))
            last_week = day + timedelta(days=7) > ctx.as_of
            projection_s.append(consumed_s[-1] if last_week else None)
        else:
            consumed_s.append(None)
            projection_s.append(round(consumed + rate * (day - ctx.as_of).days, 2))
        day += timedelta(days=7)
    link = None
    opp = expansion_selectors.open_opportunity(account=account, kind=OpportunityKind.COMMIT_UPSIZE)
    end_words = f"{burn.period_end:%b} {burn.period_end.day}, {burn.period_end.year}"
    if verdict == "over":
        sentence = (
            f"You have used {share:.0f}% of your commit; at this run-rate you reach "
            f"{projected_share:.0f}% by {end_words}. Let us size the next commit now, so "
            "growth is never throttled."
        )
        if opp is not None:
            link = {
                "label": f"Open commit upsize: {opp.thesis[:80]}"
                if opp.thesis
                else "Open commit upsize",
                "url": reverse("account_expansion", args=[account.external_id]),
            }
    elif verdict == "under":
        sentence = (
            f"You have used {share:.0f}% of your commit; at this run-rate you reach "
            f"{projected_share:.0f}% by {end_words}. We propose a joint adoption plan: the "
            "workflows still to move onto the feed, with owners and dates, so the renewal "
            "reflects the value."
        )
    else:
        sentence = (
            f"You have used {share:.0f}% of your commit and are on pace to use it in full "
            f"({projected_share:.0f}%) by {end_words}."
        )
    return rules.section(
        "commit",
        sentence=sentence,
        verdict=verdict,
        facts=[
            {"label": "Commit", "value": f"{rules.number(burn.commit)} units"},
            {"label": "Consumed", "value": f"{rules.number(consumed)} ({share:.0f}%)"},
            {
                "label": "Run-rate at contract end",
                "value": f"{rules.number(projected)} ({projected_share:.0f}%)",
            },
            {
                "label": "Pace",
                "value": {"over": "Over pace", "under": "Under pace", "on": "On pace"}[verdict],
            },
        ],
        charts=[
            {
                "kind": "line",
                "title": f"Units consumed against the commit, {burn.period_start:%b %Y} – "
                f"{burn.period_end:%b %Y}",
                "x_title": "Week",
                "y_title": "Cumulative units",
                "categories": cats,
                "series": [
                    {"name": "Consumed", "values": consumed_s},
                    {"name": "Commit, pro rata", "values": pace_s},
                    {"name": "Run-rate projection", "values": projection_s},
                ],
            }
        ],
        link=link,
    )


def roadmap_section(ctx: Context) -> dict:
    # Everything asked up to the day the QBR is assembled (or, for one held on an earlier day,
    # that day): the roadmap is where things stood for the meeting, not at the period's end.
    cutoff = ctx.asked_by or clock.today()
    items = [i for i in voc_selectors.account_feedback(account=ctx.account) if i.date <= cutoff]
    if not items:
        return rules.section(
            "roadmap",
            missing="No feedback logged for this account yet, so there is no loop to close. "
            "Log what they asked for on the account's Feedback tab (a QBR note can start an "
            "item), or import a feedback file.",
        )
    asked, rows = [], []
    for item in items[:12]:
        theme = item.theme.merged_into or item.theme
        shipped = theme.shipped_on if theme.status in ("shipped", "loop_closed") else None
        asked.append((item.title, item.date, shipped, theme.status))
        rows.append(
            [
                f"{item.date:%b} {item.date.day}, {item.date.year}",
                item.title,
                theme.get_status_display(),
                f"{shipped:%b} {shipped.day}, {shipped.year}" if shipped else "",
            ]
        )
    shipped_count = sum(1 for a in asked if a[2] is not None)
    return rules.section(
        "roadmap",
        sentence=rules.loop_sentence(asked),
        facts=[
            {"label": "Requests", "value": str(len(items))},
            {"label": "Shipped", "value": str(shipped_count)},
        ],
        table={"columns": ["Asked", "Request", "Status", "Shipped"], "rows": rows},
    )


def next_steps_section(ctx: Context, verdict: str | None = None) -> dict:
    sentence = "Agreed next steps, with owners and dates."
    if verdict == "under":
        sentence = "A joint adoption plan: agreed next steps, with owners and dates."
    elif verdict == "over":
        sentence = "Next steps, including sizing the next commit, with owners and dates."
    return rules.section("next_steps", sentence=sentence)


def steps_rows(steps: list[NextStep]) -> dict | None:
    if not steps:
        return None
    return {
        "columns": ["Next step", "Owner", "By"],
        "rows": [[s.text, s.owner_label, f"{s.due:%b} {s.due.day}, {s.due.year}"] for s in steps],
    }


def assemble(
    *, account: Account, start: date, end: date, asked_by: date | None = None
) -> list[dict]:
    """The sections of a QBR of `account` over `start`-`end`, from today's data, in the
    default order, before the CSM's layout. `asked_by`: the day the roadmap stops at (a QBR
    frozen for a meeting already held), today when None."""
    as_of = _as_of(end)
    acct = _account_on(account, as_of)
    plan = success_selectors.success_plan_of(account=account)
    outcomes = [line for line in (plan.outcomes.splitlines() if plan else []) if line.strip()]
    ctx = Context(acct, start, end, as_of, outcomes, plan, asked_by)
    commit = commit_section(ctx)
    sections = {
        "health": health_section(ctx),
        "outcomes": outcomes_section(ctx),
        "usage": usage_section(ctx),
        "untapped": untapped_section(ctx),
        "commit": commit,
        "roadmap": roadmap_section(ctx),
        "next_steps": next_steps_section(ctx, commit.get("verdict")),
    }
    return [sections[k] for k in rules.SECTION_KEYS]


# --- a QBR's sections ----------------------------------------------------------------------------


def qbr_sections(qbr: Qbr) -> list[dict]:
    """What the page, the printable page and the deck show: the frozen snapshot once saved,
    else the live assembly with the CSM's layout. The next steps' rows are the plan's rows."""
    if qbr.snapshot is not None:
        sections = rules.layout_apply(qbr.snapshot["sections"], qbr.layout)
    else:
        sections = rules.layout_apply(
            assemble(account=qbr.account, start=qbr.period_start, end=qbr.period_end), qbr.layout
        )
    steps = list(qbr.steps.select_related("owner"))
    for s in sections:
        if s["key"] == "next_steps":
            s["table"] = steps_rows(steps)
            s["missing"] = (
                ""
                if steps
                else "No next steps yet. Add each one with an owner and a date under Next "
                "steps on the prep page; saving them creates the tasks."
            )
    return sections


def qbr_for(*, pk: int) -> Qbr | None:
    return (
        Qbr.objects.select_related("account", "account__csm", "created_by", "saved_by")
        .filter(pk=pk)
        .first()
    )


def account_qbrs(*, account: Account) -> QuerySet[Qbr]:
    return (
        Qbr.objects.filter(account=account)
        .select_related("created_by")
        .order_by("-period_end", "-id")
    )


def step_owner_choices(account: Account) -> QuerySet[User]:
    """Our people a next step may go to: the account's team, then every CSM and manager."""
    ids = [i for i in (account.csm_id, account.ae_id, account.se_id) if i]
    return User.objects.filter(
        Q(pk__in=ids) | Q(role__in=["csm", "manager"]), is_active=True
    ).order_by("name", "email")


# --- QBRs due ------------------------------------------------------------------------------------


@dataclass
class DueRow:
    account: Account
    reason: str
    last_qbr: date | None
    renewal: date | None
    open_qbr: Qbr | None


def qbrs_due(*, user: User | None = None, csm: User | None = None, as_of: date) -> list[DueRow]:
    """Accounts whose QBR is due on `as_of`: tier 1 without a QBR (held here, or a `qbr`
    touchpoint) in the last 100 days; tier 2 renewing within 120 days without a QBR since
    the renewal came within that window. Scope: `csm`'s accounts, else `user`'s (a CSM their
    own, a manager all). Three queries however long the list."""
    since = as_of - timedelta(days=QBR_CADENCE_DAYS)
    qs = account_selectors.with_last_touch(
        account_selectors.accounts_with_commercials(as_of=as_of),
        kind=TouchpointKind.QBR,
        on_or_before=as_of,
    ).filter(tier__in=[Tier.STRATEGIC, Tier.SCALED])
    if csm is not None:
        qs = qs.filter(csm=csm)
    elif user is not None and not is_manager(user):
        qs = qs.filter(csm=user)
    qs = qs.filter(
        Q(tier=Tier.STRATEGIC, last_touch_on__isnull=True)
        | Q(tier=Tier.STRATEGIC, last_touch_on__lt=since)
        | Q(
            tier=Tier.SCALED,
            renewal_date__gte=as_of,
            renewal_date__lte=as_of + timedelta(days=TIER2_RENEWAL_DAYS),
        )
    )
    accounts = list(qs.order_by("tier", "renewal_date", "name"))
    held = {}
    open_ = {}
    for q in Qbr.objects.filter(account__in=[a.pk for a in accounts]).order_by("period_end"):
        if q.status == QbrStatus.HELD and q.held_on:
            held[q.account_id] = max(held.get(q.account_id, q.held_on), q.held_on)
        else:
            open_[q.account_id] = q
    rows = []
    for a in accounts:
        last = (
            max(d for d in (a.last_touch_on, held.get(a.pk)) if d)
            if (a.last_touch_on or held.get(a.pk))
            else None
        )
        if a.tier == Tier.STRATEGIC:
            if last is not None and last >= since:
                continue
            reason = (
                f"Tier 1: last QBR {(as_of - last).days} days ago" if last else "Tier 1: no QBR yet"
            )
        else:
            if (
                last is not None
                and a.renewal_date
                and last >= a.renewal_date - timedelta(days=TIER2_RENEWAL_DAYS)
            ):
                continue
            reason = f"Tier 2: renews in {(a.renewal_date - as_of).days} days"
        rows.append(DueRow(a, reason, last, a.renewal_date, open_.get(a.pk)))
    return rows
