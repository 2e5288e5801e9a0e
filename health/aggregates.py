"""Set-based reads that feed the health engine: a handful of SQL aggregates for many accounts.

Each function runs one query over the whole scope (the book, or the accounts an import touched)
and returns per-account numbers; no query runs per account and no usage row reaches Python.
The SQL is plain enough to run on PostgreSQL and on the embedded SQLite.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from fnmatch import fnmatchcase

from django.core.cache import cache
from django.db import connection
from django.db.models import Exists, OuterRef

from accounts.models import Account, Contact, Contract, Touchpoint
from cs_portal import clock

from . import events
from .engine import SHARP_DROP_SHARE, WINDOW_DAYS, AccountInputs
from .landing import usage_landed_through
from .models import Incident

USAGE = "health_usagefact"
# Tables of accounts, below health: named through their models so a rename there shows here.
CONTRACTS = Contract._meta.db_table
CONTACTS = Contact._meta.db_table
TOUCHPOINTS = Touchpoint._meta.db_table
ACTIVITY_METRICS = "('queries', 'units', 'api_calls', 'stream_events')"
# Failed queries on something the account's licence lacks (a chain or a dataset).
UNLICENSED = "('chain_not_covered', 'dataset_not_found')"


def _d(value) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _scope(account_ids: list[int] | None, column: str = "account_id") -> tuple[str, list]:
    if account_ids is None:
        return "", []
    if not account_ids:
        return " AND 1 = 0", []
    return f" AND {column} IN ({', '.join(['%s'] * len(account_ids))})", list(account_ids)


def _rows(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def usage_windows(as_of: date, account_ids: list[int] | None) -> dict[int, dict]:
    """One pass over 90 days of usage: trend, breadth, users, depth, 7-day and prior averages."""
    d7, d28, d35 = (as_of - timedelta(days=n) for n in (7, 28, 35))
    d56, d90 = as_of - timedelta(days=56), as_of - timedelta(days=WINDOW_DAYS)
    scope, scope_params = _scope(account_ids)
    sql = f"""
        SELECT account_id,
          SUM(CASE WHEN metric = 'units' AND date > %s THEN value ELSE 0 END),
          SUM(CASE WHEN metric = 'units' AND date > %s AND date <= %s THEN value ELSE 0 END),
          COUNT(DISTINCT CASE WHEN date > %s AND metric <> 'failed_queries' AND chain <> ''
                THEN chain END),
          COUNT(DISTINCT CASE WHEN date > %s AND metric <> 'failed_queries' AND dataset <> ''
                THEN dataset END),
          COUNT(DISTINCT CASE WHEN metric <> 'failed_queries' AND chain <> '' THEN chain END),
          COUNT(DISTINCT CASE WHEN metric <> 'failed_queries' AND dataset <> ''
                THEN dataset END),
          MAX(CASE WHEN metric = 'active_users' AND date > %s THEN value END),
          COUNT(DISTINCT CASE WHEN date > %s AND metric IN {ACTIVITY_METRICS} AND value > 0
                THEN date END),
          SUM(CASE WHEN date > %s AND metric IN ('api_calls', 'stream_events')
                THEN value ELSE 0 END),
          SUM(CASE WHEN metric = 'units' AND date > %s THEN value ELSE 0 END),
          SUM(CASE WHEN metric = 'units' AND date > %s AND date <= %s THEN value ELSE 0 END),
          COUNT(DISTINCT CASE WHEN metric = 'units' AND date > %s AND date <= %s AND value > 0
                THEN date END),
          MAX(CASE WHEN metric IN {ACTIVITY_METRICS} AND value > 0 THEN date END),
          SUM(CASE WHEN metric = 'api_calls' AND date > %s THEN value ELSE 0 END),
          SUM(CASE WHEN metric = 'api_calls' AND date > %s AND date <= %s
                THEN value ELSE 0 END),
          SUM(CASE WHEN metric = 'queries' AND date > %s THEN value ELSE 0 END),
          COUNT(DISTINCT CASE WHEN date <= %s AND metric <> 'failed_queries' AND chain <> ''
                THEN chain END),
          SUM(CASE WHEN metric = 'failed_queries' AND date > %s AND reason IN {UNLICENSED}
                THEN value ELSE 0 END),
          MAX(CASE WHEN metric = 'failed_queries' AND date > %s AND reason IN {UNLICENSED}
                THEN CASE WHEN dataset <> '' THEN dataset ELSE chain END END)
        FROM {USAGE}
        WHERE date > %s AND date <= %s{scope}
        GROUP BY account_id
    """
    params = [
        d28,
        d56,
        d28,
        d28,
        d28,
        d28,
        d28,
        d28,
        d7,
        d35,
        d7,
        d35,
        d7,
        # the expansion triggers' numbers, in the same pass (see AccountInputs)
        d28,
        d56,
        d28,
        d28,
        d28,
        d28,
        d28,
        d90,
        as_of,
        *scope_params,
    ]
    out = {}
    for row in _rows(sql, params):
        out[row[0]] = {
            "units_28": float(row[1] or 0),
            "units_prev_28": float(row[2] or 0),
            "breadth_28": int(row[3] or 0) + int(row[4] or 0),
            "breadth_90": int(row[5] or 0) + int(row[6] or 0),
            "peak_users_28": float(row[7] or 0),
            "active_days_28": int(row[8] or 0),
            "production_calls_28": float(row[9] or 0),
            "units_7": float(row[10] or 0),
            "prior_daily_avg": float(row[11] or 0) / 28,
            "prior_active_days": int(row[12] or 0),
            "last_active": _d(row[13]),
            "api_calls_28": float(row[14] or 0),
            "api_calls_prev_28": float(row[15] or 0),
            "queries_28": float(row[16] or 0),
            "chains_90": int(row[5] or 0),
            "chains_before_28": int(row[17] or 0),
            "unlicensed_failures_28": float(row[18] or 0),
            "unlicensed_target": row[19] or "",
        }
    return out


LAST_ACTIVE_CHUNK = 1000


def last_active_before(day: date, account_ids: list[int]) -> dict[int, date]:
    """The last day with meaningful usage on or before `day`, for these accounts: the ones
    with none in the 90-day window, so recency sees past it. Each account is an index range
    (the natural key starts with account_id), never a scan of the whole table."""
    out: dict[int, date] = {}
    for start in range(0, len(account_ids), LAST_ACTIVE_CHUNK):
        chunk = account_ids[start : start + LAST_ACTIVE_CHUNK]
        sql = f"""
            SELECT account_id, MAX(date) FROM {USAGE}
            WHERE account_id IN ({", ".join(["%s"] * len(chunk))}) AND date <= %s
              AND metric IN {ACTIVITY_METRICS} AND value > 0
            GROUP BY account_id
        """
        for account_id, last in _rows(sql, [*chunk, day]):
            out[account_id] = _d(last)
    return out


def low_days(as_of: date, account_ids: list[int] | None) -> dict[int, int]:
    """For each account with prior usage: how many of the last 7 days fell below the drop line.

    A day with no usage row counts as a low day (zero usage is below any positive average).
    """
    d7, d35 = as_of - timedelta(days=7), as_of - timedelta(days=35)
    scope, scope_params = _scope(account_ids)
    sql = f"""
        WITH prior AS (
            SELECT account_id, SUM(value) / 28.0 AS avg_units FROM {USAGE}
            WHERE metric = 'units' AND date > %s AND date <= %s{scope}
            GROUP BY account_id HAVING SUM(value) > 0
        ), daily AS (
            SELECT account_id, date, SUM(value) AS units FROM {USAGE}
            WHERE metric = 'units' AND date > %s AND date <= %s{scope}
            GROUP BY account_id, date
        )
        SELECT prior.account_id,
               SUM(CASE WHEN daily.units >= %s * prior.avg_units THEN 1 ELSE 0 END)
        FROM prior LEFT JOIN daily ON daily.account_id = prior.account_id
        GROUP BY prior.account_id
    """
    params = [d35, d7, *scope_params, d7, as_of, *scope_params, SHARP_DROP_SHARE]
    return {row[0]: 7 - int(row[1] or 0) for row in _rows(sql, params)}


def commit_consumption(as_of: date, account_ids: list[int] | None) -> dict[int, dict]:
    """The current contract's commit and the units consumed in its period so far."""
    scope, scope_params = _scope(account_ids, "c.account_id")
    # Each current contract's units summed by its own index scan, rather than joining every
    # usage row to its contract and grouping the lot (which sorted ~700k rows on disk at 5,000
    # accounts). Identical contracts count once per copy, as the join counted them.
    sql = f"""
        WITH cur AS (
            SELECT c.account_id, c.start, c."end", c.commit_units, COUNT(*) AS copies
            FROM {CONTRACTS} c
            WHERE c.start <= %s AND c."end" >= %s{scope}
              AND c.start = (SELECT MAX(c2.start) FROM {CONTRACTS} c2
                             WHERE c2.account_id = c.account_id
                               AND c2.start <= %s AND c2."end" >= %s)
            GROUP BY c.account_id, c.start, c."end", c.commit_units
        )
        SELECT cur.account_id, cur.start, cur."end", cur.commit_units,
               cur.copies * (SELECT SUM(u.value) FROM {USAGE} u
                             WHERE u.account_id = cur.account_id AND u.metric = 'units'
                               AND u.date >= cur.start AND u.date <= %s)
        FROM cur
        ORDER BY cur.account_id, cur.start, cur."end", cur.commit_units
    """
    params = [as_of, as_of, *scope_params, as_of, as_of, as_of]
    return {
        row[0]: {
            "period_start": _d(row[1]),
            "period_end": _d(row[2]),
            "commit_units": float(row[3]) if row[3] is not None else None,
            "consumed_in_period": float(row[4] or 0),
        }
        for row in _rows(sql, params)
    }


