"""Load: 50 CSMs and managers on a 5,000-account book served by gunicorn, driven by locust.

    make bench-load                                  # 50 users, 60 s, 5,000 accounts
    make bench-load LOAD_USERS=80 LOAD_SECONDS=120
    .venv/bin/python bench/load.py --accounts 5000 --users 50 --seconds 60

Builds the book with bench/gen.py (the same generator as `make bench`, reused from bench/out/),
imports it into a fresh PostgreSQL database (BENCH_PG_URL, default
postgres://postgres@127.0.0.1:5432) with ten CSMs owning it and two managers, scores the last
week, raises the alerts, then serves it with gunicorn (3 workers, DEBUG off, Redis cache in
BENCH_SERVE_REDIS_URL, default database 9) on 127.0.0.1 and runs bench/locustfile.py headless
against it. Everything is loopback; gunicorn stops and the database drops even on failure.

Afterwards it replays each page once in-process as a CSM and a manager with Django's query
log (bench/probe.py) so a slow endpoint comes with its query count and SQL time. It writes
the figures between `<!-- load:start -->` and `<!-- load:end -->` in docs/benchmarks.md and
exits 1 if p95 is 300 ms or more or any request failed.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import report
from run import (
    DOC,
    OUT,
    PY,
    ROOT,
    BenchError,
    book,
    code_version,
    log,
    machine,
    manage,
    pg_exec,
    with_database,
)
from serve import PG_URL, REDIS_URL, WORKERS, main_exit, served

LOCUST = PY.parent / "locust"
HERE = OUT / "load"
PASSWORD = "bench-load-password"
CSMS = 10
MANAGERS = 2
SCORED_DAYS = 7
P95_TARGET_MS = 300
LOGIN_BUDGET_S = 300  # at most this long for every user to have logged in
START, END = "<!-- load:start -->", "<!-- load:end -->"

# Runs inside `manage.py shell`: passwords, one API token per person, who owns what.
PEOPLE = """
import json
from accounts.models import Account, User
from accounts.services import api_token_create
users = list(User.objects.filter(email__endswith="@bench.csportal.test").order_by("email"))
for user in users:
    user.set_password({password!r})
User.objects.bulk_update(users, ["password"])
owned = {{}}
for csm_id, ext in Account.objects.exclude(csm=None).values_list("csm_id", "external_id"):
    owned.setdefault(csm_id, []).append(ext)
sample = Account.objects.order_by("?").values_list("external_id", flat=True)[:200]
people = {{"password": {password!r}, "csm": [], "manager": [], "sample_accounts": list(sample)}}
for user in users:
    people[user.role].append({{"email": user.email, "token": api_token_create(user=user),
                               "accounts": owned.get(user.id, [])}})
