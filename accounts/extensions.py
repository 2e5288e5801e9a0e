"""What the book and the account page show that an app above accounts knows: health scores.

`accounts` sits below `health`, so it never imports it. It keeps one slot for a book-scores
provider instead, with a no-health default (an unscored book); `health` fills the slot from its
`AppConfig.ready()`, the same way the apps above health subscribe to `health.events`.

A provider implements four callables:

- `as_of() -> date | None`: the day the book's health is shown for (None: nothing scored yet).
- `annotate(qs: QuerySet[Account], day: date) -> QuerySet[Account]`: the same queryset annotated
  with `health_score`, `health_band`, `score_change_7d` and `band_rank` (0 red, 1 yellow,
  2 green, 3 unscored) for that day, as subqueries, so the book filters and sorts on them in SQL.
- `history(*, account_ids: list[int], since: date, until: date) -> dict[int, list]`: daily
  `(date, score, band)` per account, oldest first, in one query (the book's sparklines).
- `snapshot(*, account: Account) -> object | None`: the latest score of one account, with
  `date`, `score` and `band` (the account header's badge).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from django.db.models import CharField, DecimalField, QuerySet, Value


def _unscored(qs: QuerySet, day: date | None = None) -> QuerySet:
    return qs.annotate(
        health_score=Value(None, output_field=DecimalField()),
        health_band=Value(None, output_field=CharField()),
        score_change_7d=Value(0),
        band_rank=Value(3),
    )


@dataclass(frozen=True)
class BookScores:
    as_of: Callable[[], date | None] = lambda: None
    annotate: Callable[[QuerySet, date], QuerySet] = _unscored
    history: Callable[..., dict[int, list]] = lambda **_: {}
    snapshot: Callable[..., object | None] = lambda **_: None


NO_SCORES = BookScores()
_provider: list[BookScores] = [NO_SCORES]


def provide_book_scores(provider: BookScores) -> BookScores:
    """Install the book-scores provider (the last one installed wins; idempotent)."""
    _provider[0] = provider
    return provider


def book_scores() -> BookScores:
    """The installed provider, or the unscored default."""
    return _provider[0]
