"""Incidents over the JSON API: the list (by status and kind) and one incident with the accounts
it touches. Token auth comes from the project's NinjaAPI, as for every router."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.http import HttpRequest
from ninja import Router, Schema
from ninja.errors import HttpError

from accounts.models import Account
from accounts.selectors import accounts_with_commercials
from cs_portal.params import whole_number
from health.models import Incident

from . import selectors

router = Router(tags=["incidents"])
MAX_LIMIT = 500
CENTS = Decimal("0.01")


class AffectedAccountOut(Schema):
    external_id: str
    name: str
    tier: int
    arr: Decimal
    csm: str | None
    used: list[str]


class IncidentOut(Schema):
    key: str
    kind: str
    severity: str
    started: date
    resolved: date | None
    datasets: list[str]
    chains: list[str]
    title: str
    effective: date | None
    note: str
    auto: bool
    affected_accounts: list[AffectedAccountOut]


def _out(incident: Incident, used: dict[int, list[str]], accounts: dict[int, Account]) -> dict:
    affected = sorted(
        (accounts[a] for a in used if a in accounts),
        key=lambda a: (-a.current_arr, a.name),
    )
    return {
        "key": incident.key,
        "kind": incident.kind,
        "severity": incident.severity,
        "started": incident.started,
        "resolved": incident.resolved,
        "datasets": incident.datasets,
        "chains": incident.chains,
        "title": incident.title,
        "effective": incident.effective,
        "note": incident.note,
        "auto": incident.auto,
        "affected_accounts": [
            {
                "external_id": a.external_id,
                "name": a.name,
                "tier": a.tier,
                # Cents on every database (SQLite hands back unscaled sums), as accounts' API.
                "arr": Decimal(a.current_arr).quantize(CENTS),
                "csm": a.csm.email if a.csm else None,
                "used": used[a.pk],
            }
            for a in affected
        ],
    }


def _serialise(incidents: list[Incident]) -> list[dict]:
    affected = selectors.incidents_affected(incidents)
    ids = {a for used in affected.values() for a in used}
    accounts = accounts_with_commercials().in_bulk(list(ids)) if ids else {}
    return [_out(i, affected[i.pk], accounts) for i in incidents]


@router.get("/incidents", response=list[IncidentOut])
def incidents(request: HttpRequest, status: str = "", kind: str = "", limit: str = "100"):
    """Incidents newest first with the accounts each touches (those that used its datasets in
    the 28 days before it started or lately; for a schema change 30 days). Filters: status
    (`open` or `resolved`), kind (`freshness`, `accuracy`, `outage`, `schema_change`); at most
    `limit` (1-500, default 100)."""
    number = whole_number(limit, max_digits=5)
    if number is None or not 1 <= number <= MAX_LIMIT:
        raise HttpError(400, f"limit must be a whole number from 1 to {MAX_LIMIT}, not '{limit}'")
    try:
        qs = selectors.incidents_filtered(status=status, kind=kind)
    except selectors.FilterError as exc:
        raise HttpError(400, str(exc)) from None
    return _serialise(list(qs[:number]))


@router.get("/incidents/{key}", response=IncidentOut)
def incident(request: HttpRequest, key: str):
    """One incident with the accounts it touches (external_id, name, tier, ARR, CSM, and which
    of its datasets they used)."""
    found = Incident.objects.filter(key=key).first() if "\x00" not in key else None
    if found is None:
        raise HttpError(404, f"no incident '{key}'")
    return _serialise([found])[0]
