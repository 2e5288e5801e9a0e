"""The demo book: a deterministic, realistic customer base for `manage.py seed_demo`.

Everything here is pure: `build_book(today)` returns the rows each import kind takes (users,
accounts, contracts, contacts, touchpoints), as a customer's CSV would carry them. The seed then
pushes them through the one import pipeline, so the demo also proves the pipeline. The same
`today` always yields identical rows, which is what makes re-seeding a no-op (the pipeline
upserts on natural keys, and dates are part of some keys).

The world: ~15 strategic institutions (payments fintechs, research funds, exchanges, wallets,
compliance and tax firms), ~60 scaled accounts (institutions plus self-serve developers that grew)
and ~400 digital-tier developers. Names are invented; email domains use the reserved `.example`
TLD so nothing can ever be mailed for real.

The book has a past as well as a present, so a backtest has something to find: about one
account in eight carries an `Outcome` inside the usage history (churned 30-150 days before the
anchor, renewed at a lower ARR, a scare it recovered from, or usage that stopped while the
contract runs on), on top of ten digital-tier accounts that lapsed up to nine months ago.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

SEED = 2026
DEMO_DOMAIN = "demo.csportal.test"
DEMO_PASSWORD = "demo-pass-2026"
BOOK_KINDS = ("users", "accounts", "contracts", "contacts", "touchpoints")
# `demo.usage.apply_stories` adds these two after the book: incidents, then 240 days of usage.
STORY_KINDS = ("incidents", "usage")
IMPORT_ORDER = BOOK_KINDS + STORY_KINDS

Row = dict[str, Any]


def _demo_email(local: str) -> str:
    return f"{local}@{DEMO_DOMAIN}"


# ---------------------------------------------------------------------------------------------
# Our team

MANAGER = _demo_email("manager")
CSM = _demo_email("csm")
PRODUCT = _demo_email("product")
ADMIN = _demo_email("admin")

# (email, role, name). Order matters: CSM ownership is dealt out in this order.
DEMO_USERS: tuple[tuple[str, str, str], ...] = (
    (MANAGER, "manager", "Maya Lindqvist"),
    (CSM, "csm", "Priya Raman"),
    (_demo_email("daniel"), "csm", "Daniel Okafor"),
    (_demo_email("sofia"), "csm", "Sofia Marchetti"),
    (_demo_email("kenji"), "csm", "Kenji Watanabe"),
    (_demo_email("amara"), "csm", "Amara Nwosu"),
    (_demo_email("lucas"), "csm", "Lucas Brennan"),
    (PRODUCT, "product", "Elena Vasquez"),
    (_demo_email("jordan"), "ae", "Jordan Hale"),
    (_demo_email("rina"), "ae", "Rina Takahashi"),
    (_demo_email("marcus"), "se", "Marcus Delgado"),
    (_demo_email("ingrid"), "se", "Ingrid Solberg"),
    (ADMIN, "admin", "Alex Morgan"),
)

# Who to log in as, in the order a demo usually goes: the manager's view, a CSM's book,
# product's VoC backlog, then admin.
DEMO_LOGINS: tuple[tuple[str, str], ...] = (
    ("CS manager", MANAGER),
    ("CSM", CSM),
    ("Product", PRODUCT),
    ("Admin", ADMIN),
)


def _team(role: str) -> list[str]:
    return [email for email, r, _ in DEMO_USERS if r == role]


def _first_name(email: str) -> str:
    return next(name for e, _, name in DEMO_USERS if e == email).split()[0]


def logins_text(site_url: str = "http://127.0.0.1:8000") -> str:
    """The block printed by `demo_logins` and at the end of `seed_demo`."""
    width = max(len(label) for label, _ in DEMO_LOGINS)
    lines = [f"Open {site_url} and log in as:"]
    lines += [f"  {label:<{width}}  {email}" for label, email in DEMO_LOGINS]
    lines.append(f"Password (all demo users): {DEMO_PASSWORD}")
    return "\n".join(lines)


def user_rows() -> list[Row]:
    return [{"email": email, "role": role, "name": name} for email, role, name in DEMO_USERS]


# ---------------------------------------------------------------------------------------------
# Domain vocabulary (chains and datasets from DOMAIN.md)


@dataclass(frozen=True)
class Archetype:
    """A kind of customer: what they build, so chains, datasets and notes hang together."""

    key: str
    suffixes: tuple[str, ...]  # for generated names
    chains: tuple[str, ...]
    datasets: tuple[str, ...]
    channels: tuple[str, ...]
    uses: tuple[str, ...]  # what our data powers for them, in their words
    plans: tuple[tuple[str, int], ...]  # (plan, weight) for the current contract


INSTITUTION_TYPES: dict[str, Archetype] = {
    a.key: a
    for a in (
        Archetype(
            "payments",
            ("Payments", "Pay", "Remit", "Settlement"),
            ("ethereum", "base", "polygon", "arbitrum", "tron", "solana", "optimism", "stellar"),
            (
                "crosschain.assets.transfers",
                "crosschain.assets.native_token_transfers",
                "ethereum.assets.fungible_token_transfers",
                "crosschain.assets.fungible_balances_latest_evm",
                "common.prices.hourly",
            ),
            ("snowflake", "kafka", "api"),
            (
                "stablecoin settlement reconciliation",
                "deposit attribution",
                "treasury balance monitoring",
            ),
            (("datastreams", 5), ("developer", 4), ("explorer", 1)),
        ),
        Archetype(
            "fund",
            ("Capital", "Research", "Partners", "Asset Management"),
            ("ethereum", "arbitrum", "base", "solana", "hyperliquid", "optimism", "bsc"),
            (
                "crosschain.dex.trades",
                "crosschain.dex.orderflow",
                "crosschain.lending.metrics_daily",
                "ethereum.lending.liquidations",
                "common.prices.hourly",
            ),
            ("snowflake", "databricks", "bigquery"),
            ("alpha research notebooks", "liquidity and flow signals", "token due diligence"),
            (("explorer", 4), ("developer", 3), ("datastreams", 2)),
        ),
        Archetype(
            "exchange",
            ("Exchange", "Markets", "Brokerage"),
            ("ethereum", "bitcoin", "solana", "tron", "bsc", "base", "arbitrum", "sui"),
            (
                "crosschain.assets.transfers",
                "bitcoin.raw.outputs",
                "solana.raw.transactions",
                "crosschain.assets.native_token_transfers",
                "ethereum.raw.traces",
            ),
            ("kafka", "api", "snowflake"),
            (
                "deposit and withdrawal monitoring",
                "proof-of-reserves reporting",
                "listing due diligence",
            ),
            (("datastreams", 6), ("developer", 3), ("explorer", 1)),
        ),
        Archetype(
            "compliance",
            ("Compliance", "Risk", "Forensics"),
            ("ethereum", "bitcoin", "tron", "bsc", "solana", "polygon", "avalanche"),
            (
                "ethereum.raw.traces",
                "crosschain.assets.transfers",
                "bitcoin.raw.inputs",
                "bitcoin.raw.outputs",
                "tron.dex.trades",
            ),
            ("bigquery", "snowflake", "api"),
            ("transaction screening", "sanctions exposure tracing", "case investigations"),
            (("explorer", 3), ("developer", 4), ("datastreams", 2)),
        ),
        Archetype(
            "wallet",
            ("Wallet",),
            ("ethereum", "base", "arbitrum", "optimism", "polygon", "solana", "zksync", "linea"),
            (
                "crosschain.assets.fungible_balances_latest_evm",
                "crosschain.assets.fungible_balances_evm",
                "crosschain.nfts.transfers",
                "common.prices.hourly",
                "crosschain.assets.transfers",
            ),
            ("api", "kafka"),
            (
                "portfolio balances in the app",
                "activity feeds",
                "push notifications on incoming transfers",
            ),
            (("developer", 6), ("datastreams", 4)),
        ),
        Archetype(
            "tax",
            ("Tax", "Accounting"),
            ("ethereum", "base", "arbitrum", "polygon", "solana", "bitcoin"),
            (
                "crosschain.assets.transfers",
                "ethereum.decoded.logs",
                "crosschain.dex.trades_evm",
                "common.prices.hourly",
            ),
            ("api", "bigquery"),
            ("cost-basis reports", "year-end tax statements"),
            (("developer", 6), ("explorer", 3)),
        ),
        Archetype(
            "market_maker",
            ("Trading", "Liquidity"),
            ("ethereum", "base", "arbitrum", "solana", "hyperliquid", "bsc"),
            (
                "crosschain.dex.trades",
                "crosschain.dex.orderflow",
                "crosschain.dex.trades_evm",
                "common.prices.hourly",
            ),
            ("kafka", "databricks"),
            ("inventory risk", "pricing engine inputs", "post-trade analytics"),
            (("datastreams", 7), ("developer", 2)),
        ),
        Archetype(
            "custody",
            ("Custody", "Trust", "Fund Services"),
            ("ethereum", "bitcoin", "solana", "polygon", "avalanche", "sui"),
            (
                "bitcoin.raw.outputs",
                "crosschain.assets.fungible_balances_latest_evm",
                "crosschain.assets.native_token_transfers",
                "ethereum.raw.traces",
                "common.prices.hourly",
            ),
            ("snowflake", "databricks", "api"),
            ("client balance attestations", "staking rewards reporting", "NAV reconciliation"),
            (("developer", 4), ("explorer", 3), ("datastreams", 2)),
        ),
    )
}

DEVELOPER_TYPES: dict[str, Archetype] = {
    a.key: a
    for a in (
        Archetype(
            "dapp",
            ("Labs", "Studio", "Works"),
            ("base", "arbitrum", "optimism", "zora", "blast", "polygon", "abstract"),
            (
                "ethereum.raw.logs",
                "ethereum.decoded.logs",
                "crosschain.assets.erc721_token_transfers",
                "crosschain.nfts.transfers",
            ),
            ("api",),
            ("mint dashboards", "holder snapshots for airdrops"),
            (("explorer", 5), ("developer", 4), ("datastreams", 1)),
        ),
        Archetype(
            "dao_tooling",
            ("DAO Tools", "Governance", "Collective"),
            ("ethereum", "arbitrum", "optimism", "gnosis", "base"),
            (
                "ethereum.decoded.logs",
                "crosschain.assets.fungible_balances_evm",
                "crosschain.assets.transfers",
            ),
            ("api", "bigquery"),
            ("voting-power snapshots", "treasury dashboards"),
            (("explorer", 6), ("developer", 3)),
        ),
        Archetype(
            "defi_bot",
            ("Bot", "Analytics", "Terminal"),
            ("solana", "base", "hyperevm", "berachain", "sonic", "unichain", "arbitrum"),
            (
                "crosschain.dex.trades",
                "solana.raw.instructions",
                "common.prices.hourly",
                "crosschain.lending.metrics_daily",
            ),
            ("api", "kafka"),
            ("trade alerts", "yield dashboards"),
            (("developer", 6), ("explorer", 3), ("datastreams", 1)),
        ),
        Archetype(
            "nft",
            ("Indexer", "Tracker", "Dashboards"),
            ("zora", "base", "ethereum", "apechain", "abstract", "polygon"),
            (
                "crosschain.nfts.trades_with_wash_trading_flags",
                "crosschain.nfts.transfers",
                "crosschain.assets.erc721_token_transfers",
            ),
            ("api",),
            ("floor-price tracker", "wash-trade filtering"),
            (("explorer", 6), ("developer", 4)),
        ),
    )
}

# Chains customers ask for before we (or their product) cover them: the coverage-gap VoC.
FRONTIER_CHAINS = (
    "monad",
    "hyperevm",
    "berachain",
    "sui",
    "aptos",
    "ton",
    "starknet",
    "plasma",
    "sonic",
    "celestia",
    "injective",
    "near",
    "hedera",
    "worldchain",
)

CHAIN_LABELS = {
    "bsc": "BNB Chain",
    "hyperevm": "HyperEVM",
    "zksync": "zkSync",
    "polygon_zkevm": "Polygon zkEVM",
    "apechain": "ApeChain",
    "ton": "TON",
    "dydx": "dYdX",
    "near": "NEAR",
    "worldchain": "World Chain",
}


CHAIN_SLUGS = frozenset(
    c for a in (*INSTITUTION_TYPES.values(), *DEVELOPER_TYPES.values()) for c in a.chains
) | set(FRONTIER_CHAINS)


def chain_label(slug: str) -> str:
    return CHAIN_LABELS.get(slug, slug.capitalize())


# Real, dated platform changes (DOMAIN.md): a CSM mentions them in the weeks around the date.
PLATFORM_CHANGES = (
    (
        date(2025, 12, 18),
        ("ethereum", "arbitrum", "base", "optimism", "polygon", "avalanche", "bsc"),
        "Heads-up on the 2025-12-18 removal of legacy asset schemas (eth_*, matic_* → fungible_*, "
        "native_*); walked {who} through moving their models to common.prices.hourly",
    ),
    (
        date(2026, 6, 19),
        ("zora", "apechain", "abstract"),
        "Flagged the 2026-06-19 change: NFT wash-trading tables drop the per-trade flag columns; "
        "{who} will switch their filter to the aggregate flags",
    ),
    (
        date(2026, 7, 10),
        ("stellar",),
        "Stellar Horizon (v1) → RPC (_v2) on 2026-07-10: shared the migration note for "
        "stellar.raw.* with {who}",
    ),
    (
        date(2026, 8, 19),
        ("sui",),
        "Sui JSON-RPC → gRPC on 2026-08-19: nested JSON in sui.raw.transactions changes shape; "
        "{who} is updating their parser",
    ),
)

# ---------------------------------------------------------------------------------------------
# Names

TIER1_NAMES: tuple[tuple[str, str], ...] = (
    ("Northwind Payments", "payments"),
    ("Meridian Capital Research", "fund"),
    ("Halcyon Digital Exchange", "exchange"),
    ("Ardent Compliance Labs", "compliance"),
    ("Larkspur Wallet", "wallet"),
    ("Cobalt Ridge Asset Management", "fund"),
    ("Pinecrest Markets", "exchange"),
    ("Lodestar Risk Analytics", "compliance"),
    ("Wildrose Treasury Systems", "payments"),
    ("Tallyhouse Tax & Accounting", "tax"),
    ("Kestrel Trading Systems", "market_maker"),
    ("Granite Peak Custody", "custody"),
    ("Brightwater Onchain Intelligence", "fund"),
    ("Harborview Fund Services", "custody"),
    ("Foxglove Mobile Wallet", "wallet"),
)

INSTITUTION_PREFIXES = (
    "Alderbrook",
    "Bramble",
    "Cedarline",
    "Driftwood",
    "Emberfield",
    "Fairhaven",
    "Glenmore",
    "Hollowell",
    "Ironbark",
    "Juniper Row",
    "Kingsmere",
    "Lanternfish",
    "Millbrook",
    "Nettlefield",
    "Oakhurst",
    "Pembrook",
    "Quarry Lane",
    "Rookwood",
    "Sablewood",
    "Thornbury",
    "Umberfield",
    "Vesper",
    "Westmere",
    "Yarrow",
    "Ashgrove",
    "Blackthorn",
    "Copperleaf",
    "Dunmore",
    "Eastwick",
    "Foxhollow",
    "Greyfriars",
    "Hawthorne",
    "Inkwell",
    "Kittering",
    "Larchmont",
    "Marlowe",
    "Orchard Hill",
    "Pinehurst",
    "Redfern",
    "Silverbirch",
    "Tamarack",
    "Underhill",
    "Wrenfield",
    "Bellhaven",
    "Corriedale",
    "Halloway",
    "Mistral Bay",
    "Stonecrop",
)

DEV_HEADS = (
    "Pixel",
    "Nonce",
    "Hex",
    "Block",
    "Fork",
    "Gas",
    "Byte",
    "Merkle",
    "Shard",
    "Node",
    "Slot",
    "Epoch",
    "Mint",
    "Relay",
    "Calldata",
    "Mempool",
    "Opcode",
    "Keccak",
    "Rollup",
    "Blob",
    "Gwei",
    "Salt",
    "Hash",
    "Zero",
    "Lambda",
    "Quorum",
    "Delta",
    "Orbit",
    "Vector",
    "Kernel",
)
DEV_TAILS = (
    "wren",
    "fox",
    "moth",
    "otter",
    "finch",
    "lark",
    "fern",
    "moss",
    "pine",
    "kite",
    "heron",
    "vole",
    "badger",
    "robin",
    "cedar",
    "brook",
    "stone",
    "spark",
    "loom",
    "forge",
)

FIRST_NAMES = (
    "Aisha",
    "Ben",
    "Camille",
    "Diego",
    "Emeka",
    "Freya",
    "Gabriel",
    "Hana",
    "Ivan",
    "Jana",
    "Kofi",
    "Leila",
    "Mateo",
    "Nadia",
    "Oskar",
    "Pia",
    "Quentin",
    "Rosa",
    "Stefan",
    "Tara",
    "Umar",
    "Vera",
    "Wei",
    "Ximena",
    "Yusuf",
    "Zoe",
    "Arjun",
    "Beatriz",
    "Chen",
    "Dana",
    "Elif",
    "Farid",
    "Greta",
    "Hugo",
    "Ines",
    "Jonas",
    "Kira",
    "Liam",
    "Mina",
    "Nils",
    "Olga",
    "Pedro",
    "Rahul",
    "Sara",
    "Tomas",
    "Uma",
    "Viktor",
    "Yara",
    "Zain",
    "Anouk",
)
LAST_NAMES = (
    "Abara",
    "Bergstrom",
    "Castillo",
    "Dubois",
    "Eriksen",
    "Fontaine",
    "Gupta",
    "Halvorsen",
    "Ito",
    "Jovanovic",
    "Kowalski",
    "Laurent",
    "Mbeki",
    "Novak",
    "Oyelaran",
    "Petrov",
    "Quinn",
    "Rossi",
    "Sato",
    "Tanaka",
    "Ueda",
    "Varga",
    "Weber",
    "Xu",
    "Yilmaz",
    "Zhang",
    "Andersen",
    "Brennan",
    "Costa",
    "Demir",
    "Esposito",
    "Fischer",
    "Grant",
    "Huang",
    "Iyer",
    "Jensen",
    "Kim",
    "Lindqvist",
    "Moreau",
    "Nakamura",
    "Okoro",
    "Park",
    "Reyes",
    "Silva",
    "Torres",
    "Vogel",
    "Walsh",
    "Yamamoto",
    "Ziegler",
    "Haddad",
)


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


# ---------------------------------------------------------------------------------------------
# Dates and numbers


def add_years(day: date, years: int) -> date:
    """Same calendar day `years` later (29 Feb falls back to 28 Feb)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def contract_end(start: date) -> date:
    """Annual terms: a contract starting 1 Jun ends 31 May the next year."""
    return add_years(start, 1) - timedelta(days=1)


