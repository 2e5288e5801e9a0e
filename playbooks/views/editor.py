"""The playbook templates: the list, and the editor (managers edit, everyone else reads)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect

from accounts.permissions import can_edit_playbooks
from cs_portal.http import AuthedRequest
from playbooks.models import OwnerRule, Playbook
from playbooks.plays.forms import PlaybookForm
from playbooks.plays.rules import StepInput, trigger_help
from playbooks.plays.selectors import (
    playbook_by_key,
    playbooks_list,
)
from playbooks.plays.services import (
    playbook_save,
)

STEP_ROWS_NEW = 3  # empty step rows a new playbook starts with


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
    if problems := form.problems():
        return _editor(
            request, playbook, values, errors=problems, status=422, fragment=request.htmx
        )
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
