"""Turn bench results into a console table and the generated part of docs/benchmarks.md.

Every sentence about growth is computed from the measured numbers: for two sizes n1 < n2 with
times t1, t2 the growth exponent is k = log(t2/t1) / log(n2/n1) (1 = linear in accounts).
"""

from __future__ import annotations

import math
from pathlib import Path

START, END = "<!-- bench:start -->", "<!-- bench:end -->"
TARGET_SIZE = 5000  # the issue sets its targets at 5,000 and 20,000 accounts x 180 days
TARGET_SIZES = (5000, 20000)

INGEST_MAX_RATIO = 4.0  # issue 12 (was 2x in issue 3)
REIMPORT_MAX_RATIO = 6.0
RECOMPUTE_MAX_RATIO = 5.0  # the full-book recompute vs one 28/28-day window aggregate
RECOMPUTE_MAX_S = 10.0
SINGLE_MAX_MS = 50.0  # issue 12 (was 100 ms)
FEED_MAX_S = 15.0  # the daily feed: API push -> snapshots -> alerts served, p95
HISTORY_MAX_RATIO = 1.3  # recompute with 540 days of history vs 180
FRESHNESS_MAX_S = 5.0
BACKTEST_MAX_S = 30.0
BUSY_LOAD = 1.0  # a 1-minute load average at or above this when a size starts is flagged


# ---------------------------------------------------------------------------------------------
# Verdicts


def verdicts(r: dict) -> dict[str, bool | None]:
    """PASS (True) / MISS (False) / not measured (None) per target for one size's results."""
    ing, rec = r.get("ingest") or {}, r.get("recompute") or {}
    one, fresh = r.get("single") or {}, r.get("freshness") or {}
    bt = r.get("backtest") or {}
    feed = fresh.get("daily_feed") or {}
    hist = r.get("history") or {}
    out: dict[str, bool | None] = {
        "ingest": ing["ratio"] <= INGEST_MAX_RATIO if "ratio" in ing else None,
        "reimport": (
            ing["reimport_ratio"] <= REIMPORT_MAX_RATIO if "reimport_ratio" in ing else None
        ),
        "recompute_ratio": (
            rec["window_ratio"] <= RECOMPUTE_MAX_RATIO if "window_ratio" in rec else None
        ),
        "feed": (
            feed["p95_s"] < FEED_MAX_S
            if feed.get("p95_s") is not None
            else (False if feed.get("runs") else None)
        ),
        "history": hist["ratio"] <= HISTORY_MAX_RATIO if "ratio" in hist else None,
        "recompute_time": rec["full_s"] < RECOMPUTE_MAX_S if "full_s" in rec else None,
        "single": one["p95_ms"] < SINGLE_MAX_MS if "p95_ms" in one else None,
        "freshness": None,
        "backtest": bt["median_s"] < BACKTEST_MAX_S if "median_s" in bt else None,
    }
    if fresh.get("runs"):
        out["freshness"] = (
            fresh.get("max_s") is not None
            and fresh["max_s"] < FRESHNESS_MAX_S
            and all(run.get("seconds") is not None for run in fresh["runs"])
        )
    return out


def word(ok: bool | None) -> str:
    return "n/a" if ok is None else "PASS" if ok else "MISS"


# ---------------------------------------------------------------------------------------------
# Formatting helpers


def fs(seconds: float | None, digits: int = 2) -> str:
    return "—" if seconds is None else f"{seconds:.{digits}f}"


def fx(ratio: float | None) -> str:
    return "—" if ratio is None else f"{ratio:.2f}×"


