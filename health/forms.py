"""The health pages' forms: the Health tab's day, the model editor's draft, the backtest's
window. They read what was sent; the model's rules stay in `services.health_model_validate`."""

from __future__ import annotations

from datetime import date

from django import forms
from django.http import QueryDict

from cs_portal.formtools import Typed, error_dict, first_error, whole_or_none

from . import backtest
from .engine import SIGNAL_KEYS
from .models import HealthModel

# The editor's backtest: by default, as of 90 days before the newest usage day, 90 days ahead.
BACKTEST_HORIZON_DAYS = 90


def _day(raw: str, message: str) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise forms.ValidationError(message) from None


class HealthTabForm(forms.Form):
    """The Health tab's query: the day to show (default: the latest scored)."""

    as_of = Typed(strip=False)

    def clean_as_of(self) -> date | None:
        raw = self.cleaned_data["as_of"]
        return _day(raw, f"as_of must be a date in YYYY-MM-DD form, not '{raw}'")


class DraftModelForm(forms.Form):
    """A draft health model: a weight per signal (`w_<signal>`, empty reads 0) and the two
    thresholds (empty reads the current model's; unreadable reads None, which the model's
    validation rejects)."""

    green_min = Typed(strip=False)
    yellow_min = Typed(strip=False)
    note = Typed(strip=False, max_length=HealthModel._meta.get_field("note").max_length)

    def __init__(self, data: QueryDict, *, current: HealthModel) -> None:
        super().__init__(data)
        self.current = current
        for key in SIGNAL_KEYS:
            self.fields[f"w_{key}"] = Typed(strip=False)

    def clean_green_min(self) -> int | None:
        return whole_or_none(self.cleaned_data["green_min"] or str(self.current.green_min))

    def clean_yellow_min(self) -> int | None:
        return whole_or_none(self.cleaned_data["yellow_min"] or str(self.current.yellow_min))

    def clean(self) -> dict:
        data = super().clean()
        weights = {}
        for key in SIGNAL_KEYS:
            raw = (data.get(f"w_{key}") or "0").strip()
            try:
                weights[key] = float(raw)
            except ValueError:
                self.add_error(f"w_{key}", f"'{raw}' is not a number")
        # What can be read, even when something cannot: the running total under the table.
        data["weights"] = weights
        return data

    def signal_errors(self) -> dict[str, str]:
        """The unreadable weights, keyed by signal as the editor lists them."""
        return {k.removeprefix("w_"): v for k, v in error_dict(self).items()}


class BacktestForm(forms.Form):
    """The backtest panel's window: a horizon in days and the as-of day to score."""

    horizon = Typed(strip=False)
    as_of = Typed(strip=False)

    def clean_horizon(self) -> int:
        raw = self.cleaned_data["horizon"]
        if not raw.strip():
            return BACKTEST_HORIZON_DAYS
        number = whole_or_none(raw)
        if number is None:
            raise forms.ValidationError(f"The horizon must be a whole number of days, not '{raw}'.")
        return number

    def clean_as_of(self) -> date | None:
        raw = self.cleaned_data["as_of"]
        return _day(raw.strip(), f"The as-of date must be a date in YYYY-MM-DD form, not '{raw}'.")

    def clean(self) -> dict:
        data = super().clean()
        horizon = data.get("horizon")
        if horizon is not None and "as_of" in data:
            low, high = backtest.MIN_HORIZON_DAYS, backtest.MAX_HORIZON_DAYS
            if not low <= horizon <= high:
                raise forms.ValidationError(
                    f"The horizon must be {low} to {high} days (the outcome looks at its last "
                    f"{backtest.DORMANT_WINDOW_DAYS}), not {horizon}."
                )
        return data

    def first_error(self) -> str:
        """The one problem the panel names: the horizon's, then the day's, then the range."""
        return first_error(self)
