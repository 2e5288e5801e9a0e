"""The tier queue's filter and decisions."""

from __future__ import annotations

from django import forms

from cs_portal.formtools import NOTE_MAX_LENGTH, Typed

from .rules import DIRECTIONS


class TierQueueFilterForm(forms.Form):
    """`direction`: "" (every move), "promote" or "relegate"."""

    direction = Typed()

    def clean_direction(self) -> str:
        direction = self.cleaned_data["direction"]
        if direction and direction not in DIRECTIONS:
            raise forms.ValidationError(
                f"direction must be 'promote' or 'relegate', not '{direction[:40]}'"
            )
        return direction


class TierDecisionForm(forms.Form):
    """An approval's note for the tier history (a dismissal posts none)."""

    note = Typed(strip=False, max_length=NOTE_MAX_LENGTH)
