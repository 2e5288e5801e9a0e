"""Usage, incidents and findable stories for the demo book (`manage.py seed_demo`).

`apply_stories(book, today, seed)` takes the rows of `demo.book.build_book(today, seed)`,
picks a handful of story accounts, adjusts their contact/touchpoint rows where a story needs it,
and returns the rows of the `incidents` and `usage` import kinds: 240 days of daily usage ending
yesterday for every account that had a contract, shaped so the health model has something true
to say about each story, and so a backtest has a past to be judged against. Everything is
pure and deterministic: the same (book, today, seed) always yields identical rows, so
re-seeding on the same day is a no-op.

How usage is shaped (per account, from its own seeded generator):
- one smooth level × growth curve, a weekly rhythm (weekends 40-60% of weekdays), day-to-day
  noise, and for the digital tier idle days (but never a whole idle week: two fixed weekdays are
  always active, so a quiet week cannot look like a sharp drop);
- the level is solved so units consumed in the current contract period (the part we hold data
  for) are a chosen share of the pro-rata commit: steady accounts 82-108%;
- units are split by `product` (the meter of the contract active that day), `chain`, and for
  institutions also `dataset`; digital-tier accounts use one chain and no dataset split;
- `queries`, `api_calls` (developer/datastreams/credits), `stream_events` (datastreams) and
  `active_users` (≤ seats) follow the same curve; `failed_queries` appear now and then with a
  reason (the chain an account keeps asking for fails with `chain_not_covered`);
- an account with a past (`demo.book.Outcome`) bends that curve: churners fade over two to
  four months (or fall off a cliff, or, for a few, stop without warning) and stop by the end of
  their contract, the smaller chains and datasets going quiet first; contractions fall before
  the renewal and stay at the new level; a scare dips for three to seven weeks and comes back;
  dormant accounts taper off and stop while their contract runs on.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from demo import book as demo
from demo.book import Draft, Outcome, Row

# The model looks back 90 days and the demo's oldest outcomes are 150 days old: with 240 days
# of usage every outcome falls inside some backtest whose as-of day has a full lookback.
HISTORY_DAYS = 240
# Before that window, a plainer history of `units` alone (one row a day on the account's main
# chain), so retention on the consumption basis has its two trailing years to compare for each
# of the last 12 month ends: the current contract term for every account (at the pace of the
# window, so commit pace reads the same over the whole term) and, for tiers 1 and 2, the
# earlier terms too, back this many days.
EARLIER_DAYS = 1066

# The accounts that carry the demo's stories in the default book (seed 2026); `pick_stories`
# finds them by their traits, and a test keeps this constant in step with it.
STORIES: dict[str, str] = {
    "silent_decay": "acct-0004",  # Halcyon Digital Exchange
    "sharp_drop": "acct-0015",  # Kittering Wallet
    "coasting": "acct-0016",  # Harborview Fund Services
    "data_trust": "acct-0187",  # Nettlefield Liquidity
    "champion_left": "acct-0118",  # Ardent Compliance Labs
    "tier3_spike": "acct-0047",  # Orbitmoth Works
    "heavy_burn": "acct-0018",  # Dunmore Remit
}

STORY_NOTES: dict[str, str] = {
    "silent_decay": "tier 1 nobody has heard from in months; units slid ~40% over 8 weeks with "
    "no single cliff and people drifted away: the weighted score turns it yellow",
    "sharp_drop": "tier 2 developer-plan account whose usage fell ~80% ten days ago and stayed "
    "down: red, override sharp_drop",
    "coasting": "tier 1 with a glowing relationship (exec sponsor, QBR, NPS 9) but flat usage "
    "at ~30% of commit pace: red, override coasting (shelfware)",
    "data_trust": "tier 2 account living on crosschain.dex.trades, hit by the open accuracy "
    "incident on that dataset: yellow, override data_trust_incident",
    "champion_left": "healthy strategic account whose champion left three weeks ago with no "
    "replacement: yellow, override champion_left",
    "tier3_spike": "digital-tier developer whose units in the last 7 days run ~8x their prior "
    "daily average: a product-qualified signal for a human to step in",
    "heavy_burn": "tier 2 that has burned ~95% of its annual commit with more than half the "
    "period left: green, and a commit upsize to talk about",
}

# What each story's latest snapshot should show: allowed bands and the override key (or None).
EXPECTED: dict[str, tuple[tuple[str, ...], str | None]] = {
    "silent_decay": (("yellow", "red"), None),
    "sharp_drop": (("red",), "sharp_drop"),
    "coasting": (("red",), "coasting"),
    "data_trust": (("yellow",), "data_trust_incident"),
    "champion_left": (("yellow",), "champion_left"),
    "tier3_spike": (("green", "yellow"), None),
    "heavy_burn": (("green",), None),
}

STORY_INCIDENT_NUMBER = 1107
STORY_DATASET = "crosschain.dex.trades"

PRODUCT_OF_PLAN = {
    "explorer": "explorer",
    "developer": "developer",
    "datastreams": "datastreams",
    "credits": "credits",
}

# Real schema changes (DOMAIN.md): the latest one before the anchor goes in as an incident.
SCHEMA_CHANGES: tuple[tuple[date, str, tuple[str, ...], tuple[str, ...]], ...] = (
    (
        date(2025, 12, 18),
        "Legacy asset schemas removed (eth_*, matic_* → native_*, fungible_*); "
        "common.prices.token_prices_hourly_easy → common.prices.hourly",
        ("common.prices.token_prices_hourly_easy",),
        ("ethereum", "arbitrum", "base", "optimism", "polygon", "avalanche", "bsc"),
    ),
    (
        date(2026, 6, 19),
        "NFT wash-trading tables drop the per-trade flag columns",
        (
            "polygon.nfts.trades_with_wash_trading_flags",
            "solana.nfts.trades_with_wash_trading_flags",
        ),
        ("polygon", "solana"),
    ),
    (
        date(2026, 7, 10),
        "Stellar Horizon (v1) → RPC (_v2): stellar.raw.* and stellar.assets.*",
        ("stellar.raw.*", "stellar.assets.*"),
        ("stellar",),
    ),
    (
        date(2026, 8, 19),
        "Sui JSON-RPC → gRPC: nested JSON in sui.raw.transactions changes shape",
        ("sui.raw.transactions", "sui.raw.checkpoints"),
        ("sui",),
    ),
)


# ---------------------------------------------------------------------------------------------
# Picking the story accounts


def _current(plan: Draft, day: date) -> tuple | None:
    return next((c for c in reversed(plan.contracts) if c[0] <= day <= c[1]), None)


def _roles(plan: Draft) -> set[str]:
    return {p.role for p in plan.people}


def pick_stories(plans: list[Draft], today: date) -> dict[str, str]:
    """The story accounts, chosen by their traits (first match in external-id order)."""
    yesterday = today - timedelta(days=1)
    taken: set[str] = set()

    def age(plan: Draft) -> int:
        cur = _current(plan, yesterday)
        return (today - cur[0]).days if cur else -1

    def left(plan: Draft) -> int:
        cur = _current(plan, yesterday)
        return (cur[1] - today).days if cur else -1

    def first(test: Callable[[Draft], bool], prefer: Callable[[Draft], Any] = lambda p: 0):
        found = sorted(
            (p for p in plans if p.external_id not in taken and test(p)),
            key=lambda p: (prefer(p), p.external_id),
        )
        if not found:
            raise ValueError("the demo book has no account for a story")
        taken.add(found[0].external_id)
        return found[0].external_id

    def clean(plan: Draft) -> bool:
        # Only the data_trust story should meet the open incident on the DEX trades dataset.
        return STORY_DATASET not in plan.datasets

    def plan_of(plan: Draft) -> str:
        cur = _current(plan, yesterday)
        return cur[3] if cur else ""

    stories = {
        "silent_decay": first(
            lambda p: (
                p.tier == 1 and p.mood == "quiet" and clean(p) and age(p) >= 90 and left(p) >= 60
            )
        ),
        "coasting": first(
            lambda p: (
                p.tier == 1
                and p.mood == "healthy"
                and clean(p)
                and age(p) >= 120
                and left(p) >= 60
                and "exec_sponsor" in _roles(p)
            ),
            prefer=lambda p: plan_of(p) != "explorer",
        ),
        "champion_left": first(
            lambda p: (
                p.tier in (1, 2)
                and p.mood == "champion_left"
                and clean(p)
                and age(p) >= 60
                and "exec_sponsor" in _roles(p)
            ),
            prefer=lambda p: p.tier,
        ),
        "data_trust": first(
            lambda p: (
                p.tier == 2
                and p.segment == "institution"
                and p.mood == "healthy"
                and STORY_DATASET in p.datasets
                and age(p) >= 60
                and left(p) >= 30
            ),
            prefer=lambda p: plan_of(p) != "datastreams",
        ),
        "heavy_burn": first(
            lambda p: (
                p.tier == 2
                and p.segment == "institution"
                and p.mood == "healthy"
                and clean(p)
                and 110 <= age(p) <= 170
                and plan_of(p) in ("developer", "datastreams")
            )
        ),
        "sharp_drop": first(
            lambda p: (
                p.tier == 2
                and p.segment == "institution"
                and p.mood == "healthy"
                and clean(p)
                and age(p) >= 90
                and left(p) >= 60
                and plan_of(p) == "developer"
            )
        ),
        "tier3_spike": first(
            lambda p: (
                p.tier == 3
                and p.mood == "healthy"
                and p.seats >= 2
                and plan_of(p) == "developer"
                and left(p) >= 30
                and (today - p.customer_since).days >= 150
            )
        ),
    }
    return {key: stories[key] for key in STORIES}


# ---------------------------------------------------------------------------------------------
# Incidents


def story_incidents(today: date) -> list[Row]:
    """The open accuracy incident of the data_trust story, a few resolved ones, a schema change.

    Keys carry the year the incident started, so the set differs by anchor: a re-anchored seed
    deletes the previous anchor's keys first (see seed_demo).
    """

    def day(n: int) -> str:
        return (today - timedelta(days=n)).isoformat()

    def key(n: int, number: int) -> str:
        return f"INC-{(today - timedelta(days=n)).year}-{number:04d}"

    rows: list[Row] = [
        {
            "key": key(5, STORY_INCIDENT_NUMBER),
            "kind": "accuracy",
            "severity": "high",
            "started": day(5),
            "resolved": None,
            "datasets": STORY_DATASET,
            "chains": "base",
            "title": "DEX trades: duplicated swaps on Base after reorg",
        },
        {
            "key": key(118, 987),
            "kind": "outage",
            "severity": "high",
            "started": day(118),
            "resolved": day(117),
            "datasets": "crosschain.assets.fungible_balances_latest_evm",
            "chains": "",
            "title": "Balances API: stale latest balances on EVM chains (cache cluster failover)",
        },
        {
            "key": key(64, 1043),
            "kind": "accuracy",
            "severity": "medium",
            "started": day(64),
            "resolved": day(61),
            "datasets": "ethereum.lending.liquidations",
            "chains": "ethereum",
            "title": "Lending liquidations: Aave v3 liquidations missing for 6 hours",
        },
        {
            "key": key(41, 1071),
            "kind": "freshness",
            "severity": "medium",
            "started": day(41),
            "resolved": day(40),
            "datasets": "solana.raw.transactions;solana.raw.instructions",
            "chains": "solana",
            "title": "Solana raw tables ~3 h behind after an RPC provider degradation",
        },
    ]
    changes = [c for c in SCHEMA_CHANGES if c[0] < today]
    if changes:
        effective, title, datasets, chains = changes[-1]
        settled = effective + timedelta(days=30)
        rows.append(
            {
                "key": f"CHG-{effective:%Y-%m-%d}",
                "kind": "schema_change",
                "severity": "medium",
                "started": effective.isoformat(),
                "resolved": settled.isoformat() if settled < today else None,
                "datasets": ";".join(datasets),
                "chains": ";".join(chains),
                "title": title,
            }
        )
    return rows


# ---------------------------------------------------------------------------------------------
# Story adjustments to the book's contact and touchpoint rows


def _touch(
    account: str, day: date, kind: str, contact: str | None, note: str, score: int | None = None
) -> Row:
    return {
        "account": account,
        "date": day.isoformat(),
        "kind": kind,
        "score": score,
        "contact": contact,
        "note": note,
    }


def _make_coasting(book: dict[str, list[Row]], ext: str, plan: Draft, today: date) -> None:
    """Exec sponsor engaged ≤ 30 days ago, a QBR in the last 60 days, recent touches, NPS 9."""
    contacts = [c for c in book["contacts"] if c["account"] == ext]
    sponsor = next(c for c in contacts if c["role"] == "exec_sponsor" and not c["left"])
    touches = [t for t in book["touchpoints"] if t["account"] == ext]
    recent = (today - timedelta(days=60)).isoformat()
    yesterday = (today - timedelta(days=1)).isoformat()
    if not any(t["kind"] == "qbr" and recent <= t["date"] <= yesterday for t in touches):
        book["touchpoints"].append(
            _touch(
                ext,
                today - timedelta(days=38),
                "qbr",
                sponsor["email"],
                "QBR: everyone happy with data quality; no new projects planned this half, "
                "so the committed volume is mostly unused",
            )
        )
    book["touchpoints"].append(
        _touch(
            ext,
            today - timedelta(days=9),
            "meeting",
            sponsor["email"],
            f"Exec check-in with {sponsor['name'].split()[0]}: relationship strong, but their "
            f"{plan.kind.uses[0]} rollout is parked until next year",
        )
    )
    sentiment = [
        t["date"] for t in touches if t["kind"] in ("nps", "csat") and t["date"] <= yesterday
    ]
    nps_day = max(
        [today - timedelta(days=6)] + [date.fromisoformat(d) + timedelta(days=1) for d in sentiment]
    )
    nps_day = min(nps_day, today - timedelta(days=1))
    book["touchpoints"].append(
        _touch(
            ext,
            nps_day,
            "nps",
            sponsor["email"],
            "NPS 9: 'great team and great data; we just have not found the time to use more of it'",
            9,
        )
    )
    engaged = max(sponsor["last_engaged"] or "", (today - timedelta(days=9)).isoformat())
    sponsor["last_engaged"] = min(engaged, yesterday)


def _make_champion_left(book: dict[str, list[Row]], ext: str, today: date) -> None:
    """The only champion left three weeks ago; the 'learned they left' meeting moves with it."""
    champions = [c for c in book["contacts"] if c["account"] == ext and c["role"] == "champion"]
    if len(champions) != 1:
        raise ValueError(f"{ext}: the champion_left story needs exactly one champion")
    champion = champions[0]
    old_left = date.fromisoformat(champion["left"])
    new_left = today - timedelta(days=21)
    champion["left"] = new_left.isoformat()
    if champion["last_engaged"] and champion["last_engaged"] >= champion["left"]:
        champion["last_engaged"] = (new_left - timedelta(days=9)).isoformat()
    for touch in book["touchpoints"]:
        if touch["account"] == ext and touch["note"].startswith(f"Learned {champion['name']}"):
            heard = new_left + (date.fromisoformat(touch["date"]) - old_left)
            touch["date"] = min(heard, today - timedelta(days=2)).isoformat()


# ---------------------------------------------------------------------------------------------
# Usage


def _streams(rng: random.Random, plan: Draft, story: str | None) -> list[tuple[str, str, float]]:
    """(chain, dataset, share of units) the account's usage splits into."""
    if plan.tier == 3:
        return [(plan.chains[0], "", 1.0)]
    if plan.segment == "self_serve":
        pairs = [(chain, "") for chain in plan.chains]
    else:
        pairs = []
        cross = [d for d in plan.datasets if d.startswith("crosschain.")]
        for dataset in plan.datasets:
            prefix = dataset.split(".")[0]
            if prefix == "common":
                pairs.append(("", dataset))
            elif prefix in demo.CHAIN_SLUGS:
                pairs.append((prefix, dataset))
        if cross:
            # Every chain the account works on shows up, dealt over its crosschain datasets.
            for i, chain in enumerate(plan.chains):
                pairs.append((chain, cross[i % len(cross)]))
            for dataset in cross[len(plan.chains) :]:
                pairs.append((plan.chains[0], dataset))
        elif not pairs:
            pairs = [(chain, "") for chain in plan.chains]
        pairs = sorted(set(pairs), key=pairs.index)
    weights = [rng.gammavariate(1.6, 1.0) + 0.15 for _ in pairs]
    if story == "data_trust":
        # Most of what they pull is DEX trades.
        weights = [
            w * (12 if dataset == STORY_DATASET else 1)
            for w, (_, dataset) in zip(weights, pairs, strict=True)
        ]
    total = sum(weights)
    return [(chain, dataset, w / total) for (chain, dataset), w in zip(pairs, weights, strict=True)]


