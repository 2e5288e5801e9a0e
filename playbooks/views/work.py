"""My work (a CSM's task queue, a manager's team view), the account's Plays tab, and the
playbook template editor."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect

from accounts import selectors as account_selectors
from accounts.models import Account
from accounts.permissions import can_change_tier, can_edit_account, can_edit_playbooks
from cs_portal.clock import today
from cs_portal.http import AuthedRequest
from health.selectors import account_snapshot
from playbooks.models import OwnerRule, Playbook, PlayStatus, TaskStatus
from playbooks.plays import selectors as play_selectors
from playbooks.plays import services as play_services
from playbooks.plays.forms import PlaybookForm, PlayStartForm, TaskActionForm, WorkOwnerForm
from playbooks.plays.rules import StepInput, tasks_with_days, trigger_help
from playbooks.plays.selectors import (
    account_play,
    playbook_by_key,
    playbooks_list,
    playbooks_startable,
    task_for_work,
    work_view,
)
from playbooks.plays.services import (
    playbook_save,
)

STEP_ROWS_NEW = 3  # empty step rows a new playbook starts with


# --- My work --------------------------------------------------------------------------------


def _work_context(request: AuthedRequest, data, **extra) -> tuple[dict, str]:
    form = WorkOwnerForm(data, user=request.user)
    error = form.error()
    owner, subject = form.owner_and_subject()
    work = work_view(user=request.user, owner=owner, subject=subject)
    context = {
        "work": work,
        "error": error,
        "people": account_selectors.csm_choices() if work.team else [],
        "owner_query": "" if owner in ("all", "me") and not work.team else owner,
    }
    context.update(extra)
    return context, error


@require_GET
@vary_on_headers("HX-Request")
def my_work(request: AuthedRequest) -> HttpResponse:
    """Open tasks by due date (Overdue / Today / This week / Later), the pool queue and what was
    done today; managers see the team, filtered by owner, with the workload per person."""
    context, error = _work_context(request, request.GET)
    template = "playbooks/my_work.html#work" if request.htmx else "playbooks/my_work.html"
    return render(request, template, context, status=400 if error else 200)


def _task_or_404(task_id: int):
    task = task_for_work(task_id=task_id)
    if task is None:
        raise Http404("No such task")
    return task


def _after_task(
    request: AuthedRequest, task, notice: str, *, error: str = "", status: int = 200
) -> HttpResponse:
    """Answer a task action with the fragment the action came from (htmx) or a redirect."""
    form = TaskActionForm(request.POST)
    if form.origin == "plays":
        account = account_selectors.account_detail_or_404(external_id=task.account.external_id)
        if request.htmx:
            context = _plays_context(request, account, notice=notice, action_error=error)
            return render(request, "playbooks/account_plays.html#plays", context, status=status)
        _flash(request, notice, error)
        return redirect("account_plays", external_id=account.external_id)
    owner = form.owner_raw
    if request.htmx:
        context, _ = _work_context(request, {"owner": owner}, notice=notice, action_error=error)
        return render(request, "playbooks/my_work.html#work", context, status=status)
    _flash(request, notice, error)
    url = reverse("my_work")
    return redirect(f"{url}?{urlencode({'owner': owner})}" if owner else url)


def _flash(request: AuthedRequest, notice: str, error: str) -> None:
    if error:
        messages.error(request, error)
    elif notice:
        messages.success(request, notice)


@require_POST
@vary_on_headers("HX-Request")
def task_complete(request: AuthedRequest, task_id: int) -> HttpResponse:
    """Tick a task off (idempotent); the last task of a play finishes the play."""
    task = _task_or_404(task_id)
    done = play_services.task_complete(task=task, user=request.user)
    notice = f"Done: {task.title}" if done else f"Already done: {task.title}"
    if not done and task.status == TaskStatus.CANCELLED:
        notice = f"Not needed any more: {task.title} (its play closed when the condition cleared)."
    if done and task.play_id and task.play.status == PlayStatus.OPEN:
        task.play.refresh_from_db(fields=["status"])
        if task.play.status == PlayStatus.DONE:
            notice += f" — that finishes the play “{task.play.playbook.name}”."
    return _after_task(request, task, notice)


@require_POST
@vary_on_headers("HX-Request")
def task_claim(request: AuthedRequest, task_id: int) -> HttpResponse:
    """Take a pooled task, and with it its play, into your own queue."""
    task = _task_or_404(task_id)
    try:
        claimed = play_services.task_claim(task=task, user=request.user)
    except ValidationError as exc:
        return _after_task(request, task, "", error=exc.messages[0], status=409)
    notice = (
        f"Claimed: {task.title}" + (" (and the rest of its play)" if task.play_id else "")
        if claimed
        else f"Already yours: {task.title}"
    )
    return _after_task(request, task, notice)


# --- the account's Plays tab ----------------------------------------------------------------


def _plays_context(request: AuthedRequest, account: Account, **extra) -> dict:
    can_edit = can_edit_account(request.user, account)
    all_plays = list(play_selectors.account_plays(account=account))
    context = {
        "account": account,
        "snapshot": account_snapshot(account=account),
        "progress": account_selectors.contract_progress(account=account),
        "can_edit": can_edit,
        "can_change_tier": can_change_tier(request.user),
        "open_plays": [p for p in all_plays if p.status == PlayStatus.OPEN],
        "finished_plays": [p for p in all_plays if p.status != PlayStatus.OPEN],
        "startable": playbooks_startable(account=account) if can_edit else [],
        "today": today(),
        "notice": "",
        "action_error": "",
        "start_error": "",
    }
    for play in all_plays:
        tasks = tasks_with_days(list(play.tasks.all()), on=context["today"])
        play.done_count = sum(t.status == "done" for t in tasks)
        play.task_count = len(tasks)
    context.update(extra)
    return context


@require_GET
def account_plays(request: AuthedRequest, external_id: str) -> HttpResponse:
    """The Plays tab: open plays with their tasks, finished plays, and (for editors) a form to
    start a play by hand."""
    account = account_selectors.account_detail_or_404(external_id=external_id)
    return render(request, "playbooks/account_plays.html", _plays_context(request, account))


def _plays_answer(
    request: AuthedRequest,
    account: Account,
    *,
    notice: str = "",
    start_error: str = "",
    status: int = 200,
) -> HttpResponse:
    if request.htmx or start_error:
        context = _plays_context(request, account, notice=notice, start_error=start_error)
        template = (
            "playbooks/account_plays.html#plays" if request.htmx else "playbooks/account_plays.html"
        )
        return render(request, template, context, status=status)
    messages.success(request, notice)
    return redirect("account_plays", external_id=account.external_id)


@require_POST
@vary_on_headers("HX-Request")
def play_start(request: AuthedRequest, external_id: str) -> HttpResponse:
    """Start a play by hand (the account's CSM or a manager)."""
    account = account_selectors.account_detail_or_404(external_id=external_id)
    if not can_edit_account(request.user, account):
        raise PermissionDenied("Only the account's CSM or a CS manager can start its plays.")
    form = PlayStartForm(request.POST)
    if error := form.error():
        return _plays_answer(request, account, start_error=error, status=422)
    playbook = form.cleaned_data["playbook"]
    try:
        play = play_services.play_start(account=account, playbook=playbook, started_by=request.user)
    except ValidationError as exc:
        return _plays_answer(request, account, start_error=exc.messages[0], status=422)
    who = play.owner.display_name if play.owner else f"the {play.pool} pool"
    return _plays_answer(request, account, notice=f"Started “{playbook.name}” for {who}.")


@require_POST
@vary_on_headers("HX-Request")
def play_cancel(request: AuthedRequest, external_id: str, play_id: int) -> HttpResponse:
    """Stop an open play; its open tasks go away, finished ones stay."""
    account = account_selectors.account_detail_or_404(external_id=external_id)
    play = account_play(account=account, play_id=play_id)
    if play is None:
        raise Http404("No such play on this account")
    cancelled = play_services.play_cancel(play=play, user=request.user)
    notice = (
        f"Cancelled “{play.playbook.name}”."
        if cancelled
        else f"“{play.playbook.name}” was already {play.get_status_display().lower()}."
    )
    return _plays_answer(request, account, notice=notice)


# --- playbook templates ---------------------------------------------------------------------


@require_GET
def playbook_list(request: AuthedRequest) -> HttpResponse:
    """Every playbook template: its trigger, tiers, owner rule, steps and plays running."""
    return render(
        request,
        "playbooks/playbook_list.html",
        {
            "playbooks": playbooks_list(),
            "can_edit": can_edit_playbooks(request.user),
        },
    )


def _values_of(playbook: Playbook) -> dict:
    return {
        "key": playbook.key,
        "name": playbook.name,
        "description": playbook.description,
        "trigger": playbook.trigger,
        "tiers": [str(t) for t in playbook.tiers or []],
        "owner_rule": playbook.owner_rule,
        "active": playbook.active,
        "steps": [
            StepInput(title=s.title, detail=s.detail, due_days=s.due_days)
            for s in playbook.steps.all()
        ],
    }


def _editor(
    request: AuthedRequest,
    playbook: Playbook | None,
    values: dict,
    *,
    errors: dict | None = None,
    saved: bool = False,
    status: int = 200,
    fragment: bool = False,
) -> HttpResponse:
    context = {
        "playbook": playbook,
        "values": values,
        "errors": errors or {},
        "saved": saved,
        "can_edit": can_edit_playbooks(request.user),
        "owner_rules": OwnerRule.choices,
        "tier_choices": [("1", "Tier 1"), ("2", "Tier 2"), ("3", "Tier 3")],
        "trigger_help": trigger_help(),
        "action": (
            reverse("playbook_edit", args=[playbook.key])
            if playbook
            else reverse("playbook_create")
        ),
    }
    template = "playbooks/playbook_edit.html#editor" if fragment else "playbooks/playbook_edit.html"
    return render(request, template, context, status=status)


def _editor_post(request: AuthedRequest, playbook: Playbook | None) -> HttpResponse:
    if not can_edit_playbooks(request.user):
        raise PermissionDenied("Only a CS manager can change playbooks.")
    form = PlaybookForm(request.POST)
    values = form.values()
    action = form.action_pressed()
    if action == "add_step":
        values["steps"].append(StepInput(title=""))
        return _editor(request, playbook, values, fragment=request.htmx)
    if action.startswith("remove:"):
        number = form.step_to_remove()
        if number is not None and number < len(values["steps"]):
            del values["steps"][number]
        return _editor(request, playbook, values, fragment=request.htmx)
    try:
        saved = playbook_save(
            playbook=playbook,
            key=values["key"],
            name=values["name"],
            description=values["description"],
            trigger=values["trigger"],
            tiers=values["tiers"],
            owner_rule=values["owner_rule"],
            active=values["active"],
            steps=values["steps"],
        )
    except ValidationError as exc:
        return _editor(
            request, playbook, values, errors=exc.message_dict, status=422, fragment=request.htmx
        )
    if request.htmx and playbook is not None:
        saved = playbook_by_key(key=saved.key)
        return _editor(request, saved, _values_of(saved), saved=True, fragment=True)
    messages.success(request, f"Saved “{saved.name}”. Plays started from now on use it.")
    if request.htmx:
        return HttpResponseClientRedirect(reverse("playbook_edit", args=[saved.key]))
    return redirect("playbook_edit", key=saved.key)


@require_http_methods(["GET", "POST"])
@vary_on_headers("HX-Request")
def playbook_edit(request: AuthedRequest, key: str) -> HttpResponse:
    """One playbook template; managers edit it (name, trigger, tiers, owner rule, active,
    steps), everyone else reads it."""
    playbook = playbook_by_key(key=key)
    if playbook is None:
        raise Http404("No playbook with that key")
    if request.method == "POST":
        return _editor_post(request, playbook)
    return _editor(request, playbook, _values_of(playbook))


@require_http_methods(["GET", "POST"])
@vary_on_headers("HX-Request")
def playbook_create(request: AuthedRequest) -> HttpResponse:
    """A new playbook template (managers)."""
    if not can_edit_playbooks(request.user):
        raise PermissionDenied("Only a CS manager can create playbooks.")
    if request.method == "POST":
        return _editor_post(request, None)
    values = {
        "key": "",
        "name": "",
        "description": "",
        "trigger": "",
        "tiers": [],
        "owner_rule": OwnerRule.CSM,
        "active": True,
        "steps": [StepInput(title="") for _ in range(STEP_ROWS_NEW)],
    }
    return _editor(request, None, values)
