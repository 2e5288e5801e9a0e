"""The inbox's filters (its query string, or the filters posted with "mark all read") and the
snooze form."""

from __future__ import annotations

from datetime import date

from django import forms
from django.core.exceptions import ValidationError

from accounts.models import User
from cs_portal.formtools import Typed
from cs_portal.params import whole_number
from playbooks.alerts.rules import snooze_until_parse
from playbooks.models import AlertKind

from .selectors import (
    STATUS_VALUES,
    UNREAD_VALUES,
    InboxFilterError,
    InboxFilters,
    inbox_filters_default,
    inbox_owner_check,
)

FILTER_FIELDS = ("owner", "kind", "status", "unread", "page")
READ_VALUES = {"0", "false", "off", "no"}
OWNER_WORDS = ("me", "pooled", "all")
MAX_PAGE_DIGITS = 6


class InboxFilterForm(forms.Form):
    """owner (me, pooled, all or a user id; the person's own id reads as me), kind, status,
    unread (1/0) and page."""

    owner = Typed()
    kind = Typed()
    status = Typed()
    unread = Typed()
    page = Typed(strip=False)

    def __init__(self, data, *, user: User) -> None:
        super().__init__(data)
        self.user = user

    def clean_owner(self) -> str:
        owner = self.cleaned_data["owner"]
        if not owner:
            return ""
        if (number := whole_number(owner)) is not None:
            return "me" if number == self.user.pk else owner
        if owner not in OWNER_WORDS:
            raise ValidationError(f"owner must be me, pooled, all or a user id, not '{owner}'")
        return owner

    def clean_kind(self) -> str:
        kind = self.cleaned_data["kind"]
        if kind and kind not in AlertKind.values:
            raise ValidationError(
                f"kind must be one of {', '.join(AlertKind.values)}, not '{kind}'"
            )
        return kind

    def clean_status(self) -> str:
        status = self.cleaned_data["status"]
        if status and status not in STATUS_VALUES:
            raise ValidationError(
                f"status must be one of {', '.join(STATUS_VALUES)}, not '{status}'"
            )
        return status

    def clean_unread(self) -> bool:
        unread = self.cleaned_data["unread"].lower()
        if unread and unread not in UNREAD_VALUES | READ_VALUES:
            raise ValidationError(f"unread must be 1 or 0, not '{unread}'")
        return unread in UNREAD_VALUES

    def clean_page(self) -> int:
        page = (self.data.get("page") or "1").strip()
        number = whole_number(page, max_digits=MAX_PAGE_DIGITS)
        if not number:
            raise ValidationError(f"page must be a positive whole number, not '{page}'")
        return number

    def filters(self) -> InboxFilters:
        """The filters asked for. Raises PermissionDenied when a CSM asks for someone else's
        alerts, else InboxFilterError with the first bad value's message (a 400)."""
        valid = self.is_valid()
        owner = self.cleaned_data.get("owner")
        if owner:
            inbox_owner_check(user=self.user, owner=owner)
        if not valid:
            first = next(name for name in FILTER_FIELDS if name in self.errors)
            raise InboxFilterError(self.errors[first][0])
        f = inbox_filters_default(user=self.user)
        f.owner = owner or f.owner
        data = self.cleaned_data
        f.kind, f.status = data["kind"], data["status"]
        f.unread, f.page = data["unread"], data["page"]
        return f


class SnoozeForm(forms.Form):
    """Snooze for `days` (1, 3 or 7) or `until` a date (YYYY-MM-DD)."""

    days = Typed()
    until = Typed()

    def __init__(self, data, *, on: date) -> None:
        super().__init__(data)
        self.on = on

    def clean(self) -> dict:
        data = super().clean()
        data["until"] = snooze_until_parse(data.get("days", ""), data.get("until", ""), on=self.on)
        return data

    def error(self) -> str:
        """The message for the person snoozing, or "" when the form is valid."""
        return "" if self.is_valid() else self.non_field_errors()[0]