def _trend(story: str | None, plan: Draft, rng: random.Random) -> Callable[[int], float]:
    """Level multiplier by day offset t (-180 … -1, relative to the anchor)."""
    if story == "silent_decay":
        decay = 0.40

        def silent(t: int) -> float:
            base = math.exp(0.08 * t / 365)
            return base * (1 - decay * (t + 57) / 56) if t > -57 else base

        return silent
    if story == "sharp_drop":
        growth = rng.uniform(0.15, 0.35)
        return lambda t: math.exp(growth * t / 365) * (0.19 if t >= -10 else 1.0)
    if story == "tier3_spike":
        growth = rng.uniform(0.1, 0.3)
        return lambda t: math.exp(growth * t / 365) * (8.0 if t >= -7 else 1.0)
    if story == "coasting":
        return lambda t: math.exp(-0.03 * t / 365)
    if story == "heavy_burn":
        return lambda t: math.exp(0.9 * t / 365)
    if plan.outcome is not None and plan.outcome.kind != "recovered":
        growth = rng.uniform(-0.1, 0.3)  # the outcome's own curve does the falling
    elif plan.mood == "quiet":
        growth = rng.uniform(-3.6, -2.4)  # nobody talks to them, and it shows
    elif plan.tier == 3:
        # Most developers grow; some cool off (a side project winding down).
        growth = rng.uniform(-2.2, -0.8) if rng.random() < 0.12 else rng.uniform(0.05, 0.8)
    else:
        growth = rng.uniform(0.08, 0.5)
    return lambda t: math.exp(growth * t / 365)


