"""Small pieces every app's forms share, and the import page's upload form."""

from __future__ import annotations

from django import forms

from .imports import get_kind
from .params import control_character_error

# The longest value a text field takes unless it says otherwise: enough for any name, key,
# filter or choice; free text (notes, reasons, evidence) sets its own, e.g. NOTE_MAX_LENGTH.
TEXT_MAX_LENGTH = 200
NOTE_MAX_LENGTH = 5000


def text_check(value: str, max_length: int) -> None:
    """Reject what no text field stores: control characters (NUL included: PostgreSQL cannot
    hold it) and more than `max_length` characters, each with a message naming the problem."""
    if problem := control_character_error(value):
        raise forms.ValidationError(problem, code="control_character")
    if len(value) > max_length:
        raise forms.ValidationError(
            f"keep this to {max_length:,} characters (it has {len(value):,})", code="max_length"
        )


TEXT_CHECK_CODES = ("control_character", "max_length")


def field_problems(form: forms.Form, names: tuple[str, ...] | None = None) -> list[str]:
    """The messages of the fields `names` (default: all, in field order), for pages that list
    them in one line: `text_check`'s, which do not say which value they are about, name it."""
    found = form.errors.as_data()
    return [
        f"{name}: {message}" if error.code in TEXT_CHECK_CODES else message
        for name in (names if names is not None else list(form.fields))
        for error in found.get(name, [])
        for message in error
    ]


class Typed(forms.Field):
    """A value as sent (trimmed unless `strip=False`), at most `max_length` characters and free
    of control characters, then judged by the form's `clean_<name>` in the page's own words."""

    def __init__(self, *, strip: bool = True, max_length: int = TEXT_MAX_LENGTH, **kwargs) -> None:
        self.strip = strip
        self.max_length = max_length
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_python(self, value) -> str:
        if not isinstance(value, str):
            value = ""
        return value.strip() if self.strip else value

    def validate(self, value: str) -> None:
        super().validate(value)
        text_check(value, self.max_length)


def error_dict(form: forms.Form) -> dict[str, str]:
    """A form's errors as the pages show them: one line per field."""
    return {k: " ".join(m for e in v for m in e) for k, v in form.errors.as_data().items()}


def first_error(form: forms.Form) -> str:
    """The first problem of a form, in field order ("" if none): for pages that name one."""
    messages = [m for errors in form.errors.as_data().values() for e in errors for m in e]
    return messages[0] if messages else ""


def whole_or_none(raw: str) -> int | None:
    """`raw` as an int the way Python reads one (sign and spaces allowed), else None."""
    try:
        return int(raw.strip())
    except ValueError:
        return None


class ImportUploadForm(forms.Form):
    """The import page's upload: a registered kind and a file (any size, even empty: the
    import itself reports what is wrong inside)."""

    kind = Typed(strip=False)
    file = forms.Field(required=False, widget=forms.FileInput)

    def clean_kind(self) -> str:
        if get_kind(self.cleaned_data["kind"]) is None:
            raise forms.ValidationError("Choose what kind of data the file holds.")
        return self.cleaned_data["kind"]

    def clean_file(self):
        if self.cleaned_data["file"] is None:
            raise forms.ValidationError("Choose a CSV file to upload.")
        return self.cleaned_data["file"]

    def first_error(self) -> str:
        """The one problem the page names: the kind's, else the file's."""
        return first_error(self)