def heavy_tail(rng: random.Random, low: float, high: float, skew: float) -> float:
    """Log-uniform between low and high, bent toward low: most deals small, a few very large."""
    return low * (high / low) ** (rng.random() ** skew)


def round_to(value: float, step: int) -> int:
    return max(step, int(round(value / step)) * step)


def weighted(rng: random.Random, options: Sequence[tuple[str, int]]) -> str:
    return rng.choices([o for o, _ in options], weights=[w for _, w in options])[0]


# ---------------------------------------------------------------------------------------------
# The book


@dataclass
class Person:
    email: str
    name: str
    role: str
    left: date | None = None
    last_engaged: date | None = None

    @property
    def first(self) -> str:
        return self.name.split()[0]

    def present_on(self, day: date) -> bool:
        return self.left is None or day < self.left


@dataclass(frozen=True)
class Outcome:
    """Something that happened to an account inside the usage history, for backtests to find.

    - `churned`: the last contract ended on `day` and was never renewed. `shape` says how usage
      went: `fade` (it slid to `keep` of its level over the `lead` days before it stopped),
      `cliff` (steady, then it fell to a trickle `lead` days before the end: they moved to
      another provider on a date) or `surprise` (steady to the end: acquired, wound down, a
      company-wide budget freeze; no usage model sees these coming).
    - `contracted`: renewed on `day` at a lower ARR; usage fell to `keep` over the `lead` days
      before the renewal and stayed at the new level.
    - `recovered`: usage dipped to `keep` from `day` for `lead` days (a paused project, a
      warehouse migration), then came back; the renewal, if any, held.
    - `dormant`: usage tapered to `keep` over `lead` days and stopped after `day`, while the
      contract runs on.
    `stop` is the last day with any usage (churned and dormant), None when usage never stops.
    """

    kind: str
    day: date
    shape: str = ""
    lead: int = 0
    keep: float = 1.0
    stop: date | None = None


