"""Writes for health: recompute snapshots, version the model."""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
import time
from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import NamedTuple

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Account, User
from cs_portal import clock
from cs_portal.celery import app as celery_app
from cs_portal.models import ImportRun
from cs_portal.sql import staged

from . import aggregates, events, tasks
from .engine import (
    DEFAULT_GREEN_MIN,
    DEFAULT_WEIGHTS,
    DEFAULT_YELLOW_MIN,
    SIGNAL_KEYS,
    Signal,
    evaluate,
)
from .models import HealthModel, HealthSnapshot, RecomputeRequest

log = logging.getLogger(__name__)


def last_complete_day() -> date:
    """'As of' defaults to yesterday in UTC: today's usage is still arriving."""
    return clock.last_complete_day()


def health_model_current() -> HealthModel:
    model = HealthModel.objects.order_by("-version").first()
    if model is None:
        model, _ = HealthModel.objects.get_or_create(
            version=1,
            defaults={
                "weights": DEFAULT_WEIGHTS,
                "green_min": DEFAULT_GREEN_MIN,
                "yellow_min": DEFAULT_YELLOW_MIN,
                "note": "Default model",
            },
        )
    return model


def health_model_validate(
    *, weights: dict[str, float], green_min: int | None, yellow_min: int | None
) -> None:
    """The model's rules; an unreadable threshold (None) breaks them like an out-of-range one."""
    errors: dict[str, str] = {}
    unknown = set(weights) - set(SIGNAL_KEYS)
    if unknown:
        errors["weights"] = f"unknown signals: {', '.join(sorted(unknown))}"
    elif any(w < 0 for w in weights.values()):
        errors["weights"] = "weights cannot be negative"
    elif round(sum(weights.values()), 6) != 100:
        errors["weights"] = f"weights must sum to 100 (they sum to {sum(weights.values()):g})"
    if green_min is None or yellow_min is None or not 0 < yellow_min < green_min <= 100:
        errors["thresholds"] = "need 0 < yellow threshold < green threshold ≤ 100"
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def health_model_create(
    *,
    weights: dict[str, float],
    green_min: int,
    yellow_min: int,
    note: str,
    created_by: User | None,
) -> HealthModel:
    """Save a new version of the model; older versions and their snapshots stay as they were.

    The book's rescore with it is requested in the same transaction, through the recompute
    outbox, never inside the caller's request (a whole book takes seconds to minutes); inline
    (no worker) it runs as the transaction commits."""
    health_model_validate(weights=weights, green_min=green_min, yellow_min=yellow_min)
    full = {key: weights.get(key, 0) for key in SIGNAL_KEYS}
    latest = HealthModel.objects.select_for_update().order_by("-version").first()
    model = HealthModel.objects.create(
        version=(latest.version + 1) if latest else 1,
        weights=full,
        green_min=green_min,
        yellow_min=yellow_min,
        note=note.strip()[:300],
        created_by=created_by,
    )
    recompute_request(account_ids=None, reason=f"health model v{model.version}")
    return model


def health_recompute(
    *,
    as_of: date | None = None,
    account_ids: list[int] | None = None,
    model: HealthModel | None = None,
) -> int:
    """Score the accounts (all when account_ids is None) as of one day and store the snapshots.

    Inputs come from a fixed number of set-based queries; the snapshots are upserted in one
    transaction, so a killed worker leaves the previous scores, never half a book.
    """
    as_of = as_of or last_complete_day()
    model = model or health_model_current()
    started = time.monotonic()
    account_ids = whole_book_or(account_ids)
    inputs = aggregates.build_inputs(as_of, account_ids)
    snapshots = snapshot_rows(as_of=as_of, account_ids=account_ids, model=model, inputs=inputs)
    if not snapshots:
        log.info("nothing scored as of %s: no usage has landed yet (awaiting usage)", as_of)
        return 0
    with transaction.atomic():
        # Snapshots and the alerts (and plays) they raise commit together or not at all.
        written = snapshots_write(snapshots, day=as_of, account_ids=account_ids)
        events.announce_recompute(as_of=as_of, account_ids=account_ids, inputs=inputs)
    log.info(
        "recomputed health for %d accounts as of %s in %.2fs (%d snapshots new or changed)",
        len(snapshots),
        as_of,
        time.monotonic() - started,
        written,
    )
    return len(snapshots)


