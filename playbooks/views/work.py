"""My work (a CSM's task queue, a manager's team view) and the task actions, answered in the
view they came from (My work or the account's Plays tab)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from accounts import selectors as account_selectors
from cs_portal.http import AuthedRequest
from playbooks.models import PlayStatus, TaskStatus
from playbooks.plays import services as play_services
from playbooks.plays.forms import TaskActionForm, WorkOwnerForm
from playbooks.plays.selectors import (
    task_for_work,
    work_view,
)
from playbooks.views.plays import plays_context

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
            context = plays_context(request, account, notice=notice, action_error=error)
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
