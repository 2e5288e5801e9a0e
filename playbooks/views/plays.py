"""The account's Plays tab: its plays with their tasks; starting and cancelling a play."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from accounts import selectors as account_selectors
from accounts.models import Account
from accounts.permissions import can_edit_account
from cs_portal.clock import today
from cs_portal.http import AuthedRequest
from playbooks.models import PlayStatus
from playbooks.plays import selectors as play_selectors
from playbooks.plays import services as play_services
from playbooks.plays.forms import PlayStartForm
from playbooks.plays.rules import tasks_with_days
from playbooks.plays.selectors import (
    account_play,
    playbooks_startable,
)


def plays_context(request: AuthedRequest, account: Account, **extra) -> dict:
    can_edit = can_edit_account(request.user, account)
    all_plays = list(play_selectors.account_plays(account=account))
    context = {
        **account_selectors.account_header(user=request.user, account=account),
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
    return render(request, "playbooks/account_plays.html", plays_context(request, account))


def _plays_answer(
    request: AuthedRequest,
    account: Account,
    *,
    notice: str = "",
    start_error: str = "",
    status: int = 200,
) -> HttpResponse:
    if request.htmx or start_error:
        context = plays_context(request, account, notice=notice, start_error=start_error)
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
