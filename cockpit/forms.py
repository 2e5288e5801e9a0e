"""The cockpit's query strings: the retention figure's date and basis, the panels' filters."""

from __future__ import annotations

from datetime import date

from django import forms

from cs_portal import clock
from cs_portal.formtools import Typed, first_error
from cs_portal.params import whole_number

from .retention import BASES, CONTRACT
from .selectors import RENEWAL_WINDOWS

# Retention reads two years back from the date; outside these years the calendar is not ours.
FIRST_YEAR, LAST_YEAR = 2000, 2100


def as_of_day(raw: str) -> date:
    """A measuring day from the query string: YYYY-MM-DD, default today."""
    if not raw:
        return clock.today()
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise forms.ValidationError(
            f"as_of must be a date in YYYY-MM-DD form, not '{raw[:40]}'"
        ) from None
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise forms.ValidationError(
            f"as_of must fall between {FIRST_YEAR} and {LAST_YEAR}, not '{raw}'"
        )
    return day


class RetentionForm(forms.Form):
    """`as_of`: YYYY-MM-DD, default today; `basis`: contract (default) or consumption."""

    as_of = Typed(max_length=10)
    basis = Typed(max_length=20)

    def clean_as_of(self) -> date:
        return as_of_day(self.cleaned_data["as_of"])

    def clean_basis(self) -> str:
        basis = self.cleaned_data["basis"] or CONTRACT
        if basis not in BASES:
            raise forms.ValidationError(
                f"basis must be 'contract' or 'consumption', not '{basis[:40]}'"
            )
        return basis

    def problem(self) -> str:
        return "" if self.is_valid() else first_error(self)


MOVE_PERIODS = (30, 90, 180, 365)
DEFAULT_MOVE_PERIOD = 90


def _choice_of(raw: str, allowed: tuple[int, ...], name: str) -> int | None:
    if not raw:
        return None
    value = whole_number(raw, max_digits=4)
    if value not in allowed:
        shown = ", ".join(str(a) for a in allowed)
        raise forms.ValidationError(f"{name} must be one of {shown}, not '{raw[:40]}'")
    return value


class PanelForm(forms.Form):
    """The panels' filters: `days` (tier movements), `tier` and `csm` (health over time),
    `window` (renewals ahead), `as_of` (retention). A bad value is named and its default used."""

    days = Typed(max_length=4)
    tier = Typed(max_length=1)
    csm = Typed(max_length=12)
    window = Typed(max_length=4)
    as_of = Typed(max_length=10)

    def clean_days(self) -> int:
        return _choice_of(self.cleaned_data["days"], MOVE_PERIODS, "days") or DEFAULT_MOVE_PERIOD

    def clean_tier(self) -> int | None:
        return _choice_of(self.cleaned_data["tier"], (1, 2, 3), "tier")

    def clean_csm(self) -> int | None:
        raw = self.cleaned_data["csm"]
        if not raw:
            return None
        value = whole_number(raw, max_digits=11)
        if value is None:
            raise forms.ValidationError(f"csm must be a person's id, not '{raw[:40]}'")
        return value

    def clean_window(self) -> int:
        return _choice_of(self.cleaned_data["window"], RENEWAL_WINDOWS, "window") or 90

    def clean_as_of(self) -> date:
        return as_of_day(self.cleaned_data["as_of"])

    def values(self) -> tuple[dict, str]:
        """The cleaned filters, each bad one replaced by its default, and the first problem."""
        self.is_valid()
        defaults = {
            "days": DEFAULT_MOVE_PERIOD,
            "tier": None,
            "csm": None,
            "window": 90,
            "as_of": clock.today(),
        }
        values = {k: self.cleaned_data.get(k, v) for k, v in defaults.items()}
        return values, first_error(self)
