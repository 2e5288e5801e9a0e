"""Benchmarks: ingest, full-book and one-account recompute, backtest and freshness, per size.

    make bench                                   # sizes 1000,5000
    make bench BENCH_SIZES=1000,5000,20000
    .venv/bin/python bench/run.py 1000 5000      # sizes as arguments win over BENCH_SIZES

Needs PostgreSQL and Redis: BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432, a role
that may create databases) and BENCH_REDIS_URL (default redis://127.0.0.1:6379/12; the bench
clears the Celery queue in that Redis database). For each size it generates a book into
bench/out/<size>/ (reused when it already matches), creates a fresh database
cs_portal_bench_<size>, migrates, imports users, accounts and contracts, measures, and drops the
database. It prints a table, writes JSON into bench/out/ and rewrites the part of
docs/benchmarks.md between `<!-- bench:start -->` and `<!-- bench:end -->`.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import report

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
OUT = BENCH / "out"
DOC = ROOT / "docs" / "benchmarks.md"
PY = Path(sys.executable)
CELERY = PY.parent / "celery"
DAYS = 180
FEED_DAYS = 3  # generated past the bulk file, then pushed one day at a time (the daily feed)
HISTORY_DAYS = 540  # the history-growth book: the same accounts with three times the history
SEED = 7
RAW_RUNS = 3
BACKTEST_HORIZON = 90  # the backtest scores the book as of the newest day minus this, over it
FRESHNESS_RUNS = 3
POLL = 0.02
MANAGER = "bench-manager@bench.csportal.test"
# An import queues the recompute outbox's relay, which scores the load once it has settled.
TASK_DONE = re.compile(
    r"Task health\.tasks\.relay_recompute_requests\[[^\]]+\] "
    r"(?:succeeded in ([0-9.]+)s|raised|failed)"
)
# The relay's answer: the accounts it scored (None when the load had not settled yet).
RELAY_SCORED = re.compile(
    r"Task health\.tasks\.relay_recompute_requests\[[^\]]+\] succeeded in ([0-9.]+)s: (\d+)"
)
# Any task finishing: recomputes also queue alert and nudge deliveries, which count as backlog.
ANY_TASK_DONE = re.compile(r"Task [\w.]+\[[^\]]+\] (?:succeeded in [0-9.]+s|raised|failed)")


class BenchError(Exception):
    pass


def log(msg: str) -> None:
    print(f"[bench {datetime.now():%H:%M:%S}] {msg}", flush=True)


# ---------------------------------------------------------------------------------------------
# Configuration


def parse_sizes(argv: list[str]) -> list[int]:
    raw = ",".join(argv) if argv else os.environ.get("BENCH_SIZES", "") or "1000,5000"
    try:
        sizes = [int(part) for part in re.split(r"[,\s]+", raw.strip()) if part]
    except ValueError:
        raise SystemExit(f"sizes must be whole numbers of accounts, got '{raw}'") from None
    if not sizes or min(sizes) < 10:
        raise SystemExit(f"sizes must be at least 10 accounts, got '{raw}'")
    return sorted(set(sizes))


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, ""))


def today_utc() -> date:
    return datetime.now(UTC).date()


# ---------------------------------------------------------------------------------------------
# Processes


class Proc:
    """A long-running subprocess in its own process group, logging to a file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_path: Path):
        self.name, self.log_path = name, log_path
        self._out = log_path.open("wb")
        self.process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.text().splitlines()[-lines:])

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self._out.close()


def run(
    argv: list[str], env: dict[str, str], timeout: float = 3600, check: bool = True
) -> tuple[float, subprocess.CompletedProcess]:
    """Run a command to completion; returns (wall seconds, completed process)."""
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    seconds = time.perf_counter() - started
    if check and done.returncode != 0:
        raise BenchError(
            f"{' '.join(argv[:4])}… exited {done.returncode}:\n"
            f"{(done.stdout + done.stderr)[-3000:]}"
        )
    return seconds, done


def manage(
    env: dict[str, str], *args: str, timeout: float = 3600, check: bool = True
) -> tuple[float, subprocess.CompletedProcess]:
    return run([str(PY), "manage.py", *args], env, timeout=timeout, check=check)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(
    what: str, condition, timeout: float, proc: Proc | None = None, interval: float = 0.1
):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if proc is not None and not proc.alive():
            raise BenchError(
                f"{proc.name} exited ({proc.process.returncode}) while waiting "
                f"for {what}:\n{proc.tail()}"
            )
        if time.monotonic() > deadline:
            raise BenchError(
                f"timed out after {timeout:g} s waiting for {what}"
                + (f":\n{proc.tail()}" if proc else "")
            )
        time.sleep(interval)


