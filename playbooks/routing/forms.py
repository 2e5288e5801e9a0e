"""The routing editor's grid and the personal preferences form."""

from __future__ import annotations

from django import forms

from cs_portal.formtools import Typed
from playbooks.models import AlertKind

from .rules import (
    AUDIENCE_LABELS,
    AUDIENCES,
    CHANNEL_LABELS,
    CHANNELS,
    Rule,
    grid_rows,
)

ACTIONS = ("preview", "save")


def field_prefix(kind: str, direction: str, tier: int) -> str:
    return f"{kind}-{direction}-{tier}"


class RoutingForm(forms.Form):
    """One row per (kind, direction, tier): `<row>-ch` (channels), `<row>-to` (audience),
    `<row>-req` (required); a note; and the action, preview or save."""

    note = Typed(max_length=300)
    action = Typed()

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        channels = [(c, CHANNEL_LABELS[c]) for c in CHANNELS]
        audiences = [(a, AUDIENCE_LABELS[a]) for a in AUDIENCES]
        for kind, direction, tier in grid_rows():
            prefix = field_prefix(kind, direction, tier)
            self.fields[f"{prefix}-ch"] = forms.MultipleChoiceField(
                choices=channels, required=False, widget=forms.CheckboxSelectMultiple
            )
            self.fields[f"{prefix}-to"] = forms.MultipleChoiceField(
                choices=audiences, required=False, widget=forms.CheckboxSelectMultiple
            )
            self.fields[f"{prefix}-req"] = forms.BooleanField(required=False)

    def clean_action(self) -> str:
        action = self.cleaned_data["action"] or "preview"
        if action not in ACTIONS:
            raise forms.ValidationError(f"action must be preview or save, not '{action}'")
        return action

    def rules(self) -> list[dict]:
        """The submitted grid as rule rows (call after is_valid())."""
        data = self.cleaned_data
        return [
            {
                "kind": kind,
                "direction": direction,
                "tier": tier,
                "channels": data.get(f"{field_prefix(kind, direction, tier)}-ch", []),
                "audience": data.get(f"{field_prefix(kind, direction, tier)}-to", []),
                "required": data.get(f"{field_prefix(kind, direction, tier)}-req", False),
            }
            for kind, direction, tier in grid_rows()
        ]

    def first_error(self) -> str:
        for name, errors in self.errors.items():
            where = name.replace("-ch", " channels").replace("-to", " audience")
            return f"{where}: {errors[0]}" if name not in ("note", "action") else errors[0]
        return ""


def initial_for(rules: dict[str, Rule]) -> dict:
    out: dict = {}
    for rule in rules.values():
        prefix = field_prefix(rule.kind, rule.direction, rule.tier)
        out[f"{prefix}-ch"] = list(rule.channels)
        out[f"{prefix}-to"] = list(rule.audience)
        out[f"{prefix}-req"] = rule.required
    return out


class PreferencesForm(forms.Form):
    """The kinds and channels a person mutes for themselves."""

    muted_kinds = forms.MultipleChoiceField(
        choices=AlertKind.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    muted_channels = forms.MultipleChoiceField(
        choices=[(c, CHANNEL_LABELS[c]) for c in CHANNELS],
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
