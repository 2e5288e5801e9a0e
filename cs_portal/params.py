"""Reading and writing query-string values the same way on every page and endpoint."""

from __future__ import annotations

import re

from django.http import QueryDict

# C0 controls but tab, newline and carriage return (a note may hold lines), and DEL.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def control_character_error(value: str) -> str:
    """Why `value` cannot be stored as text ("" when it can): it holds a control character."""
    found = CONTROL_CHARACTERS.search(value)
    if found is None:
        return ""
    name = "a NUL character" if found.group() == "\x00" else "a control character"
    return f"contains {name} (0x{ord(found.group()):02x}); remove it"


def whole_number(raw: str, *, max_digits: int = 18) -> int | None:
    """`raw` as an int when it is ASCII digits only and at most `max_digits` long, else None.

    "²".isdigit() is True but int() rejects it; the length bound keeps int() cheap and the
    number inside a bigint column.
    """
    if raw.isascii() and raw.isdigit() and len(raw) <= max_digits:
        return int(raw)
    return None


def query_string(values: dict[str, object]) -> str:
    """A filter state as a query string: empty values and page 1 are left out of the URL."""
    query = QueryDict(mutable=True)
    for key, value in values.items():
        if value not in ("", None) and not (key == "page" and value == 1):
            query[key] = str(value)
    return query.urlencode()