DATA_SINCE_KEY = "health:usage-data-since"


def data_since() -> date | None:
    """The first day we hold any usage for: commit pace only judges the days we can see.

    It scans the whole fact table, so it is cached; a usage import clears it on commit.
    """
    cached = cache.get(DATA_SINCE_KEY)
    if cached is not None:
        return _d(cached) if cached else None
    value = _d(_rows(f"SELECT MIN(date) FROM {USAGE}", [])[0][0])
    cache.set(DATA_SINCE_KEY, value.isoformat() if value else "", 3600)
    return value


def usage_caches_clear() -> None:
    """After a usage import commits: cached spans of the fact table may have moved."""
    cache.delete(DATA_SINCE_KEY)


def contacts(as_of: date, account_ids: list[int] | None) -> dict[int, dict]:
    scope, scope_params = _scope(account_ids)
    current = '("left" IS NULL OR "left" > %s)'
    gone = '("left" IS NOT NULL AND "left" <= %s)'
    sql = f"""
        SELECT account_id, COUNT(*),
          MAX(CASE WHEN role = 'exec_sponsor' AND {current} AND last_engaged <= %s
              THEN last_engaged END),
          SUM(CASE WHEN role = 'exec_sponsor' AND {current} THEN 1 ELSE 0 END),
          SUM(CASE WHEN role = 'champion' AND {current} THEN 1 ELSE 0 END),
          MAX(CASE WHEN role = 'exec_sponsor' AND {gone} THEN COALESCE(NULLIF(name, ''), email)
              END),
          MAX(CASE WHEN role = 'champion' AND {gone} THEN COALESCE(NULLIF(name, ''), email) END)
        FROM {CONTACTS} WHERE 1 = 1{scope}
        GROUP BY account_id
    """
    params = [as_of, as_of, as_of, as_of, as_of, as_of, *scope_params]
    out = {}
    for row in _rows(sql, params):
        departed = []
        if row[5] and not row[3]:
            departed.append(f"exec sponsor {row[5]} has left")
        if row[6] and not row[4]:
            departed.append(f"champion {row[6]} has left")
        out[row[0]] = {
            "has_contacts": row[1] > 0,
            "exec_last_engaged": _d(row[2]),
            "has_exec_sponsor": bool(row[3]),
            "departed_key_contacts": departed,
        }
    return out


