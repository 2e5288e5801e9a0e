"""Forms for every input of QBR prep: the period to prepare, one section's edit, marking a QBR
held, the next steps, and the QBRs-due list's query string."""

from __future__ import annotations

from datetime import date

from django import forms

from accounts.models import Account, User
from cs_portal import clock
from cs_portal.formtools import Typed

from . import rules, selectors
from .services import StepInput, period_problems

ACTIONS = ("sentence", "show", "hide", "up", "down", "reset")


class PeriodForm(forms.Form):
    """The period a QBR covers; the last full quarter unless given."""

    start = forms.DateField()
    end = forms.DateField()

    @classmethod
    def default(cls) -> dict[str, date]:
        start, end = rules.last_full_quarter(clock.today())
        return {"start": start, "end": end}

    def clean(self) -> dict:
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end:
            for field, problem in period_problems(start, end).items():
                self.add_error(field, problem)
        return data


class SectionForm(forms.Form):
    """One edit of one section: its sentence, show or hide it, move it, or go back to the
    drafted sentence."""

    key = Typed()
    action = Typed()
    sentence = Typed(max_length=rules.SENTENCE_MAX)

    def clean(self) -> dict:
        data = super().clean()
        if data.get("key") not in rules.SECTION_KEYS:
            self.add_error("key", "No such section.")
        if data.get("action") not in ACTIONS:
            self.add_error("action", f"action must be one of {', '.join(ACTIONS)}")
        return data


class HeldForm(forms.Form):
    on = forms.DateField()

    def clean_on(self) -> date:
        on = self.cleaned_data["on"]
        if on > clock.today():
            raise forms.ValidationError("A QBR cannot be held in the future.")
        return on


class StepForm(forms.Form):
    """One row of the mutual action plan. A row with no text is skipped (the blank rows)."""

    step_id = forms.IntegerField(required=False, min_value=1, max_value=2**31 - 1)
    text = Typed()
    owner = Typed()
    customer_owner = Typed(max_length=120)
    due = forms.DateField(required=False)

    def __init__(self, *args, owners: dict[str, User], **kwargs) -> None:
        self.owners = owners
        super().__init__(*args, **kwargs)

    def clean(self) -> dict:
        data = super().clean()
        if not data.get("text"):
            return data
        owner = data.get("owner") or ""
        if owner and owner not in self.owners:
            self.add_error("owner", "Choose one of our people, or name the owner at the customer.")
        if not owner and not data.get("customer_owner"):
            self.add_error("owner", "Give each step an owner: one of ours or at the customer.")
        if data.get("due") is None and "due" not in self.errors:
            self.add_error("due", "Give each step a date.")
        return data

    def step(self) -> StepInput | None:
        data = self.cleaned_data
        if not data.get("text"):
            return None
        return StepInput(
            text=data["text"],
            due=data["due"],
            owner=self.owners.get(data.get("owner") or ""),
            customer_owner=data.get("customer_owner") or "",
            step_id=data.get("step_id"),
        )


class BaseStepFormSet(forms.BaseFormSet):
    def __init__(self, *args, account: Account, **kwargs) -> None:
        self.owners = {str(u.pk): u for u in selectors.step_owner_choices(account)}
        super().__init__(*args, **kwargs)

    def get_form_kwargs(self, index):
        return {"owners": self.owners}

    def steps(self) -> list[StepInput]:
        return [s for f in self.forms if (s := f.step()) is not None]


StepFormSet = forms.formset_factory(
    StepForm, formset=BaseStepFormSet, extra=0, max_num=12, absolute_max=40, validate_max=True
)


class DueForm(forms.Form):
    """The QBRs-due list's query string: whose accounts (managers may pick a CSM)."""

    csm = Typed()

    def clean_csm(self) -> str:
        csm = self.cleaned_data["csm"]
        if csm and not csm.isdigit():
            raise forms.ValidationError(f"csm must be a person's id, not '{csm}'")
        return csm
