"""Generate a synthetic book for benchmarks: N accounts, their contracts, 180 days of usage.

Writes accounts.csv, contracts.csv and usage.csv into a folder. Usage per account and day:
units (by product and chain), queries, active_users and, for API plans, api_calls: about four
rows per account-day, so 5,000 accounts x 180 days is about 3.6 million rows.
"""

from __future__ import annotations

import csv
import random
import sys
from datetime import date, timedelta
from pathlib import Path

CHAINS = ("ethereum", "base", "arbitrum", "solana", "polygon", "optimism", "bsc", "tron")


def generate(
    out: Path, accounts: int, days: int = 180, seed: int = 7, today: date | None = None
) -> dict[str, Path]:
    rng = random.Random(seed)
    today = today or date.today()
    out.mkdir(parents=True, exist_ok=True)
    paths = {k: out / f"{k}.csv" for k in ("accounts", "contracts", "usage")}
    first = today - timedelta(days=days)
    with (
        open(paths["accounts"], "w", newline="") as fa,
        open(paths["contracts"], "w", newline="") as fc,
        open(paths["usage"], "w", newline="") as fu,
    ):
        wa, wc, wu = csv.writer(fa), csv.writer(fc), csv.writer(fu)
        wa.writerow(["external_id", "name", "segment", "tier", "seats"])
        wc.writerow(["account", "start", "end", "arr", "plan", "commit_units"])
        wu.writerow(["account", "date", "metric", "value", "product", "chain"])
        for i in range(accounts):
            ext = f"bench-{i:06d}"
            tier = 1 if i % 300 == 0 else 2 if i % 12 == 0 else 3
            seats = rng.randint(2, 60)
            wa.writerow(
                [
                    ext,
                    f"Bench Account {i}",
                    "institution" if tier < 3 else "self_serve",
                    tier,
                    seats,
                ]
            )
            plan = "developer" if i % 3 else "explorer"
            start = today - timedelta(days=rng.randint(30, 330))
            base = rng.uniform(200, 20000)
            wc.writerow(
                [
                    ext,
                    start.isoformat(),
                    (start + timedelta(days=364)).isoformat(),
                    round(base * 36, 2),
                    plan,
                    round(base * 365, 0),
                ]
            )
            chain = CHAINS[i % len(CHAINS)]
            decay = 0.5 if i % 17 == 0 else 1.0
            for d in range(days):
                day = first + timedelta(days=d)
                weekend = 0.5 if day.weekday() >= 5 else 1.0
                trend = decay if d > days - 20 else 1.0
                units = base * weekend * trend * rng.uniform(0.8, 1.2)
                iso = day.isoformat()
                wu.writerow([ext, iso, "units", f"{units:.1f}", plan, chain])
                wu.writerow([ext, iso, "queries", int(units / 40) + 1, "", ""])
                wu.writerow([ext, iso, "active_users", rng.randint(1, max(seats // 2, 1)), "", ""])
                if plan == "developer":
                    wu.writerow([ext, iso, "api_calls", int(units / 25) + 1, "developer", chain])
    return paths


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    print(generate(Path(sys.argv[2] if len(sys.argv) > 2 else "bench/out"), n))