def touchpoints(as_of: date, account_ids: list[int] | None) -> dict[int, dict]:
    scope, scope_params = _scope(account_ids)
    year_ago = as_of - timedelta(days=365)
    sql = f"""
        WITH ranked AS (
            SELECT account_id, kind, score, date,
                   ROW_NUMBER() OVER (PARTITION BY account_id ORDER BY date DESC, id DESC) AS rn
            FROM {TOUCHPOINTS}
            WHERE kind IN ('nps', 'csat') AND score IS NOT NULL AND date <= %s
              AND date > %s{scope}
        ), touches AS (
            SELECT account_id,
                   MAX(CASE WHEN kind NOT IN ('nps', 'csat') THEN date END) AS last_touch,
                   MAX(CASE WHEN kind = 'qbr' THEN date END) AS last_qbr
            FROM {TOUCHPOINTS} WHERE date <= %s{scope}
            GROUP BY account_id
        )
        SELECT touches.account_id, touches.last_touch, touches.last_qbr,
               ranked.kind, ranked.score, ranked.date
        FROM touches LEFT JOIN ranked ON ranked.account_id = touches.account_id AND ranked.rn = 1
    """
    params = [as_of, year_ago, *scope_params, as_of, *scope_params]
    return {
        row[0]: {
            "last_touch": _d(row[1]),
            "last_qbr": _d(row[2]),
            "sentiment_kind": row[3],
            "sentiment_score": row[4],
            "sentiment_date": _d(row[5]),
        }
        for row in _rows(sql, params)
    }


