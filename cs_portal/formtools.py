"""Small pieces every app's forms share."""

from __future__ import annotations

from django import forms


class Typed(forms.Field):
    """A value as sent (trimmed unless `strip=False`), judged by the form's `clean_<name>`
    alone: the messages stay the page's own for any input, NUL characters included."""

    def __init__(self, *, strip: bool = True, **kwargs) -> None:
        self.strip = strip
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_python(self, value) -> str:
        return (value or "").strip() if self.strip else (value or "")


def error_dict(form: forms.Form) -> dict[str, str]:
    """A form's errors as the pages show them: one line per field."""
    return {k: " ".join(m for e in v for m in e) for k, v in form.errors.as_data().items()}


def whole_or_none(raw: str) -> int | None:
    """`raw` as an int the way Python reads one (sign and spaces allowed), else None."""
    try:
        return int(raw.strip())
    except ValueError:
        return None
