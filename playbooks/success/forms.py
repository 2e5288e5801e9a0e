"""The Success tab's forms: the success plan and completing a milestone by hand."""

from __future__ import annotations

from datetime import date

from django import forms
from django.core.exceptions import ValidationError

from cs_portal.formtools import NOTE_MAX_LENGTH, Typed
from playbooks.models import Milestone

from .rules import SUCCESS_FIELDS, success_plan_validate


class SuccessPlanForm(forms.Form):
    """The success plan's fields as typed; `clean()` applies the plan's rules to them and names
    each bad field. The cleaned data are the values as typed, for `success_plan_save`."""

    outcomes = Typed(strip=False, max_length=NOTE_MAX_LENGTH)
    currency = Typed(strip=False)
    ftes_saved = Typed(strip=False)
    infra_avoided_per_year = Typed(strip=False)
    time_to_market_days = Typed(strip=False)
    targets = Typed(strip=False, max_length=NOTE_MAX_LENGTH)
    status = Typed(strip=False)

    def clean(self) -> dict:
        data = super().clean()
        try:
            success_plan_validate(data={field: self.data.get(field) for field in SUCCESS_FIELDS})
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                self.add_error(field, messages)
        return data


class MilestoneCompleteForm(forms.Form):
    """`on` (YYYY-MM-DD; empty: today) and the evidence."""

    on = Typed()
    evidence = Typed(strip=False, max_length=Milestone._meta.get_field("evidence").max_length)

    def clean_on(self) -> date | None:
        raw = self.cleaned_data["on"]
        if not raw:
            return None
        try:
            return date.fromisoformat(raw)
        except ValueError:
            raise ValidationError("Give the date as YYYY-MM-DD.") from None
