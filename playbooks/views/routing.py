"""The routing editor (managers: which alert reaches whom, on which channel, with the noise
figure before and after a draft, and every earlier version) and each person's preferences
(what they mute for themselves, never a required row)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts.permissions import can_edit_routing, is_ae, is_csm, is_manager
from cs_portal.http import AuthedRequest
from playbooks.models import AlertKind
from playbooks.routing import selectors
from playbooks.routing.forms import PreferencesForm, RoutingForm, field_prefix, initial_for
from playbooks.routing.rules import (
    AE,
    AUDIENCE_LABELS,
    AUDIENCES,
    CHANNEL_LABELS,
    CHANNELS,
    CSM,
    MANAGER,
    POOL,
    Rule,
    describe,
    fully_locked,
    locks,
    rules_changes,
    rules_parse,
)
from playbooks.routing.services import (
    preferences_save,
    routing_current,
    routing_save,
)


def _grid(rules: dict[str, Rule], form: RoutingForm) -> list[dict]:
    """The editor's rows: each (kind, direction, tier) with its checkboxes as submitted (or as
    in force), grouped by kind for the table."""
    data = form.data if form.is_bound else initial_for(rules)

    def values(name: str) -> list[str]:
        if hasattr(data, "getlist"):
            return data.getlist(name)
        return list(data.get(name) or [])

    rows = []
    for rule in rules.values():
        prefix = field_prefix(rule.kind, rule.direction, rule.tier)
        channels, audience = values(f"{prefix}-ch"), values(f"{prefix}-to")
        required = data.get(f"{prefix}-req") in (True, "on", "true", "1")
        rows.append(
            {
                "prefix": prefix,
                "kind": rule.kind,
                "kind_label": AlertKind(rule.kind).label,
                "direction": rule.direction,
                "tier": rule.tier,
                "channels": [(c, CHANNEL_LABELS[c], c in channels) for c in CHANNELS],
                "audience": [
                    (a, AUDIENCE_LABELS[a].split(" (")[0], a in audience) for a in AUDIENCES
                ],
                "required": required,
            }
        )
    for i, row in enumerate(rows):
        row["first_of_kind"] = i == 0 or rows[i - 1]["kind"] != row["kind"]
    return rows


def _history() -> list:
    history = list(selectors.routing_history())
    for i, version in enumerate(history):
        after = rules_parse(version.rules)
        if i + 1 < len(history):
            version.changes = rules_changes(rules_parse(history[i + 1].rules), after) or [
                "no change to the grid"
            ]
        else:
            version.changes = ["the defaults"]
    return history


@require_http_methods(["GET", "POST"])
def routing_rules(request: AuthedRequest) -> HttpResponse:
    """The grid kind × direction × tier → channels, audience, required. Preview runs the last
    four weeks' alerts through the draft beside the rules in force; save keeps a new version."""
    current = routing_current()
    in_force = rules_parse(current.rules)
    can_edit = can_edit_routing(request.user)
    context: dict = {"current": current, "can_edit": can_edit, "preview": None, "error": ""}
    status = 200
    form = RoutingForm()
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied("Only CS managers change the alert routing.")
        form = RoutingForm(request.POST)
        draft = None
        if form.is_valid():
            try:
                draft = rules_parse(form.rules())
            except ValidationError as exc:
                context["error"] = exc.messages[0]
        else:
            context["error"] = form.first_error()
        if draft is None:
            status = 400
        elif form.cleaned_data["action"] == "save":
            if draft == in_force:
                messages.info(request, "Nothing changed: no new version saved.")
                return redirect("routing_rules")
            saved = routing_save(
                rules=[r.as_dict() for r in draft.values()],
                user=request.user,
                note=form.cleaned_data["note"],
            )
            messages.success(
                request, f"Saved routing v{saved.version}; alerts raised from now on follow it."
            )
            return redirect("routing_rules")
        else:
            context["preview"] = selectors.routing_preview(current=in_force, draft=draft)
            context["draft_changes"] = rules_changes(in_force, draft)
            context["note"] = form.cleaned_data["note"]
    context["rows"] = _grid(in_force, form)
    context["history"] = _history()
    context["channels"] = [CHANNEL_LABELS[c] for c in CHANNELS]
    context["audiences"] = [AUDIENCE_LABELS[a].split(" (")[0] for a in AUDIENCES]
    return render(request, "playbooks/routing.html", context, status=status)


def _my_audiences(user) -> set[str]:
    out: set[str] = set()
    if is_csm(user):
        out |= {CSM, POOL}
    if is_manager(user):
        out.add(MANAGER)
    if is_ae(user):
        out.add(AE)
    return out


@require_http_methods(["GET", "POST"])
def alert_preferences(request: AuthedRequest) -> HttpResponse:
    """Mute alert kinds or channels for yourself. Rows the routing marks required still reach
    you; a kind or channel that only required rows send cannot be muted (the box is locked)."""
    in_force = rules_parse(routing_current().rules)
    mine = selectors.preference_of(request.user)
    status = 200
    error = ""
    if request.method == "POST":
        form = PreferencesForm(request.POST)
        if form.is_valid():
            try:
                preferences_save(
                    user=request.user,
                    muted_kinds=form.cleaned_data["muted_kinds"],
                    muted_channels=form.cleaned_data["muted_channels"],
                )
            except ValidationError as exc:
                error = exc.messages[0]
            else:
                messages.success(request, "Saved: your preferences apply to new alerts.")
                return redirect("alert_preferences")
        else:
            error = "; ".join(e for errors in form.errors.values() for e in errors)
        status = 400
        muted_kinds = set(request.POST.getlist("muted_kinds"))
        muted_channels = set(request.POST.getlist("muted_channels"))
    else:
        muted_kinds, muted_channels = set(mine.muted_kinds), set(mine.muted_channels)
    locked = locks(in_force)

    def items(choices, muted: set[str], *, kind: bool) -> list[dict]:
        out = []
        for value, label in choices:
            required_on = locked.get(value, [])
            where = ", ".join(required_on)
            out.append(
                {
                    "value": value,
                    "label": label,
                    "muted": value in muted,
                    "locked": fully_locked(in_force, **{"kind" if kind else "channel": value}),
                    "required_on": required_on,
                    "required_note": (
                        f"Still reaches you on {where}: required there."
                        if kind
                        else f"Still used for {where}: required."
                    ),
                }
            )
        return out

    groups = [
        {
            "title": "Mute these kinds",
            "name": "muted_kinds",
            "what": "kind",
            "items": items(AlertKind.choices, muted_kinds, kind=True),
        },
        {
            "title": "Mute these channels",
            "name": "muted_channels",
            "what": "channel",
            "items": items([(c, CHANNEL_LABELS[c]) for c in CHANNELS], muted_channels, kind=False),
        },
    ]
    audiences = _my_audiences(request.user)
    reaching = [
        {"rule": r, "label": AlertKind(r.kind).label, "says": describe(r)}
        for r in in_force.values()
        if not r.silent and audiences & set(r.audience)
    ]
    context = {
        "groups": groups,
        "reaching": reaching,
        "error": error,
        "can_edit_routing": can_edit_routing(request.user),
    }
    return render(request, "playbooks/preferences.html", context, status=status)
