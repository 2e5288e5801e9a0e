"""Fuzz the JSON API: schemathesis against /api/v1/openapi.json on a live gunicorn, 0 server errors.

    make fuzz-api                                    # 50 examples per operation, 240 s at most
    make fuzz-api FUZZ_EXAMPLES=200 FUZZ_SECONDS=600
    .venv/bin/python bench/fuzz.py --max-examples 50 --max-time 240

Seeds the demo book (`manage.py seed_demo`) into a fresh PostgreSQL database (BENCH_PG_URL),
creates an API token for the demo manager, serves the portal with gunicorn on 127.0.0.1 (as
bench/load.py does) and runs `schemathesis run` with the `not_a_server_error` check, a bearer
token, a fixed seed and a time budget. The run's log, a JUnit report and a pytest file that
replays every failure land in bench/out/fuzz/; a 5xx's traceback is in the gunicorn log next to
them. Gunicorn stops and the database drops even on failure. Exits 1 on any server error.
"""

from __future__ import annotations

import argparse
import re
import subprocess
from collections import Counter

from run import OUT, PY, BenchError, log, manage
from serve import main_exit, served

SCHEMATHESIS = PY.parent / "schemathesis"
HERE = OUT / "fuzz"
TOKEN = re.compile(r"^csp_\S+$", re.M)
ACCESS = re.compile(r'"([A-Z]+) (\S+) HTTP/[\d.]+" (\d{3}) ')


def seed(env: dict[str, str]) -> None:
    seconds, _ = manage(env, "seed_demo")
    log(f"  seeded the demo book in {seconds:.0f} s")
    _, done = manage(
        env, "shell", "-c", "from demo.book import MANAGER; print(MANAGER)", timeout=120
    )
    manager = done.stdout.strip().splitlines()[-1]
    _, done = manage(env, "create_api_token", manager)
    found = TOKEN.findall(done.stdout)
    if not found:
        raise BenchError(f"create_api_token printed no token:\n{done.stdout}{done.stderr}")
    seed.token = found[-1]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--max-examples", type=int, default=50, help="per API operation")
    parser.add_argument("--max-time", type=int, default=240, help="seconds for the whole run")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    HERE.mkdir(parents=True, exist_ok=True)
    with served("cs_portal_fuzz", seed) as (base, env, web):
        argv = [
            str(SCHEMATHESIS),
            "run",
            f"{base}/api/v1/openapi.json",
            # The schema's paths already start with /api/v1.
            "--url",
            base,
            "--header",
            f"Authorization: Bearer {seed.token}",
            "--checks",
            "not_a_server_error",
            "--max-examples",
            str(args.max_examples),
            "--max-time",
            str(args.max_time),
            "--seed",
            str(args.seed),
            "--workers",
            "2",
            "--request-timeout",
            "30",
            "--report",
            "junit",
            "--report-dir",
            str(HERE),
            "--report-pytest-path",
            str(HERE / "test_reproduce.py"),
            "--output-sanitize",
            "true",
        ]
        log(
            f"schemathesis: {args.max_examples} examples per operation, "
            f"{args.max_time} s at most, seed {args.seed}"
        )
        done = subprocess.run(
            argv,
            cwd=HERE,  # schemathesis keeps its example database in the working directory
            env={**env, "SCHEMATHESIS_TELEMETRY": "false"},
            capture_output=True,
            text=True,
            timeout=args.max_time + 300,
        )
        output = done.stdout + done.stderr
        (HERE / "schemathesis.log").write_text(output)
        print(output)
        if not web.alive():
            raise BenchError(f"gunicorn died during the fuzz run:\n{web.tail()}")
        answers = [
            (m.group(1), m.group(2), m.group(3))
            for m in ACCESS.finditer(web.text())
            if m.group(2).startswith("/api/v1/") and m.group(2) != "/api/v1/openapi.json"
        ]
    statuses = Counter(status for _, _, status in answers)
    server_errors = [
        f"{method} {path} → {status}" for method, path, status in answers if status[0] == "5"
    ]
    log(
        f"schemathesis exited {done.returncode}; gunicorn answered {len(answers)} API requests "
        f"({', '.join(f'{s}: {n}' for s, n in sorted(statuses.items()))}), "
        f"{len(server_errors)} of them 5xx"
    )
    if not answers or statuses["404"] > 0.9 * len(answers):
        raise BenchError("nearly every API request was a 404: the fuzz did not reach the API")
    for line in server_errors[:20]:
        log(f"  {line}")
    return 1 if done.returncode or server_errors else 0


if __name__ == "__main__":
    main_exit(main)