@dataclass
class Draft:
    """One account before it becomes rows: who it is, who owns it, what it bought."""

    name: str
    tier: int
    segment: str
    kind: Archetype
    csm: str | None = None
    ae: str | None = None
    se: str | None = None
    seats: int = 1
    renews_in: int | None = None  # days from today to the current contract's end
    external_id: str = ""
    contracts: list[tuple[date, date, int, str, int | None]] = field(default_factory=list)
    people: list[Person] = field(default_factory=list)
    touches: list[Row] = field(default_factory=list)
    # healthy | quiet | champion_left | lapsed, or the kind of its `outcome`
    mood: str = "healthy"
    outcome: Outcome | None = None  # what happened to it inside the usage history
    chains: list[str] = field(default_factory=list)
    datasets: list[str] = field(default_factory=list)
    channel: str = "api"
    want_chain: str = "monad"

    @property
    def domain(self) -> str:
        return f"{_slug(self.name)}.example"

    @property
    def customer_since(self) -> date:
        return min(c[0] for c in self.contracts)


def build_plans(today: date, seed: int = SEED) -> list[Draft]:
    """The accounts behind the book, in external-id order, with what they use (chains,
    datasets, channel, the chain they ask for) and their mood: `demo.usage` writes their usage
    from this. Same (today, seed) → same plans."""
    rng = random.Random(seed)
    plans = _plan_accounts(rng)
    for plan in plans:
        # One generator per account, seeded from its name: tweaking one part of the book (say,
        # touchpoint cadence) leaves every other account's numbers where they were.
        arng = random.Random(f"{seed}:{plan.name}")
        _profile(arng, plan)
        _contracts(arng, plan, today)
    _assign_moods(rng, plans, today)
    # Its own generator, so the moods above (and the stories picked from them) stay put.
    _assign_outcomes(random.Random(f"{seed}:outcomes"), plans, today)
    for plan in plans:
        arng = random.Random(f"{seed}:{plan.name}:people")
        _people(arng, plan, today)
        _touchpoints(arng, plan, today)
        _last_engaged(arng, plan, today)
    # Ids in signup order, as a billing system would have handed them out.
    plans.sort(key=lambda p: (p.customer_since, p.name))
    for number, plan in enumerate(plans, start=1):
        plan.external_id = f"acct-{number:04d}"
    return plans


