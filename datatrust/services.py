"""Writes for data trust: the catalogue, the freshness monitor and schema-change heads-ups.

The freshness monitor
---------------------
After a `freshness` import writes its observations (inside its transaction), every dataset
the file touched is judged again, replaying its observations in time order from the earliest
one the file brought (with the two before it for context), so a batch that holds a whole
breach and its recovery is judged the way the live feed would have been:
- three observations in a row over the dataset's SLA (lag > SLA) with no open auto incident
  open one: kind `freshness`, `auto`, key `freshness-<dataset>-<YYYYMMDDHHMM>` (the first of the
  three, UTC), started on that observation's day, opened at the third, severity from the worst
  lag ÷ SLA (< 2× medium, < 4× high, else critical), chains from the catalogue;
- while it stays over, the severity and title follow the worst lag seen;
- the first observation back within the SLA resolves it (on that observation's day and time).
A dataset with no SLA never breaches (an open auto incident resolves on its next observation).
The replay is the authority for the auto incidents it covers: re-importing the same file
changes nothing, and an incident the corrected observations no longer support is removed.
Whatever changed, exactly the accounts that used the dataset in the last 28 days are rescored
(through the recompute outbox), and the incident keys are announced (`health.events`).

Heads-ups
---------
Every `schema_change` incident imported reaches each account that queried any of its datasets
(wildcards too; any metric, failed queries included) in the last 30 days, exactly once (a
HeadsUp row per incident and account): tiers 1-2 get a task for their CSM (or, without one,
the tier's pool queue), due three days before the change takes effect but never before today;
tier 3 gets a `schema_change` nudge on the product's webhook, delivered after commit. A heads-up
is news whatever the incident's dates: it goes out when the change is first imported.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from fnmatch import fnmatchcase

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from accounts.models import Account, User
from health import events
from health.models import Incident, IncidentKind, Severity
from health.services import recompute_request
from playbooks.models import Nudge, Task
from playbooks.nudges.services import nudges_enqueue

from .models import Dataset, FreshnessObservation, HeadsUp
from .selectors import (
    SCHEMA_WINDOW_DAYS,
    TRUST_WINDOW_DAYS,
    Reach,
    accounts_touching,
    accounts_using,
    recent_window,
)

log = logging.getLogger(__name__)

BREACH_RUN = 3  # observations in a row over the SLA before an incident opens
HEADS_UP_LEAD_DAYS = 3  # a heads-up task is due this many days before the change takes effect
HEADS_UP_UNDATED_DAYS = 7  # …or this many days from now when the change has no date yet
SCHEMA_CHANGE_NUDGE = Nudge.Kind.SCHEMA_CHANGE
KEY_MAX = 64  # Incident.key


# --- the catalogue ----------------------------------------------------------------------------


def dataset_save(
    *,
    dataset: Dataset | None,
    name: str,
    chains: list[str],
    freshness_sla_minutes: int | None,
    description: str,
    by: User | None,
) -> Dataset:
    """Create a dataset (dataset=None) or change one's chains, SLA and description."""
    if dataset is None:
        dataset = Dataset(name=name)
    dataset.chains = sorted(set(chains))
    dataset.freshness_sla_minutes = freshness_sla_minutes
    dataset.description = description.strip()[:300]
    dataset.updated_by = by
    dataset.save()
    return dataset


# --- the freshness monitor ---------------------------------------------------------------------


def severity_for(lag: float, sla: int) -> str:
    ratio = lag / sla
    if ratio < 2:
        return Severity.MEDIUM
    if ratio < 4:
        return Severity.HIGH
    return Severity.CRITICAL


def freshness_key_prefix(name: str) -> str:
    """`freshness-<dataset>-`, shortened with a hash when the key would not fit."""
    room = KEY_MAX - len("freshness--YYYYMMDDHHMM")
    if len(name) > room:
        digest = hashlib.sha1(name.encode()).hexdigest()[:6]
        name = f"{name[: room - 7]}~{digest}"
    return f"freshness-{name}-"


