"""What happens after a recompute stores the day's snapshots, in this order, in its transaction.

1. onboarding milestones that usage proves complete themselves (so they never read as overdue);
2. threshold crossings become alerts, alerts start plays, delivery is queued after commit;
3. tier suggestions are refreshed;
4. digital-tier nudges are raised (delivered to the product's webhook after commit).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date

_paused: ContextVar[bool] = ContextVar("playbooks_hooks_paused", default=False)


@contextmanager
def paused() -> Iterator[None]:
    """Score without acting: for bulk loads that will run `after_recompute` once at the end
    (the demo seed loads history first, then raises what holds today)."""
    token = _paused.set(True)
    try:
        yield
    finally:
        _paused.reset(token)


def after_recompute(*, as_of: date, account_ids: list[int] | None, since_days: int = 1) -> None:
    if _paused.get():
        return
    from .alerts import alerts_raise
    from .nudges import nudges_raise
    from .success import milestones_complete_from_usage
    from .tiering import tier_suggestions_refresh

    milestones_complete_from_usage(as_of=as_of, account_ids=account_ids)
    alerts_raise(as_of=as_of, account_ids=account_ids, since_days=since_days)
    tier_suggestions_refresh(as_of=as_of, account_ids=account_ids)
    nudges_raise(as_of=as_of, account_ids=account_ids)