def _outcome_curve(o: Outcome | None, today: date) -> Callable[[int], float]:
    """Multiplier on the usage level by day offset t for an account's outcome (1 without one).

    Declines are geometric (a steady percentage a day), as a team winding a pipeline down
    moves job after job off it; a recovery climbs back over two weeks.
    """
    if o is None:
        return lambda t: 1.0
    day = (o.day - today).days
    stop = (o.stop - today).days if o.stop else day

    def slide(t: int, start: int, end: int) -> float:
        """1 before start, `keep` from end on, a geometric slide in between."""
        if t <= start:
            return 1.0
        if t >= end or end <= start:
            return o.keep
        return o.keep ** ((t - start) / (end - start))

    if o.kind == "churned" and o.shape == "fade":
        return lambda t: slide(t, day - o.lead, stop)
    if o.kind == "churned" and o.shape == "cliff":
        cliff = day - o.lead
        # A few weeks of sagging while they stand the other provider up, then the switch.
        return lambda t: (
            o.keep if t >= cliff else 1.0 - 0.15 * min(1.0, max(0, t - cliff + 21) / 21)
        )
    if o.kind == "contracted":
        return lambda t: slide(t, day - o.lead, day - 7)
    if o.kind == "dormant":
        return lambda t: slide(t, stop - o.lead, stop) if o.lead else 1.0
    if o.kind == "recovered":
        down, up = 7, 14
        back = day + max(o.lead, down + up)

        def dip(t: int) -> float:
            if t <= day or t >= back:
                return 1.0
            if t < day + down:
                return o.keep ** ((t - day) / down)
            if t > back - up:
                return o.keep ** ((back - t) / up)
            return o.keep

        return dip
    return lambda t: 1.0


