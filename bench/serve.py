"""A throwaway PostgreSQL database served by gunicorn on 127.0.0.1, for the load and fuzz runs.

`served(name, seed)` creates the database, migrates it, lets `seed(env)` fill it, starts
gunicorn (3 workers, DEBUG off, the Redis cache in a database number of its own) and yields
(base URL, env, gunicorn). Whatever happens, it stops gunicorn and drops the database on the way
out; SIGTERM and Ctrl-C unwind the same way.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

from run import (
    OUT,
    PY,
    Proc,
    clear_queue,
    free_port,
    log,
    manage,
    pg_exec,
    redis_client,
    wait_until,
    with_database,
)

GUNICORN = PY.parent / "gunicorn"
PG_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432")
# The load and fuzz runs' own Redis database (the other benchmarks use 12).
REDIS_URL = os.environ.get("BENCH_SERVE_REDIS_URL", "redis://127.0.0.1:6379/9")
WORKERS = 3


def interrupted(signum, frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main_exit(main: Callable[[], int]) -> None:
    """Exit with main()'s status; Ctrl-C or SIGTERM has already unwound `served` by then."""
    try:
        sys.exit(main())
    except KeyboardInterrupt as exc:
        log(f"interrupted ({exc or 'Ctrl-C'}); gunicorn stopped, database dropped")
        sys.exit(130)


def base_env(db_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "SQLITE_PATH"}
    env.update(
        {
            "DATABASE_URL": db_url,
            "REDIS_URL": REDIS_URL,
            "DEBUG": "false",
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
            # Nothing leaves the machine: no Slack, no nudge webhook, mail to the console.
            "SLACK_WEBHOOK_URL": "",
            "NUDGE_WEBHOOK_URL": "",
            "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend",
        }
    )
    return env


def forget_redis() -> None:
    """Drop what an earlier run left in this Redis database: queued tasks and cache entries
    (Django's cache keys start with ':<version>:'), never anything outside it."""
    client = redis_client(REDIS_URL)
    clear_queue(client)
    for key in client.scan_iter(match=":*", count=1000):
        client.delete(key)


def gunicorn(env: dict[str, str], log_path: Path) -> tuple[Proc, str]:
    port = free_port()
    proc = Proc(
        "gunicorn",
        [
            str(GUNICORN),
            "cs_portal.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(WORKERS),
            "--timeout",
            "60",
            "--access-logfile",
            "-",
        ],
        env,
        log_path,
    )
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            urllib.request.urlopen(f"{base}/healthz", timeout=2).close()
        except urllib.error.HTTPError:
            return True
        except OSError:
            return False
        return True

    try:
        wait_until("gunicorn to answer", up, 60, proc, interval=0.2)
    except BaseException:
        proc.stop()
        raise
    return proc, base


@contextlib.contextmanager
def served(
    name: str, seed: Callable[[dict[str, str]], None]
) -> Iterator[tuple[str, dict[str, str], Proc]]:
    signal.signal(signal.SIGTERM, interrupted)
    OUT.mkdir(parents=True, exist_ok=True)
    admin = with_database(PG_URL, "postgres")
    db_url = with_database(PG_URL, name)
    env = base_env(db_url)
    pg_exec(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    pg_exec(admin, f'CREATE DATABASE "{name}"')
    forget_redis()
    try:
        manage(env, "migrate", "--noinput")
        seed(env)
        pg_exec(db_url, "VACUUM ANALYZE")
        web, base = gunicorn(env, OUT / f"{name}-gunicorn.log")
        try:
            log(f"gunicorn ({WORKERS} workers) serving {name} at {base}")
            yield base, env, web
        finally:
            web.stop()
    finally:
        forget_redis()
        pg_exec(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        log(f"stopped gunicorn, dropped database {name}")