open({path!r}, "w").write(json.dumps(people))
"""


def people_files(folder: Path) -> tuple[Path, Path]:
    """users.csv with the CSMs and managers, and accounts.csv with a CSM on every account."""
    HERE.mkdir(parents=True, exist_ok=True)
    csms = [f"bench-csm-{i:02d}@bench.csportal.test" for i in range(CSMS)]
    users = HERE / "users.csv"
    with users.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["email", "role", "name"])
        w.writerows([email, "csm", f"Bench CSM {i}"] for i, email in enumerate(csms))
        for i in range(MANAGERS):
            w.writerow([f"bench-manager-{i:02d}@bench.csportal.test", "manager", f"Manager {i}"])
    accounts = HERE / "accounts.csv"
    with (folder / "accounts.csv").open(newline="") as src, accounts.open("w", newline="") as f:
        rows = csv.reader(src)
        w = csv.writer(f)
        w.writerow([*next(rows), "csm"])
        for i, row in enumerate(rows):
            w.writerow([*row, csms[i % CSMS]])
    return users, accounts


def import_score_alert(env: dict[str, str], steps: list[tuple[str, Path]], as_of: date) -> None:
    """Import each (kind, CSV) in order, score the last SCORED_DAYS days, raise the alerts."""
    for kind, path in steps:
        seconds, _ = manage(env, "import_data", kind, str(path))
        log(f"  imported {kind} ({path.name}) in {seconds:.1f} s")
    since = as_of - timedelta(days=SCORED_DAYS - 1)
    seconds, _ = manage(
        env, "recompute_health", "--since", since.isoformat(), "--as-of", as_of.isoformat()
    )
    log(f"  scored {SCORED_DAYS} days in {seconds:.1f} s")
    seconds, done = manage(
        env, "raise_alerts", "--as-of", as_of.isoformat(), "--since-days", str(SCORED_DAYS)
    )
    log(f"  raised alerts in {seconds:.1f} s: {done.stdout.strip()[-200:]}")


def seed_book(n: int, as_of: date, folder: Path):
    def seed(env: dict[str, str]) -> None:
        users, accounts = people_files(folder)
        steps = [
            ("users", users),
            ("accounts", accounts),
            ("contracts", folder / "contracts.csv"),
            ("usage", folder / "usage.csv"),
        ]
        import_score_alert(env, steps, as_of)
        path = HERE / "people.json"
        manage(env, "shell", "-c", PEOPLE.format(password=PASSWORD, path=str(path)))
        counts = pg_exec(
            env["DATABASE_URL"],
            "SELECT (SELECT COUNT(*) FROM accounts_account),"
            " (SELECT COUNT(*) FROM health_usagefact),"
            " (SELECT COUNT(*) FROM health_healthsnapshot),"
            " (SELECT COUNT(*) FROM playbooks_alert)",
        )[0]
        if counts[0] != n:
            raise BenchError(f"the book holds {counts[0]} accounts, expected {n}")
        log(
            f"  book ready: {counts[0]:,} accounts, {counts[1]:,} usage rows, "
            f"{counts[2]:,} snapshots, {counts[3]:,} alerts"
        )
        seed.counts = counts

    return seed


def run_locust(base: str, users: int, spawn_rate: int, seconds: int, env: dict) -> Path:
    prefix = HERE / f"locust-{users}"
    for old in [*HERE.glob(f"{prefix.name}_*.csv"), logins_file(users)]:
        old.unlink(missing_ok=True)
    argv = [
        str(LOCUST),
        "-f",
        str(Path(__file__).with_name("locustfile.py")),
        "--headless",
        "--host",
        base,
        "-u",
        str(users),
        "-r",
        str(spawn_rate),
        # The locustfile stops the run `seconds` after the last login; this is the outer bound.
        "--run-time",
        f"{seconds + LOGIN_BUDGET_S}s",
        "--stop-timeout",
        "10",
        "--csv",
        str(prefix),
        "--only-summary",
        "--loglevel",
        "WARNING",
    ]
    log(f"locust: {users} users, {spawn_rate}/s spawn, {seconds} s after the last login")
    done = subprocess.run(
        argv,
        cwd=ROOT,
        env={
            **env,
            "LOAD_PEOPLE": str(HERE / "people.json"),
            "LOAD_USER_COUNT": str(users),
            "LOAD_SECONDS": str(seconds),
            "LOAD_LOGIN_OUT": str(logins_file(users)),
        },
        capture_output=True,
        text=True,
        timeout=seconds + LOGIN_BUDGET_S + 120,
    )
    (HERE / f"{prefix.name}.log").write_text(done.stdout + done.stderr)
    stats = Path(f"{prefix}_stats.csv")
    if not stats.exists():
        raise BenchError(f"locust wrote no statistics:\n{(done.stdout + done.stderr)[-3000:]}")
    return prefix


def logins_file(users: int) -> Path:
    return HERE / f"logins-{users}.json"


def read_stats(prefix: Path) -> tuple[list[dict], dict, list[dict]]:
    with Path(f"{prefix}_stats.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    endpoints = [r for r in rows if r["Name"] != "Aggregated" and int(r["Request Count"])]
    total = next(r for r in rows if r["Name"] == "Aggregated")
    failures_path = Path(f"{prefix}_failures.csv")
    failures = (
        list(csv.DictReader(failures_path.open(newline=""))) if failures_path.exists() else []
    )
    return endpoints, total, failures


def probe(env: dict[str, str]) -> list[dict]:
    out = HERE / "probe.json"
    out.unlink(missing_ok=True)
    done = subprocess.run(
        [str(PY), str(Path(__file__).with_name("probe.py")), "--out", str(out)],
        cwd=ROOT,
        env={**env, "LOAD_PEOPLE": str(HERE / "people.json")},
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        log(f"probe failed:\n{done.stderr[-2000:]}")
        return []
    return json.loads(out.read_text())


def ms(value: str | float) -> str:
    return f"{float(value):,.0f}"


def markdown(meta: dict, probes: list) -> str:
    users = meta["users"]
    endpoints, total, failures = read_stats(HERE / f"locust-{users}")
    path = logins_file(users)
    if not path.exists():
        raise BenchError(f"the users never all logged in (no {path.name}); see {HERE}")
    logins = json.loads(path.read_text())
    p95 = float(total["95%"])
    errors = int(total["Failure Count"])
    passed = p95 < P95_TARGET_MS and errors == 0
    lines = [
        "## Load: 50 users on a 5,000-account book",
        "",
        f"- **Date**: {meta['date']}",
        f"- **Machine**: {meta['machine']}",
        f"- **Code**: {meta['code']}",
        f"- **Command**: `{meta['command']}`",
        f"- **Book**: {meta['book']}",
        f"- **Server**: gunicorn {WORKERS} sync workers on 127.0.0.1, `DEBUG=false`, Redis cache "
        "and broker on 127.0.0.1 (no Celery worker: nothing the pages do waits for one), "
        "PostgreSQL on 127.0.0.1; locust runs on the same 2 cores.",
        f"- **Load**: {meta['load']}",
        "- **Machine load average** (1/5/15 min) when locust started: "
        + " / ".join(f"{x:.2f}" for x in meta["loadavg_before"])
        + "; when it ended: "
        + " / ".join(f"{x:.2f}" for x in meta["loadavg_after"])
        + " (2 cores: above 2 the machine was busy with more than this run).",
        "",
        f"**Target: p95 < {P95_TARGET_MS} ms and 0 errors. Result: p50 {ms(total['50%'])} ms, "
        f"p95 {ms(total['95%'])} ms, p99 {ms(total['99%'])} ms, {errors} errors in "
        f"{int(total['Request Count']):,} requests ({float(total['Requests/s']):.1f} requests/s)"
        f" — {'PASS' if passed else 'MISS'}.**",
        "",
        "| endpoint | method | requests | errors | p50 ms | p95 ms | p99 ms | max ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(endpoints, key=lambda r: -float(r["95%"])):
        lines.append(
            f"| `{r['Name']}` | {r['Type']} | {int(r['Request Count']):,} | "
            f"{r['Failure Count']} | {ms(r['50%'])} | {ms(r['95%'])} | {ms(r['99%'])} | "
            f"{ms(r['Max Response Time'])} |"
        )
    lines.append(
        f"| **all** | | {int(total['Request Count']):,} | {total['Failure Count']} | "
        f"{ms(total['50%'])} | {ms(total['95%'])} | {ms(total['99%'])} | "
        f"{ms(total['Max Response Time'])} |"
    )
    if failures:
        lines += ["", "Failures:", ""]
        lines += [
            f"- `{f['Method']} {f['Name']}` ×{f['Occurrences']}: {f['Error'][:200]}"
            for f in failures
        ]
    lines += [
        "",
        f"The login phase before the window ({logins['seconds']:.0f} s from the first user "
        "spawned to the last one in; a login is one PBKDF2 hash of 1.5 million rounds):",
        "",
        "| request | method | requests | errors | p50 ms | p95 ms | p99 ms | max ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| `{e['name']}` | {e['method']} | {e['requests']} | {e['errors']} | {ms(e['p50'])} | "
        f"{ms(e['p95'])} | {ms(e['p99'])} | {ms(e['max'])} |"
        for e in logins["entries"]
    ]
    if meta["also_users"]:
        lines += [
            "",
            "The same scenario with fewer users, on the same database right after:",
            "",
            "| users | requests | requests/s | errors | p50 ms | p95 ms | p99 ms | result |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for n in meta["also_users"]:
            _, t, _ = read_stats(HERE / f"locust-{n}")
            ok = float(t["95%"]) < P95_TARGET_MS and int(t["Failure Count"]) == 0
            lines.append(
                f"| {n} | {int(t['Request Count']):,} | {float(t['Requests/s']):.1f} | "
                f"{t['Failure Count']} | {ms(t['50%'])} | {ms(t['95%'])} | {ms(t['99%'])} | "
                f"{'PASS' if ok else 'MISS'} |"
            )
    if probes:
        lines += [
            "",
            "Each page once more, in-process and unloaded (`bench/probe.py`: Django's test client"
            " with the query log on, after one warm-up call), to show where a page's time goes:",
            "",
            "| endpoint | as | queries | SQL ms | total ms |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| `{p['name']}` | {p['role']} | {p['queries']} | {p['sql_ms']:.1f} | "
            f"{p['total_ms']:.1f} |"
            for p in sorted(probes, key=lambda p: -p["total_ms"])
        ]
        for p in [p for p in probes if p.get("explain")]:
            q = p["slowest"][0]
            lines += [
                "",
                f"Slowest query of `{p['name']}` as {p['role']} ({float(q['time']) * 1000:.0f} ms"
                f" of the page's {p['sql_ms']:.0f} ms of SQL), `EXPLAIN (ANALYZE, BUFFERS)`, "
                "top of the plan:",
                "",
                "```",
                f"{q['sql'][:400]}…",
                "",
                *p["explain"][:25],
                "```",
            ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--accounts", type=int, default=5000)
    parser.add_argument("--users", type=int, default=50, help="the run held to the target")
    parser.add_argument(
        "--also-users",
        default="10",
        help="comma-separated smaller runs on the same book afterwards, for comparison ('' none)",
    )
    parser.add_argument("--spawn-rate", type=int, default=10)
    parser.add_argument(
        "--seconds", type=int, default=60, help="the measured window, after the last login"
    )
    parser.add_argument("--no-doc", action="store_true", help="do not rewrite the doc")
    parser.add_argument(
        "--from-saved", action="store_true", help="only re-render the doc from bench/out/load/"
    )
    args = parser.parse_args()
    if args.from_saved:
        meta = json.loads((HERE / "meta.json").read_text())
        probes = json.loads((HERE / "probe.json").read_text())
        return finish(meta, probes, args.no_doc)
    pg_version = pg_exec(with_database(PG_URL, "postgres"), "SHOW server_version")[0][0]
    folder, gen = book(args.accounts)
    as_of = date.fromisoformat(gen["today"]) - timedelta(days=1)
    seed = seed_book(args.accounts, as_of, folder)
    meta = {
        "date": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "machine": machine(pg_version),
        "code": code_version(),
        "command": (
            "make bench-load"
            if os.environ.get("MAKELEVEL")
            else " ".join([".venv/bin/python bench/load.py", *sys.argv[1:]])
        ),
        "users": args.users,
        "also_users": [int(n) for n in args.also_users.split(",") if n.strip()],
        "load": f"{args.users} users ({CSMS} CSM logins shared by four in five users, "
        f"{MANAGERS} manager logins by the rest), spawned {args.spawn_rate}/s, 0.5–1.5 s think "
        f"time; each logs in once through the login form with its CSRF token, and the "
        f"{args.seconds} s measured window starts when the last one is in (see the logins below)",
    }
    started = time.perf_counter()
    with served(f"cs_portal_load_{args.accounts}", seed) as (base, env, web):
        counts = seed.counts
        meta["book"] = (
            f"`bench/gen.py`, {counts[0]:,} accounts over {CSMS} CSMs, {counts[1]:,} usage rows "
            f"({gen['days']} days), {counts[2]:,} health snapshots ({SCORED_DAYS} days scored "
            f"as of {as_of}), {counts[3]:,} alerts; a fresh database, dropped afterwards"
        )
        meta["loadavg_before"] = os.getloadavg()
        run_locust(base, args.users, args.spawn_rate, args.seconds, env)
        meta["loadavg_after"] = os.getloadavg()
        for n in meta["also_users"]:
            run_locust(base, n, args.spawn_rate, args.seconds, env)
        if not web.alive():
            raise BenchError(f"gunicorn died during the run:\n{web.tail()}")
        probes = probe(env)
    (HERE / "meta.json").write_text(json.dumps(meta, indent=2))
    log(f"measured in {time.perf_counter() - started:.0f} s (Redis {REDIS_URL})")
    return finish(meta, probes, args.no_doc)


def finish(meta: dict, probes: list, no_doc: bool) -> int:
    text = markdown(meta, probes)
    print(text)
    if not no_doc:
        report.write_doc(DOC, text, start=START, end=END)
        log(f"wrote {DOC.relative_to(ROOT)}")
    _, total, _ = read_stats(HERE / f"locust-{meta['users']}")
    return 0 if float(total["95%"]) < P95_TARGET_MS and int(total["Failure Count"]) == 0 else 1


if __name__ == "__main__":
    main_exit(main)