# ---------------------------------------------------------------------------------------------
# PostgreSQL and Redis


def pg_connect(url: str):
    import psycopg

    return psycopg.connect(url, autocommit=True)


def pg_exec(url: str, sql: str, params: tuple | list | None = None) -> list[tuple]:
    with pg_connect(url) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall() if cur.description else []


def redis_client(url: str):
    import redis

    return redis.Redis.from_url(url, socket_timeout=5)


def celery_queue_keys(client) -> list[bytes]:
    keys = [k for k in client.scan_iter(match="celery*") if client.type(k) == b"list"]
    return keys or [b"celery"]


def queued_tasks(client) -> int:
    return sum(client.llen(k) for k in celery_queue_keys(client))


def clear_queue(client) -> None:
    """Drop queued and unacknowledged Celery messages (a previous run may have left some)."""
    client.delete(*celery_queue_keys(client), "unacked", "unacked_index")


def preflight(pg_url: str, redis_url: str) -> str:
    if not shutil.which("psql"):
        raise SystemExit("psql is not on the PATH (the raw-COPY floor needs it)")
    if not CELERY.exists():
        raise SystemExit(f"no celery next to {PY}; run `make install` first")
    try:
        version = pg_exec(with_database(pg_url, "postgres"), "SHOW server_version")[0][0]
    except Exception as exc:  # noqa: BLE001 - any connection problem ends the run here
        raise SystemExit(f"cannot reach PostgreSQL at {pg_url} (BENCH_PG_URL): {exc}") from None
    try:
        redis_client(redis_url).ping()
    except Exception as exc:  # noqa: BLE001
        raise SystemExit(f"cannot reach Redis at {redis_url} (BENCH_REDIS_URL): {exc}") from None
    return version


# ---------------------------------------------------------------------------------------------
# Data


def book(n: int, days: int = DAYS) -> tuple[Path, dict]:
    """The generated CSVs for n accounts, regenerated only if stale: usage.csv holds `days`
    days ending FEED_DAYS days before yesterday (UTC); feed/DATE.csv the days after it, one
    file per day, for the daily feed."""
    folder = OUT / (str(n) if days == DAYS else f"{n}-{days}d")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "users.csv").write_text(f"email,role,name\n{MANAGER},manager,Bench Manager\n")
    wanted = {
        "accounts": n,
        "days": days,
        "feed_days": FEED_DAYS,
        "seed": SEED,
        "today": today_utc().isoformat(),
        "gen": (BENCH / "gen.py").stat().st_mtime,
    }
    meta_path = folder / "meta.json"
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if {k: meta.get(k) for k in wanted} == wanted and all(
            (folder / f"{k}.csv").exists() for k in ("accounts", "contracts", "usage")
        ):
            return folder, meta
    sys.path.insert(0, str(BENCH))
    from gen import generate

    log(f"generating {n:,} accounts × {days} (+{FEED_DAYS}) days into {folder.relative_to(ROOT)}")
    started = time.perf_counter()
    generate(folder, n, days=days + FEED_DAYS, seed=SEED, today=today_utc())
    feed = split_feed(folder, today_utc() - timedelta(days=FEED_DAYS))
    with (folder / "usage.csv").open("rb") as f:
        rows = sum(1 for _ in f) - 1
    meta = {
        **wanted,
        "usage_rows": rows,
        "as_of": (today_utc() - timedelta(days=FEED_DAYS + 1)).isoformat(),
        "feed": feed,
        "seconds": time.perf_counter() - started,
    }
    meta_path.write_text(json.dumps(meta, indent=2))
    return folder, meta


def split_feed(folder: Path, first_feed_day: date) -> dict[str, int]:
    """Move the rows from first_feed_day on out of usage.csv into feed/DATE.csv (rows each)."""
    whole, bulk = folder / "usage.csv", folder / "usage-bulk.csv"
    (folder / "feed").mkdir(exist_ok=True)
    cutoff = first_feed_day.isoformat()
    files: dict[str, tuple] = {}
    counts: dict[str, int] = {}
    with whole.open(newline="") as src, bulk.open("w", newline="") as out:
        header = src.readline()
        out.write(header)
        for line in src:
            day = line.split(",", 2)[1]
            if day < cutoff:
                out.write(line)
                continue
            if day not in files:
                f = (folder / "feed" / f"{day}.csv").open("w", newline="")
                f.write(header)
                files[day] = (f,)
                counts[day] = 0
            files[day][0].write(line)
            counts[day] += 1
    for (f,) in files.values():
        f.close()
    bulk.replace(whole)
    return dict(sorted(counts.items()))


