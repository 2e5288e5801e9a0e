"""One clock for the whole portal: what "today" and "the last complete day" mean (UTC).

Usage arrives as a daily feed after the day ends, so scoring defaults to the last complete
day; pages and services that talk about today use the same calendar.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta


def today() -> date:
    return datetime.now(UTC).date()


def last_complete_day() -> date:
    """Yesterday, UTC: today's usage is still arriving."""
    return today() - timedelta(days=1)