def _pace(story: str | None, plan: Draft, rng: random.Random) -> float:
    """Units consumed in the observed contract period ÷ the pro-rata commit."""
    if story == "coasting":
        return 0.30
    if plan.outcome is not None and plan.outcome.kind in ("churned", "dormant"):
        return rng.uniform(0.5, 0.75)  # they were under-using well before the end
    if plan.outcome is not None and plan.outcome.kind == "contracted":
        return rng.uniform(0.85, 1.0)  # right-sized at the renewal
    if story in ("silent_decay", "sharp_drop"):
        return rng.uniform(0.72, 0.82)
    if plan.mood == "quiet":
        return rng.uniform(0.6, 0.8)
    return rng.uniform(0.82, 1.08)


def _value(x: float) -> float:
    return round(x, 1) if x < 1000 else float(round(x))


def _account_usage(
    plan: Draft, contracts: list[Row], today: date, seed: int, story: str | None
) -> list[Row]:
    # Seeded from the name, like the book's own generators: renumbering accounts (ids follow
    # signup order) leaves everyone's usage where it was.
    rng = random.Random(f"{seed}:{plan.name}:usage")
    terms = sorted(
        (
            (
                date.fromisoformat(c["start"]),
                date.fromisoformat(c["end"]),
                c["plan"],
                c["commit_units"],
            )
            for c in contracts
        ),
        key=lambda c: c[0],
    )
    window_start = today - timedelta(days=HISTORY_DAYS)
    yesterday = today - timedelta(days=1)

    def term_on(day: date):
        return next((c for c in reversed(terms) if c[0] <= day <= c[1]), None)

    days = [window_start + timedelta(days=n) for n in range(HISTORY_DAYS)]
    days = [d for d in days if term_on(d)]
    if not days:
        return []

    ext = plan.external_id
    streams = _streams(rng, plan, story)
    base_trend = _trend(story, plan, rng)
    outcome = plan.outcome if story is None else None
    outcome_curve = _outcome_curve(outcome, today)

    def trend(t: int) -> float:
        return base_trend(t) * outcome_curve(t)

    last_active = outcome.stop if outcome and outcome.stop else None
    weekend = rng.uniform(0.4, 0.6)
    stream_weekend = rng.uniform(0.82, 0.95)
    sigma = {1: 0.06, 2: 0.09, 3: 0.2}[plan.tier]
    free = all(not c[3] for c in terms)
    if free:
        sigma = 0.3
    # Digital-tier activity: idle days, but two weekdays a week are always active.
    if plan.tier == 3:
        current_plan = terms[-1][2]
        weekday_p, weekend_p = (
            (0.65, 0.3) if free else (0.95, 0.7) if current_plan == "developer" else (0.85, 0.45)
        )
        anchors = set(rng.sample(range(5), 2))
    else:
        weekday_p, weekend_p, anchors = 1.0, (0.85 if plan.segment == "self_serve" else 1.0), set()
    since = terms[0][0]
    onboarding = since > window_start

    mult: dict[date, float] = {}
    active: dict[date, bool] = {}
    for d in days:
        t = (d - today).days
        is_weekend = d.weekday() >= 5
        on = d.weekday() in anchors or rng.random() < (weekend_p if is_weekend else weekday_p)
        on = on and (last_active is None or d <= last_active)
        ramp = min(1.0, 0.25 + 0.75 * (d - since).days / 21) if onboarding else 1.0
        m = trend(t) * ramp * (weekend if is_weekend else 1.0) * rng.lognormvariate(0, sigma)
        active[d] = on
        mult[d] = m if on else 0.0

    # Solve the level so consumption in the current (or, if lapsed, last) term hits the pace.
    term = term_on(yesterday) or terms[-1]
    start, end, _, commit = term
    observed = [d for d in days if start <= d <= min(end, yesterday)]
    if commit and observed and sum(mult[d] for d in observed) > 0:
        period = (end - start).days + 1
        seen = (min(end, yesterday) - max(start, window_start)).days + 1
        if story == "heavy_burn":
            target = 0.95 * commit
        else:
            target = _pace(story, plan, rng) * commit * seen / period
        level = target / sum(mult[d] for d in observed)
        current_daily = target / seen
    else:
        level = demo.heavy_tail(rng, 15, 400, 1.5)  # free tier: small explorer usage
        current_daily = None

    # Everything else scales with the same curve (per active day, relative to its level).
    scale = {1: 1.0, 2: 0.35, 3: 0.04}[plan.tier] * (0.15 if free else 1.0)
    queries_base = demo.heavy_tail(rng, 300, 3000, 1.2) * scale
    api_base = {
        1: demo.heavy_tail(rng, 200_000, 3_000_000, 1.5),
        2: demo.heavy_tail(rng, 20_000, 400_000, 1.5),
        3: demo.heavy_tail(rng, 1_000, 50_000, 1.5),
    }[plan.tier]
    msgs_per_s = {1: rng.uniform(800, 4000), 2: rng.uniform(40, 500), 3: rng.uniform(5, 40)}
    stream_base = msgs_per_s[plan.tier] * 86_400
    user_share = rng.uniform(0.55, 0.85)
    user_fade = 0.7
    # Streams (chain, dataset) that go quiet from a day offset on: the side datasets first.
    by_share = sorted(range(len(streams)), key=lambda i: streams[i][2])
    drop_from: dict[int, int] = {}
    if story == "coasting":
        user_share = 0.3
    elif plan.mood == "quiet":
        user_share = rng.uniform(0.3, 0.45)
    if story == "silent_decay":
        # People drift away faster than the units, and the side datasets go quiet first.
        user_share, user_fade = 0.5, 2.5
        if len(streams) >= 5:
            drop_from = dict.fromkeys(by_share[:2], -36)
    elif outcome is not None and outcome.kind in ("churned", "contracted") and outcome.lead:
        # Winding down: the smallest streams stop while the main one fades.
        end = (outcome.day - today).days
        start = end - outcome.lead
        if outcome.kind == "contracted":
            drops = [end - 14] if len(streams) >= 3 else []
        else:
            drops = [start + outcome.lead * 2 // 5, start + outcome.lead * 7 // 10]
            drops = drops[: max(0, len(streams) - 1)]
        drop_from = {by_share[i]: t for i, t in enumerate(drops)}
    mean_mult = sum(mult.values()) / max(1, sum(active.values()))

    # Failed queries: the chain they keep asking for, timeouts, the odd syntax error.
    gap_p = {1: 0.5, 2: 0.3, 3: 0.12}[plan.tier]
    asks_for_gap = rng.random() < gap_p
    # EVM-only API and stream users asking for Solana, which their product does not cover.
    asks_for_solana = (
        "solana" not in plan.chains
        and terms[-1][2] in ("developer", "datastreams")
        and rng.random() < 0.25
    )
    legacy_prices = plan.tier < 3 and rng.random() < 0.1
    main_chain, main_dataset = max(streams, key=lambda s: s[2])[:2]
    gap_dataset = next((d for _, d, _ in streams if d.startswith("crosschain.")), "")

    rows: list[Row] = []

    def add(
        day: str,
        metric: str,
        value: float,
        product: str = "",
        chain: str = "",
        dataset: str = "",
        reason: str = "",
    ) -> None:
        if value <= 0:
            return
        row: Row = {"account": ext, "date": day, "metric": metric, "value": value}
        if product:
            row["product"] = product
        if chain:
            row["chain"] = chain
        if dataset:
            row["dataset"] = dataset
        if reason:
            row["reason"] = reason
        rows.append(row)

    for d in days:
        if not active[d]:
            continue
        iso = d.isoformat()
        plan_name = term_on(d)[2]
        product = PRODUCT_OF_PLAN[plan_name]
        units = level * mult[d]
        jitter = [share * rng.lognormvariate(0, 0.1) for _, _, share in streams]
        total = sum(jitter)
        gone = {i for i, t in drop_from.items() if (d - today).days >= t}
        for i, ((chain, dataset, _), part) in enumerate(zip(streams, jitter, strict=True)):
            if i not in gone:
                add(iso, "units", _value(units * part / total), product, chain, dataset)
        rel = mult[d] / mean_mult if mean_mult else 0.0
        is_weekend = d.weekday() >= 5
        explorer_heavy = plan_name in ("explorer", "credits")
        if explorer_heavy or plan.tier < 3:
            q = queries_base * rel * (1.0 if explorer_heavy else 0.15)
            add(iso, "queries", max(1, round(q)))
        if plan_name in ("developer", "datastreams", "credits"):
            add(iso, "api_calls", round(api_base * rel))
        if plan_name == "datastreams":
            curve = trend((d - today).days) * (stream_weekend if is_weekend else 1.0)
            add(iso, "stream_events", round(stream_base * curve * rng.lognormvariate(0, 0.05)))
        # Active users: a share of seats (institutions) or a few developers (self-serve).
        if plan.segment == "institution":
            people = plan.seats * user_share * (0.25 if is_weekend else 1.0)
            people *= min(1.0, trend((d - today).days)) ** user_fade * rng.lognormvariate(0, 0.12)
            add(iso, "active_users", max(1, min(plan.seats, round(people))))
        else:
            top = plan.seats if not is_weekend else max(1, plan.seats // 2)
            top = max(1, round(top * min(1.0, outcome_curve((d - today).days))))
            add(iso, "active_users", rng.randint(1, top))
        if is_weekend:
            continue
        if asks_for_gap and rng.random() < 0.3:
            add(
                iso,
                "failed_queries",
                rng.randint(1, 12),
                chain=plan.want_chain,
                dataset=gap_dataset,
                reason="chain_not_covered",
            )
        if asks_for_solana and rng.random() < 0.2:
            add(
                iso,
                "failed_queries",
                rng.randint(1, 20),
                chain="solana",
                dataset=gap_dataset,
                reason="chain_not_covered",
            )
        if explorer_heavy and rng.random() < 0.08:
            add(
                iso,
                "failed_queries",
                rng.randint(1, 6),
                chain=main_chain,
                dataset=main_dataset,
                reason="timeout",
            )
        if explorer_heavy and rng.random() < 0.05:
            add(iso, "failed_queries", rng.randint(1, 3), reason="syntax")
        if legacy_prices and rng.random() < 0.15:
            add(
                iso,
                "failed_queries",
                rng.randint(1, 4),
                dataset="common.prices.token_prices_hourly_easy",
                reason="dataset_not_found",
            )
    stream = (main_chain, main_dataset if plan.tier < 3 else "")
    return rows + _earlier_units(plan, terms, term, current_daily, stream, today, seed)


def _earlier_units(
    plan: Draft,
    terms: list[tuple],
    current: tuple,
    current_daily: float | None,
    stream: tuple[str, str],
    today: date,
    seed: int,
) -> list[Row]:
    """Daily `units` before the usage window (see EARLIER_DAYS): the current term's days at the
    window's average daily pace, an earlier term's at its commit × a pace of its own (lower in
    the term before a contraction, when they had outgrown less than they bought), a free term's
    at a small level. Drawn from a generator of their own, so the window's rows never move."""
    rng = random.Random(f"{seed}:{plan.name}:earlier")
    window_start = today - timedelta(days=HISTORY_DAYS)
    first = today - timedelta(days=EARLIER_DAYS)
    weekend = rng.uniform(0.4, 0.6)
    week_mean = (5 + 2 * weekend) / 7
    contracted = plan.outcome is not None and plan.outcome.kind == "contracted"
    chain, dataset = stream
    rows: list[Row] = []
    for i, (start, end, plan_name, commit) in enumerate(terms):
        is_current = (start, end, plan_name, commit) == current
        if is_current and current_daily is not None:
            daily = current_daily
        elif is_current or plan.tier == 3:
            continue  # a free current term has no pace to keep; the digital tier starts here
        elif commit:
            before_cut = contracted and i == len(terms) - 2
            pace = rng.uniform(0.55, 0.75) if before_cut else rng.uniform(0.8, 1.05)
            daily = commit * pace / ((end - start).days + 1)
        else:
            daily = demo.heavy_tail(rng, 15, 400, 1.5)
        day = max(start, first)
        while day <= end and day < window_start:
            factor = (weekend if day.weekday() >= 5 else 1.0) / week_mean
            value = _value(daily * factor * rng.lognormvariate(0, 0.08))
            if value > 0:
                row: Row = {"account": plan.external_id, "date": day.isoformat()}
                row.update(metric="units", value=value, product=PRODUCT_OF_PLAN[plan_name])
                row["chain"] = chain
                if dataset:
                    row["dataset"] = dataset
                rows.append(row)
            day += timedelta(days=1)
    return rows


def apply_stories(book: dict[str, list[Row]], today: date, seed: int = demo.SEED) -> dict[str, Any]:
    """Adjust the story accounts' rows in `book` (in place) and return the story kinds.

    Returns {"incidents": rows, "usage": rows, "stories": {story_key: external_id}}.
    """
    plans = {p.external_id: p for p in demo.build_plans(today, seed)}
    stories = pick_stories(list(plans.values()), today)
    _make_coasting(book, stories["coasting"], plans[stories["coasting"]], today)
    _make_champion_left(book, stories["champion_left"], today)

    story_of = {ext: key for key, ext in stories.items()}
    contracts: dict[str, list[Row]] = {}
    for row in book["contracts"]:
        contracts.setdefault(row["account"], []).append(row)
    usage: list[Row] = []
    for row in book["accounts"]:
        ext = row["external_id"]
        if ext in plans and contracts.get(ext):
            usage += _account_usage(plans[ext], contracts[ext], today, seed, story_of.get(ext))
    return {"incidents": story_incidents(today), "usage": usage, "stories": stories}
