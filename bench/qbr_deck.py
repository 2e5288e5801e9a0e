"""QBR deck: assembling one account's QBR and generating its .pptx, on a populated book.

    make bench-qbr                                    # the demo book, 5 runs per tier-1 account
    .venv/bin/python bench/qbr_deck.py --runs 5 --sqlite bench/out/qbr/demo.sqlite3
    .venv/bin/python bench/cockpit.py --keep --no-doc  # then, on its 5,500-account PostgreSQL book:
    .venv/bin/python bench/qbr_deck.py --runs 2 \
        --database-url postgres://postgres@127.0.0.1:5432/cs_portal_cockpit_5000

The book is the demo book (475 accounts, 240 days of usage, success plans, pipeline and
feedback), seeded once into a SQLite file under bench/out/qbr/ with `manage.py seed_demo` (about
six minutes) and reused by later runs; `--sqlite` names another seeded file. In one warm process,
for each tier-1 account in turn, a draft QBR over the last full quarter is assembled from live
data (the six sections: success plan, usage by product and chain, similar accounts, commit
burn-up, feedback, health) and rendered to a deck with its native charts, inside a transaction
that is rolled back (nothing is written). Each phase is timed per run; p50, p95 and max of the
total are reported.

`--database-url` measures a book already in PostgreSQL instead (its tier-1 accounts with a CSM),
writing its table between `<!-- qbr-pg:start -->` and `<!-- qbr-pg:end -->`.

Writes the table between `<!-- qbr:start -->` and `<!-- qbr:end -->` in docs/benchmarks.md and
exits 1 if the total's p95 is 2 s or more.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
OUT = BENCH / "out" / "qbr"
DOC = ROOT / "docs" / "benchmarks.md"
TARGET_S = 2.0
MAX_ACCOUNTS = 30  # tier-1 accounts measured in turn (a generated book has hundreds)


def log(msg: str) -> None:
    print(f"[bench-qbr] {msg}", flush=True)


def seed(path: Path) -> None:
    """The demo book into `path`, once: later runs reuse the file."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "SQLITE_PATH": str(path)}
    env.pop("DATABASE_URL", None)
    log(f"seeding the demo book into {path.relative_to(ROOT)} (about six minutes, once)")
    for args in (["migrate", "--noinput"], ["seed_demo"]):
        subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )


def measure(runs: int) -> dict:
    import django

    django.setup()
    from django.db import connection, transaction

    from accounts.models import Account
    from cs_portal import clock
    from qbr.deck import deck_bytes
    from qbr.models import Qbr
    from qbr.rules import last_full_quarter
    from qbr.selectors import qbr_sections

    start, end = last_full_quarter(clock.today())
    accounts = list(
        Account.objects.filter(tier=1, csm__isnull=False).order_by("external_id")[:MAX_ACCOUNTS]
    )
    if not accounts:
        raise SystemExit("the book has no tier-1 account")
    totals, assembles, decks, sizes, slides = [], [], [], [], []
    for i in range(runs * len(accounts) + 1):
        account = accounts[i % len(accounts)]
        with transaction.atomic():
            qbr = Qbr.objects.create(account=account, period_start=start, period_end=end)
            qbr = Qbr.objects.select_related("account", "account__csm").get(pk=qbr.pk)
            t0 = time.perf_counter()
            sections = qbr_sections(qbr)
            t1 = time.perf_counter()
            data = deck_bytes(qbr, sections)
            t2 = time.perf_counter()
            transaction.set_rollback(True)
        if i == 0:
            continue  # the first run warms imports, templates and the database's caches
        assembles.append(t1 - t0)
        decks.append(t2 - t1)
        totals.append(t2 - t0)
        sizes.append(len(data))
        slides.append(1 + sum(1 for s in sections if s["visible"]))
    totals.sort()
    return {
        "database": f"{connection.vendor} ({connection.settings_dict['NAME']})",
        "accounts": len(accounts),
        "book": Account.objects.count(),
        "runs": len(totals),
        "p50": statistics.median(totals),
        "p95": totals[max(0, round(0.95 * len(totals)) - 1)],
        "max": totals[-1],
        "assemble_p50": statistics.median(assembles),
        "deck_p50": statistics.median(decks),
        "size_kb": statistics.median(sizes) / 1024,
        "slides": statistics.median(slides),
        "period": f"{start.isoformat()} to {end.isoformat()}",
    }


def markers(pg: bool) -> tuple[str, str]:
    name = "qbr-pg" if pg else "qbr"
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def table(r: dict, *, command: str, pg: bool) -> str:
    ok = "under" if r["p95"] < TARGET_S else "OVER"
    start, end = markers(pg)
    book = "a generated PostgreSQL book" if pg else f"the demo book, {r['database'].split(' ')[0]}"
    return "\n".join(
        [
            start,
            f"Run with `{command}` on {time.strftime('%Y-%m-%d')}: {r['book']:,} accounts "
            f"({book}), a QBR over {r['period']} for each of {r['accounts']} tier-1 accounts "
            f"in turn, {r['runs']} runs after one warm-up, in one process.",
            "",
            "| phase | p50 | p95 | max |",
            "|---|---|---|---|",
            f"| assemble the sections (live data) | {r['assemble_p50'] * 1000:.0f} ms | — | — |",
            f"| render the deck (python-pptx, native charts) | {r['deck_p50'] * 1000:.0f} ms "
            "| — | — |",
            f"| **total, one account** | **{r['p50'] * 1000:.0f} ms** | "
            f"**{r['p95'] * 1000:.0f} ms** | {r['max'] * 1000:.0f} ms |",
            "",
            f"A deck is {r['slides']:.0f} slides and about {r['size_kb']:.0f} KB. Target: under "
            f"{TARGET_S:.0f} s for one account, judged on the p95: {ok} target.",
            end,
        ]
    )


def write_doc(text: str, *, pg: bool) -> None:
    doc = DOC.read_text()
    start, end = markers(pg)
    if start in doc and end in doc:
        head, rest = doc.split(start, 1)
        _, tail = rest.split(end, 1)
        doc = head + text + tail
    elif pg and markers(False)[1] in doc:  # the PostgreSQL table goes after the demo book's
        head, tail = doc.split(markers(False)[1], 1)
        doc = head + markers(False)[1] + "\n\n" + text + tail
    else:
        doc = doc.rstrip("\n") + "\n\n## QBR deck for one account\n\n" + text + "\n"
    DOC.write_text(doc)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per tier-1 account")
    parser.add_argument("--sqlite", type=Path, default=OUT / "demo.sqlite3")
    parser.add_argument("--database-url", help="measure this PostgreSQL book instead")
    args = parser.parse_args()
    pg = bool(args.database_url)
    if pg:
        os.environ["DATABASE_URL"] = args.database_url
        os.environ.pop("SQLITE_PATH", None)
        command = "bench/qbr_deck.py --database-url …" + (
            f" --runs {args.runs}" if args.runs != 5 else ""
        )
    else:
        seed(args.sqlite)
        os.environ["SQLITE_PATH"] = str(args.sqlite.resolve())
        os.environ.pop("DATABASE_URL", None)
        command = "make bench-qbr"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cs_portal.settings")
    sys.path.insert(0, str(ROOT))
    result = measure(args.runs)
    text = table(result, command=command, pg=pg)
    write_doc(text, pg=pg)
    log(text)
    return 0 if result["p95"] < TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
