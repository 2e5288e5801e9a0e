"""Writes of QBR prep: prepare a draft, edit a section (sentence, shown or hidden, order), save
it as a snapshot, mark it held (a `qbr` touchpoint), and save its next steps (one playbooks task
per row, revised rather than duplicated on a re-save)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import Account, TouchpointKind, User
from accounts.permissions import can_edit_qbr
from accounts.services import touchpoint_log
from cs_portal import clock
from playbooks.models import Task
from playbooks.plays.services import stand_alone_tasks_cancel, task_save

from . import rules, selectors
from .models import NextStep, Qbr, QbrStatus

MAX_STEPS = 12


def _check(user: User, account: Account) -> None:
    if not can_edit_qbr(user, account):
        raise PermissionDenied(
            "Only the account's CSM or a CS manager can prepare and change its QBRs."
        )


def _locked(qbr: Qbr) -> Qbr:
    return Qbr.objects.select_for_update().select_related("account").get(pk=qbr.pk)


def period_problems(start: date, end: date) -> dict[str, str]:
    """Why a QBR cannot cover `start`-`end` (empty when it can)."""
    if end < start:
        return {"end": "The period must end on or after its start."}
    if (end - start).days + 1 > rules.MAX_PERIOD_DAYS:
        return {"end": f"Keep the period under {rules.MAX_PERIOD_DAYS} days."}
    if start > clock.today():
        return {"start": "The period must have started: there is no data for it yet."}
    return {}


def qbr_prepare(*, account: Account, by: User, start: date, end: date) -> Qbr:
    """A draft QBR of `account` over `start`-`end`, assembled from live data until saved. An
    open draft over the same period is reused rather than duplicated."""
    _check(by, account)
    if problems := period_problems(start, end):
        raise ValidationError(problems)
    existing = Qbr.objects.filter(
        account=account, period_start=start, period_end=end, status=QbrStatus.DRAFT
    ).first()
    if existing is not None:
        return existing
    return Qbr.objects.create(account=account, period_start=start, period_end=end, created_by=by)


@transaction.atomic
def qbr_section_edit(
    *,
    qbr: Qbr,
    by: User,
    key: str,
    sentence: str | None = None,
    visible: bool | None = None,
    move: int = 0,
) -> Qbr:
    """Change one section: its sentence, whether it shows, or its place (move -1 up, +1
    down). A saved QBR keeps its numbers; only what the CSM wrote and arranged changes."""
    _check(by, qbr.account)
    if key not in rules.SECTION_KEYS:
        raise ValidationError({"key": "No such section."})
    qbr = _locked(qbr)
    layout = rules.layout_clean(qbr.layout)
    if sentence is not None:
        if len(sentence) > rules.SENTENCE_MAX:
            raise ValidationError(
                {"sentence": f"Keep the sentence under {rules.SENTENCE_MAX} characters."}
            )
        layout["sentences"][key] = sentence.strip()
    if visible is not None:
        layout["visible"][key] = visible
    if move:
        layout = rules.layout_move(layout, key, 1 if move > 0 else -1)
    qbr.layout = layout
    fields = ["layout", "updated_at"]
    if qbr.snapshot is not None:
        qbr.snapshot = {
            **qbr.snapshot,
            "sections": rules.layout_apply(qbr.snapshot["sections"], layout),
        }
        fields.append("snapshot")
    qbr.save(update_fields=fields)
    return qbr


@transaction.atomic
def qbr_save(*, qbr: Qbr, by: User, held_on: date | None = None) -> Qbr:
    """Freeze the draft: the sections assembled now (numbers, the CSM's sentences, visibility
    and order) are stored on the row, and every later view renders from them. A draft frozen
    because it was held on an earlier day (`held_on`) lists on its roadmap what had been
    asked by then. Saving a QBR that is already saved changes nothing."""
    _check(by, qbr.account)
    qbr = _locked(qbr)
    if qbr.snapshot is not None:
        return qbr
    sections = selectors.assemble(
        account=qbr.account, start=qbr.period_start, end=qbr.period_end, asked_by=held_on
    )
    qbr.snapshot = {
        "sections": rules.layout_apply(sections, qbr.layout),
        "assembled_on": clock.today().isoformat(),
        "account_name": qbr.account.name,
    }
    qbr.status = QbrStatus.PREPARED
    qbr.saved_at = timezone.now()
    qbr.saved_by = by
    qbr.save()
    return qbr


@transaction.atomic
def qbr_mark_held(*, qbr: Qbr, by: User, on: date) -> Qbr:
    """Record that the QBR took place on `on`: it is saved first if it was still a draft, and a
    `qbr` touchpoint is logged on the account (which feeds the touch cadence in the health
    model). Marking it held twice logs one touchpoint."""
    _check(by, qbr.account)
    if on > clock.today():
        raise ValidationError({"on": "A QBR cannot be held in the future."})
    qbr = qbr_save(qbr=qbr, by=by, held_on=on)
    qbr = _locked(qbr)
    if qbr.status == QbrStatus.HELD:
        return qbr
    shown = [s["title"] for s in qbr.snapshot["sections"] if s["visible"]]
    touch = touchpoint_log(
        account=qbr.account,
        logged_by=by,
        kind=TouchpointKind.QBR,
        on=on,
        note=f"QBR {rules.period_label(qbr.period_start, qbr.period_end)}: " + ", ".join(shown),
    )
    qbr.status, qbr.held_on, qbr.touchpoint = QbrStatus.HELD, on, touch
    qbr.save(update_fields=["status", "held_on", "touchpoint", "updated_at"])
    return qbr


@dataclass
class StepInput:
    text: str
    due: date
    owner: User | None = None
    customer_owner: str = ""
    step_id: int | None = None


def _task_detail(qbr: Qbr, step: StepInput) -> str:
    detail = f"Agreed at the {rules.period_label(qbr.period_start, qbr.period_end)} QBR."
    if step.customer_owner:
        detail += f" Owner at the customer: {step.customer_owner}."
    return detail


@transaction.atomic
def qbr_steps_save(*, qbr: Qbr, by: User, steps: list[StepInput]) -> list[NextStep]:
    """Replace the QBR's next steps with `steps`, in order, and give each a task on the
    account (owner: ours, else the account's CSM; due: the step's date). A row that already
    has a task revises it, so saving the same rows again creates nothing new; rows left out
    are removed and their open tasks cancelled (done ones stay done)."""
    _check(by, qbr.account)
    if len(steps) > MAX_STEPS:
        raise ValidationError(f"Keep the plan to {MAX_STEPS} steps.")
    qbr = _locked(qbr)
    existing = {s.pk: s for s in qbr.steps.select_related("task")}
    kept: list[NextStep] = []
    for position, row in enumerate(steps):
        step = existing.pop(row.step_id, None) if row.step_id else None
        if step is None:
            step = NextStep(qbr=qbr)
        step.position = position
        step.text, step.due = row.text, row.due
        step.owner, step.customer_owner = row.owner, row.customer_owner
        current: Task | None = step.task
        step.task = task_save(
            account=qbr.account,
            by=by,
            title=f"QBR next step: {row.text}"[:200],
            due=row.due,
            owner=row.owner,
            detail=_task_detail(qbr, row),
            task=current,
        )
        step.save()
        kept.append(step)
    stand_alone_tasks_cancel(
        account=qbr.account,
        by=by,
        task_ids=[s.task_id for s in existing.values() if s.task_id],
    )
    NextStep.objects.filter(pk__in=list(existing)).delete()
    return kept
