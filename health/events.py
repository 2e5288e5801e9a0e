"""What health announces, and the registry the apps above it subscribe to.

`health` sits below `playbooks`, `datatrust` and the features to come, so it never imports
them. Instead it keeps two small lists of callables and calls them at the documented moments;
each higher app registers its listeners from its `AppConfig.ready()`, the way Django's own
apps hook the admin or the checks framework. Listeners run inside the caller's transaction:
what they write commits (or rolls back) with what was announced.

- `after_recompute(*, as_of: date, account_ids: list[int] | None, since_days: int) -> None`:
  the day's snapshots for these accounts (None: the whole book) are stored. `since_days` > 1
  asks listeners to catch up on what crossed inside that window (after a first backfill).
  While listeners run, `recompute_inputs()` gives the per-account aggregates the recompute
  scored from (`AccountInputs` by account id), so a listener never reads the usage table again;
  it is None when the announcement carries none (a catch-up announced without a recompute).
- `after_incidents(*, keys: list[str]) -> None`: these incidents were created or updated by an
  import (or by a freshness breach opening or closing one).

It also keeps a registry of signal inputs other apps provide (`on_inputs`): a provider is
`provider(as_of: date, account_ids: list[int] | None) -> dict[int, dict]`, one set-based read
for the scope, returning per account the `AccountInputs` fields it fills (e.g. playbooks
provides `milestones_due` and `milestones_on_time` from its onboarding milestones). So health
never reads another app's tables.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, timedelta

from cs_portal import clock

# A recompute of one of the last LIVE_DAYS complete days is live: listeners act on what it
# finds (raise alerts, nudge); an older day is a backfill of history and only recorded.
LIVE_DAYS = 2

RecomputeListener = Callable[..., None]
IncidentsListener = Callable[..., None]

_recompute_listeners: list[RecomputeListener] = []
_incident_listeners: list[IncidentsListener] = []
_input_providers: list[Callable[..., dict]] = []
_paused: ContextVar[bool] = ContextVar("health_events_paused", default=False)
_inputs: ContextVar[dict | None] = ContextVar("health_recompute_inputs", default=None)


def is_live(as_of: date) -> bool:
    """Whether a recompute as of this day is live (see LIVE_DAYS)."""
    return as_of >= clock.last_complete_day() - timedelta(days=LIVE_DAYS - 1)


def on_inputs(provider: Callable[..., dict]) -> Callable[..., dict]:
    """Register a provider of signal inputs (idempotent)."""
    if provider not in _input_providers:
        _input_providers.append(provider)
    return provider


def provided_inputs(as_of: date, account_ids: list[int] | None) -> list[dict[int, dict]]:
    """What every registered provider gives for this scope, in registration order."""
    return [provider(as_of, account_ids) for provider in list(_input_providers)]


def on_recompute(listener: RecomputeListener) -> RecomputeListener:
    """Register a listener for stored snapshots (idempotent: a second registration is a no-op)."""
    if listener not in _recompute_listeners:
        _recompute_listeners.append(listener)
    return listener


def on_incidents(listener: IncidentsListener) -> IncidentsListener:
    """Register a listener for imported or changed incidents (idempotent)."""
    if listener not in _incident_listeners:
        _incident_listeners.append(listener)
    return listener


@contextmanager
def paused() -> Iterator[None]:
    """Score without announcing: for bulk loads that announce once at the end (the demo seed
    loads history first, then raises what holds today)."""
    token = _paused.set(True)
    try:
        yield
    finally:
        _paused.reset(token)


def recompute_inputs() -> dict | None:
    """The aggregates of the recompute being announced ({account_id: AccountInputs}), or None."""
    return _inputs.get()


def announce_recompute(
    *,
    as_of: date,
    account_ids: list[int] | None,
    since_days: int = 1,
    inputs: list | None = None,
) -> None:
    if _paused.get():
        return
    token = _inputs.set({i.account_id: i for i in inputs} if inputs is not None else None)
    try:
        for listener in list(_recompute_listeners):
            listener(as_of=as_of, account_ids=account_ids, since_days=since_days)
    finally:
        _inputs.reset(token)


def announce_incidents(*, keys: list[str]) -> None:
    if _paused.get() or not keys:
        return
    for listener in list(_incident_listeners):
        listener(keys=keys)
