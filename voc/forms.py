"""Forms for every input of the voice of the customer: the theme list's filters (also the API's
and the CSV export's), logging an item, and product's edits of a theme."""

from __future__ import annotations

from django import forms

from accounts.models import Account
from cs_portal.formtools import NOTE_MAX_LENGTH, Typed
from cs_portal.params import whole_number
from health.imports import parse_chain, parse_dataset

from . import selectors
from .models import FeedbackItem, FeedbackSeverity, FeedbackType, Source, Theme, ThemeStatus

LOGGED_SOURCES = [(v, label) for v, label in Source.choices if v != Source.BEHAVIORAL]


class ThemeFilterForm(forms.Form):
    """The theme list's query string. A bad value is dropped (the list shows the rest) and
    named."""

    type = Typed()
    chain = Typed()
    dataset = Typed()
    status = Typed()
    segment = Typed()
    tier = Typed()
    source = Typed()
    sort = Typed()

    CHOICES = {
        "type": FeedbackType.values,
        "status": ThemeStatus.values,
        "segment": ["institution", "self_serve"],
        "source": Source.values,
    }

    def clean(self) -> dict:
        data = super().clean()
        for name, allowed in self.CHOICES.items():
            value = data.get(name, "")
            if value and value not in allowed:
                self.add_error(name, f"{name} must be one of {', '.join(allowed)}, not '{value}'")
                data[name] = ""
        tier = data.get("tier", "")
        if tier and whole_number(tier, max_digits=1) not in (1, 2, 3):
            self.add_error("tier", f"tier must be 1, 2 or 3, not '{tier}'")
            data["tier"] = ""
        sort = data.get("sort", "") or "-" + selectors.DEFAULT_SORT
        if sort.lstrip("-") not in selectors.SORTS:
            self.add_error("sort", f"sort must be one of {', '.join(selectors.SORTS)}")
            sort = "-" + selectors.DEFAULT_SORT
        data["sort"] = sort
        for name in ("chain", "dataset"):
            data[name] = (data.get(name) or "").lower()
        return data

    def filters(self) -> selectors.ThemeFilters:
        data = self.cleaned_data
        sort = data["sort"]
        return selectors.ThemeFilters(
            type=data.get("type", ""),
            chain=data.get("chain", ""),
            dataset=data.get("dataset", ""),
            status=data.get("status", ""),
            segment=data.get("segment", ""),
            tier=int(data["tier"]) if data.get("tier") else None,
            source=data.get("source", ""),
            sort=sort.lstrip("-"),
            desc=sort.startswith("-"),
        )

    def problems(self) -> list[str]:
        return [m for errors in self.errors.values() for m in errors]


class FeedbackForm(forms.Form):
    """What a CSM heard: the same parsers as the `feedback` import."""

    date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    type = forms.ChoiceField(choices=FeedbackType.choices)
    severity = forms.ChoiceField(choices=FeedbackSeverity.choices, initial="medium")
    title = Typed(required=True, max_length=200)
    detail = Typed(max_length=NOTE_MAX_LENGTH)
    chain = Typed(max_length=40)
    dataset = Typed(max_length=120)
    source = forms.ChoiceField(choices=[("", "—"), *LOGGED_SOURCES], required=False)

    def __init__(self, *args, account: Account, **kwargs):
        self.account = account
        super().__init__(*args, **kwargs)

    def clean_chain(self) -> str:
        raw = self.cleaned_data["chain"]
        try:
            return parse_chain(raw) if raw else ""
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_dataset(self) -> str:
        raw = self.cleaned_data["dataset"]
        try:
            return parse_dataset(raw) if raw else ""
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean(self) -> dict:
        data = super().clean()
        if (
            data.get("date")
            and data.get("title")
            and FeedbackItem.objects.filter(
                account=self.account, date=data["date"], title=data["title"]
            )
            .exclude(source=Source.BEHAVIORAL)
            .exists()
        ):
            self.add_error("title", "this account already has an item with that title that day")
        return data


class ThemeEditForm(forms.Form):
    title = Typed(required=True, max_length=200)
    description = Typed(max_length=NOTE_MAX_LENGTH)


class ThemeStatusForm(forms.Form):
    to = forms.ChoiceField(choices=ThemeStatus.choices)
    reason = Typed(max_length=300)


class ThemeMergeForm(forms.Form):
    into = Typed(required=True)

    def clean_into(self) -> Theme:
        theme = Theme.objects.filter(key=self.cleaned_data["into"]).first()
        if theme is None:
            raise forms.ValidationError("pick a theme to merge into")
        return theme


class ItemsForm(forms.Form):
    """Some of a theme's items, for a split (with a new title) or a move (with a target)."""

    items = forms.TypedMultipleChoiceField(coerce=int, choices=())
    title = Typed(max_length=200)
    to = Typed()

    def __init__(self, *args, theme: Theme, **kwargs):
        super().__init__(*args, **kwargs)
        self.theme = theme
        self.fields["items"].choices = [(i, i) for i in theme.items.values_list("pk", flat=True)]

    def clean_to(self) -> Theme | None:
        key = self.cleaned_data["to"]
        if not key:
            return None
        theme = Theme.objects.filter(key=key, merged_into__isnull=True).exclude(pk=self.theme.pk)
        if not theme.exists():
            raise forms.ValidationError("pick the theme to move them to")
        return theme.first()


class VoteForm(forms.Form):
    """A vote for a theme on a customer's behalf."""

    account = Typed(required=True, max_length=64)
    severity = forms.ChoiceField(choices=FeedbackSeverity.choices, initial="medium")
    note = Typed(max_length=200)

    def clean_account(self) -> Account:
        account = Account.objects.filter(external_id=self.cleaned_data["account"]).first()
        if account is None:
            raise forms.ValidationError("pick one of your accounts")
        return account
