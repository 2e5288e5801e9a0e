"""The cockpit's query strings: the retention figure's date and basis, the panels' filters."""

from __future__ import annotations

from datetime import date

from django import forms

from cs_portal import clock
from cs_portal.formtools import Typed, first_error

from .retention import BASES, CONTRACT

# Retention reads two years back from the date; outside these years the calendar is not ours.
FIRST_YEAR, LAST_YEAR = 2000, 2100


class RetentionForm(forms.Form):
    """`as_of`: YYYY-MM-DD, default today; `basis`: contract (default) or consumption."""

    as_of = Typed(max_length=10)
    basis = Typed(max_length=20)

    def clean_as_of(self) -> date:
        raw = self.cleaned_data["as_of"]
        if not raw:
            return clock.today()
        try:
            day = date.fromisoformat(raw)
        except ValueError:
            raise forms.ValidationError(
                f"as_of must be a date in YYYY-MM-DD form, not '{raw}'"
            ) from None
        if not FIRST_YEAR <= day.year <= LAST_YEAR:
            raise forms.ValidationError(
                f"as_of must fall between {FIRST_YEAR} and {LAST_YEAR}, not '{raw}'"
            )
        return day

    def clean_basis(self) -> str:
        basis = self.cleaned_data["basis"] or CONTRACT
        if basis not in BASES:
            raise forms.ValidationError(
                f"basis must be 'contract' or 'consumption', not '{basis[:40]}'"
            )
        return basis

    def problem(self) -> str:
        return "" if self.is_valid() else first_error(self)
