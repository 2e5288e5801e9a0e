"""What the app's forms share."""

from __future__ import annotations

from django import forms
from django.core.validators import ProhibitNullCharactersValidator

from cs_portal.formtools import TEXT_MAX_LENGTH, text_check


class TextField(forms.CharField):
    """An optional text field of at most `max_length` characters and no control characters
    (one message for both, `text_check`'s); the form's clean methods judge the rest in the app's
    own words."""

    def __init__(self, *, max_length: int = TEXT_MAX_LENGTH, **kwargs) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)
        self.check_length = max_length
        self.validators = [
            v for v in self.validators if not isinstance(v, ProhibitNullCharactersValidator)
        ]

    def validate(self, value: str) -> None:
        super().validate(value)
        text_check(value, self.check_length)
