"""The book's filters and the account page's forms.

The forms read what was sent into typed values and say what cannot be read; the rules an
account's data must follow stay in `services` (the API and the imports share them), so a
form never decides whether a touchpoint or a tier move is allowed.
"""

from __future__ import annotations

from datetime import date

from django import forms
from django.http import QueryDict

from cs_portal.formtools import (
    NOTE_MAX_LENGTH,
    TEXT_MAX_LENGTH,
    Typed,
    field_problems,
    text_check,
    whole_or_none,
)
from cs_portal.params import whole_number

from .models import Account, Contact, Plan, Role, Segment, User
from .selectors import BANDS, RENEWAL_WINDOWS, SORTS, BookFilters, FilterError
from .services import touchpoint_score_error


class StrippedChoiceField(forms.ChoiceField):
    def to_python(self, value) -> str:
        return super().to_python(value).strip()

    def validate(self, value: str) -> None:
        # Named as what it is, not echoed back whole as "not one of the choices".
        text_check(value, TEXT_MAX_LENGTH)
        super().validate(value)


def _choice(choices, message: str) -> StrippedChoiceField:
    return StrippedChoiceField(
        required=False,
        choices=[(str(v), str(v)) for v in choices],
        error_messages={"invalid_choice": message},
    )


class BookFilterForm(forms.Form):
    """The book's query string (the page and the API alike)."""

    tier = _choice(["1", "2", "3"], "tier must be 1, 2 or 3, not '%(value)s'")
    segment = _choice(Segment.values, f"segment must be one of {', '.join(Segment.values)}")
    plan = _choice(Plan.values, f"plan must be one of {', '.join(Plan.values)}")
    csm = Typed()
    renewal = _choice(
        [*RENEWAL_WINDOWS, "lapsed"], "renewal must be 30, 60, 90, 180, 365 (days) or 'lapsed'"
    )
    band = _choice(BANDS, f"band must be one of {', '.join(BANDS)}, not '%(value)s'")
    q = Typed()
    sort = Typed()
    page = Typed()

    def __init__(self, data: QueryDict, *, user: User) -> None:
        if not data and user.role == Role.CSM:
            data = QueryDict("csm=me")  # a CSM lands on their own book
        super().__init__(data)

    def clean_csm(self) -> str:
        csm = self.cleaned_data["csm"]
        if csm and csm not in ("me", "none", "all") and whole_number(csm) is None:
            raise forms.ValidationError(f"csm must be a CSM's id, 'me' or 'none', not '{csm}'")
        return "" if csm == "all" else csm

    def clean_q(self) -> str:
        return self.cleaned_data["q"][:100]

    def clean_sort(self) -> tuple[str, bool]:
        sort = self.cleaned_data["sort"]
        if sort and sort.lstrip("-") not in SORTS:
            raise forms.ValidationError(
                f"sort must be one of {', '.join(SORTS)} (prefix '-' to reverse)"
            )
        return (sort.lstrip("-"), sort.startswith("-")) if sort else (BookFilters.sort, False)

    def clean_page(self) -> int:
        page = self.cleaned_data["page"] or "1"
        number = whole_number(page)
        if not number:
            raise forms.ValidationError(f"page must be a positive whole number, not '{page}'")
        return number

    def filters(self) -> BookFilters:
        """The filters asked for; FilterError (every problem, in field order) if any is bad."""
        if not self.is_valid():
            raise FilterError("; ".join(field_problems(self)))
        data = dict(self.cleaned_data)
        data["sort"], data["desc"] = data["sort"]
        data["tier"] = int(data["tier"]) if data["tier"] else None
        return BookFilters(**data)


class TouchpointForm(forms.Form):
    kind = Typed(strip=False)
    date = Typed(strip=False)
    contact = Typed(strip=False)
    score = Typed()
    note = Typed(strip=False, max_length=NOTE_MAX_LENGTH)

    def __init__(self, data: QueryDict, *, account: Account) -> None:
        self.account = account
        super().__init__(data)

    def clean_date(self) -> date:
        try:
            return date.fromisoformat(self.cleaned_data["date"])
        except ValueError:
            raise forms.ValidationError("Give the date as YYYY-MM-DD.") from None

    def clean_contact(self) -> Contact | None:
        raw = self.cleaned_data["contact"]
        if not raw:
            return None
        number = whole_or_none(raw)
        contact = None
        if number is not None:
            contact = Contact.objects.filter(account=self.account, pk=number).first()
        if contact is None:
            raise forms.ValidationError("Choose one of this account's contacts.")
        return contact

    def clean_score(self) -> int | None:
        raw = self.cleaned_data["score"]
        if not raw:
            return None
        number = whole_or_none(raw)
        if number is None:
            # Unreadable counts as a score given and out of range: the service's own words.
            kind = self.cleaned_data.get("kind", "")
            raise forms.ValidationError(touchpoint_score_error(kind, None, given=True))
        return number


class TierForm(forms.Form):
    """The tier move: an unreadable tier reads as 0, which the service rejects with its rule."""

    tier = Typed()
    reason = Typed(strip=False, max_length=NOTE_MAX_LENGTH)

    def clean_tier(self) -> int:
        return whole_or_none(self.cleaned_data["tier"] or "0") or 0