def whole_book_or(account_ids: list[int] | None) -> list[int] | None:
    """None (the whole book) when `account_ids` names every account, else the list. A load that
    touches every account (the daily feed) is scored as the book: each aggregate then reads by
    day alone, where an IN list of every account made the recompute half as slow again
    (measured at 5,000 accounts: 5.1 s against 3.3 s)."""
    if account_ids is None or len(account_ids) < WHOLE_BOOK_MIN:
        return account_ids
    ids = set(account_ids)
    if len(ids) < Account.objects.count():
        return account_ids
    return None if not Account.objects.exclude(pk__in=ids).exists() else account_ids


def snapshot_rows(
    *,
    as_of: date,
    account_ids: list[int] | None,
    model: HealthModel,
    inputs: list | None = None,
) -> list[SnapshotRow]:
    """Score the accounts in scope as of one day: the snapshot rows to store (nothing written).
    `inputs`: the scope's aggregates when the caller has read them already."""
    rows = []
    if inputs is None:
        inputs = aggregates.build_inputs(as_of, account_ids)
    for inp in inputs:
        result = evaluate(
            inp,
            as_of=as_of,
            weights=model.weights,
            green_min=model.green_min,
            yellow_min=model.yellow_min,
        )
        rows.append(
            SnapshotRow(
                account_id=inp.account_id,
                date=as_of,
                model_id=model.pk,
                score=result.score,
                weighted_score=result.weighted_score,
                band=result.band,
                signals=_signals_json(result.signals),
                overrides=result.overrides_json(),
                facts=result.facts,
            )
        )
    return rows


class SnapshotRow(NamedTuple):
    """What a recompute writes into one snapshot (besides computed_at). The names are the
    model's attribute names, which are also its column names."""

    account_id: int
    date: date
    model_id: int
    score: int
    weighted_score: float
    band: str
    signals: list[dict]
    overrides: list[dict]
    facts: dict


SNAPSHOT_CONTENT = SnapshotRow._fields[2:]  # all but the key (account, date)
_json = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode


def snapshots_write(
    snapshots: list[SnapshotRow], *, day: date, account_ids: list[int] | None
) -> int:
    """Upsert one day's snapshots, writing only the rows that are new or whose content changed
    (a repeated recompute writes nothing and keeps `computed_at`); returns the rows written.

    `account_ids` is the scope the snapshots were computed for (None: the whole book). On
    PostgreSQL one INSERT … SELECT … ON CONFLICT DO UPDATE that skips identical rows, from a
    staging table filled by COPY (or, for a few rows, from the statement itself); elsewhere the
    day's stored rows are compared in Python and the changed ones upserted with bulk_create.
    """
    if not snapshots:
        return 0
    if connection.vendor == "postgresql":
        return _snapshots_write_pg(snapshots)
    return _snapshots_write_orm(snapshots, day=day, account_ids=account_ids)


def _snapshots_write_orm(
    snapshots: list[SnapshotRow], *, day: date, account_ids: list[int] | None
) -> int:
    current = HealthSnapshot.objects.filter(date=day)
    if account_ids is not None:
        current = current.filter(account_id__in=account_ids)
    stored = {row[0]: row[1:] for row in current.values_list("account_id", *SNAPSHOT_CONTENT)}
    changed = [s for s in snapshots if stored.get(s.account_id) != s[2:]]
    HealthSnapshot.objects.bulk_create(
        [HealthSnapshot(**s._asdict()) for s in changed],
        batch_size=1000,
        update_conflicts=True,
        unique_fields=["account", "date"],
        update_fields=[*SNAPSHOT_CONTENT, "computed_at"],
    )
    return len(changed)


def _cols(prefix: str = "", names: tuple[str, ...] = SnapshotRow._fields) -> str:
    return ", ".join(prefix + name for name in names)