def _minutes(lag: float) -> str:
    return f"{lag:.0f}" if lag >= 10 else f"{lag:.1f}".rstrip("0").rstrip(".")


@dataclass
class _Breach:
    key: str
    started: date
    opened_at: datetime
    peak: float
    resolved_at: datetime | None = None


def _replay(
    observations: list[tuple[datetime, float]],
    *,
    context: int,
    sla: int | None,
    prefix: str,
    carried: Incident | None,
) -> list[_Breach]:
    """The breaches the observations show, from observation `context` on (the ones before it
    only count towards a run). `carried` is the auto incident already open when they start."""
    found: list[_Breach] = []
    current = None
    if carried is not None:
        current = _Breach(carried.key, carried.started, carried.opened_at, 0.0)
        found.append(current)
    run: list[tuple[datetime, float]] = []
    for n, (at, lag) in enumerate(observations):
        over = sla is not None and lag > sla
        if not over:
            run = []
            if current is not None and n >= context:
                current.resolved_at = at
                current = None
            continue
        run.append((at, lag))
        if n < context:
            continue
        if current is not None:
            current.peak = max(current.peak, lag)
        elif len(run) >= BREACH_RUN:
            first = run[-BREACH_RUN][0]
            current = _Breach(
                key=f"{prefix}{first:%Y%m%d%H%M}",
                started=first.date(),
                opened_at=at,
                peak=max(lag for _, lag in run[-BREACH_RUN:]),
            )
            found.append(current)
    return found


def freshness_evaluate(*, since: dict[int, datetime]) -> list[str]:
    """Judge the datasets a freshness import touched ({dataset id: its earliest observation in
    the file}); open, update, resolve (or drop) their auto incidents, request a rescore of the
    accounts that used the ones that changed, announce the changed keys. Returns them."""
    datasets = Dataset.objects.in_bulk(list(since))
    changed_keys: list[str] = []
    changed_datasets: list[str] = []
    for dataset_id, first_at in sorted(since.items()):
        dataset = datasets[dataset_id]
        keys = _judge(dataset, first_at)
        if keys is not None:
            changed_keys += keys
            changed_datasets.append(dataset.name)
    if changed_datasets:
        used = accounts_using(changed_datasets, days=TRUST_WINDOW_DAYS)
        recompute_request(account_ids=list(used), reason="freshness")
    events.announce_incidents(keys=changed_keys)
    return changed_keys


def _judge(dataset: Dataset, first_at: datetime) -> list[str] | None:
    """Replay one dataset from `first_at`; the keys created or changed, or None if nothing
    changed at all."""
    observations = FreshnessObservation.objects.filter(dataset=dataset)
    before = list(
        observations.filter(observed_at__lt=first_at)
        .order_by("-observed_at")
        .values_list("observed_at", "lag_minutes")[: BREACH_RUN - 1]
    )[::-1]
    after = list(
        observations.filter(observed_at__gte=first_at)
        .order_by("observed_at")
        .values_list("observed_at", "lag_minutes")
    )
    prefix = freshness_key_prefix(dataset.name)
    existing = {
        i.key: i
        for i in Incident.objects.filter(
            kind=IncidentKind.FRESHNESS, auto=True, key__startswith=prefix
        )
    }
    # The incident open when the replay starts; those opened later are the replay's to redo.
    carried = next(
        (
            i
            for i in sorted(existing.values(), key=lambda i: i.opened_at, reverse=True)
            if i.opened_at < first_at and (i.resolved_at is None or i.resolved_at >= first_at)
        ),
        None,
    )
    redo = {k: i for k, i in existing.items() if i.opened_at >= first_at}
    sla = dataset.freshness_sla_minutes
    breaches = _replay(before + after, context=len(before), sla=sla, prefix=prefix, carried=carried)
    if carried is not None:
        breaches[0].peak = max(breaches[0].peak, _peak_before(dataset, carried, first_at))
    chains = dataset.chains or _chain_of(dataset.name)
    changed: list[str] = []
    for breach in breaches:
        incident = existing.get(breach.key) or Incident(
            key=breach.key, kind=IncidentKind.FRESHNESS, auto=True
        )
        values = {
            "severity": severity_for(breach.peak, sla) if sla else incident.severity or "medium",
            "started": breach.started,
            "resolved": breach.resolved_at.date() if breach.resolved_at else None,
            "resolved_at": breach.resolved_at,
            "opened_at": breach.opened_at,
            "datasets": [dataset.name],
            "chains": chains,
            "title": (
                f"{dataset.name} {_minutes(breach.peak)} min behind (SLA {sla} min)"
                if sla
                else incident.title
            )[:200],
        }
        if incident.pk is not None and all(getattr(incident, f) == v for f, v in values.items()):
            redo.pop(breach.key, None)
            continue
        for name, value in values.items():
            setattr(incident, name, value)
        incident.save()
        redo.pop(breach.key, None)
        changed.append(incident.key)
    if redo:  # breaches the corrected observations no longer show
        Incident.objects.filter(pk__in=[i.pk for i in redo.values()]).delete()
    if not changed and not redo:
        return None
    log.info("freshness of %s: %s", dataset.name, ", ".join(changed) or "incident withdrawn")
    return changed