# ---------------------------------------------------------------------------------------------
# Measurements


PHASES = re.compile(r"usage COPY import of (\d+) rows: (.*)")
PHASE = re.compile(r"(\w[\w ]*?) ([0-9.]+)s")


def measure_ingest(n: int, folder: Path, db_url: str, env: dict[str, str], redis) -> dict:
    usage = folder / "usage.csv"
    with usage.open(newline="") as f:
        header = next(csv.reader(f))
    # Interpreter + Django setup, the fixed cost inside the import's wall time.
    startup, done = manage(env, "import_data", "usage", str(folder / "missing.csv"), check=False)
    if "no such file" not in done.stderr:
        raise BenchError(f"unexpected output from import_data on a missing file:\n{done.stderr}")

    pg_exec(db_url, "DROP TABLE IF EXISTS bare")
    pg_exec(db_url, "CREATE TABLE bare (" + ", ".join(f'"{c}" text' for c in header) + ")")
    raw_runs = []
    for i in range(RAW_RUNS):
        pg_exec(db_url, "TRUNCATE bare")
        pg_exec(db_url, "CHECKPOINT")
        copy = f"\\copy bare FROM '{usage}' WITH (FORMAT csv, HEADER true)"
        seconds, _ = run(["psql", db_url, "-v", "ON_ERROR_STOP=1", "-q", "-c", copy], env)
        raw_runs.append(seconds)
        log(f"  raw \\copy run {i + 1}/{RAW_RUNS}: {seconds:.2f} s")
    copied = pg_exec(db_url, "SELECT COUNT(*) FROM bare")[0][0]
    pg_exec(db_url, "DROP TABLE bare")

    pg_exec(db_url, "CHECKPOINT")
    before = queued_tasks(redis)
    seconds, done = manage(env, "import_data", "usage", str(usage))
    output = done.stdout + done.stderr
    log(f"  import_data usage: {seconds:.2f} s")
    phases: dict[str, float] = {}
    match = PHASES.search(output)
    if match:
        phases = {name.strip(): float(v) for name, v in PHASE.findall(match.group(2))}
    else:
        log("  (no 'usage COPY import' log line: did the import take the row path?)")
    stored = pg_exec(db_url, "SELECT COUNT(*) FROM health_usagefact")[0][0]
    if stored != copied:
        raise BenchError(f"the import stored {stored:,} usage rows; the raw copy {copied:,}")
    raw = statistics.median(raw_runs)
    # The same file again: every row conflicts with a stored one and changes nothing.
    pg_exec(db_url, "VACUUM ANALYZE health_usagefact")
    pg_exec(db_url, "CHECKPOINT")
    again_s, again = manage(env, "import_data", "usage", str(usage))
    log(f"  re-import of the same file: {again_s:.2f} s")
    again_phases: dict[str, float] = {}
    match = PHASES.search(again.stdout + again.stderr)
    if match:
        again_phases = {name.strip(): float(v) for name, v in PHASE.findall(match.group(2))}
    if pg_exec(db_url, "SELECT COUNT(*) FROM health_usagefact")[0][0] != copied:
        raise BenchError("the re-import changed the number of stored usage rows")
    return {
        "reimport_s": again_s,
        "reimport_ratio": again_s / raw,
        "reimport_phases": again_phases,
        "rows": copied,
        "csv_mb": usage.stat().st_size / 1e6,
        "raw_copy_s": raw,
        "raw_copy_runs": raw_runs,
        "import_s": seconds,
        "ratio": seconds / raw,
        "phases": phases,
        "startup_s": startup,
        "other_s": seconds - sum(phases.values()) if phases else None,
        "queued_tasks": queued_tasks(redis) - before,
        "import_output": output.strip().splitlines()[-3:],
    }


def measure_in_process(n: int, as_of: date, env: dict[str, str]) -> dict:
    out = OUT / f"measure-{n}.json"
    out.unlink(missing_ok=True)
    seconds, _ = run(
        [str(PY), str(BENCH / "measure.py"), "--as-of", as_of.isoformat(), "--out", str(out)],
        {**env, "LOG_LEVEL": "WARNING"},
    )
    data = json.loads(out.read_text())
    if data["scored"] != n or data["floor_accounts"] != n:
        raise BenchError(
            f"recompute scored {data['scored']} and the floor saw "
            f"{data['floor_accounts']} accounts; expected {n}"
        )
    rec = data["recompute"]
    rec["ratio"] = rec["full_s"] / rec["floor_s"]
    rec["window_ratio"] = rec["full_s"] / rec["window_s"]
    log(
        f"  recompute {rec['full_s']:.3f} s vs floor {rec['floor_s']:.3f} s "
        f"({rec['ratio']:.2f}×), vs one 28/28 window {rec['window_s']:.3f} s "
        f"({rec['window_ratio']:.2f}×); one account median {data['single']['median_ms']:.1f} ms, "
        f"p95 {data['single']['p95_ms']:.1f} ms ({seconds:.0f} s in all)"
    )
    return {"recompute": rec, "single": data["single"]}