def table(head: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def size_label(n: int) -> str:
    return f"**{n:,}**" if n in TARGET_SIZES else f"{n:,}"


# ---------------------------------------------------------------------------------------------
# Growth


def exponent(n1: int, t1: float, n2: int, t2: float) -> float | None:
    if min(n1, n2, t1, t2) <= 0 or n1 == n2:
        return None
    return math.log(t2 / t1) / math.log(n2 / n1)


def shape(k: float | None) -> str:
    if k is None:
        return "not measurable"
    if k < 0.3:
        return "about flat"
    if k < 0.8:
        return "sub-linear"
    if k <= 1.2:
        return "about linear"
    return "super-linear"


SERIES = [
    # key, label, getter, unit, target (value, better_below) for the crossing estimate
    ("raw", "raw `\\copy`", lambda r: (r.get("ingest") or {}).get("raw_copy_s"), "s", None),
    ("import", "`import_data usage`", lambda r: (r.get("ingest") or {}).get("import_s"), "s", None),
    (
        "floor",
        "the `usage_windows` floor",
        lambda r: (r.get("recompute") or {}).get("floor_s"),
        "s",
        None,
    ),
    (
        "full",
        "full-book recompute",
        lambda r: (r.get("recompute") or {}).get("full_s"),
        "s",
        RECOMPUTE_MAX_S,
    ),
    (
        "single",
        "one account's recompute (median)",
        lambda r: (r.get("single") or {}).get("median_ms"),
        "ms",
        SINGLE_MAX_MS,
    ),
    (
        "backtest",
        "whole-book backtest (median)",
        lambda r: (r.get("backtest") or {}).get("median_s"),
        "s",
        BACKTEST_MAX_S,
    ),
    (
        "fresh",
        "freshness (median)",
        lambda r: (r.get("freshness") or {}).get("median_s"),
        "s",
        FRESHNESS_MAX_S,
    ),
]


def growth(results: list[dict]) -> list[str]:
    ok = sorted((r for r in results if r.get("accounts")), key=lambda r: r["accounts"])
    if len(ok) < 2:
        return [
            "Only one size was measured, so there is no growth to report; run with "
            "several sizes, e.g. `make bench BENCH_SIZES=1000,5000,20000`."
        ]
    lines = []
    for _key, label, get, unit, target in SERIES:
        points = [(r["accounts"], get(r)) for r in ok if get(r) is not None]
        if len(points) < 2:
            continue
        steps = []
        for (n1, t1), (n2, t2) in zip(points, points[1:], strict=False):
            k = exponent(n1, t1, n2, t2)
            steps.append(
                f"{n1:,}→{n2:,} accounts ({n2 / n1:.0f}× the book): "
                f"{t1:.3g} → {t2:.3g} {unit}, ×{t2 / t1:.2f}"
                + (f" (k = {k:.2f}, {shape(k)})" if k is not None else "")
            )
        (n1, t1), (n2, t2) = points[0], points[-1]
        k = exponent(n1, t1, n2, t2)
        sentence = f"- **{label}**: " + "; ".join(steps) + "."
        if target is not None and k is not None and k > 0.1 and t2 < target:
            at = n2 * (target / t2) ** (1 / k)
            sentence += (
                f" At that rate it reaches the {target:g} {unit} target at about "
                f"{at:,.0f} accounts."
            )
        elif target is not None and t2 >= target:
            sentence += f" It is already over the {target:g} {unit} target at {n2:,} accounts."
        lines.append(sentence)
    ratios = []
    for label, section in (("import ÷ raw copy", "ingest"), ("recompute ÷ floor", "recompute")):
        values = [(r["accounts"], (r.get(section) or {}).get("ratio")) for r in ok]
        values = [(n, v) for n, v in values if v is not None]
        if len(values) >= 2:
            ratios.append(f"{label} " + " → ".join(f"{v:.2f}× at {n:,}" for n, v in values))
    if ratios:
        lines.append("- **Ratios**: " + "; ".join(ratios) + ".")
    lines.append("")
    lines.append(
        "k is the growth exponent log(t2/t1) / log(n2/n1): 1 means time grows in "
        "proportion to the number of accounts, 0 means it does not grow."
    )
    return lines


# ---------------------------------------------------------------------------------------------
# Markdown


def markdown(results: list[dict], meta: dict) -> str:
    results = sorted(results, key=lambda r: r["accounts"])
    out = [
        "## Latest run",
        "",
        f"- **Date**: {meta['date']}",
        f"- **Machine**: {meta['machine']}",
        f"- **Code**: {meta['code']}",
        f"- **Command**: `{meta['command']}`",
        f"- **Data**: `bench/gen.py`, {meta['days']} days of usage per account (about "
        f"{meta.get('rows_per_account_day', 0):.2f} rows per account-day); scores as of "
        f"{meta['as_of']}, the last day of the bulk file.",
        "- **Stack**: PostgreSQL (a fresh database per size, dropped afterwards), Redis as "
        "the Celery broker, a real `celery worker --pool=solo` and `runserver --noreload` for "
        "freshness and the daily feed. After the import, `VACUUM ANALYZE health_usagefact` "
        "(untimed) stands in for autovacuum so it cannot kick in during the measurements. The "
        "bench raises `IMPORT_MAX_BYTES` to 4 GB for the bulk files (595 MB at 20,000 "
        "accounts, over the 200 MB an upload may be).",
        "",
        "Issue 12 sets the targets at **5,000 and 20,000 accounts** (bold rows); the other "
        "sizes show how far the same bar holds. The generator makes "
        f"{meta['days']} + {meta.get('feed_days', 0)} days: the bulk file holds the first "
        f"{meta['days']}, the last {meta.get('feed_days', 0)} are held back for the daily feed "
        "(section 6).",
        "",
    ]
    busy = [(r["accounts"], r["load"]) for r in results if r.get("load", 0) >= BUSY_LOAD]
    if busy:
        out += [
            "**Warning: the machine was busy** (1-minute load average when a size started: "
            + ", ".join(f"{load:.2f} at {n:,} accounts" for n, load in busy)
            + "), so these figures are inflated; rerun on a quiet machine.",
            "",
        ]
    errors = [(r["accounts"], e) for r in results for e in r.get("errors", [])]
    if errors:
        out += ["**Errors during the run** (figures missing below):", ""]
        out += [f"- {n:,} accounts: {e}" for n, e in errors] + [""]

    out += [
        "### 1. Ingest: `import_data usage` vs raw `psql \\copy`",
        "",
        "Raw floor: `psql -c \"\\copy bare FROM 'usage.csv' WITH (FORMAT csv, HEADER true)\"` "
        "into a table of text columns with no index or constraint (wall time of the psql "
        "process, median of 3). Import: `manage.py import_data usage usage.csv` into the "
        "empty fact table (wall time of the process, one run, with `REDIS_URL` set so the "
        "follow-up recompute is queued, not run inline). Re-import: the same command on the "
        "same file right after (every row conflicts with a stored one and changes nothing). "
        f"Targets: import ≤ {INGEST_MAX_RATIO:g}× raw, re-import ≤ {REIMPORT_MAX_RATIO:g}×.",
        "",
    ]
    rows = []
    for r in results:
        ing = r.get("ingest") or {}
        rows.append(
            [
                size_label(r["accounts"]),
                f"{ing.get('rows', 0):,}",
                fs(ing.get("csv_mb"), 0),
                fs(ing.get("raw_copy_s")),
                fs(ing.get("import_s")),
                fx(ing.get("ratio")),
                f"≤ {INGEST_MAX_RATIO:g}×",
                word(verdicts(r)["ingest"]),
                fs(ing.get("reimport_s")),
                fx(ing.get("reimport_ratio")),
                f"≤ {REIMPORT_MAX_RATIO:g}×",
                word(verdicts(r)["reimport"]),
            ]
        )
    out += table(
        [
            "accounts",
            "usage rows",
            "CSV MB",
            "raw \\copy s",
            "import_data s",
            "ratio",
            "target",
            "result",
            "re-import s",
            "ratio",
            "target",
            "result",
        ],
        rows,
    )
    out += [
        "",
        "Where the import's time goes (its own INFO log line `usage COPY import of N "
        "rows: copy …, validate …, upsert …`; *startup* is `manage.py import_data` failing on "
        "a missing file, i.e. interpreter + Django setup; *other* is the rest of the wall "
        "time: startup, reading the file, the run record, queueing the recompute):",
        "",
    ]
    names: list[str] = []  # whatever phases the app logs, in its order
    for r in results:
        for name in (r.get("ingest") or {}).get("phases") or {}:
            if name not in names:
                names.append(name)
    rows = []
    for r in results:
        ing = r.get("ingest") or {}
        ph = ing.get("phases") or {}
        rows.append(
            [size_label(r["accounts"])]
            + [fs(ph.get(name)) for name in names]
            + [
                fs(ing.get("startup_s")),
                fs(ing.get("other_s")),
                fs(ing.get("import_s")),
                str(ing.get("queued_tasks", "—")),
            ]
        )
    out += table(
        ["accounts"]
        + [f"{name} s" for name in names]
        + ["startup s", "other s", "total s", "tasks queued"],
        rows,
    )

    out += [
        "",
        "### 2. Full-book recompute vs one SQL aggregate",
        "",
        "All in one warm process: `health_recompute(as_of=…)` for every account vs one "
        "28/28-day window aggregate (units in the last 28 days and the 28 before, per account, "
        "over the same accounts) and vs the `usage_windows` aggregate (every 90-day window "
        "signal) alone (each run once to warm, then the median of 3, interleaved). Each "
        "recompute starts with the day's snapshots deleted (untimed), so it writes every one "
        "of them, as the nightly run of a new day does. Target: "
        f"≤ {RECOMPUTE_MAX_RATIO:g}× the 28/28 window and < {RECOMPUTE_MAX_S:g} s.",
        "",
    ]
    rows = []
    for r in results:
        rec, v = r.get("recompute") or {}, verdicts(r)
        rows.append(
            [
                size_label(r["accounts"]),
                fs(rec.get("window_s"), 3),
                fs(rec.get("floor_s"), 3),
                fs(rec.get("full_s"), 3),
                fx(rec.get("window_ratio")),
                f"≤ {RECOMPUTE_MAX_RATIO:g}×",
                word(v["recompute_ratio"]),
                f"< {RECOMPUTE_MAX_S:g} s",
                word(v["recompute_time"]),
            ]
        )
    out += table(
        [
            "accounts",
            "28/28 window s",
            "usage_windows s",
            "recompute s",
            "ratio to window",
            "target",
            "result",
            "target",
            "result",
        ],
        rows,
    )
    out += breakdown(
        results,
        "recompute",
        "breakdown_s",
        "s",
        3,
        "Where one full-book recompute's time goes (one profiled run):",
    )

    out += [
        "",
        "### 3. One account's recompute",
        "",
        "`health_recompute(as_of=…, account_ids=[id])` in the same warm process, 20 runs over "
        "20 random accounts (after one warm-up), each writing its snapshot afresh. Target: < "
        f"{SINGLE_MAX_MS:g} ms, judged on the p95.",
        "",
    ]
    rows = []
    for r in results:
        one = r.get("single") or {}
        rows.append(
            [
                size_label(r["accounts"]),
                fs(one.get("median_ms"), 1),
                fs(one.get("p95_ms"), 1),
                fs(one.get("max_ms"), 1),
                f"< {SINGLE_MAX_MS:g} ms",
                word(verdicts(r)["single"]),
            ]
        )
    out += table(["accounts", "median ms", "p95 ms", "max ms", "target", "result"], rows)
    out += breakdown(
        results,
        "single",
        "breakdown_ms",
        "ms",
        1,
        "Where one account's recompute goes (median of 5 profiled runs):",
    )

    out += [
        "",
        "### 4. Freshness: usage POSTed to the API → new score readable",
        "",
        "A real Celery worker and web server on the bench database. Each run POSTs one "
        "account's last 7 days of `units` at 10% of what they were (a collapse: 7 CSV rows) "
        "to `POST /api/v1/import/usage` with a manager's Bearer token, then polls the "
        "database every 20 ms until that account's snapshot for the day is rewritten and "
        "red with the `sharp_drop` override; the API's "
        "`GET /api/v1/accounts/{id}/health` is checked to serve it. Seconds from the start "
        "of the POST. Three runs, three different accounts. Target: < "
        f"{FRESHNESS_MAX_S:g} s on every run. The figure includes the load's settle window "
        "(`RECOMPUTE_SETTLE_SECONDS`, 4 s by default with a worker): the import's rescore "
        "waits that long for the rest of a load before it runs, so the *worker task* column "
        "is the scoring itself.",
        "",
    ]
    rows = []
    for r in results:
        fr = r.get("freshness") or {}
        runs = fr.get("runs") or []
        post = [x["post_s"] for x in runs if x.get("post_s") is not None]
        task = [x["task_s"] for x in runs if x.get("task_s") is not None]
        rows.append(
            [
                size_label(r["accounts"]),
                fs(fr.get("median_s")),
                fs(fr.get("max_s")),
                fs(sorted(post)[len(post) // 2] if post else None, 3),
                fs(sorted(task)[len(task) // 2] if task else None, 3),
                ", ".join(f"{x['before']}→{x['after']}" for x in runs if x.get("after")),
                f"< {FRESHNESS_MAX_S:g} s",
                word(verdicts(r)["freshness"]),
            ]
        )
    out += table(
        [
            "accounts",
            "median s",
            "max s",
            "POST s (median)",
            "worker task s (median)",
            "score before→after",
            "target",
            "result",
        ],
        rows,
    )
    rows = []
    for r in results:
        bl = (r.get("freshness") or {}).get("backlog") or {}
        if bl:
            rows.append(
                [
                    f"{r['accounts']:,}",
                    str(bl.get("tasks", "—")),
                    fs(bl.get("task_s")),
                    fs(bl.get("wait_s")),
                ]
            )
    if rows:
        out += [
            "",
            "Before the freshness runs the worker first drains what the bulk "
            "`import_data usage` queued (a rescore of every imported account):",
            "",
        ]
        out += table(["accounts", "tasks", "worker task s", "seconds until drained"], rows)

    out += backtest_section(results, meta)
    out += feed_section(results, meta)
    out += history_section(results, meta)

    profiled = [r for r in results if r.get("import_profile")]
    if profiled:
        out += [
            "",
            "### Import, statement by statement (`--profile-import`)",
            "",
            'One more `run_import("usage", …)` of the same CSV into the emptied fact '
            "table, in one process, timing every SQL statement it sends (statements over "
            "10 ms; *outside SQL* is the COPY stream, reading the file and Python):",
            "",
        ]
        for r in profiled:
            prof = r["import_profile"]
            rows = [
                [f"`{short(st['sql'])}`", str(st["calls"]), fs(st["seconds"])]
                for st in prof["statements"][:10]
            ]
            rows.append(["*outside SQL*", "", fs(prof["outside_sql_s"])])
            rows.append(["**total**", "", fs(prof["total_s"])])
            out += [f"{r['accounts']:,} accounts ({prof['rows']:,} rows):", ""]
            out += table(["statement", "calls", "s"], rows) + [""]

    out += ["", "### How it grows", ""] + growth(results)
    return "\n".join(out) + "\n"


def feed_section(results: list[dict], meta: dict) -> list[str]:
    out = [
        "",
        "### 6. The daily feed: one day for the whole book through the API",
        "",
        f"The {meta.get('feed_days', 0)} days held back from the bulk file, one at a time, "
        "each for every account, POSTed as CSV to `POST /api/v1/import/usage` with the "
        "manager's token while the real worker and web server run; timed from the start of "
        "the POST until the worker has logged the relay's rescore of the book (the import's "
        "new day rescores every account, after the settle window) and the API "
        "(`GET /api/v1/alerts?since=…`) serves every alert that rescore raised, i.e. they "
        f"are in the inbox. Target: < {FEED_MAX_S:g} s, p95 (of three runs: the slowest).",
        "",
    ]
    rows = []
    for r in results:
        feed = (r.get("freshness") or {}).get("daily_feed") or {}
        runs = feed.get("runs") or []
        if not runs:
            continue
        done = [x for x in runs if x.get("seconds") is not None]
        rows.append(
            [
                size_label(r["accounts"]),
                f"{runs[0].get('rows', 0):,}",
                ", ".join(fs(x.get("seconds")) for x in runs),
                fs(feed.get("p95_s")),
                ", ".join(fs(x.get("post_s")) for x in done),
                ", ".join(fs(x.get("task_s")) for x in done),
                ", ".join(str(x.get("snapshots", "—")) for x in done),
                ", ".join(str(x.get("alerts", "—")) for x in done),
                f"< {FEED_MAX_S:g} s",
                word(verdicts(r)["feed"]),
            ]
        )
    out += table(
        [
            "accounts",
            "rows per day",
            "end to end s (each day)",
            "p95 s",
            "POST s",
            "worker task s",
            "snapshots written",
            "alerts raised",
            "target",
            "result",
        ],
        rows,
    )
    return out


def history_section(results: list[dict], meta: dict) -> list[str]:
    rows = []
    for r in results:
        h = r.get("history")
        if not h:
            continue
        rows.append(
            [
                size_label(r["accounts"]),
                f"{h['base_days']} → {h['days']}",
                f"{h['rows']:,}",
                fs(h.get("import_s")),
                fs(h.get("base_window_s"), 3) + " → " + fs(h.get("window_s"), 3),
                fs(h.get("base_full_s"), 3) + " → " + fs(h.get("full_s"), 3),
                fx(h.get("ratio")),
                f"≤ {HISTORY_MAX_RATIO:g}×",
                word(verdicts(r)["history"]),
            ]
        )
    if not rows:
        return []
    out = [
        "",
        "### 7. History growth: the same book with three times the history",
        "",
        f"The same accounts generated with {meta.get('history_days', '?')} days of usage "
        f"instead of {meta['days']}, imported into a database of their own; the full-book "
        "recompute there (median of 3, as in section 2) against the one on the "
        f"{meta['days']}-day book. Target: within {HISTORY_MAX_RATIO:g}×.",
        "",
    ]
    out += table(
        [
            "accounts",
            "days",
            "usage rows",
            "import s",
            "28/28 window s",
            "recompute s",
            "ratio",
            "target",
            "result",
        ],
        rows,
    )
    return out


def backtest_section(results: list[dict], meta: dict) -> list[str]:
    out = [
        "",
        "### 5. Backtest of the whole book",
        "",
        "`backtest_run` in one warm process (`measure.py --backtest-horizon`) with the current "
        "model: the book scored as of the last generated day minus 90 days, writing nothing, "
        "and every account's outcome judged over the following 90 days (churned, contracted, "
        "usage fell by half, went dormant), with the AUC, deciles and baselines. Once to warm, "
        "then the median of 3. Target: < "
        f"{BACKTEST_MAX_S:g} s for {TARGET_SIZE:,} accounts over {meta['days']} days of history.",
        "",
    ]
    rows = []
    for r in results:
        bt = r.get("backtest") or {}
        auc = bt.get("auc")
        rows.append(
            [
                size_label(r["accounts"]),
                str(bt.get("as_of", "—")),
                str(bt.get("horizon_days", "—")),
                f"{bt['book']:,}" if "book" in bt else "—",
                f"{bt['bad']:,}" if "bad" in bt else "—",
                "—" if auc is None else f"{auc:.3f}",
                fs(bt.get("median_s")),
                f"< {BACKTEST_MAX_S:g} s",
                word(verdicts(r)["backtest"]),
            ]
        )
    out += table(
        [
            "accounts",
            "as of",
            "horizon days",
            "accounts scored",
            "went bad",
            "model AUC",
            "median s",
            "target",
            "result",
        ],
        rows,
    )
    if any((r.get("backtest") or {}).get("book") for r in results):
        out += [
            "",
            "Accounts scored leaves out those with no contract active on the day (as a recompute "
            "does). The generated book is made for timing, not prediction: its contracts all end "
            "after the horizon and its usage never halves, so few or no accounts go bad and the "
            "AUC may be undefined (—); the figure that matters here is the time.",
        ]
    out += breakdown(
        results,
        "backtest",
        "breakdown_s",
        "s",
        3,
        "Where one backtest's time goes (one profiled run):",
    )
    return out


def short(sql: str, width: int = 70) -> str:
    return sql if len(sql) <= width else sql[:width].rstrip() + "…"


def breakdown(
    results: list[dict], section: str, key: str, unit: str, digits: int, title: str
) -> list[str]:
    """Phases down, sizes across: each cell is the time and its share of that size's total."""
    data = [(r["accounts"], (r.get(section) or {}).get(key)) for r in results]
    data = [(n, b) for n, b in data if b]
    if not data:
        return []
    phases = [p for p in data[-1][1] if p != "total"] + ["total"]
    rows = []
    for phase in phases:
        cells = []
        for _, b in data:
            value, total = b.get(phase), b.get("total") or 0
            share = (
                f" ({100 * value / total:.0f}%)"
                if value is not None and total and phase != "total"
                else ""
            )
            cells.append(fs(value, digits) + share)
        rows.append([f"**{phase}**" if phase == "total" else phase] + cells)
    return ["", title, ""] + table([f"phase ({unit})"] + [f"{n:,} accounts" for n, _ in data], rows)


def write_doc(path: Path, generated: str, start: str = START, end: str = END) -> None:
    """Replace what sits between the markers; keep everything a human wrote around them."""
    block = f"{start}\n{generated}{end}"
    if path.exists():
        text = path.read_text()
        if start in text and end in text:
            head, rest = text.split(start, 1)
            tail = rest.split(end, 1)[1]
            path.write_text(head + block + tail)
            return
        path.write_text(text.rstrip("\n") + "\n\n" + block + "\n")
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "# Benchmarks\n\n"
        "Produced by `make bench` (`bench/run.py`); sizes with "
        "`make bench BENCH_SIZES=1000,5000,20000`. Everything between the `bench:start` and "
        "`bench:end` markers is regenerated on every run; notes written outside them are "
        "kept.\n\n" + block + "\n"
    )


# ---------------------------------------------------------------------------------------------
# Console


def console(results: list[dict]) -> str:
    head = [
        "accounts",
        "raw copy s",
        "import s",
        "ratio",
        "",
        "28/28 s",
        "recompute s",
        "ratio",
        "",
        "",
        "one p50 ms",
        "one p95 ms",
        "",
        "fresh p50 s",
        "fresh max s",
        "",
        "backtest s",
        "",
    ]
    rows = []
    for r in sorted(results, key=lambda r: r["accounts"]):
        ing, rec = r.get("ingest") or {}, r.get("recompute") or {}
        one, fr, v = r.get("single") or {}, r.get("freshness") or {}, verdicts(r)
        rows.append(
            [
                f"{r['accounts']:,}",
                fs(ing.get("raw_copy_s")),
                fs(ing.get("import_s")),
                fx(ing.get("ratio")),
                word(v["ingest"]),
                fs(rec.get("window_s"), 3),
                fs(rec.get("full_s"), 3),
                fx(rec.get("window_ratio")),
                word(v["recompute_ratio"]),
                word(v["recompute_time"]),
                fs(one.get("median_ms"), 1),
                fs(one.get("p95_ms"), 1),
                word(v["single"]),
                fs(fr.get("median_s")),
                fs(fr.get("max_s")),
                word(v["freshness"]),
                fs((r.get("backtest") or {}).get("median_s")),
                word(v["backtest"]),
            ]
        )
    widths = [max(len(x) for x in col) for col in zip(head, *rows, strict=True)]
    fmt = "  ".join(f"{{:>{w}}}" for w in widths)
    lines = [fmt.format(*head), fmt.format(*("-" * w for w in widths))]
    lines += [fmt.format(*row) for row in rows]
    for r in sorted(results, key=lambda r: r["accounts"]):
        ing, v = r.get("ingest") or {}, verdicts(r)
        feed = (r.get("freshness") or {}).get("daily_feed") or {}
        hist = r.get("history") or {}
        lines.append(
            f"{r['accounts']:,}: re-import {fx(ing.get('reimport_ratio'))} "
            f"{word(v['reimport'])}; daily feed p95 {fs(feed.get('p95_s'))} s "
            f"{word(v['feed'])}; history {fx(hist.get('ratio'))} {word(v['history'])}"
        )
    lines.append(
        f"targets: import ≤ {INGEST_MAX_RATIO:g}× raw copy (re-import ≤ "
        f"{REIMPORT_MAX_RATIO:g}×); recompute ≤ {RECOMPUTE_MAX_RATIO:g}× one 28/28 window and "
        f"< {RECOMPUTE_MAX_S:g} s; daily feed p95 < {FEED_MAX_S:g} s; history ≤ "
        f"{HISTORY_MAX_RATIO:g}×; one account p95 "
        f"< {SINGLE_MAX_MS:g} ms; freshness < {FRESHNESS_MAX_S:g} s; backtest < "
        f"{BACKTEST_MAX_S:g} s (set at "
        f"{TARGET_SIZE:,} accounts)"
    )
    return "\n".join(lines)