# Up to this many rows (one account's recompute, an import's few) go inline in the statement;
# more go through COPY into a staging table with the snapshot table's column types and no
# constraints. It goes at commit, and is also dropped right after use, for a caller that
# recomputes several days in one transaction.
COPY_MIN_ROWS = 50
# Below this many accounts an explicit list costs the aggregates nothing worth checking for.
WHOLE_BOOK_MIN = 500
# SQL types of SnapshotRow's fields, in order. A new HealthSnapshot field a recompute writes
# goes into SnapshotRow and here as well (a test compares this path with the ORM's).
_TYPES = ("bigint", "date", "bigint", "smallint", "float8", "varchar", "jsonb", "jsonb", "jsonb")
assert len(_TYPES) == len(SnapshotRow._fields)
# The anti-join leaves out unchanged rows before they are locked; the conflict clause's WHERE
# covers a row another transaction wrote in the meantime.
_UPSERT_SQL = f"""
    INSERT INTO health_healthsnapshot ({_cols()}, computed_at)
    SELECT {_cols("s.")}, %s
    FROM {{source}}
    LEFT JOIN health_healthsnapshot t ON t.account_id = s.account_id AND t.date = s.date
    WHERE t.id IS NULL
       OR ({_cols("t.", SNAPSHOT_CONTENT)}) IS DISTINCT FROM ({_cols("s.", SNAPSHOT_CONTENT)})
    ON CONFLICT (account_id, date) DO UPDATE SET
      ({_cols("", (*SNAPSHOT_CONTENT, "computed_at"))})
        = ({_cols("EXCLUDED.", (*SNAPSHOT_CONTENT, "computed_at"))})
    WHERE ({_cols("health_healthsnapshot.", SNAPSHOT_CONTENT)})
          IS DISTINCT FROM ({_cols("EXCLUDED.", SNAPSHOT_CONTENT)})
"""


def _snapshots_write_pg(snapshots: list[SnapshotRow]) -> int:
    # The JSON is serialised once, compactly; the server parses it into jsonb.
    rows = [(*s[:6], _json(s.signals), _json(s.overrides), _json(s.facts)) for s in snapshots]
    now = timezone.now()
    # In a transaction of its own when the caller has none: the staging table lives in one.
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        if len(rows) < COPY_MIN_ROWS:
            row = f"({', '.join(f'%s::{t}' for t in _TYPES)})"
            source = f"(VALUES {', '.join([row] * len(rows))}) AS s ({_cols()})"
            cursor.execute(_UPSERT_SQL.format(source=source), [now, *itertools.chain(*rows)])
            return cursor.rowcount
        with staged(
            cursor,
            stage="health_snapshot_stage",
            like="health_healthsnapshot",
            cols=_cols(),
            rows=rows,
        ) as stage:
            cursor.execute(_UPSERT_SQL.format(source=f"{stage} s"), [now])
            return cursor.rowcount


def _signals_json(signals: list[Signal]) -> list[dict]:
    """`Result.signals_json()` without dataclasses.asdict's deep copies (every field of a
    signal is a plain str, number, bool or None): the same dicts, in a tenth of the time."""
    return [{name: getattr(s, name) for name in _SIGNAL_FIELDS} for s in signals]


_SIGNAL_FIELDS = tuple(f.name for f in dataclasses.fields(Signal))


def health_backfill(
    *, since: date, until: date | None = None, account_ids: list[int] | None = None
) -> int:
    """Recompute every day from `since` to `until` (default: the last complete day)."""
    until = until or last_complete_day()
    total, day = 0, since
    model = health_model_current()
    while day <= until:
        total += health_recompute(as_of=day, account_ids=account_ids, model=model)
        day += timedelta(days=1)
    return total


def health_model_preview(*, weights: dict[str, float], green_min: int, yellow_min: int) -> dict:
    """How many accounts would change band under proposed weights, before anything is saved."""
    as_of = (
        HealthSnapshot.objects.order_by("-date").values_list("date", flat=True).first()
        or last_complete_day()
    )
    current = dict(HealthSnapshot.objects.filter(date=as_of).values_list("account_id", "band"))
    moves: Counter = Counter()
    for inp in aggregates.build_inputs(as_of):
        band = evaluate(
            inp, as_of=as_of, weights=weights, green_min=green_min, yellow_min=yellow_min
        ).band
        before = current.get(inp.account_id)
        if before and before != band:
            moves[(before, band)] += 1
    return {
        "as_of": as_of,
        "accounts": len(current),
        "changed": sum(moves.values()),
        "moves": sorted(((a, b, n) for (a, b), n in moves.items()), key=lambda m: -m[2]),
    }


# --- the recompute outbox ---------------------------------------------------------------------