def breach_first_at(incident: Incident) -> datetime:
    """When an auto freshness incident's run of observations over the SLA began (its key names
    that observation, to the minute); midnight of its start day for any other incident."""
    if incident.auto:
        try:
            return datetime.strptime(incident.key[-12:], "%Y%m%d%H%M").replace(tzinfo=UTC)
        except ValueError:
            pass
    return datetime.combine(incident.started, time.min, UTC)


def _peak_before(dataset: Dataset, incident: Incident, until: datetime) -> float:
    """The worst lag of an open auto incident's run before `until`."""
    peak = FreshnessObservation.objects.filter(
        dataset=dataset, observed_at__gte=breach_first_at(incident), observed_at__lt=until
    ).aggregate(peak=Max("lag_minutes"))["peak"]
    return peak or 0.0


def _chain_of(name: str) -> list[str]:
    prefix = name.split(".", 1)[0]
    return [] if prefix in ("crosschain", "common") else [prefix]


# --- schema-change heads-ups ---------------------------------------------------------------------


def heads_up_due(effective: date | None, today: date) -> date:
    if effective is None:
        return today + timedelta(days=HEADS_UP_UNDATED_DAYS)
    return max(today, effective - timedelta(days=HEADS_UP_LEAD_DAYS))


def _names(used: list[str], limit: int = 3) -> str:
    shown = ", ".join(used[:limit])
    return shown if len(used) <= limit else f"{shown} and {len(used) - limit} more"


def heads_up_title(used: list[str], effective: date | None) -> str:
    verb = "changes" if len(used) == 1 else "change"
    when = f"on {effective.isoformat()}" if effective else "soon (no date yet)"
    return f"Schema change heads-up: {_names(used)} {verb} {when}"[:200]


def heads_up_detail(incident: Incident, used: list[str]) -> str:
    """The migration note first (it is what the CSM passes on), then what they used and where
    the change is described."""
    lines = [
        f"Migration note: {incident.note}"
        if incident.note
        else "Migration note: none published yet; ask product for one before you reach out.",
        f"What they used in the last {SCHEMA_WINDOW_DAYS} days: {', '.join(used)}.",
        (incident.title or incident.key)
        + (f" (takes effect on {incident.effective.isoformat()})." if incident.effective else "."),
        f"Incident {incident.key}: {settings.SITE_URL}/incidents/{incident.key}/",
    ]
    return "\n".join(lines)


def heads_up_message(incident: Incident, used: list[str]) -> str:
    when = f"on {incident.effective.isoformat()}" if incident.effective else "soon"
    verb = "changes" if len(used) == 1 else "change"
    text = f"Heads-up: {_names(used, 2)} {verb} {when}."
    if incident.note:
        text += f" {incident.note}"
    return text if len(text) <= 300 else text[:299] + "…"


