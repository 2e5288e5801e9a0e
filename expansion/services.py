"""Writes for expansion: draw and refresh opportunities after a recompute, move them along the
pipeline, and version the trigger settings."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from accounts.notices import Notice, notice_send
from accounts.permissions import can_edit_expansion_triggers, can_move_opportunity
from accounts.selectors import accounts_with_commercials
from cs_portal import clock
from cs_portal.models import version_current, version_next
from cs_portal.sql import staged
from health import aggregates
from health import events as health_events
from health.engine import AccountInputs
from health.models import Band
from health.selectors import book_snapshots

from .models import OPEN_STAGES, Opportunity, Stage, StageChange, TriggerSettings
from .rules import (
    DEFAULTS,
    SETTING_KEYS,
    Finding,
    Subject,
    evaluate,
    move_problem,
    settings_with_defaults,
)

log = logging.getLogger(__name__)
HANDOFF_NOTICE = "expansion_handoff"


# --- trigger settings --------------------------------------------------------------------------


def trigger_settings_current() -> TriggerSettings:
    """The version in force (the defaults as version 1 on first use)."""
    return version_current(TriggerSettings, values=dict(DEFAULTS))


@transaction.atomic
def trigger_settings_save(*, values: dict[str, Any], user: User, note: str) -> TriggerSettings:
    """Save a new version of the trigger settings (managers only); the earlier ones stay.
    The next recompute judges with it."""
    if not can_edit_expansion_triggers(user):
        raise PermissionDenied("Only CS managers change the expansion triggers.")
    unknown = set(values) - set(SETTING_KEYS)
    if unknown:
        raise ValidationError(f"unknown settings: {', '.join(sorted(unknown))}")
    return version_next(
        TriggerSettings, user=user, note=note, values=settings_with_defaults(values)
    )


# --- drawing opportunities from a recompute -----------------------------------------------------


def opportunities_refresh_after_recompute(
    *, as_of: date, account_ids: list[int] | None, since_days: int = 1
) -> None:
    """Registered with `health.events.on_recompute`: judge the triggers on the aggregates the
    recompute scored from. Live days only (a backfill of history draws nothing). An
    announcement without aggregates (a catch-up after a bulk load) reads them once here."""
    if not health_events.is_live(as_of):
        return
    inputs = health_events.recompute_inputs()
    if inputs is None:
        inputs = {i.account_id: i for i in aggregates.build_inputs(as_of, account_ids)}
    opportunities_refresh(as_of=as_of, inputs=inputs.values(), account_ids=account_ids)


@dataclass
class Refreshed:
    created: list[Opportunity]
    updated: int
    stopped: int


def _subjects(account_ids: list[int] | None, as_of: date) -> dict[int, tuple[Subject, Any, Any]]:
    qs = accounts_with_commercials(as_of=as_of)
    if account_ids is not None:
        qs = qs.filter(pk__in=account_ids)
    return {
        pk: (Subject(pk, plan, float(arr or 0), seats), csm_id, ae_id)
        for pk, plan, arr, seats, csm_id, ae_id in qs.values_list(
            "pk", "current_plan", "current_arr", "seats", "csm_id", "ae_id"
        )
    }


def opportunities_refresh(
    *, as_of: date, inputs: Iterable[AccountInputs], account_ids: list[int] | None = None
) -> Refreshed:
    """Judge every trigger for the accounts scored (`inputs`) and bring their opportunities in
    line, in a fixed number of queries:
    - a trigger holding with no open opportunity for (account, kind, target) draws one,
      `identified`, owned by the account's CSM (unless one for the same target was won or lost
      within `reopen_after_days`);
    - a trigger holding on an open opportunity refreshes its thesis, evidence and ARR potential;
    - an open opportunity whose trigger stopped holding keeps everything and is marked so; it is
      never deleted (someone may be working it).
    Re-running for the same day writes nothing."""
    inputs = list(inputs)
    if not inputs:
        return Refreshed([], 0, 0)
    cfg = settings_with_defaults(trigger_settings_current().values)
    subjects = _subjects(account_ids, as_of)
    findings: dict[tuple, Finding] = {}
    for inp in inputs:
        subject = subjects.get(inp.account_id)
        if subject is None:
            continue
        for f in evaluate(inp, subject[0], as_of=as_of, cfg=cfg):
            findings[f.key] = f
    scored = {inp.account_id for inp in inputs}
    open_qs = Opportunity.objects.filter(stage__in=OPEN_STAGES)
    closed_qs = Opportunity.objects.filter(
        stage__in=(Stage.WON, Stage.LOST),
        closed_on__gt=as_of - timedelta(days=int(cfg["reopen_after_days"])),
    )
    if account_ids is not None:
        open_qs = open_qs.filter(account_id__in=account_ids)
        closed_qs = closed_qs.filter(account_id__in=account_ids)
    current = {(o.account_id, o.kind, o.target): o for o in open_qs}
    recently_closed = set(closed_qs.values_list("account_id", "kind", "target"))
    changed: list[Opportunity] = []
    stopped = 0
    for key, opp in current.items():
        if opp.account_id not in scored:
            continue
        f = findings.get(key)
        if f is not None:
            values = {
                "thesis": f.thesis,
                "evidence": {**f.evidence, "as_of": as_of.isoformat()},
                "arr_potential": Decimal(str(f.arr_potential)).quantize(Decimal("0.01")),
                "trigger_holds": True,
                "evidence_as_of": as_of,
            }
        elif opp.trigger_holds:
            stopped += 1
            values = {
                "trigger_holds": False,
                "evidence": {**opp.evidence, "stopped_holding_on": as_of.isoformat()},
            }
        else:
            continue
        if any(getattr(opp, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(opp, name, value)
            changed.append(opp)
    if changed:
        now = timezone.now()
        for opp in changed:
            opp.updated_at = now
        _opportunities_update(changed)
    # Green and yellow accounts are the pipeline: a red one needs saving first, so nothing new
    # is drawn on it (what is already open keeps its evidence fresh).
    held_back = set() if cfg["draw_on_red"] else _red_accounts(as_of, scored)
    fresh = [
        f
        for key, f in findings.items()
        if key not in current and key not in recently_closed and key[0] not in held_back
    ]
    created = _opportunities_create(fresh, subjects, as_of=as_of)
    if created or changed:
        log.info(
            "expansion as of %s: %d opportunities drawn, %d refreshed (%d stopped holding)",
            as_of,
            len(created),
            len(changed),
            stopped,
        )
    return Refreshed(created, len(changed), stopped)


REFRESHED_FIELDS = (
    "thesis",
    "evidence",
    "arr_potential",
    "trigger_holds",
    "evidence_as_of",
    "updated_at",
)
# From this many refreshed opportunities on, PostgreSQL writes them through a staging table.
COPY_MIN_ROWS = 200


def _opportunities_update(changed: list[Opportunity]) -> None:
    """Write the refreshed fields of `changed`. Every open opportunity changes on a new day (its
    evidence is as of that day), and Django's bulk_update builds a CASE per field and row: at
    5,000 accounts (2,550 open opportunities) it took 2.4 s of the daily feed's rescore. On
    PostgreSQL many rows go through COPY into a staging table and one UPDATE … FROM instead;
    elsewhere, and for a few rows, bulk_update."""
    if connection.vendor != "postgresql" or len(changed) < COPY_MIN_ROWS:
        Opportunity.objects.bulk_update(changed, list(REFRESHED_FIELDS), batch_size=500)
        return
    meta, quote = Opportunity._meta, connection.ops.quote_name
    table, pk = quote(meta.db_table), quote(meta.pk.column)
    cols = [quote(meta.get_field(name).column) for name in REFRESHED_FIELDS]
    encoder = meta.get_field("evidence").encoder
    rows = (
        (
            o.pk,
            o.thesis,
            json.dumps(o.evidence, cls=encoder),
            o.arr_potential,
            o.trigger_holds,
            o.evidence_as_of,
            o.updated_at,
        )
        for o in changed
    )
    assignments = ", ".join(f"{c} = s.{c}" for c in cols)
    with (
        transaction.atomic(savepoint=False),
        connection.cursor() as cursor,
        staged(
            cursor,
            stage="expansion_refresh_stage",
            like=table,
            cols=", ".join([pk, *cols]),
            rows=rows,
        ) as stage,
    ):
        cursor.execute(
            f"UPDATE {table} AS o SET {assignments} FROM {stage} s WHERE o.{pk} = s.{pk}"
        )


def _red_accounts(as_of: date, account_ids: set[int]) -> set[int]:
    """Which of `account_ids` the day's snapshots (stored before the triggers run) show red."""
    red = book_snapshots(as_of=as_of, band=Band.RED).order_by()
    return account_ids & set(red.values_list("account_id", flat=True))


