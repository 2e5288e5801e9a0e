"""A slot for telling one person about one account, which an app above fills.

Apps in the same layer may not import each other: `expansion` hands an opportunity to the
account's AE, and the inbox, Slack and the email digest belong to `playbooks`. So the request
goes through here, the way `accounts.extensions` lets health fill the book's scores: an app
that delivers notices registers a listener from its `AppConfig.ready()`, an app that has news
calls `notice_send`. Listeners run inside the caller's transaction.

A listener is `listener(notice: Notice) -> None` and must be idempotent on
`(account_id, kind, key)`: sending the same notice twice delivers it once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True)
class Notice:
    account_id: int
    recipient_id: int | None  # the user it is for (None: the account's pooled queue)
    kind: str  # what happened, e.g. "expansion_handoff"
    key: str  # which occurrence: the same key is delivered once
    as_of: date
    title: str
    detail: str
    data: dict = field(default_factory=dict)


NoticeListener = Callable[[Notice], None]
_listeners: list[NoticeListener] = []


def on_notice(listener: NoticeListener) -> NoticeListener:
    """Register a deliverer of notices (idempotent)."""
    if listener not in _listeners:
        _listeners.append(listener)
    return listener


def notice_send(notice: Notice) -> None:
    """Hand the notice to every registered deliverer (none installed: nobody is told)."""
    for listener in list(_listeners):
        listener(notice)