def build_book(today: date, seed: int = SEED) -> dict[str, list[Row]]:
    """All demo rows, keyed by import kind, in import order. Same (today, seed) → same rows."""
    plans = build_plans(today, seed)
    return {
        "users": user_rows(),
        "accounts": [_account_row(p) for p in plans],
        "contracts": [row for p in plans for row in _contract_rows(p)],
        "contacts": [row for p in plans for row in _contact_rows(p)],
        "touchpoints": [dict(t, account=p.external_id) for p in plans for t in p.touches],
    }


def _plan_accounts(rng: random.Random) -> list[Draft]:
    csms, aes, ses = _team("csm"), _team("ae"), _team("se")
    plans: list[Draft] = []

    # Tier 1: every account has a named CSM, AE and SE. The demo CSM (first in the list) gets
    # four so their book has strategic accounts to show; the rest are dealt round-robin.
    tier1_owners = [csms[0]] * 4 + [csms[1 + i % (len(csms) - 1)] for i in range(11)]
    count = len(TIER1_NAMES)
    for i, (name, kind) in enumerate(TIER1_NAMES):
        # Renewals one every ~24 days over the next year; stepping the slot by 4 (coprime
        # with 15) gives the demo CSM's four accounts one renewal per quarter, the first
        # inside 30 days, so the renewals-ahead views have something to show.
        slot = (i * 4) % count
        plans.append(
            Draft(
                name=name,
                tier=1,
                segment="institution",
                kind=INSTITUTION_TYPES[kind],
                csm=tier1_owners[i],
                ae=aes[i % len(aes)],
                se=ses[(i // 2) % len(ses)],
                seats=rng.randint(20, 80),
                renews_in=int((slot + rng.random()) * 365 / count),
            )
        )

    # Tier 2: 40 institutions and 20 self-serve developers that grew into a contract.
    # Pooled CSMs: the demo CSM owns 12, five are unassigned, the rest are spread evenly.
    prefixes = rng.sample(INSTITUTION_PREFIXES, 40)
    kinds = list(INSTITUTION_TYPES)
    tier2: list[Draft] = []
    for prefix in prefixes:
        kind = INSTITUTION_TYPES[rng.choice(kinds)]
        tier2.append(
            Draft(
                name=f"{prefix} {rng.choice(kind.suffixes)}",
                tier=2,
                segment="institution",
                kind=kind,
                ae=rng.choice(aes),
                seats=rng.randint(5, 25),
            )
        )
    dev_names = _developer_names(rng, 420)
    for name, kind in dev_names[:20]:
        tier2.append(
            Draft(name=name, tier=2, segment="self_serve", kind=kind, seats=rng.randint(5, 15))
        )
    owners = [csms[0]] * 12 + [None] * 5
    owners += [csms[1 + i % (len(csms) - 1)] for i in range(len(tier2) - len(owners))]
    rng.shuffle(owners)
    slots = list(range(len(tier2)))
    rng.shuffle(slots)  # renewals evenly over the year, about five a month
    for plan, owner, slot in zip(tier2, owners, slots, strict=True):
        plan.csm = owner
        plan.renews_in = int((slot + rng.random()) * 365 / len(tier2))
    plans += tier2

    # Tier 3: the digital tier; no named human, seats for a small team.
    for name, kind in dev_names[20:]:
        plans.append(
            Draft(name=name, tier=3, segment="self_serve", kind=kind, seats=rng.randint(1, 5))
        )
    return plans


def _developer_names(rng: random.Random, count: int) -> list[tuple[str, Archetype]]:
    kinds = list(DEVELOPER_TYPES.values())
    names: dict[str, Archetype] = {}
    while len(names) < count:
        kind = rng.choice(kinds)
        head, tail = rng.choice(DEV_HEADS), rng.choice(DEV_TAILS)
        base = f"{head}{tail}"
        # A third of indie projects go by the bare project name.
        name = base if rng.random() < 0.3 else f"{base} {rng.choice(kind.suffixes)}"
        if base not in {n.split()[0] for n in names}:
            names[name] = kind
    return list(names.items())


def _profile(rng: random.Random, plan: Draft) -> None:
    kind = plan.kind
    width = {1: (3, 5), 2: (2, 4), 3: (1, 2)}[plan.tier]
    plan.chains = rng.sample(kind.chains, min(len(kind.chains), rng.randint(*width)))
    plan.datasets = rng.sample(kind.datasets, min(len(kind.datasets), rng.randint(*width)))
    plan.channel = rng.choice(kind.channels)
    plan.want_chain = rng.choice([c for c in FRONTIER_CHAINS if c not in plan.chains])


ARR_RANGES = {
    1: (250_000, 1_500_000, 1.5, 5_000),
    2: (40_000, 250_000, 1.6, 2_500),
    3: (1_200, 30_000, 2.2, 100),
}


def _contracts(rng: random.Random, plan: Draft, today: date) -> None:
    """Current annual contract plus history, oldest first.

    Tier 1/2 current starts are spread over the past year so renewals land across the next
    twelve months; prior years usually carried less ARR (expansion), sometimes more.
    """
    low, high, skew, step = ARR_RANGES[plan.tier]
    if plan.tier == 2 and plan.segment == "self_serve":
        high = 150_000  # grown developers sit in the lower half of the scaled tier
    free = plan.tier == 3 and rng.random() < 0.35
    arr = 0 if free else round_to(heavy_tail(rng, low, high, skew), step)
    options = plan.kind.plans
    if plan.tier == 1:
        # Strategic accounts mostly run production pipelines: weight the top of the ladder.
        options = tuple((p, w * 3 if p == "datastreams" else w) for p, w in options)
    plan_name = "explorer" if free else weighted(rng, options)
    if plan.tier == 3 and plan_name == "datastreams" and arr < 15_000:
        plan_name = "developer"  # streams start well above hobby budgets
    history = rng.choice(
        {1: (0, 1, 1, 2, 2, 3), 2: (0, 0, 1, 1, 2, 3), 3: (0,) * 6 + (1,)}[plan.tier]
    )
    offset = rng.randint(0, 364) if plan.renews_in is None else 364 - min(plan.renews_in, 364)
    start = today - timedelta(days=offset)
    terms = [(start, arr, plan_name)]
    for year in range(1, history + 1):
        later_arr, later_plan = terms[-1][1], terms[-1][2]
        roll = rng.random()
        if roll < 0.7:
            prior_arr = later_arr / rng.uniform(1.1, 1.7)  # they expanded into this year
        elif roll < 0.85:
            prior_arr = later_arr
        else:
            prior_arr = later_arr * rng.uniform(1.05, 1.35)  # contraction at the last renewal
        prior_plan = later_plan
        if later_plan == "datastreams" and rng.random() < 0.5:
            prior_plan = "developer"  # climbed the ladder at renewal
        elif later_plan == "developer" and rng.random() < 0.3:
            prior_plan = "explorer"
        if later_plan == "credits" or (year >= 2 and plan.tier < 3 and rng.random() < 0.5):
            # Old enough to have signed before the per-product meters; once on credits, every
            # earlier term was too.
            prior_plan = "credits"
        if plan.tier == 3 and later_arr:
            prior_arr, prior_plan = 0, "explorer"  # started on the free tier, then paid
        prior_arr = round_to(prior_arr, step) if prior_arr else 0
        terms.append((add_years(start, -year), prior_arr, prior_plan))
    # A few long-standing accounts never left the legacy credits meter.
    if history >= 2 and plan.tier == 2 and rng.random() < 0.3:
        terms = [(term_start, term_arr, "credits") for term_start, term_arr, _ in terms]
    plan.contracts = []
    for term_start, term_arr, term_plan in reversed(terms):
        commit = None
        if term_arr:
            commit = round_to(
                term_arr * 10 * rng.uniform(0.8, 1.25), 1000 if term_arr > 10_000 else 100
            )
        plan.contracts.append((term_start, contract_end(term_start), term_arr, term_plan, commit))


def _assign_moods(rng: random.Random, plans: list[Draft], today: date) -> None:
    """Pick the accounts that carry the demo's stories: lapsed, quiet, champion gone."""
    tier3_paid = [p for p in plans if p.tier == 3 and p.contracts[-1][2] > 0]
    for plan in rng.sample(tier3_paid, 10):
        # Churned: last term ended 1-9 months ago and was never renewed.
        start = today - timedelta(days=365 + rng.randint(20, 280))
        _, _, arr, plan_name, commit = plan.contracts[-1]
        plan.contracts = [(start, contract_end(start), arr, plan_name, commit)]
        plan.mood = "lapsed"
    year_old = today - timedelta(days=200)
    by_tier = {
        t: [p for p in plans if p.tier == t and p.customer_since < year_old and p.csm]
        for t in (1, 2)
    }
    for tier, count in ((1, 2), (2, 1)):
        for plan in rng.sample(by_tier[tier], count):
            plan.mood = "champion_left"
    for tier, count in ((1, 2), (2, 4)):
        for plan in rng.sample([p for p in by_tier[tier] if p.mood == "healthy"], count):
            plan.mood = "quiet"


# How many accounts of each tier carry each outcome (on top of the ten lapsed digital-tier
# accounts, which churned too). About one account in eight has a past a backtest can read.
OUTCOME_COUNTS: dict[int, dict[str, int]] = {
    1: {"contracted": 1, "recovered": 1},  # strategic logos rarely walk: none churned here
    2: {"contracted": 4, "churned": 4, "recovered": 3, "dormant": 2},
    3: {"contracted": 6, "churned": 12, "recovered": 6, "dormant": 6},
}
# Renewals decided this many days before the anchor become churn or contraction.
DECIDED_WINDOW = (30, 150)
CHURN_SHAPES = (("fade", 13), ("cliff", 4), ("surprise", 3))


def _churn(rng: random.Random, end: date) -> Outcome:
    """How usage went before a contract ended unrenewed (see `Outcome`)."""
    shape = weighted(rng, CHURN_SHAPES)
    if shape == "fade":
        # Two to four months of decline; the pipeline is often switched off before the term
        # runs out.
        stop = end - timedelta(days=rng.choice((0, 0, rng.randint(5, 30))))
        return Outcome(
            "churned", end, shape, lead=rng.randint(60, 120), keep=rng.uniform(0.08, 0.3), stop=stop
        )
    if shape == "cliff":
        lead = rng.randint(25, 60)
        stop = end - timedelta(days=lead - rng.randint(7, 14))
        return Outcome("churned", end, shape, lead=lead, keep=rng.uniform(0.03, 0.1), stop=stop)
    return Outcome("churned", end, shape, stop=end)


def _assign_outcomes(rng: random.Random, plans: list[Draft], today: date) -> None:
    """Give about one account in eight a past: churn, contraction, a scare it recovered from, or
    usage that stopped while the contract runs on (see `Outcome`).

    Only accounts with no other story are drawn, from pools sorted by name, so the same anchor
    always yields the same history. Renewals decided 30-150 days ago become churn (the renewal
    never happened) or contraction (it happened at a lower ARR); digital-tier churners sign a
    year earlier so their one paid term ended 30-150 days ago. The lapsed accounts keep their
    dates and get a churn shape too.
    """
    low, high = DECIDED_WINDOW
    for plan in plans:
        if plan.mood == "lapsed":
            plan.outcome = _churn(rng, plan.contracts[-1][1])

    def free(plan: Draft) -> bool:
        return plan.mood == "healthy" and plan.outcome is None

    def decided(plan: Draft) -> bool:
        # The current term started in the window: its renewal was decided then.
        return low < (today - plan.contracts[-1][0]).days <= high + 1

    def paid(term: tuple) -> bool:
        return term[2] > 0

    def take(pool: list[Draft], n: int) -> list[Draft]:
        pool = sorted((p for p in pool if free(p)), key=lambda p: p.name)
        return rng.sample(pool, min(n, len(pool)))

    for tier, counts in OUTCOME_COUNTS.items():
        mine = [p for p in plans if p.tier == tier and paid(p.contracts[-1])]
        step = ARR_RANGES[tier][3]
        # Contraction: accounts that already renewed lower come first, then others renew lower.
        if tier < 3:
            renewals = [p for p in mine if len(p.contracts) >= 2 and paid(p.contracts[-2])]
        else:
            renewals = [p for p in mine if len(p.contracts) >= 2]  # free tier, then paid
        renewals = [p for p in renewals if decided(p)]
        lower = [p for p in renewals if p.contracts[-1][2] < p.contracts[-2][2]]
        chosen = take(lower, counts.get("contracted", 0))
        chosen += take(
            [p for p in renewals if p not in chosen], counts.get("contracted", 0) - len(chosen)
        )
        for plan in chosen:
            start, end, arr, plan_name, commit = plan.contracts[-1]
            p_start, p_end, p_arr, p_plan, p_commit = plan.contracts[-2]
            if p_arr <= arr:
                p_arr = round_to(arr / rng.uniform(0.55, 0.8), step)
                p_plan = plan_name if tier == 3 else p_plan
                p_commit = round_to(
                    p_arr * 10 * rng.uniform(0.8, 1.25), 1000 if p_arr > 10_000 else 100
                )
                plan.contracts[-2] = (p_start, p_end, p_arr, p_plan, p_commit)
            ratio = arr / p_arr
            keep = min(0.9, max(0.45, ratio * rng.uniform(0.85, 1.0)))
            lead = rng.randint(45, 100)
            plan.outcome = Outcome("contracted", start, lead=lead, keep=keep)
            plan.mood = "contracted"

        # Churn: tiers 1-2 never signed the renewal decided in the window; the digital tier's
        # paid term is moved a year back so it ended in the window.
        pool = renewals if tier < 3 else mine
        for plan in take(pool, counts.get("churned", 0)):
            if tier < 3:
                plan.contracts.pop()
                end = plan.contracts[-1][1]
            else:
                end = today - timedelta(days=rng.randint(low, high))
                start = add_years(end + timedelta(days=1), -1)
                years = len(plan.contracts) - 1
                plan.contracts = [
                    (add_years(start, -(years - i)), None, arr, plan_name, commit)
                    for i, (_, _, arr, plan_name, commit) in enumerate(plan.contracts)
                ]
                plan.contracts = [(s, contract_end(s), *rest) for s, _, *rest in plan.contracts]
            plan.outcome = _churn(rng, end)
            plan.mood = "churned"

        # A scare they came back from: a dip seen from a backtest's as-of date.
        settled = [
            p
            for p in mine
            if (today - p.customer_since).days >= 300 and (today - p.contracts[-1][0]).days >= 30
        ]
        for plan in take(settled, counts.get("recovered", 0)):
            day = today - timedelta(days=rng.randint(75, 140))
            plan.outcome = Outcome(
                "recovered", day, lead=rng.randint(21, 49), keep=rng.uniform(0.35, 0.6)
            )
            plan.mood = "recovered"

        # Went quiet under contract: usage stopped 35-110 days ago, the term runs on.
        running = [
            p
            for p in settled
            if (today - p.contracts[-1][0]).days >= 150 and p.contracts[-1][1] > today
        ]
        for plan in take(running, counts.get("dormant", 0)):
            stop = today - timedelta(days=rng.randint(35, 110))
            # Mostly a project winding down over one to two and a half months; now and then
            # a job switched off overnight.
            plan.outcome = Outcome(
                "dormant",
                stop,
                lead=rng.choice((0, rng.randint(30, 75), rng.randint(30, 75))),
                keep=rng.uniform(0.2, 0.5),
                stop=stop,
            )
            plan.mood = "dormant"


def _person(rng: random.Random, plan: Draft, role: str, taken: set[str]) -> Person:
    while True:
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        email = f"{first}.{last}@{plan.domain}".lower()
        if email not in taken:
            taken.add(email)
            return Person(email=email, name=f"{first} {last}", role=role)


def _people(rng: random.Random, plan: Draft, today: date) -> None:
    taken: set[str] = set()
    if plan.tier == 1:
        roles = ["exec_sponsor", "champion"]
        roles += rng.choices(["data_engineer", "analyst"], k=rng.randint(2, 3))
        if rng.random() < 0.3:
            roles.append("other")  # procurement / finance, shows up at renewal
    elif plan.tier == 2:
        roles = ["champion"] + rng.choices(["data_engineer", "analyst"], k=rng.randint(1, 2))
        if plan.segment == "institution" and rng.random() < 0.45:
            roles.insert(0, "exec_sponsor")
    else:
        roles = ["data_engineer"]
    plan.people = [_person(rng, plan, role, taken) for role in roles]
    if plan.mood == "champion_left":
        champion = next(p for p in plan.people if p.role == "champion")
        champion.left = today - timedelta(days=rng.randint(12, 50))


def _pick(rng: random.Random, plan: Draft, day: date, roles: Sequence[str]) -> Person | None:
    """Someone in one of `roles` still at the company on `day`; anyone present otherwise."""
    present = [p for p in plan.people if p.present_on(day)]
    preferred = [p for p in present if p.role in roles]
    pool = preferred or present
    return rng.choice(pool) if pool else None


# Touchpoint cadence per 30 days: (meetings, slack threads, emails).
CADENCE = {1: (1.2, 2.0, 1.5), 2: (0.3, 0.4, 0.6)}


def _touchpoints(rng: random.Random, plan: Draft, today: date) -> None:
    """A year of contact moments, consistent with the account's tier and story."""
    start = max(today - timedelta(days=365), plan.customer_since)
    end = today
    if plan.mood == "quiet":
        end = today - timedelta(days=rng.randint(65, 120))  # nobody has heard from them since
    if plan.mood in ("lapsed", "churned"):
        end = min(today, plan.contracts[-1][1])
    if end <= start:
        return
    seen: set[tuple] = set()

    def add(day: date, kind: str, person: Person | None, note: str, score: int | None = None):
        key = (day, kind, person.email if person else None, note)
        if key in seen:
            return  # same row twice would be a duplicate natural key in the import
        seen.add(key)
        plan.touches.append(
            {
                "date": day.isoformat(),
                "kind": kind,
                "score": score,
                "contact": person.email if person else None,
                "note": note,
            }
        )

    def day_in(lo: date = start, hi: date = end) -> date:
        return lo + timedelta(days=rng.randint(0, (hi - lo).days))

    def outcome_touches() -> None:
        for day, kind, roles, note in _outcome_touches(rng, plan, today):
            if start <= day <= end:
                add(day, kind, _pick(rng, plan, day, roles), note)

    if plan.tier == 3:
        outcome_touches()
        if plan.mood == "lapsed" or rng.random() < 0.3:
            day = day_in()
            add(day, "email", _pick(rng, plan, day, ["data_engineer"]), _tier3_note(rng, plan))
            if rng.random() < 0.15:
                day = day_in(day)
                add(
                    day,
                    "csat",
                    _pick(rng, plan, day, ["data_engineer"]),
                    "CSAT after support ticket: " + _ticket(rng, plan),
                    rng.choice((3, 4, 5, 5)),
                )
        return

    months = (end - start).days / 30
    pooled = plan.tier == 2 and plan.csm is None
    meetings, slack, emails = (
        rate * months * (0.5 if pooled else 1) * rng.uniform(0.7, 1.3)
        for rate in CADENCE[plan.tier]
    )
    for _ in range(round(meetings)):
        day = day_in()
        who = _pick(rng, plan, day, ["champion", "data_engineer", "analyst"])
        add(day, "meeting", who, _meeting_note(rng, plan, day, who))
    for _ in range(round(slack)):
        day = day_in()
        who = _pick(rng, plan, day, ["data_engineer", "analyst"])
        add(day, "slack", who, _slack_note(rng, plan))
    for _ in range(round(emails)):
        day = day_in()
        who = _pick(rng, plan, day, ["champion", "data_engineer", "analyst", "other"])
        add(day, "email", who, _email_note(rng, plan, day, who))

    # QBRs: quarterly from the contract anniversary for tier 1; on demand (0-2 a year) for tier 2.
    if plan.tier == 1:
        anchor = plan.customer_since
        for quarter in range(1, 21):
            day = anchor + timedelta(days=91 * quarter + rng.randint(-10, 10))
            if day > end:
                break
            if day >= start:
                who = _pick(
                    rng, plan, day, ["exec_sponsor"] if rng.random() < 0.6 else ["champion"]
                )
                add(day, "qbr", who, _qbr_note(rng, plan))
    else:
        for _ in range(rng.choice((0, 0, 1, 1, 2)) if not pooled else 0):
            day = day_in()
            add(
                day,
                "qbr",
                _pick(rng, plan, day, ["champion", "exec_sponsor"]),
                _qbr_note(rng, plan),
            )

    # Surveys: NPS twice a year (tier 1) or yearly; CSAT after support tickets.
    unhappy = plan.mood not in ("healthy", "recovered")
    for _ in range(2 if plan.tier == 1 else 1):
        day = day_in()
        score = rng.choice((4, 5, 6, 7, 7, 8) if unhappy else (7, 8, 9, 9, 10, 10))
        who = _pick(rng, plan, day, ["champion", "exec_sponsor", "analyst"])
        add(day, "nps", who, _nps_note(rng, plan, score), score)
    for _ in range(rng.randint(2, 4) if plan.tier == 1 else rng.randint(0, 2)):
        day = day_in()
        score = rng.choice((2, 3, 3, 4) if unhappy else (3, 4, 5, 5, 5))
        add(
            day,
            "csat",
            _pick(rng, plan, day, ["data_engineer", "analyst"]),
            "CSAT after support ticket: " + _ticket(rng, plan),
            score,
        )

    if plan.mood == "champion_left":
        champion = next(p for p in plan.people if p.role == "champion")
        day = min(today, champion.left + timedelta(days=rng.randint(3, 10)))
        who = _pick(rng, plan, day, ["exec_sponsor", "data_engineer", "analyst"])
        asked = who.first if who else "the team"
        add(
            day,
            "meeting",
            who,
            f"Learned {champion.name} has left {plan.name}; asked {asked} who owns the data "
            "budget now. No new champion yet.",
        )
    outcome_touches()
    plan.touches.sort(key=lambda t: (t["date"], t["kind"], t["contact"] or "", t["note"]))


CHURN_REASONS = {
    "fade": (
        "Renewal call: not renewing. Usage slid from {since}: {name} moved {use} onto their "
        "own {chain} nodes and an in-house indexer",
        "Renewal call: not renewing. The team behind {use} was cut in their reorg and nobody "
        "picked up the {channel} feed; volumes had been falling since {since}",
        "Renewal call: not renewing. {use} now comes bundled with their node provider; they "
        "wound down {dataset} from {since}",
    ),
    "cliff": (
        "Renewal call: not renewing. They switched {use} to a cheaper {chain}-only provider on "
        "{since}; their traffic to us stopped within days",
    ),
    "surprise": (
        "Renewal call: not renewing. {name} was acquired and the parent runs its own data "
        "stack; usage had held up until the end",
        "Renewal call: not renewing. A company-wide budget freeze cut every data vendor; "
        "usage had been steady",
    ),
}
CANCEL_REASONS = {
    "fade": ("'we built our own indexer'", "'the project is winding down'"),
    "cliff": ("'moved to another provider for {chain}'",),
    "surprise": ("'company shut down'", "'out of budget this year'"),
}


def _day_words(day: date) -> str:
    return f"{day:%B} {day.day}"


def _outcome_touches(
    rng: random.Random, plan: Draft, today: date
) -> list[tuple[date, str, list[str], str]]:
    """What the CSM (or the product, for the digital tier) logged around the account's outcome:
    (day, kind, preferred roles, note). Nothing for accounts without one."""
    o = plan.outcome
    if o is None:
        return []
    ctx = _ctx(rng, plan)
    human = plan.tier < 3
    out: list[tuple[date, str, list[str], str]] = []
    if o.kind == "churned":
        since = o.day - timedelta(days=o.lead) if o.shape != "surprise" else o.day
        ctx.update(name=plan.name, since=_day_words(since))
        if human:
            if o.shape == "fade":
                out.append(
                    (
                        o.day - timedelta(days=o.lead // 2),
                        "slack",
                        ["data_engineer", "analyst"],
                        "Asked why their {dataset} volumes keep dropping; they say the {use} "
                        "work is being re-scoped".format(**ctx),
                    )
                )
            note = rng.choice(CHURN_REASONS[o.shape]).format(**ctx)
            day = o.day - timedelta(days=rng.randint(10, 35))
            out.append((day, "meeting", ["exec_sponsor", "champion"], note))
        else:
            reason = rng.choice(CANCEL_REASONS[o.shape]).format(**ctx)
            out.append(
                (
                    o.day - timedelta(days=rng.randint(0, 10)),
                    "email",
                    ["data_engineer"],
                    f"Cancellation notice: plan ends {o.day.isoformat()}; exit survey says "
                    f"{reason}",
                )
            )
    elif o.kind == "contracted":
        arr, prior = plan.contracts[-1][2], plan.contracts[-2][2]
        if human:
            note = (
                f"Renewal signed at ${arr:,} ARR, down from ${prior:,}: they dropped "
                "{dataset} and fewer analysts need access since {use} was scaled back"
            ).format(**ctx)
            out.append((o.day - timedelta(days=rng.randint(3, 20)), "meeting", ["champion"], note))
        else:
            note = (
                f"Downgraded at renewal to ${arr:,} a year (was ${prior:,}): their usage fell "
                "after the {use} launch slipped"
            ).format(**ctx)
            out.append((o.day, "email", ["data_engineer"], note))
    elif o.kind == "recovered":
        back = o.day + timedelta(days=o.lead)
        if human:
            out.append(
                (
                    o.day + timedelta(days=rng.randint(5, 12)),
                    "slack",
                    ["data_engineer", "analyst"],
                    "Volumes down since {since}: they paused {use} while moving their warehouse "
                    "pipeline to {channel}; back in a few weeks, they say".format(
                        since=_day_words(o.day), **ctx
                    ),
                )
            )
            out.append(
                (
                    back + timedelta(days=rng.randint(5, 15)),
                    "meeting",
                    ["champion", "data_engineer"],
                    "Migration done: {use} runs on {dataset} again at the usual volumes".format(
                        **ctx
                    ),
                )
            )
        else:
            out.append(
                (
                    back + timedelta(days=rng.randint(3, 10)),
                    "email",
                    ["data_engineer"],
                    "Checked in after a quiet few weeks on {chain}: they were rebuilding their "
                    "backend and are back".format(**ctx),
                )
            )
    elif o.kind == "dormant" and human:
        out.append(
            (
                o.day + timedelta(days=rng.randint(10, 25)),
                "email",
                ["champion", "data_engineer"],
                f"No usage since {_day_words(o.day)}: asked whether the "
                "{use} project is paused; no reply yet".format(**ctx),
            )
        )
    return [t for t in out if t[0] < today]


def _last_engaged(rng: random.Random, plan: Draft, today: date) -> None:
    """Last engaged = their latest touchpoint; people we never logged get a plausible date."""
    latest: dict[str, str] = {}
    for touch in plan.touches:
        if touch["contact"]:
            latest[touch["contact"]] = max(latest.get(touch["contact"], ""), touch["date"])
    for person in plan.people:
        if person.email in latest:
            person.last_engaged = date.fromisoformat(latest[person.email])
        elif plan.tier == 3 and rng.random() < 0.6:
            person.last_engaged = None  # signed up, never talked to a human
        else:
            since = plan.customer_since
            until = person.left or today
            if plan.mood in ("lapsed", "churned"):
                until = min(until, plan.contracts[-1][1])
            if plan.mood == "quiet":
                until = min(until, today - timedelta(days=70))
            if until > since:
                person.last_engaged = since + timedelta(days=rng.randint(0, (until - since).days))


# ---------------------------------------------------------------------------------------------
# Notes: short, specific, in a CSM's voice


def _ctx(rng: random.Random, plan: Draft) -> dict[str, Any]:
    dataset = rng.choice(plan.datasets)
    # A chain-specific dataset (solana.raw.transactions) pins the chain the note talks about.
    prefix = dataset.split(".")[0]
    chain = prefix if prefix in CHAIN_SLUGS else rng.choice(plan.chains)
    return {
        "chain": chain_label(chain),
        "dataset": dataset,
        "want": chain_label(plan.want_chain),
        "channel": plan.channel.capitalize() if plan.channel != "api" else "API",
        "use": rng.choice(plan.kind.uses),
        "ae": _first_name(plan.ae) if plan.ae else "the AE",
        "se": _first_name(plan.se) if plan.se else "an SE",
        "fte": rng.choice(("0.5", "1", "1.5", "2", "3")),
        "pct": rng.choice((12, 18, 25, 31, 40, 55)),
        "nodes": rng.choice((2, 3, 4, 6)),
    }


MEETING_NOTES = (
    "Walked through {dataset} latency on {chain}; they want {want} DEX decoding next",
    "Working session on the {channel} datashare: partitioning {dataset} by block_date cut their "
    "scan costs",
    "Reviewed failed runs: mostly timeouts on {dataset} at the 1x compute profile; suggested 4x "
    "for the backfill only",
    "Roadmap call: they asked for {want} coverage in Datastreams; today they poll the API",
    "Commit review: behind pace because the {use} project slipped a quarter; agreed a joint "
    "adoption plan",
    "Architecture review with {se}: moving {use} from nightly batch to zero-lag streams on {chain}",
    "Demoed common.prices.hourly joins so {use} stops depending on a third-party price feed",
    "Onboarding check-in: first production job on {dataset} is live via {channel}",
    "Discussed reorg handling on {chain} for {use}; pointed them at the finality lag setting",
)
SLACK_NOTES = (
    "Asked why {dataset} looked behind on {chain} for an hour; resolved after the backfill",
    "Question on decimals in crosschain.assets.fungible_balances_latest_evm for rebasing tokens",
    "Flagged duplicate rows in {dataset} after a reorg on {chain}; filed with data engineering",
    "Asked for the freshness SLA on {dataset}: enriched tables hourly, raw ~6-10 min on EVM",
    "Shared a query joining {dataset} to common.prices.hourly for USD values",
    "Rate-limit question on the wallet endpoints (30 developer units per call) during a batch job",
    "Asked whether {want} is on the Datastreams roadmap",
)
EMAIL_NOTES = (
    "Sent the {dataset} schema notes and a sample query for {chain}",
    "Renewal prep: shared the usage summary and commit-vs-consumption projection",
    "Intro to {se} for Kafka stream setup on {chain}",
    "Follow-up on failed runs: failed and cancelled runs still cost explorer units; shared the "
    "wasted-units report",
    "Shared release notes: {dataset} now covers {chain} with hourly freshness",
    "Sent the coverage matrix; {want} is not in the APIs yet, logged the request",
)
QBR_NOTES = (
    "QBR: retired in-house indexer, ~{fte} FTE saved; next ask is {want} coverage",
    "QBR: {dataset} now feeds {use}; asked about zero-lag streams on {chain}",
    "QBR: usage up {pct}% QoQ, mostly {chain}; upsize conversation handed to {ae}",
    "QBR: decommissioned {nodes} archive nodes; success-plan milestone 'production on {channel}' "
    "done",
    "QBR: flat quarter; exec sponsor wants a cost breakdown by compute profile before renewal",
    "QBR: {use} in production; next quarter they add {want} and a second team",
)
TICKETS = (
    "{dataset} missing rows on {chain}, backfilled within the day",
    "query timeouts on a 2-year backfill of {dataset}",
    "API 429s during a batch job; moved them to batched wallet calls",
    "schema question on {dataset}: which columns are nullable after a reorg",
    "stream consumer lag on {chain}; fixed on their side (partition count)",
)
TIER3_NOTES = (
    "Replied to a support question about API rate limits on the developer plan",
    "Reached out after a usage spike on {chain}; offered a call to review their {use}",
    "Answered a question on {dataset}: what counts as a failed run",
    "Sent the getting-started guide for {dataset} on {chain}",
)


def _fill(rng: random.Random, plan: Draft, templates: Sequence[str]) -> str:
    return rng.choice(templates).format(**_ctx(rng, plan))


def _meeting_note(rng: random.Random, plan: Draft, day: date, who: Person | None) -> str:
    return _change_note(rng, plan, day, who) or _fill(rng, plan, MEETING_NOTES)


def _email_note(rng: random.Random, plan: Draft, day: date, who: Person | None) -> str:
    return _change_note(rng, plan, day, who) or _fill(rng, plan, EMAIL_NOTES)


def _change_note(rng: random.Random, plan: Draft, day: date, who: Person | None) -> str | None:
    """A dated platform change the account is exposed to, mentioned in the weeks around it."""
    for effective, chains, note in PLATFORM_CHANGES:
        near = effective - timedelta(days=30) <= day <= effective + timedelta(days=14)
        if near and set(chains) & set(plan.chains) and rng.random() < 0.6:
            return note.format(who=who.first if who else "their team")
    return None


def _slack_note(rng: random.Random, plan: Draft) -> str:
    return _fill(rng, plan, SLACK_NOTES)


def _qbr_note(rng: random.Random, plan: Draft) -> str:
    if plan.mood == "quiet":
        return _fill(rng, plan, QBR_NOTES[4:5])
    return _fill(rng, plan, QBR_NOTES)


def _ticket(rng: random.Random, plan: Draft) -> str:
    return _fill(rng, plan, TICKETS)


def _tier3_note(rng: random.Random, plan: Draft) -> str:
    return _fill(rng, plan, TIER3_NOTES)


def _nps_note(rng: random.Random, plan: Draft, score: int) -> str:
    ctx = _ctx(rng, plan)
    if score >= 9:
        return rng.choice(
            (
                "NPS {score}: 'saved us running our own nodes; wish {want} was covered'",
                "NPS {score}: '{dataset} just works, freshness is what we needed'",
            )
        ).format(score=score, **ctx)
    if score >= 7:
        return rng.choice(
            (
                "NPS {score}: 'good data, but query costs are hard to predict'",
                "NPS {score}: 'solid, missing {want} coverage'",
            )
        ).format(score=score, **ctx)
    return rng.choice(
        (
            "NPS {score}: 'timeouts on large backfills are painful'",
            "NPS {score}: 'we had to chase a data gap on {chain} twice this quarter'",
        )
    ).format(score=score, **ctx)


# ---------------------------------------------------------------------------------------------
# Rows


def _account_row(plan: Draft) -> Row:
    return {
        "external_id": plan.external_id,
        "name": plan.name,
        "segment": plan.segment,
        "tier": plan.tier,
        "csm": plan.csm,
        "ae": plan.ae,
        "se": plan.se,
        "seats": plan.seats,
    }


def _contract_rows(plan: Draft) -> list[Row]:
    return [
        {
            "account": plan.external_id,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "arr": arr,
            "plan": plan_name,
            "commit_units": commit,
        }
        for start, end, arr, plan_name, commit in plan.contracts
    ]


def _contact_rows(plan: Draft) -> list[Row]:
    return [
        {
            "account": plan.external_id,
            "email": p.email,
            "role": p.role,
            "name": p.name,
            "last_engaged": p.last_engaged.isoformat() if p.last_engaged else None,
            "left": p.left.isoformat() if p.left else None,
        }
        for p in plan.people
    ]


def arr_on(contract_rows: list[Row], day: date) -> int:
    """ARR on a date = the sum over contracts active that day (the glossary's definition)."""
    iso = day.isoformat()
    return sum(int(c["arr"]) for c in contract_rows if c["start"] <= iso <= c["end"])