def open_incidents(as_of: date, account_ids: list[int] | None) -> dict[int, list[dict]]:
    """Open incidents touching datasets (or, if none listed, chains) used in the last 28 days.

    - A dataset may be a wildcard (`stellar.raw.*`): `*` matches any run of characters, the
      same in SQL (LIKE, with `_` and `%` escaped) and in Python (fnmatchcase).
    - The live day (as of yesterday, UTC, or later) also counts the incidents open right now,
      even if they started today: a breach detected this morning caps health at once, not
      tomorrow. Backfills of past days stay strict (open on that day).
    - A schema change caps nobody's health: it is news for a heads-up, not a data-trust
      problem, so it lowers neither the override nor the `data_trust` signal.
    """
    today = clock.today()
    live = as_of >= today - timedelta(days=1)
    candidates = Incident.objects.exclude(kind="schema_change").filter(
        started__lte=today if live else as_of
    )
    incidents = [i for i in candidates if i.is_open(as_of) or (live and i.is_open(today))]
    if not incidents:
        return {}
    datasets = sorted({d for i in incidents for d in i.datasets if "*" not in d})
    patterns = sorted({d for i in incidents for d in i.datasets if "*" in d})
    chains = sorted({c for i in incidents if not i.datasets for c in i.chains})
    if not datasets and not patterns and not chains:
        return {}
    clauses, params = [], [as_of - timedelta(days=28), as_of]
    if datasets:
        clauses.append(f"dataset IN ({', '.join(['%s'] * len(datasets))})")
        params += datasets
    for pattern in patterns:
        clauses.append("dataset LIKE %s ESCAPE '!'")
        escaped = pattern.replace("!", "!!").replace("%", "!%").replace("_", "!_")
        params.append(escaped.replace("*", "%"))
    if chains:
        clauses.append(f"chain IN ({', '.join(['%s'] * len(chains))})")
        params += chains
    scope, scope_params = _scope(account_ids)
    sql = f"""
        SELECT DISTINCT account_id, dataset, chain FROM {USAGE}
        WHERE date > %s AND date <= %s AND metric <> 'failed_queries'
          AND ({" OR ".join(clauses)}){scope}
    """
    used_datasets: dict[int, set] = defaultdict(set)
    used_chains: dict[int, set] = defaultdict(set)
    for account_id, dataset, chain in _rows(sql, params + scope_params):
        if dataset:
            used_datasets[account_id].add(dataset)
        if chain:
            used_chains[account_id].add(chain)
    out: dict[int, list[dict]] = defaultdict(list)
    for account_id in set(used_datasets) | set(used_chains):
        for inc in incidents:
            if inc.datasets:
                hit = {
                    used
                    for used in used_datasets[account_id]
                    if any(fnmatchcase(used, wanted) for wanted in inc.datasets)
                }
            else:
                hit = set(inc.chains) & used_chains[account_id]
            if hit:
                out[account_id].append(
                    {"key": inc.key, "kind": inc.kind, "title": inc.title, "touches": sorted(hit)}
                )
    return out