def measure_backtest(n: int, as_of: date, env: dict[str, str]) -> dict:
    out = OUT / f"backtest-{n}.json"
    out.unlink(missing_ok=True)
    run(
        [
            str(PY),
            str(BENCH / "measure.py"),
            "--as-of",
            as_of.isoformat(),
            "--backtest-horizon",
            str(BACKTEST_HORIZON),
            "--out",
            str(out),
        ],
        {**env, "LOG_LEVEL": "WARNING"},
    )
    data = json.loads(out.read_text())
    log(
        f"  backtest as of {data['as_of']} over {data['horizon_days']} days: "
        f"{data['median_s']:.2f} s median for {data['book']:,} accounts scored "
        f"({data['bad']:,} went bad)"
    )
    return data


def measure_import_profile(n: int, folder: Path, env: dict[str, str], redis) -> dict:
    out = OUT / f"import-profile-{n}.json"
    out.unlink(missing_ok=True)
    run(
        [
            str(PY),
            str(BENCH / "measure.py"),
            "--import-csv",
            str(folder / "usage.csv"),
            "--out",
            str(out),
        ],
        {**env, "LOG_LEVEL": "WARNING"},
    )
    clear_queue(redis)
    data = json.loads(out.read_text())
    top = data["statements"][0] if data["statements"] else None
    log(
        f"  profiled import: {data['total_s']:.2f} s in process"
        + (f"; slowest statement {top['seconds']:.2f} s: {top['sql'][:60]}…" if top else "")
    )
    return data


