"""What the app's forms share."""

from __future__ import annotations

from django import forms
from django.core.validators import ProhibitNullCharactersValidator


class TextField(forms.CharField):
    """An optional text field whose form's clean methods say what is wrong with a value, in the
    app's own words (no generic NUL-character message: such a value fails their checks)."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)
        self.validators = [
            v for v in self.validators if not isinstance(v, ProhibitNullCharactersValidator)
        ]
