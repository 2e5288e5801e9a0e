"""Rules shared by the app's sub-packages."""

from __future__ import annotations

from datetime import date, timedelta

from cs_portal.clock import last_complete_day

# Recomputes of the last complete day (or the one before) are live: they raise and resolve
# alerts, refresh tier suggestions and raise nudges. A backfill of older days is history, not
# news, and changes none of them.
LIVE_DAYS = 2


def is_live(as_of: date) -> bool:
    """Whether a recompute of `as_of` is news (see LIVE_DAYS)."""
    return as_of >= last_complete_day() - timedelta(days=LIVE_DAYS - 1)