def build_inputs(as_of: date, account_ids: list[int] | None = None) -> list[AccountInputs]:
    """Everything the engine needs for the scoped accounts, in a fixed number of queries.

    Usage is read through the book's usage watermark (`health.landing`): a day whose usage has
    not landed yet is not read as zero. With no usage landed at all, nobody is scored.
    """
    landed = usage_landed_through()
    if landed is None:
        return []
    usage_day = min(as_of, landed)
    # Lapsed accounts (they had contracts, none is active that day) are not scored: nothing is
    # left to protect, and their collapse would bury the book's real risks. Accounts with no
    # contract data at all are scored; the commit signal simply does not apply to them.
    contracts = Contract.objects.filter(account=OuterRef("pk"))
    accounts = Account.objects.exclude(
        Exists(contracts) & ~Exists(contracts.filter(start__lte=as_of, end__gte=as_of))
    )
    if account_ids is not None:
        accounts = accounts.filter(pk__in=account_ids)
    base = list(accounts.values_list("id", "tier", "segment", "seats"))
    windows = usage_windows(usage_day, account_ids)
    lows = low_days(usage_day, account_ids)
    commits = commit_consumption(as_of, account_ids)
    since = data_since()
    people = contacts(as_of, account_ids)
    touches = touchpoints(as_of, account_ids)
    incidents = open_incidents(as_of, account_ids)
    provided = events.provided_inputs(as_of, account_ids)  # inputs the apps above provide
    # Recency looks past the 90-day window for the accounts that were silent in it.
    older = last_active_before(
        usage_day - timedelta(days=WINDOW_DAYS),
        [pk for pk, *_ in base if not (windows.get(pk) or {}).get("last_active")],
    )
    inputs = []
    for account_id, tier, segment, seats in base:
        inp = AccountInputs(
            account_id=account_id,
            tier=tier,
            segment=segment,
            seats=seats,
            data_since=since,
            usage_through=usage_day,
        )
        for part in (
            windows.get(account_id),
            commits.get(account_id),
            people.get(account_id),
            touches.get(account_id),
            *(inputs_from.get(account_id) for inputs_from in provided),
        ):
            if part:
                for key, value in part.items():
                    setattr(inp, key, value)
        inp.has_contract = account_id in commits
        if inp.last_active is None:
            inp.last_active = older.get(account_id)
        inp.low_days_7 = lows.get(account_id, 0)
        inp.open_incidents = incidents.get(account_id, [])
        inputs.append(inp)
    return inputs
