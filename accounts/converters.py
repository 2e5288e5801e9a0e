"""The URL converter for an account's external_id."""

from __future__ import annotations

# The account pages under an account's address: an id segment never reads as one of them, so
# `accounts/<id>/` cannot swallow `accounts/<id>/health/`.
SUB_PAGES = (
    "touchpoints",
    "tier",
    "health",
    "plays",
    "success",
    "expansion",
    "feedback",
    "qbrs",
)


class ExternalIdConverter:
    """Any external_id already stored, `/` included: imports now keep ids to the identifier
    alphabet (`cs_portal.imports.IDENTIFIER`), but a row stored before still renders and links.
    An older id with a segment named like a sub-page cannot be addressed."""

    regex = r"[^/]+(?:/(?!(?:{})(?:/|$))[^/]+)*".format("|".join(SUB_PAGES))

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value