def _opportunities_create(
    fresh: list[Finding], subjects: dict, *, as_of: date
) -> list[Opportunity]:
    """Insert the new opportunities and their first stage change. If another worker drew one
    of them a moment ago (the partial unique constraint), take them one by one instead."""
    if not fresh:
        return []
    now = timezone.now()

    def build(f: Finding) -> Opportunity:
        _, csm_id, ae_id = subjects[f.account_id]
        return Opportunity(
            account_id=f.account_id,
            kind=f.kind,
            target=f.target,
            stage=Stage.IDENTIFIED,
            thesis=f.thesis,
            evidence={**f.evidence, "as_of": as_of.isoformat()},
            arr_potential=Decimal(str(f.arr_potential)).quantize(Decimal("0.01")),
            owner_id=csm_id,
            ae_id=ae_id,
            evidence_as_of=as_of,
            stage_changed_at=now,
        )

    try:
        with transaction.atomic():
            created = Opportunity.objects.bulk_create([build(f) for f in fresh])
    except IntegrityError:
        created = []
        for f in fresh:
            try:
                with transaction.atomic():
                    created.append(Opportunity.objects.create(**_fields(build(f))))
            except IntegrityError:
                continue
    StageChange.objects.bulk_create(
        [
            StageChange(
                opportunity_id=o.pk,
                from_stage="",
                to_stage=Stage.IDENTIFIED,
                changed_at=now,
                note=f"drawn by the {o.evidence.get('trigger', o.kind)} trigger",
            )
            for o in created
        ]
    )
    return created


