"""Peak memory of one usage import, by file size and path (`make bench-import-memory`).

Generates a usage CSV of each size, then imports it in a fresh process per run and reads that
process's peak resident memory (ru_maxrss): on PostgreSQL through COPY (the usual path) and
through the row-by-row path (COPY's fallback, and SQLite's only path). Each child imports
inside a transaction it rolls back, so every run starts from the same database and the rescore
an accepted import queues (not the import's memory) never runs.

    python bench/import_memory.py [--sizes 50,200] [--paths copy,rows] [--rows-max-mb 50]
    python bench/import_memory.py --sqlite --sizes 10,50    # the row path on SQLite

Needs a PostgreSQL server (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/
postgres): a throwaway database cs_portal_bench_import_<pid> is created there and dropped
after. With --sqlite a throwaway SQLite file is used instead (the row path only: SQLite has
no COPY).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
DATABASE = f"cs_portal_bench_import_{os.getpid()}"
ACCOUNTS = 500
METRICS = ("queries", "units", "api_calls", "stream_events", "active_users")
MB = 1024 * 1024


def peak_rss_mb() -> float:
    # Linux reports ru_maxrss in KB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_usage_csv(path: Path, megabytes: int) -> int:
    """A valid usage file of just under `megabytes` MB (so 200 passes the default limit):
    every account and metric, a day at a time."""
    target, rows, day = megabytes * MB, 0, date(2000, 1, 1)
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("account,date,metric,value\n")
        while True:
            batch = "".join(
                f"bench-{a:04d},{day},{metric},{(a * 7 + rows) % 9973}\n"
                for a in range(ACCOUNTS)
                for metric in METRICS
            )
            if out.tell() + len(batch) > target:
                return rows
            out.write(batch)
            rows += ACCOUNTS * len(METRICS)
            day += timedelta(days=1)


def child(csv_path: str, path: str) -> None:
    """Import the file once in this process and print the figures as JSON."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cs_portal.settings")
    import django

    django.setup()
    from django.db import transaction

    from cs_portal.imports import run_import
    from health import usage_store

    if path == "rows":
        usage_store.usage_copy_import = lambda *args, **kwargs: False
    baseline = peak_rss_mb()
    started = time.monotonic()
    with transaction.atomic(), open(csv_path, "rb") as file:
        result = run_import("usage", data=file, origin="cli", filename="bench.csv")
        transaction.set_rollback(True)
    print(
        json.dumps(
            {
                "ok": result.ok,
                "errors": [e.as_dict() for e in result.errors[:3]],
                "rows": result.rows,
                "seconds": round(time.monotonic() - started, 1),
                "baseline_mb": round(baseline),
                "peak_mb": round(peak_rss_mb()),
            }
        )
    )


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def psql(url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="50,200", help="file sizes in MB, comma-separated")
    parser.add_argument("--paths", default="copy,rows", help="copy, rows or both")
    parser.add_argument(
        "--rows-max-mb", type=int, default=200, help="skip the row path above this size"
    )
    parser.add_argument("--sqlite", action="store_true", help="SQLite instead of PostgreSQL")
    parser.add_argument("--child", nargs=2, metavar=("CSV", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return

    server = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    db_url = with_database(server, DATABASE)
    env = {
        k: v for k, v in os.environ.items() if k not in ("SQLITE_PATH", "REDIS_URL", "DATABASE_URL")
    }
    env.update({"LOG_LEVEL": "WARNING", "DEBUG": "false"})
    if args.sqlite:
        args.paths = "rows"
    else:
        env["DATABASE_URL"] = db_url
        psql(server, f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        psql(server, f'CREATE DATABASE "{DATABASE}"')
    python = sys.executable
    figures = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            if args.sqlite:
                env["SQLITE_PATH"] = str(folder / "bench.sqlite3")
            subprocess.run([python, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
            accounts = folder / "accounts.csv"
            accounts.write_text(
                "external_id,name,segment,tier\n"
                + "".join(f"bench-{a:04d},Bench {a},self_serve,3\n" for a in range(ACCOUNTS))
            )
            subprocess.run(
                [python, "manage.py", "import_data", "accounts", str(accounts)],
                cwd=ROOT,
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
            )
            for size in [int(s) for s in args.sizes.split(",")]:
                csv_path = folder / f"usage-{size}.csv"
                rows = write_usage_csv(csv_path, size)
                for path in args.paths.split(","):
                    if path == "rows" and size > args.rows_max_mb:
                        continue
                    done = subprocess.run(
                        [python, __file__, "--child", str(csv_path), path],
                        cwd=ROOT,
                        env=env,
                        check=True,
                        capture_output=True,
                        text=True,
                    )
                    run = json.loads(done.stdout.strip().splitlines()[-1])
                    run.update(
                        {"path": path, "file_mb": round(csv_path.stat().st_size / MB), "csv": rows}
                    )
                    figures.append(run)
                    print(
                        f"{path:>4} {run['file_mb']:>4} MB, {rows:,} rows: peak "
                        f"{run['peak_mb']} MB (process at start {run['baseline_mb']} MB, "
                        f"+{run['peak_mb'] - run['baseline_mb']} MB), {run['seconds']} s, "
                        f"{'accepted' if run['ok'] else 'REJECTED ' + str(run['errors'])}",
                        flush=True,
                    )
                csv_path.unlink()
    finally:
        if not args.sqlite:
            psql(server, f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    print(f"machine: {platform.platform()}, Python {platform.python_version()}")


if __name__ == "__main__":
    main()
