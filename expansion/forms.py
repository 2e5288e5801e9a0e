"""Forms for the pipeline's filters, moving an opportunity, and the trigger settings."""

from __future__ import annotations

from decimal import Decimal

from django import forms

from accounts.models import Role, User
from cs_portal.formtools import NOTE_MAX_LENGTH, Typed, text_check
from cs_portal.params import whole_number

from .models import LostReason, OpportunityKind, Stage
from .rules import SETTINGS
from .selectors import SORTS, PipelineFilters


def _choice(choices, name: str) -> forms.ChoiceField:
    values = [str(v) for v in choices]
    return forms.ChoiceField(
        required=False,
        choices=[("", "")] + [(v, v) for v in values],
        error_messages={"invalid_choice": f"{name} must be one of {', '.join(values)}"},
    )


class PersonField(Typed):
    """A user id of one role (as the filter dropdowns send it); the user, or None for empty."""

    def __init__(self, role: str, **kwargs) -> None:
        super().__init__(max_length=20, required=False, **kwargs)
        self.role = role

    def clean(self, value) -> User | None:
        raw = super().clean(value)
        if not raw:
            return None
        pk = whole_number(raw, max_digits=12)
        user = User.objects.filter(pk=pk, role=self.role).first() if pk is not None else None
        if user is None:
            raise forms.ValidationError(f"{self.role} must be the id of a user with that role")
        return user


class PipelineFilterForm(forms.Form):
    """The board's and the table's query string."""

    csm = PersonField(Role.CSM)
    ae = PersonField(Role.AE)
    tier = _choice(["1", "2", "3"], "tier")
    kind = _choice(OpportunityKind.values, "kind")
    stage = _choice(Stage.values, "stage")
    account = Typed(max_length=64)
    sort = _choice([*SORTS, *(f"-{s}" for s in SORTS)], "sort")
    format = _choice(["csv"], "format")

    def filters(self) -> PipelineFilters:
        data = self.cleaned_data if self.is_valid() else {}
        sort = data.get("sort") or "-arr"
        return PipelineFilters(
            csm=data.get("csm"),
            ae=data.get("ae"),
            tier=int(data["tier"]) if data.get("tier") else None,
            kind=data.get("kind") or "",
            stage=data.get("stage") or "",
            account=data.get("account") or "",
            sort=sort.lstrip("-"),
            desc=sort.startswith("-"),
        )

    def problem(self) -> str:
        return "; ".join(f"{e}" for errors in self.errors.values() for e in errors)


class MoveForm(forms.Form):
    """Move one opportunity: the stage, and the won ARR or the lost reason where they apply."""

    stage = forms.ChoiceField(
        choices=Stage.choices, error_messages={"invalid_choice": "Pick a stage to move it to."}
    )
    won_arr = forms.DecimalField(
        required=False, min_value=Decimal("0.01"), max_digits=14, decimal_places=2
    )
    lost_reason = forms.ChoiceField(choices=[("", "")] + LostReason.choices, required=False)
    note = Typed(max_length=NOTE_MAX_LENGTH, required=False)


def _setting_field(s) -> forms.Field:
    common = {"label": s.label, "required": s.kind != "bool"}
    if s.kind == "bool":
        return forms.BooleanField(**common)
    if s.kind == "int":
        return forms.IntegerField(min_value=int(s.low), max_value=int(s.high), **common)
    if s.kind == "text":
        return Typed(max_length=2000, **common)
    step = "0.01" if s.kind == "share" else "any"
    field = forms.FloatField(min_value=s.low, max_value=s.high, **common)
    field.widget.attrs["step"] = step
    return field


class TriggerSettingsForm(forms.Form):
    """Every trigger switch, threshold and ARR rule (see expansion.rules.SETTINGS)."""

    note = Typed(max_length=300, required=False, label="Why (kept with this version)")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for s in SETTINGS:
            self.fields[s.key] = _setting_field(s)

    def clean_covered_chains(self) -> str:
        value = " ".join(self.cleaned_data["covered_chains"].lower().replace(",", " ").split())
        text_check(value, 2000)
        if not value:
            raise forms.ValidationError("List at least one chain.")
        return value

    def values(self) -> dict:
        return {s.key: self.cleaned_data[s.key] for s in SETTINGS}