def _fields(opp: Opportunity) -> dict:
    return {
        f.attname: getattr(opp, f.attname)
        for f in Opportunity._meta.concrete_fields
        if not f.primary_key
    }


# --- the pipeline ------------------------------------------------------------------------------


@transaction.atomic
def opportunity_move(
    *,
    opportunity: Opportunity,
    to_stage: str,
    user: User,
    won_arr: Decimal | None = None,
    lost_reason: str = "",
    note: str = "",
) -> Opportunity:
    """Move an opportunity to another stage, recording who moved it and when.

    AEs and managers move any opportunity, a CSM those on their own accounts (PermissionDenied
    otherwise). A move the pipeline does not allow, a hand-off with no AE on the account, a win
    without its ARR or a loss without its reason raise ValidationError. Handing off sends the
    account's AE a notice (an alert in their inbox, Slack and digest), once per opportunity."""
    opp = Opportunity.objects.select_for_update().select_related("account").get(pk=opportunity.pk)
    if not can_move_opportunity(user, opp.account):
        raise PermissionDenied(
            "Only AEs, CS managers and the account's CSM can move this opportunity."
        )
    problem = move_problem(
        current=opp.stage,
        to=to_stage,
        has_ae=opp.account.ae_id is not None,
        won_arr=float(won_arr) if won_arr is not None else None,
        lost_reason=lost_reason,
    )
    if problem:
        raise ValidationError(problem)
    now = timezone.now()
    from_stage = opp.stage
    opp.stage = to_stage
    opp.stage_changed_at = now
    if to_stage == Stage.HANDED_OFF:
        opp.ae_id = opp.account.ae_id
    if to_stage in (Stage.WON, Stage.LOST):
        opp.closed_on = clock.today()
        opp.won_arr = won_arr if to_stage == Stage.WON else None
        opp.lost_reason = lost_reason if to_stage == Stage.LOST else ""
    opp.save()
    StageChange.objects.create(
        opportunity=opp,
        from_stage=from_stage,
        to_stage=to_stage,
        changed_by=user,
        changed_at=now,
        note=note.strip()[:300],
    )
    if to_stage == Stage.HANDED_OFF:
        _handoff_notice(opp, user)
    return opp


def _handoff_notice(opp: Opportunity, user: User) -> None:
    label = opp.get_kind_display().lower()
    target = f" ({opp.target})" if opp.target and opp.target != opp.kind else ""
    notice_send(
        Notice(
            account_id=opp.account_id,
            recipient_id=opp.ae_id,
            kind=HANDOFF_NOTICE,
            key=f"opportunity:{opp.pk}",
            as_of=clock.today(),
            title=f"{opp.account.name}: {label}{target} handed to you"[:200],
            detail=(
                f"{user.display_name} handed off a {label} opportunity worth "
                f"${opp.arr_potential:,.0f} ARR. {opp.thesis}"
            ),
            data={
                "opportunity": opp.pk,
                "kind": opp.kind,
                "target": opp.target,
                "arr_potential": float(opp.arr_potential),
                "handed_off_by": user.pk,
                "path": reverse("account_expansion", args=[opp.account.external_id]),
            },
        )
    )