def start_stack(n: int, env: dict[str, str], stack: contextlib.ExitStack) -> tuple[Proc, str]:
    worker = Proc(
        "celery worker",
        [
            str(CELERY),
            "-A",
            "cs_portal",
            "worker",
            "--pool=solo",
            "-l",
            "info",
            "-n",
            f"bench{n}-{os.getpid()}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        env,
        OUT / f"worker-{n}.log",
    )
    stack.callback(worker.stop)
    port = free_port()
    web = Proc(
        "web server",
        [str(PY), "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        env,
        OUT / f"web-{n}.log",
    )
    stack.callback(web.stop)
    base = f"http://127.0.0.1:{port}"

    def web_up() -> bool:
        try:
            urllib.request.urlopen(f"{base}/api/v1/openapi.json", timeout=2).close()
        except urllib.error.HTTPError:
            return True  # any HTTP answer means it is serving
        except OSError:
            return False
        return True

    wait_until("the Celery worker to be ready", lambda: " ready." in worker.text(), 90, worker)
    wait_until("the web server to answer", web_up, 90, web, interval=0.2)
    return worker, base


def http(
    method: str, url: str, token: str, body: bytes | None = None, content_type: str | None = None
) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {token}"}
    if content_type:
        headers["Content-Type"] = content_type
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def measure_freshness(
    n: int,
    as_of: date,
    db_url: str,
    env: dict[str, str],
    redis,
    token: str,
    folder: Path,
    meta: dict,
) -> dict:
    backlog = queued_tasks(redis)
    with contextlib.ExitStack() as stack:
        started = time.perf_counter()
        worker, base = start_stack(n, env, stack)
        log(f"  worker and web server ready in {time.perf_counter() - started:.1f} s")

        # The bulk import queued a rescore of the whole book: let the worker finish it first.
        drain = time.perf_counter()
        wait_until(
            f"the worker to drain {backlog} queued task(s)",
            lambda: (
                len(ANY_TASK_DONE.findall(worker.text())) >= backlog and queued_tasks(redis) == 0
            ),
            1800,
            worker,
            interval=0.2,
        )
        drained = {
            "tasks": backlog,
            "wait_s": time.perf_counter() - drain,
            "task_s": sum(float(s) for s in TASK_DONE.findall(worker.text()) if s),
        }
        if backlog:
            log(f"  worker drained the import's {backlog} task(s) in {drained['wait_s']:.1f} s")

        candidates = [
            row[0]
            for row in pg_exec(
                db_url,
                """
            SELECT s.account_id FROM health_healthsnapshot s
            WHERE s.date = %s AND s.band <> 'red' AND s.overrides::text = '[]'
            ORDER BY s.account_id""",
                [as_of],
            )
        ]
        if len(candidates) < FRESHNESS_RUNS:
            raise BenchError(f"only {len(candidates)} accounts without a red band to collapse")
        picks = [
            candidates[(i + 1) * len(candidates) // (FRESHNESS_RUNS + 1)]
            for i in range(FRESHNESS_RUNS)
        ]
        runs = []
        with pg_connect(db_url) as conn:
            for i, account_id in enumerate(picks, start=1):
                runs.append(one_freshness_run(conn, account_id, as_of, base, token, worker))
                r = runs[-1]
                log(
                    f"  freshness run {i}/{FRESHNESS_RUNS}: {fmt(r['seconds'])} s "
                    f"(POST {r['post_s']:.3f} s, worker task {fmt(r['task_s'], 3)} s, "
                    f"score {r['before']}→{r['after']})"
                )
        feed = measure_daily_feed(n, folder, meta, db_url, base, token, worker)
    seconds = [r["seconds"] for r in runs]
    complete = [s for s in seconds if s is not None]
    return {
        "runs": runs,
        "daily_feed": feed,
        "backlog": drained,
        "median_s": statistics.median(complete) if complete else None,
        "max_s": max(complete) if len(complete) == len(seconds) else None,
    }


def fmt(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def one_freshness_run(
    conn, account_id: int, as_of: date, base: str, token: str, worker: Proc
) -> dict:
    with conn.cursor() as cur:
        cur.execute("SELECT external_id FROM accounts_account WHERE id = %s", [account_id])
        external_id = cur.fetchone()[0]
        cur.execute(
            """
            SELECT f.date, f.metric, f.value, d.product, d.chain, d.dataset, d.reason
            FROM health_usagefact f JOIN health_usagedims d ON d.id = f.dims_id
            WHERE f.account_id = %s AND f.metric = 'units' AND f.date > %s AND f.date <= %s
            ORDER BY f.date""",
            [account_id, as_of - timedelta(days=7), as_of],
        )
        facts = cur.fetchall()
        # The worker scores the live day (yesterday, UTC) with usage through the newest day
        # landed, which is as_of until the daily feed (section 6) pushes the days after it.
        live = today_utc() - timedelta(days=1)
        cur.execute(
            "SELECT score, band FROM health_healthsnapshot WHERE account_id = %s AND date = %s",
            [account_id, live],
        )
        before_score, before_band = cur.fetchone()
    body = io.StringIO()
    writer = csv.writer(body, lineterminator="\n")
    writer.writerow(["account", "date", "metric", "value", "product", "chain", "dataset", "reason"])
    for day, metric, value, product, chain, dataset, reason in facts:
        writer.writerow(
            [
                external_id,
                day.isoformat(),
                metric,
                f"{value * 0.1:.1f}",
                product,
                chain,
                dataset,
                reason,
            ]
        )
    tasks_before = len(TASK_DONE.findall(worker.text()))

    wall = datetime.now(UTC)
    started = time.perf_counter()
    status, answer = http(
        "POST", f"{base}/api/v1/import/usage", token, body.getvalue().encode(), "text/csv"
    )
    post_s = time.perf_counter() - started
    if status != 200 or not answer.get("ok") or answer.get("updated") != len(facts):
        raise BenchError(f"POST /api/v1/import/usage answered {status}: {answer}")

    def rescored():
        with conn.cursor() as cur:
            cur.execute(
                "SELECT score, band, overrides::text, computed_at "
                "FROM health_healthsnapshot WHERE account_id = %s AND date = %s",
                [account_id, live],
            )
            score, band, overrides, computed_at = cur.fetchone()
        if computed_at > wall and band == "red" and "sharp_drop" in overrides:
            return time.perf_counter() - started, score, band
        return None

    try:
        seconds, score, band = wait_until(
            "the collapse to be scored", rescored, 60, worker, interval=POLL
        )
    except BenchError as exc:
        return {
            "account": external_id,
            "seconds": None,
            "post_s": post_s,
            "task_s": None,
            "before": f"{before_score} {before_band}",
            "after": None,
            "error": str(exc),
        }
    done = wait_until(
        "the worker to log the task",
        lambda: (
            TASK_DONE.findall(worker.text())
            if len(TASK_DONE.findall(worker.text())) > tasks_before
            else None
        ),
        10,
        worker,
    )
    status, shown = http("GET", f"{base}/api/v1/accounts/{external_id}/health", token)
    if status != 200 or shown.get("band") != "red":
        raise BenchError(f"the API does not serve the new score of {external_id}: {status} {shown}")
    return {
        "account": external_id,
        "seconds": seconds,
        "post_s": post_s,
        "task_s": float(done[-1]) if done[-1] else None,
        "before": f"{before_score} {before_band}",
        "after": f"{score} {band}",
    }


def measure_daily_feed(
    n: int, folder: Path, meta: dict, db_url: str, base: str, token: str, worker: Proc
) -> dict:
    """The daily feed end to end: each held-back day, for the whole book, POSTed to the API;
    timed until the worker has scored the book and the API serves the alerts it raised."""
    runs = []
    with pg_connect(db_url) as conn:
        for i, (day, rows) in enumerate(meta.get("feed", {}).items(), start=1):
            path = folder / "feed" / f"{day}.csv"
            try:
                runs.append(one_feed_run(conn, path, rows, base, token, worker))
            except BenchError as exc:
                runs.append({"day": day, "rows": rows, "seconds": None, "error": str(exc)})
            r = runs[-1]
            log(
                f"  daily feed {i}/{len(meta['feed'])} ({day}, {rows:,} rows): "
                f"{fmt(r['seconds'])} s (POST {fmt(r.get('post_s'), 3)} s, worker task "
                f"{fmt(r.get('task_s'), 3)} s, {r.get('scored', '—')} scored, "
                f"{r.get('alerts', '—')} alerts)"
            )
    complete = [r["seconds"] for r in runs if r["seconds"] is not None]
    return {
        "runs": runs,
        "median_s": statistics.median(complete) if complete else None,
        "p95_s": nearest_p95(complete) if complete and len(complete) == len(runs) else None,
    }


def nearest_p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, -(-95 * len(ordered) // 100) - 1)]


def one_feed_run(conn, path: Path, rows: int, base: str, token: str, worker: Proc) -> dict:
    body = path.read_bytes()
    relays_before = len(RELAY_SCORED.findall(worker.text()))
    wall = datetime.now(UTC)
    started = time.perf_counter()
    status, answer = http("POST", f"{base}/api/v1/import/usage", token, body, "text/csv")
    post_s = time.perf_counter() - started
    if status != 200 or not answer.get("ok") or answer.get("created") != rows:
        raise BenchError(f"POST /api/v1/import/usage answered {status}: {str(answer)[:300]}")

    def scored():
        done = [(float(t), int(k)) for t, k in RELAY_SCORED.findall(worker.text())[relays_before:]]
        done = [d for d in done if d[1] > 0]
        return done[-1] if done else None

    task_s, accounts = wait_until("the daily feed to be scored", scored, 300, worker, interval=POLL)
    scored_s = time.perf_counter() - started
    with conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM playbooks_alert WHERE created_at >= %s", [wall])
        raised = cur.fetchone()[0]
        cur.execute("SELECT COUNT(*) FROM health_healthsnapshot WHERE computed_at >= %s", [wall])
        snapshots = cur.fetchone()[0]
    since = urllib.parse.quote(wall.isoformat())
    status, listed = http("GET", f"{base}/api/v1/alerts?since={since}&limit=1000", token)
    served = len(listed) if isinstance(listed, list) else len(listed.get("items", []))
    if status != 200 or served != min(raised, 1000):
        raise BenchError(f"the API serves {served} of the {raised} new alerts ({status})")
    return {
        "day": path.stem,
        "rows": rows,
        "seconds": time.perf_counter() - started,
        "scored_s": scored_s,
        "post_s": post_s,
        "task_s": task_s,
        "scored": accounts,
        "snapshots": snapshots,
        "alerts": raised,
    }


def base_recompute(result: dict) -> dict:
    if not result.get("recompute"):
        raise BenchError("no full-book recompute on the 180-day book to compare with")
    return result["recompute"]


def measure_history(n: int, pg_url: str, env: dict[str, str], redis, base: dict) -> dict:
    """The same book with HISTORY_DAYS of usage instead of DAYS, in its own database: the
    full-book recompute there against the one measured on the DAYS-day book."""
    folder, meta = book(n, days=HISTORY_DAYS)
    name = f"cs_portal_bench_{n}_h{HISTORY_DAYS}"
    admin, db_url = with_database(pg_url, "postgres"), with_database(pg_url, name)
    env = {**env, "DATABASE_URL": db_url}
    pg_exec(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    pg_exec(admin, f'CREATE DATABASE "{name}"')
    try:
        manage(env, "migrate", "--noinput")
        for kind in ("users", "accounts", "contracts"):
            manage(env, "import_data", kind, str(folder / f"{kind}.csv"))
        import_s, _ = manage(env, "import_data", "usage", str(folder / "usage.csv"))
        pg_exec(db_url, "VACUUM ANALYZE health_usagefact")
        out = OUT / f"history-{n}.json"
        out.unlink(missing_ok=True)
        run(
            [str(PY), str(BENCH / "measure.py"), "--as-of", meta["as_of"], "--full-only"]
            + ["--out", str(out)],
            {**env, "LOG_LEVEL": "WARNING"},
        )
        data = json.loads(out.read_text())
    finally:
        clear_queue(redis)
        pg_exec(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    result = {
        "days": HISTORY_DAYS,
        "base_days": DAYS,
        "rows": meta["usage_rows"],
        "import_s": import_s,
        "full_s": data["full_s"],
        "window_s": data["window_s"],
        "base_full_s": base["full_s"],
        "base_window_s": base["window_s"],
        "ratio": data["full_s"] / base["full_s"],
    }
    log(
        f"  {HISTORY_DAYS} days of history: recompute {data['full_s']:.3f} s vs "
        f"{base['full_s']:.3f} s with {DAYS} ({result['ratio']:.2f}×)"
    )
    return result


# ---------------------------------------------------------------------------------------------
# One size


def bench_size(
    n: int,
    pg_url: str,
    redis_url: str,
    keep: bool,
    profile_import: bool,
    history_sizes: tuple[int, ...] = (),
) -> dict:
    result: dict = {"accounts": n, "errors": [], "load": os.getloadavg()[0]}
    folder, meta = book(n)
    as_of = date.fromisoformat(meta["as_of"])
    result["usage_rows"] = meta["usage_rows"]
    name = f"cs_portal_bench_{n}"
    admin = with_database(pg_url, "postgres")
    db_url = with_database(pg_url, name)
    env = {k: v for k, v in os.environ.items() if k not in ("SQLITE_PATH",)}
    env.update(
        {
            "DATABASE_URL": db_url,
            "REDIS_URL": redis_url,
            "PYTHONUNBUFFERED": "1",
            "LOG_LEVEL": "INFO",
            "DEBUG": "false",
            # The bulk history files (up to ~600 MB) are one-off loads, above the 200 MB a
            # single upload may be; the daily feed stays far below it.
            "IMPORT_MAX_BYTES": str(4 * 1024**3),
        }
    )
    redis = redis_client(redis_url)
    clear_queue(redis)
    pg_exec(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    pg_exec(admin, f'CREATE DATABASE "{name}"')
    try:
        setup: dict[str, float] = {}
        setup["migrate_s"], _ = manage(env, "migrate", "--noinput")
        for kind in ("users", "accounts", "contracts"):
            setup[f"{kind}_s"], _ = manage(env, "import_data", kind, str(folder / f"{kind}.csv"))
        _, done = manage(env, "create_api_token", MANAGER)
        token = done.stdout.strip().splitlines()[-1]
        clear_queue(redis)  # the accounts and contracts imports may have queued work
        result["setup"] = setup
        log(
            f"{n:,} accounts: database {name} ready ({meta['usage_rows']:,} usage rows to load; "
            f"load average {os.getloadavg()[0]:.2f})"
        )

        steps = [
            ("ingest", lambda: measure_ingest(n, folder, db_url, env, redis)),
            ("vacuum", lambda: pg_exec(db_url, "VACUUM ANALYZE health_usagefact")),
            ("in-process", lambda: measure_in_process(n, as_of, env)),
            # Before freshness, which rewrites a few accounts' last days of usage.
            ("backtest", lambda: measure_backtest(n, as_of, env)),
            (
                "freshness",
                lambda: measure_freshness(n, as_of, db_url, env, redis, token, folder, meta),
            ),
        ]
        if n in history_sizes:
            steps.append(
                (
                    "history",
                    lambda: measure_history(n, pg_url, env, redis, base_recompute(result)),
                )
            )
        if profile_import:  # last: it empties and reloads the fact table
            steps.append(("import profile", lambda: measure_import_profile(n, folder, env, redis)))
        for step, fn in steps:
            if step != "ingest" and "ingest" not in result:
                break  # nothing to measure without the usage
            try:
                value = fn()
            except (BenchError, subprocess.TimeoutExpired, OSError) as exc:
                log(f"  {step} failed: {exc}")
                result["errors"].append(f"{step}: {str(exc).splitlines()[0][:300]}")
                continue
            if step == "ingest":
                result["ingest"] = value
            elif step == "in-process":
                result.update(value)
            elif step == "backtest":
                result["backtest"] = value
            elif step == "freshness":
                result["freshness"] = value
            elif step == "history":
                result["history"] = value
            elif step == "import profile":
                result["import_profile"] = value
    finally:
        clear_queue(redis)
        if keep:
            log(f"  kept database {name} (--keep-db)")
        else:
            pg_exec(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return result


# ---------------------------------------------------------------------------------------------
# Report context


def machine(pg_version: str) -> str:
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        kb = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
        ram = f", {kb / 1024 / 1024:.1f} GiB RAM"
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{os.cpu_count()} cores{f' ({cpu})' if cpu else ''}{ram}, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}, "
        f"PostgreSQL {pg_version}; load average at start {load}"
    )


def code_version() -> str:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            text=True,
            capture_output=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            text=True,
            capture_output=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return f"commit `{commit}`" + (" with uncommitted changes" if dirty else "")


def command(argv: list[str]) -> str:
    sizes = os.environ.get("BENCH_SIZES")
    if os.environ.get("MAKELEVEL") and not argv:
        return "make bench" + (f" BENCH_SIZES={sizes}" if sizes else "")
    prefix = f"BENCH_SIZES={sizes} " if sizes and not argv else ""
    return prefix + " ".join([".venv/bin/python bench/run.py", *argv]).strip()


# ---------------------------------------------------------------------------------------------


def interrupted(signum, frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "sizes", nargs="*", help="numbers of accounts (default: BENCH_SIZES or 1000,5000)"
    )
    parser.add_argument("--keep-db", action="store_true", help="do not drop the databases")
    parser.add_argument("--no-doc", action="store_true", help="do not rewrite the doc")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument(
        "--profile-import",
        action="store_true",
        help="also time every SQL statement of one more usage import "
        "(in-process, after the other measurements)",
    )
    parser.add_argument(
        "--history-sizes",
        default=os.environ.get("BENCH_HISTORY_SIZES", "5000"),
        help=f"sizes that also measure a {HISTORY_DAYS}-day book against the {DAYS}-day one "
        "(default 5000; BENCH_HISTORY_SIZES)",
    )
    parser.add_argument(
        "--from-json",
        metavar="PATH",
        help="only re-render the table and the doc from a saved results file",
    )
    args = parser.parse_args()
    if args.from_json:
        saved = json.loads(Path(args.from_json).read_text())
        print(report.console(saved["results"]))
        if not args.no_doc:
            report.write_doc(DOC, report.markdown(saved["results"], saved["meta"]))
            log(f"wrote {DOC.relative_to(ROOT)}")
        return 0
    sizes = parse_sizes(args.sizes)
    history_sizes = parse_sizes([args.history_sizes]) if args.history_sizes else []
    pg_url = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432")
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
    # SIGTERM (e.g. from a CI timeout) unwinds like Ctrl-C: subprocesses stop, databases drop.
    signal.signal(signal.SIGTERM, interrupted)
    pg_version = preflight(pg_url, redis_url)
    OUT.mkdir(parents=True, exist_ok=True)
    meta = {
        "date": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "machine": machine(pg_version),
        "code": code_version(),
        "command": command(args.sizes),
        "days": DAYS,
        "pg_version": pg_version,
        "as_of": (today_utc() - timedelta(days=FEED_DAYS + 1)).isoformat(),
        "feed_days": FEED_DAYS,
        "history_days": HISTORY_DAYS,
    }
    log(f"sizes {', '.join(f'{n:,}' for n in sizes)}; {meta['machine']}")

    results = []
    for n in sizes:
        started = time.perf_counter()
        results.append(
            bench_size(
                n, pg_url, redis_url, args.keep_db, args.profile_import, tuple(history_sizes)
            )
        )
        log(f"{n:,} accounts done in {time.perf_counter() - started:.0f} s")
    rows = sum(r.get("usage_rows", 0) for r in results)
    meta["rows_per_account_day"] = rows / sum(r["accounts"] * DAYS for r in results)

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (OUT / f"results-{stamp}.json").write_text(
        json.dumps({"meta": meta, "results": results}, indent=2, default=str)
    )
    print()
    print(report.console(results))
    if not args.no_doc:
        report.write_doc(DOC, report.markdown(results, meta))
        log(f"wrote {DOC.relative_to(ROOT)} and bench/out/results-{stamp}.json")
    errors = [e for r in results for e in r["errors"]]
    missed = [k for r in results for k, v in report.verdicts(r).items() if v is False]
    for e in errors:
        log(f"error: {e}")
    if errors:
        return 1
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt as exc:
        log(f"interrupted ({exc or 'Ctrl-C'}); subprocesses stopped, bench databases dropped")
        sys.exit(130)