def heads_ups_send(*, keys: list[str]) -> list[HeadsUp]:
    """Send the heads-ups of these incidents' schema changes that were not sent yet (one per
    incident and account, ever). Call inside the transaction that imported them."""
    incidents = list(
        Incident.objects.select_for_update()
        .filter(key__in=keys, kind=IncidentKind.SCHEMA_CHANGE)
        .order_by("key")
    )
    if not incidents:
        return []
    window = recent_window(SCHEMA_WINDOW_DAYS)
    reaches = [
        Reach(datasets=tuple(i.datasets), chains=tuple(i.chains), windows=(window,))
        for i in incidents
    ]
    found = accounts_touching(reaches, include_failed=True)
    sent = set(
        HeadsUp.objects.filter(incident__in=incidents).values_list("incident_id", "account_id")
    )
    wanted = [
        (incident, account_id, used)
        for incident, users in zip(incidents, found, strict=True)
        for account_id, used in sorted(users.items())
        if (incident.pk, account_id) not in sent
    ]
    if not wanted:
        return []
    accounts = Account.objects.in_bulk({account_id for _, account_id, _ in wanted})
    today = timezone.now().date()
    tasks: dict[tuple[int, int], Task] = {}
    nudges: dict[tuple[int, int], Nudge] = {}
    for incident, account_id, used in wanted:
        account = accounts[account_id]
        if account.tier == 3:
            nudges[(incident.pk, account_id)] = Nudge(
                account=account,
                kind=SCHEMA_CHANGE_NUDGE,
                key=incident.key,
                message=heads_up_message(incident, used),
                payload={
                    "account": account.external_id,
                    "incident": incident.key,
                    "title": incident.title,
                    "datasets": used,
                    "changed": incident.datasets or incident.chains,
                    "effective": incident.effective.isoformat() if incident.effective else None,
                    "note": incident.note,
                },
            )
        else:
            # Like a play: the account's CSM, or without one the tier's pool queue.
            tasks[(incident.pk, account_id)] = Task(
                account=account,
                title=heads_up_title(used, incident.effective),
                detail=heads_up_detail(incident, used),
                due=heads_up_due(incident.effective, today),
                owner_id=account.csm_id,
                pool="" if account.csm_id else f"tier{account.tier}",
            )
    Task.objects.bulk_create(tasks.values())
    Nudge.objects.bulk_create(nudges.values())
    heads_ups = HeadsUp.objects.bulk_create(
        [
            HeadsUp(
                incident=incident,
                account_id=account_id,
                task=tasks.get((incident.pk, account_id)),
                nudge=nudges.get((incident.pk, account_id)),
                datasets=used,
            )
            for incident, account_id, used in wanted
        ]
    )
    nudge_ids = [n.pk for n in nudges.values()]
    if nudge_ids:
        transaction.on_commit(lambda: nudges_enqueue(nudge_ids))
    log.info(
        "schema-change heads-ups: %d tasks and %d nudges for %s",
        len(tasks),
        len(nudges),
        ", ".join(i.key for i in incidents),
    )
    return heads_ups


def incidents_chains_from_catalogue(*, keys: list[str]) -> int:
    """Incidents imported with datasets but no chains take their chains from the catalogue
    (wildcards too), as freshness incidents do, so the pages say which chains they touch.
    Display only: who is affected is decided by the datasets. Returns how many changed."""
    incidents = list(
        Incident.objects.filter(key__in=keys, chains=[]).exclude(datasets=[]).only("datasets")
    )
    if not incidents:
        return 0
    catalogue = dict(Dataset.objects.values_list("name", "chains"))
    changed = []
    for incident in incidents:
        chains = sorted(
            {
                chain
                for wanted in incident.datasets
                for name, listed in catalogue.items()
                if fnmatchcase(name, wanted)
                for chain in listed
            }
        )
        if chains:
            incident.chains = chains
            changed.append(incident)
    Incident.objects.bulk_update(changed, ["chains"])
    return len(changed)


def heads_ups_on_incidents(*, keys: list[str]) -> None:
    """Registered with `health.events.on_incidents` by DatatrustConfig.ready()."""
    incidents_chains_from_catalogue(keys=keys)
    heads_ups_send(keys=keys)
