"""In-process measurements for one bench database (run by bench/run.py, not by hand).

Needs DATABASE_URL of a bench database that already holds accounts, contracts and usage.
Times, in this one warm process:
- the full-book recompute, `health_recompute(as_of=…)`, against the `usage_windows` aggregate
  alone and against one 28/28-day window aggregate, each for every account (each run once to
  warm, then the median of 3, interleaved; with --full-only nothing else);
- one account's recompute, `health_recompute(as_of=…, account_ids=[id])`, over 20 accounts;
- where the time of each goes (every aggregate query, the engine, the snapshot write).
With --import-csv instead it profiles the usage import: empties the fact table, runs
`run_import("usage", …)` on the CSV in this process and times every SQL statement it sends.
With --backtest-horizon DAYS instead it times the backtest of the whole book as of --as-of
minus DAYS over a DAYS-day horizon (once to warm, then the median of 3) and where its time goes.
Writes the figures as JSON to the path given with --out.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import date
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cs_portal.settings")

# The inputs build_inputs gathers, in the order it gathers them; timed one by one when present.
AGGREGATES = (
    "usage_windows",
    "low_days",
    "commit_consumption",
    "data_since",
    "contacts",
    "touchpoints",
    "open_incidents",
)


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def p95(values: list[float]) -> float:
    """Nearest-rank 95th percentile (of 20 runs: the 19th fastest)."""
    ordered = sorted(values)
    return ordered[max(0, -(-95 * len(ordered) // 100) - 1)]


def window_28_28(as_of: date) -> int:
    """The issue's yardstick: one 28/28-day window aggregate over every account (units in the
    last 28 days and in the 28 before), the smallest read a usage-trend score needs."""
    from datetime import timedelta

    from django.db import connection

    d28, d56 = as_of - timedelta(days=28), as_of - timedelta(days=56)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT account_id, SUM(CASE WHEN date > %s THEN value ELSE 0 END), "
            "SUM(CASE WHEN date <= %s THEN value ELSE 0 END) FROM health_usagefact "
            "WHERE metric = 'units' AND date > %s AND date <= %s GROUP BY account_id",
            [d28, d28, d56, as_of],
        )
        return len(cursor.fetchall())


def forget_day(as_of, account_ids: list[int] | None = None) -> None:
    """Untimed: delete the day's snapshots, so the next recompute writes every one of them.

    A recompute that finds a snapshot unchanged leaves it alone; the nightly run scores a new
    day and writes them all, and that is the run worth timing.
    """
    from health.models import HealthSnapshot

    day = HealthSnapshot.objects.filter(date=as_of)
    if account_ids is not None:
        day = day.filter(account_id__in=account_ids)
    day.delete()


def profile(
    run: Callable[[], object], repeat: int, setup: Callable[[], object] = lambda: None
) -> dict[str, float]:
    """Median seconds per phase of `run` (a health_recompute call) over `repeat` runs."""
    from health import aggregates, services

    samples: dict[str, list[float]] = defaultdict(list)
    current: dict[str, float] = {}

    def wrap(name: str, fn: Callable) -> Callable:
        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                current[name] = current.get(name, 0.0) + time.perf_counter() - started

        return wrapper

    with contextlib.ExitStack() as stack:
        for name in AGGREGATES:
            if callable(getattr(aggregates, name, None)):
                stack.enter_context(
                    mock.patch.object(aggregates, name, wrap(name, getattr(aggregates, name)))
                )
        stack.enter_context(
            mock.patch.object(
                aggregates, "build_inputs", wrap("build_inputs", aggregates.build_inputs)
            )
        )
        if callable(getattr(services, "evaluate", None)):
            stack.enter_context(
                mock.patch.object(
                    services, "evaluate", wrap("engine (evaluate)", services.evaluate)
                )
            )
        for _ in range(repeat):
            setup()
            current.clear()
            total = timed(run)
            inputs = current.pop("build_inputs", 0.0)
            parts = {name: current[name] for name in AGGREGATES if name in current}
            parts["accounts + assembling inputs"] = max(inputs - sum(parts.values()), 0.0)
            parts["engine (evaluate)"] = current.get("engine (evaluate)", 0.0)
            parts["snapshot upsert + rest"] = max(total - inputs - parts["engine (evaluate)"], 0.0)
            parts["total"] = total
            for name, seconds in parts.items():
                samples[name].append(seconds)
    return {name: statistics.median(values) for name, values in samples.items()}


def profile_import(csv_path: Path) -> dict:
    """Time each statement of one usage import into an empty fact table."""
    import logging

    from django.db import connection

    from cs_portal.imports import run_import

    statements: dict[str, list[float]] = defaultdict(list)

    def wrapper(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            statements[" ".join(sql.split())[:200]].append(time.perf_counter() - started)

    lines: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    logger = logging.getLogger("health.usage_store")
    handler, level = Capture(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE health_usagefact")
        cursor.execute("CHECKPOINT")
    data = csv_path.read_bytes()
    try:
        with connection.execute_wrapper(wrapper):
            started = time.perf_counter()
            result = run_import("usage", data=data, origin="cli", filename=csv_path.name)
            total = time.perf_counter() - started
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    if not result.ok:
        raise SystemExit(f"the profiled import was rejected: {result.errors[:3]}")
    ranked = sorted(((sum(v), len(v), sql) for sql, v in statements.items()), reverse=True)
    in_sql = sum(t for t, _, _ in ranked)
    return {
        "rows": result.rows,
        "total_s": total,
        "log": lines,
        "statements": [
            {"sql": sql, "calls": calls, "seconds": t} for t, calls, sql in ranked if t >= 0.01
        ],
        "outside_sql_s": total - in_sql,  # the COPY stream, reading, Python
    }


# The backtest's phases, each a module-level function of health.backtest; timed when present.
BACKTEST_PHASES = ("usage_outcomes", "renewal_rows")


def measure_backtest(newest: date, horizon_days: int, repeat: int) -> dict:
    """Time `backtest_run` for the whole book as of `newest - horizon_days` with the current
    model: once to warm, then the median of `repeat`, then one profiled run."""
    from datetime import timedelta

    from health import aggregates, backtest

    as_of = newest - timedelta(days=horizon_days)
    model = backtest.backtest_model()

    def run() -> backtest.Backtest:
        return backtest.backtest_model_run(as_of=as_of, horizon_days=horizon_days, model=model)

    result = run()
    runs = [timed(run) for _ in range(repeat)]

    spent: dict[str, float] = defaultdict(float)

    def wrap(name: str, fn: Callable) -> Callable:
        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - started

        return wrapper

    with contextlib.ExitStack() as stack:
        stack.enter_context(
            mock.patch.object(
                aggregates, "build_inputs", wrap("build_inputs", aggregates.build_inputs)
            )
        )
        stack.enter_context(
            mock.patch.object(backtest, "evaluate", wrap("engine (evaluate)", backtest.evaluate))
        )
        for name in BACKTEST_PHASES:
            if callable(getattr(backtest, name, None)):
                stack.enter_context(
                    mock.patch.object(backtest, name, wrap(name, getattr(backtest, name)))
                )
        total = timed(run)
    breakdown = {"build_inputs (scoring inputs)": spent.pop("build_inputs", 0.0)}
    breakdown["engine (evaluate)"] = spent.pop("engine (evaluate)", 0.0)
    breakdown.update(spent)
    breakdown["metrics + rest"] = max(total - sum(breakdown.values()), 0.0)
    breakdown["total"] = total
    return {
        "as_of": as_of.isoformat(),
        "horizon_days": horizon_days,
        "model_version": model.version,
        "book": result.accounts,
        "bad": result.bad,
        "reasons": result.reasons,
        "auc": result.model.auc,
        "baseline_auc": {b.key: b.auc for b in result.baselines},
        "median_s": statistics.median(runs),
        "runs": runs,
        "breakdown_s": breakdown,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--as-of", help="the last generated day (YYYY-MM-DD)")
    parser.add_argument("--import-csv", help="profile the usage import of this CSV instead")
    parser.add_argument("--out", required=True, help="where to write the JSON figures")
    parser.add_argument("--runs", type=int, default=3, help="timed full-book runs (median)")
    parser.add_argument("--single-runs", type=int, default=20, help="timed one-account runs")
    parser.add_argument(
        "--full-only",
        action="store_true",
        help="only the full-book recompute and the 28/28 window (the history-growth book)",
    )
    parser.add_argument(
        "--backtest-horizon",
        type=int,
        help="time the backtest instead: as of --as-of minus this many days, over this horizon",
    )
    args = parser.parse_args()

    import django

    django.setup()
    if args.import_csv:
        Path(args.out).write_text(json.dumps(profile_import(Path(args.import_csv)), indent=2))
        return
    if not args.as_of:
        parser.error("--as-of is required")
    if args.backtest_horizon:
        figures = measure_backtest(date.fromisoformat(args.as_of), args.backtest_horizon, args.runs)
        Path(args.out).write_text(json.dumps(figures, indent=2))
        return
    from accounts.models import Account
    from health import aggregates, services

    as_of = date.fromisoformat(args.as_of)
    accounts = Account.objects.count()

    def full() -> int:
        return services.health_recompute(as_of=as_of)

    def floor() -> dict:
        return aggregates.usage_windows(as_of, None)

    def window() -> int:
        return window_28_28(as_of)

    # Warm: each once (this also writes the day's snapshots the later steps start from).
    scored = full()
    floor_rows = len(floor())
    window()
    full_runs, floor_runs, window_runs = [], [], []
    for _ in range(args.runs):
        floor_runs.append(timed(floor))
        window_runs.append(timed(window))
        forget_day(as_of)
        full_runs.append(timed(full))
    if args.full_only:
        Path(args.out).write_text(
            json.dumps(
                {
                    "accounts": accounts,
                    "scored": scored,
                    "full_s": statistics.median(full_runs),
                    "full_runs": full_runs,
                    "window_s": statistics.median(window_runs),
                    "floor_s": statistics.median(floor_runs),
                },
                indent=2,
            )
        )
        return
    full_profile = profile(full, repeat=1, setup=lambda: forget_day(as_of))

    ids = sorted(Account.objects.values_list("id", flat=True))
    sample = random.Random(11).sample(ids, min(args.single_runs, len(ids)))
    sample = (sample * args.single_runs)[: args.single_runs]
    services.health_recompute(as_of=as_of, account_ids=[sample[-1]])  # warm
    single_runs = []
    for i in sample:
        forget_day(as_of, [i])
        single_runs.append(
            timed(lambda i=i: services.health_recompute(as_of=as_of, account_ids=[i]))
        )
    single_profile = profile(
        lambda: services.health_recompute(as_of=as_of, account_ids=[sample[0]]),
        repeat=5,
        setup=lambda: forget_day(as_of, [sample[0]]),
    )

    out = {
        "accounts": accounts,
        "scored": scored,
        "floor_accounts": floor_rows,
        "recompute": {
            "floor_s": statistics.median(floor_runs),
            "window_s": statistics.median(window_runs),
            "full_s": statistics.median(full_runs),
            "floor_runs": floor_runs,
            "window_runs": window_runs,
            "full_runs": full_runs,
            "breakdown_s": full_profile,
        },
        "single": {
            "median_ms": 1000 * statistics.median(single_runs),
            "p95_ms": 1000 * p95(single_runs),
            "max_ms": 1000 * max(single_runs),
            "runs_ms": [1000 * s for s in single_runs],
            "breakdown_ms": {k: 1000 * v for k, v in single_profile.items()},
        },
    }
    Path(args.out).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
