"""The nudges page's filters."""

from __future__ import annotations

from django import forms

from cs_portal.formtools import Typed
from cs_portal.params import whole_number
from playbooks.models import DeliveryStatus, Nudge

FIELDS = ("kind", "status", "page")


class NudgesFilterForm(forms.Form):
    """`kind`, `status` (delivery) and `page`. A bad value is reported and left out: the page
    shows the other filters' view (see `values()`)."""

    kind = Typed()
    status = Typed()
    page = Typed(strip=False)

    def clean_kind(self) -> str:
        kind = self.cleaned_data["kind"]
        if kind and kind not in Nudge.Kind.values:
            raise forms.ValidationError(f"kind must be one of {', '.join(Nudge.Kind.values)}")
        return kind

    def clean_status(self) -> str:
        status = self.cleaned_data["status"]
        if status and status not in DeliveryStatus.values:
            raise forms.ValidationError(f"status must be one of {', '.join(DeliveryStatus.values)}")
        return status

    def clean_page(self) -> int:
        raw = self.data.get("page", "1").strip() or "1"
        number = whole_number(raw, max_digits=9)
        if not number:
            raise forms.ValidationError(f"page must be a positive whole number, not '{raw[:20]}'")
        return number

    def problems(self) -> list[str]:
        """The messages of the bad values, in field order."""
        return [self.errors[name][0] for name in FIELDS if name in self.errors]

    def values(self) -> tuple[str, str, int]:
        """(kind, status, page number), a bad value replaced by its default."""
        data = self.cleaned_data
        return data.get("kind", ""), data.get("status", ""), data.get("page", 1)
