"""Small pieces every app's forms share, and the import page's upload form."""

from __future__ import annotations

from django import forms

from .imports import get_kind


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