def recompute_request(*, account_ids: Iterable[int] | None, reason: str) -> RecomputeRequest | None:
    """Ask for these accounts (None: the whole book) to be rescored once the load settles.

    Call it inside the transaction that changed their data: the request commits with the data
    or not at all, and a relay task is queued after commit. If the broker is down then, the
    request waits in the table and the beat's sweep runs it later; nothing is lost.
    """
    ids = None if account_ids is None else sorted(set(account_ids))
    if ids == []:
        return None
    request = RecomputeRequest.objects.create(account_ids=ids, reason=reason[:60])
    transaction.on_commit(_relay_soon)
    return request


# Import kinds owned by apps below health whose rows feed the score: an accepted file of these
# asks for its accounts to be rescored (in its transaction, through the recompute outbox).
RESCORING_KINDS = frozenset({"accounts", "contracts", "contacts", "touchpoints"})


def rescore_after_import(*, kind: str, account_ids: set[int]) -> None:
    """The import pipeline's hook: rescore the accounts a score-feeding import touched."""
    if kind in RESCORING_KINDS and account_ids:
        recompute_request(account_ids=account_ids, reason=f"import:{kind}")


def _relay_soon() -> None:
    relay_recompute_requests = tasks.relay_recompute_requests
    settle = load_settle_seconds()
    try:
        if settle > 0:
            relay_recompute_requests.apply_async(countdown=settle)
        else:
            relay_recompute_requests.delay()
    except Exception:
        if tasks_inline():
            raise  # inline: the failure is the recompute's own, and must surface
        # The request is committed; the periodic sweep will run it when the broker is back.
        log.warning("could not queue the recompute relay; the sweep will run it", exc_info=True)


def tasks_inline() -> bool:
    """True when Celery tasks run inline (no worker): queued work runs as it is queued."""
    return bool(celery_app.conf.task_always_eager)


def load_settle_seconds() -> float:
    """How long a load must be quiet before it is scored: RECOMPUTE_SETTLE_SECONDS with a
    worker; nothing when tasks run inline (there is nobody to wait, a countdown is ignored)."""
    return 0 if tasks_inline() else settings.RECOMPUTE_SETTLE_SECONDS


# An import still marked running after this long crashed without saying so: stop waiting.
IMPORT_STALE_AFTER = timedelta(minutes=30)


def _import_running(*, since: datetime) -> bool:
    return ImportRun.objects.filter(status=ImportRun.Status.RUNNING, created_at__gte=since).exists()


def recompute_requests_run(*, settle_seconds: float | None = None) -> int | None:
    """Run the pending recompute requests as one recompute, once they have settled.

    Settled means no request arrived in the last `settle_seconds` and no import is running:
    the files of one load come seconds apart, in any order, and are scored once, together, as
    the load finally stands (no alert describes a half-loaded book). Each request queues a
    relay; the relays of the earlier requests find a newer one and leave it to its own relay.
    Requests are claimed with SELECT … FOR UPDATE SKIP LOCKED and deleted in the recompute's
    transaction, so two relays never run the same work and a failed recompute leaves them for
    the next sweep.
    Returns the accounts scored, or None when nothing was due.
    """
    settle = load_settle_seconds() if settle_seconds is None else settle_seconds
    newest = RecomputeRequest.objects.order_by("-created_at").values_list("created_at", flat=True)
    newest = newest.first()
    if newest is None:
        return None
    now = timezone.now()
    # A small tolerance: the relay's countdown starts a moment after the request's timestamp.
    if newest > now - timedelta(seconds=max(0.0, settle - 0.05)):
        return None
    if settle > 0 and _import_running(since=now - IMPORT_STALE_AFTER):
        # Another file of the load is still being imported: its own request (or, if it
        # changes nothing, the periodic sweep) runs everything once it has committed.
        return None
    with transaction.atomic():
        claimed = list(
            RecomputeRequest.objects.select_for_update(skip_locked=True).values_list(
                "pk", "account_ids"
            )
        )
        if not claimed:
            return None
        book = any(ids is None for _, ids in claimed)
        scope = None if book else sorted({i for _, ids in claimed for i in ids})
        RecomputeRequest.objects.filter(pk__in=[pk for pk, _ in claimed]).delete()
        return health_recompute(account_ids=scope)
