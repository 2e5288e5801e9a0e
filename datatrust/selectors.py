"""Reads for the data-trust pages, the API and the heads-ups: which accounts a dataset or an
incident touches, the catalogue with its latest freshness, and the incidents with their reach.

"Used" always means usage facts (`health.models.UsageFact`) naming the dataset, read set-based:
one query for any number of datasets or incidents, never one per account.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fnmatch import fnmatchcase

from django.db import connection
from django.db.models import F, OuterRef, QuerySet, Subquery
from django.http import Http404

from accounts.models import Account
from accounts.selectors import accounts_with_commercials, with_health
from cs_portal import clock
from health.landing import usage_landed_through
from health.models import Incident, IncidentKind
from health.usage_sql import usage_with_dims

from .models import Dataset, FreshnessObservation, HeadsUp

# An incident touches the accounts that used its datasets in the 28 days before it started (or
# in the last 28 days): the health model's window. A schema change reaches back 30 days and
# counts any query of the dataset, failed ones included (they still depend on its shape).
TRUST_WINDOW_DAYS = 28
SCHEMA_WINDOW_DAYS = 30
STATUSES = ("open", "resolved")


def yesterday() -> date:
    return clock.last_complete_day()


def recent_window(days: int) -> tuple[date, date]:
    """(after, through) covering the last `days` days of usage: ending at the newest landed day
    or yesterday (UTC), whichever is later, and starting early enough to cover both (usage
    lands a day or so late, and an over-wide window costs nothing where a short one misses)."""
    last = yesterday()
    landed = usage_landed_through() or last
    return min(landed, last) - timedelta(days=days), max(landed, last)


def like_pattern(dataset: str) -> str:
    """A dataset name or wildcard (`stellar.raw.*`) as a LIKE pattern with `!` as the escape."""
    escaped = dataset.replace("!", "!!").replace("%", "!%").replace("_", "!_")
    return escaped.replace("*", "%")


def dataset_matches(used: str, wanted: str) -> bool:
    """The Python twin of like_pattern: `*` matches any run of characters."""
    return fnmatchcase(used, wanted)


@dataclass(frozen=True)
class Reach:
    """What one incident (or dataset) touches: its datasets, or if it lists none its chains,
    used on any day of any of its windows (after, through]."""

    datasets: tuple[str, ...]
    chains: tuple[str, ...] = ()
    windows: tuple[tuple[date, date], ...] = ()


def accounts_touching(reaches: list[Reach], *, include_failed: bool) -> list[dict[int, list[str]]]:
    """For each reach, the accounts that used it: {account id: the datasets (or chains) they
    used}. One query over the usage facts for all the reaches together."""
    out: list[dict[int, list[str]]] = [{} for _ in reaches]
    exact = sorted({d for r in reaches for d in r.datasets if "*" not in d})
    patterns = sorted({d for r in reaches for d in r.datasets if "*" in d})
    chains = sorted({c for r in reaches if not r.datasets for c in r.chains})
    windows = sorted({w for r in reaches for w in r.windows})
    if not windows or not (exact or patterns or chains):
        return out
    what, what_params = [], []
    if exact:
        what.append(f"dataset IN ({', '.join(['%s'] * len(exact))})")
        what_params += exact
    for pattern in patterns:
        what.append("dataset LIKE %s ESCAPE '!'")
        what_params.append(like_pattern(pattern))
    if chains:
        what.append(f"chain IN ({', '.join(['%s'] * len(chains))})")
        what_params += chains
    flags = ", ".join("MAX(CASE WHEN date > %s AND date <= %s THEN 1 ELSE 0 END)" for _ in windows)
    when = " OR ".join("(date > %s AND date <= %s)" for _ in windows)
    failed = "" if include_failed else " AND metric <> 'failed_queries'"
    sql = f"""
        SELECT account_id, dataset, chain, {flags}
        FROM {usage_with_dims()}
        WHERE ({when}){failed} AND ({" OR ".join(what)})
        GROUP BY account_id, dataset, chain
    """
    params = [d for w in windows for d in w] * 2 + what_params
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    index = {w: i for i, w in enumerate(windows)}
    for n, reach in enumerate(reaches):
        mine = [index[w] for w in reach.windows]
        hits: dict[int, set[str]] = defaultdict(set)
        for account_id, dataset, chain, *flag in rows:
            if not any(flag[i] for i in mine):
                continue
            if reach.datasets:
                if dataset and any(dataset_matches(dataset, d) for d in reach.datasets):
                    hits[account_id].add(dataset)
            elif chain in reach.chains:
                hits[account_id].add(chain)
        out[n] = {account_id: sorted(labels) for account_id, labels in hits.items()}
    return out


def accounts_using(
    datasets: list[str], *, days: int, include_failed: bool = False
) -> dict[int, list[str]]:
    """Accounts that used any of these datasets (wildcards allowed) in the last `days` days."""
    if not datasets:
        return {}
    reach = Reach(datasets=tuple(datasets), windows=(recent_window(days),))
    return accounts_touching([reach], include_failed=include_failed)[0]


def arr_by_account(account_ids) -> dict[int, Decimal]:
    """Current ARR per account (sum of the contracts active today), in one query."""
    ids = list(account_ids)
    if not ids:
        return {}
    return dict(accounts_with_commercials().filter(pk__in=ids).values_list("pk", "current_arr"))


# --- the catalogue ----------------------------------------------------------------------------


@dataclass
class DatasetRow:
    dataset: Dataset
    latest_lag: float | None
    latest_at: datetime | None
    accounts: int = 0
    arr: Decimal = Decimal(0)
    open_incidents: list[Incident] = field(default_factory=list)

    @property
    def status(self) -> str:
        """fresh, over_sla, no_sla or no_observations."""
        if self.latest_lag is None:
            return "no_observations"
        if self.dataset.freshness_sla_minutes is None:
            return "no_sla"
        return "over_sla" if self.latest_lag > self.dataset.freshness_sla_minutes else "fresh"


def datasets_overview() -> list[DatasetRow]:
    """Every dataset in the catalogue with its latest lag, who used it in the last 28 days (and
    their ARR) and the open incidents touching it. A fixed handful of queries."""
    latest = FreshnessObservation.objects.filter(dataset=OuterRef("pk")).order_by("-observed_at")
    datasets = list(
        Dataset.objects.annotate(
            latest_lag=Subquery(latest.values("lag_minutes")[:1]),
            latest_at=Subquery(latest.values("observed_at")[:1]),
        ).order_by("name")
    )
    rows = [DatasetRow(d, d.latest_lag, d.latest_at) for d in datasets]
    if not rows:
        return rows
    window = recent_window(TRUST_WINDOW_DAYS)
    reaches = [Reach(datasets=(d.name,), windows=(window,)) for d in datasets]
    users = accounts_touching(reaches, include_failed=False)
    arr = arr_by_account({a for used in users for a in used})
    open_now = list(Incident.objects.filter(resolved__isnull=True).order_by("-started", "key"))
    for row, used in zip(rows, users, strict=True):
        row.accounts = len(used)
        row.arr = sum((arr.get(a, Decimal(0)) for a in used), Decimal(0))
        row.open_incidents = [
            i for i in open_now if any(dataset_matches(row.dataset.name, d) for d in i.datasets)
        ]
    return rows


# --- incidents --------------------------------------------------------------------------------


class FilterError(ValueError):
    """A filter value the incidents list does not understand (answered 400)."""


def incidents_filtered(*, status: str = "", kind: str = "") -> QuerySet[Incident]:
    """Incidents newest first, optionally only open (not resolved) or resolved, and of a kind."""
    if status and status not in STATUSES:
        raise FilterError(f"status must be one of {', '.join(STATUSES)}, not '{status[:40]}'")
    if kind and kind not in IncidentKind.values:
        raise FilterError(
            f"kind must be one of {', '.join(IncidentKind.values)}, not '{kind[:40]}'"
        )
    # Same day: the ones opened at a known moment (the monitor's) first, latest first.
    qs = Incident.objects.order_by("-started", F("opened_at").desc(nulls_last=True), "-id")
    if status == "open":
        qs = qs.filter(resolved__isnull=True)
    elif status == "resolved":
        qs = qs.filter(resolved__isnull=False)
    if kind:
        qs = qs.filter(kind=kind)
    return qs


def _reach(incident: Incident, lately: tuple[date, date], days: int) -> Reach:
    return Reach(
        datasets=tuple(incident.datasets),
        chains=tuple(incident.chains),
        windows=((incident.started - timedelta(days=days), incident.started), lately),
    )


def incidents_affected(incidents: list[Incident]) -> dict[int, dict[int, list[str]]]:
    """{incident id: {account id: what of it they used}}: the accounts that used its datasets
    (or chains) in the 28 days before it started or in the last 28 days; for a schema change 30
    days, any query, and every account that was sent a heads-up. Three queries in all."""
    out: dict[int, dict[int, list[str]]] = {i.pk: {} for i in incidents}
    schema = [i for i in incidents if i.kind == IncidentKind.SCHEMA_CHANGE]
    trust = [i for i in incidents if i.kind != IncidentKind.SCHEMA_CHANGE]
    for group, days, include_failed in (
        (trust, TRUST_WINDOW_DAYS, False),
        (schema, SCHEMA_WINDOW_DAYS, True),
    ):
        if group:
            lately = recent_window(days)
            found = accounts_touching(
                [_reach(i, lately, days) for i in group], include_failed=include_failed
            )
            for incident, used in zip(group, found, strict=True):
                out[incident.pk] = used
    if schema:
        for incident_id, account_id, datasets in HeadsUp.objects.filter(
            incident__in=schema
        ).values_list("incident_id", "account_id", "datasets"):
            out[incident_id].setdefault(account_id, sorted(datasets))
    return out


@dataclass
class IncidentRow:
    incident: Incident
    accounts: int
    arr: Decimal


def incidents_with_reach(incidents: list[Incident]) -> list[IncidentRow]:
    """Each incident with how many accounts it touches and their current ARR."""
    affected = incidents_affected(incidents)
    arr = arr_by_account({a for used in affected.values() for a in used})
    return [
        IncidentRow(
            incident=i,
            accounts=len(affected[i.pk]),
            arr=sum((arr.get(a, Decimal(0)) for a in affected[i.pk]), Decimal(0)),
        )
        for i in incidents
    ]


def incident_or_404(*, key: str) -> Incident:
    if "\x00" in key:  # PostgreSQL rejects NUL in a query; no key can contain it
        raise Http404("No incident with that key")
    incident = Incident.objects.filter(key=key).first()
    if incident is None:
        raise Http404("No incident with that key")
    return incident


def affected_accounts(incident: Incident) -> list[Account]:
    """The accounts an incident touches, biggest ARR first, each annotated with its ARR, CSM,
    latest health score and band, and `used` (what of the incident they used)."""
    used = incidents_affected([incident])[incident.pk]
    if not used:
        return []
    accounts = list(
        with_health(accounts_with_commercials().filter(pk__in=list(used))).order_by(
            "-current_arr", "name"
        )
    )
    for account in accounts:
        account.used = used[account.pk]
    return accounts


def incident_observations(incident: Incident) -> dict[Dataset, list[tuple[datetime, float]]]:
    """Freshness observations of the incident's catalogued datasets from a day before it started
    to a day after it was resolved (or now): what the timeline chart draws."""
    if incident.kind != IncidentKind.FRESHNESS or not incident.datasets:
        return {}
    start = datetime.combine(incident.started - timedelta(days=1), datetime.min.time(), UTC)
    end_day = (incident.resolved or datetime.now(UTC).date()) + timedelta(days=2)
    end = datetime.combine(end_day, datetime.min.time(), UTC)
    names = [d for d in incident.datasets if "*" not in d][:4]
    datasets = {d.pk: d for d in Dataset.objects.filter(name__in=names)}
    out: dict[Dataset, list[tuple[datetime, float]]] = {d: [] for d in datasets.values()}
    rows = (
        FreshnessObservation.objects.filter(
            dataset_id__in=list(datasets), observed_at__gte=start, observed_at__lt=end
        )
        .order_by("dataset_id", "observed_at")
        .values_list("dataset_id", "observed_at", "lag_minutes")
    )
    for dataset_id, observed_at, lag in rows:
        out[datasets[dataset_id]].append((observed_at, lag))
    return {d: points for d, points in out.items() if points}


def incident_heads_ups(incident: Incident) -> QuerySet[HeadsUp]:
    return (
        HeadsUp.objects.filter(incident=incident)
        .select_related("account", "task", "task__owner", "nudge")
        .order_by("account__name")
    )
