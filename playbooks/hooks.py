"""What happens after a recompute stores the day's snapshots, in this order, in its transaction
(health announces it through `health.events`; this app subscribes in `apps.py`).

1. onboarding milestones that usage proves complete themselves (so they never read as overdue);
2. alerts whose condition no longer holds are resolved (and the plays nobody worked on them
   closed), then threshold crossings become alerts, alerts start plays, delivery is queued after
   commit;
3. tier suggestions are refreshed;
4. digital-tier nudges are raised (delivered to the product's webhook after commit).
"""

from __future__ import annotations

from datetime import date

from .alerts.services import alerts_raise, alerts_resolve
from .nudges.services import nudges_raise
from .success.services import milestones_complete_from_usage
from .tiering.services import tier_suggestions_refresh


def after_recompute(*, as_of: date, account_ids: list[int] | None, since_days: int = 1) -> None:
    """Registered with `health.events.on_recompute` by PlaybooksConfig.ready()."""
    milestones_complete_from_usage(as_of=as_of, account_ids=account_ids)
    alerts_resolve(as_of=as_of, account_ids=account_ids)
    alerts_raise(as_of=as_of, account_ids=account_ids, since_days=since_days)
    tier_suggestions_refresh(as_of=as_of, account_ids=account_ids)
    nudges_raise(as_of=as_of, account_ids=account_ids, since_days=since_days)
