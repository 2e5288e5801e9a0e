"""Each page of the load scenario once, in-process, with Django's query log: queries, SQL time.

Needs DATABASE_URL of the load database and LOAD_PEOPLE (the people file bench/load.py
writes). One CSM and one manager; every page is called once to warm caches, then once measured.
Writes a JSON list to --out, with the `EXPLAIN ANALYZE` of the slowest query of the two pages
that spend the most time in SQL. Runs against the served database while gunicorn is idle.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cs_portal.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from accounts.models import User  # noqa: E402


def pages(account: str, role: str) -> list[tuple[str, str, dict]]:
    htmx = {"HTTP_HX_REQUEST": "true"}
    scope = "&csm=me" if role == "csm" else ""
    return [
        ("/book/?band&sort", f"/book/?band=red&sort=-arr{scope}", {}),
        ("/book/?sort&page (htmx rows)", f"/book/?sort=risk&page=2{scope}", htmx),
        ("/book/?q", f"/book/?q=Bench+Account+12{scope}", {}),
        ("/accounts/[id]/", f"/accounts/{account}/", {}),
        ("/accounts/[id]/health/", f"/accounts/{account}/health/", {}),
        ("/accounts/[id]/health/charts/[key]/", f"/accounts/{account}/health/charts/trend/", htmx),
        ("/inbox/", "/inbox/", {}),
        ("/work/", "/work/", {}),
        ("/api/v1/accounts/[id]/health", f"/api/v1/accounts/{account}/health", {}),
        ("/api/v1/accounts/[id]/usage", f"/api/v1/accounts/{account}/usage", {}),
        ("/api/v1/alerts?since", "/api/v1/alerts?limit=100", {}),
        ("/api/v1/accounts?csm=me", "/api/v1/accounts?csm=me", {}),
        ("/api/v1/health?band=red", "/api/v1/health?band=red", {}),
        ("/api/v1/accounts?tier", "/api/v1/accounts?tier=2", {}),
    ]


def slowest(queries: list[dict], n: int = 3) -> list[dict]:
    return sorted(queries, key=lambda q: -float(q["time"]))[:n]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    people = json.loads(Path(os.environ["LOAD_PEOPLE"]).read_text())
    results = []
    for role in ("csm", "manager"):
        person = people[role][0]
        account = (person["accounts"] or people["sample_accounts"])[0]
        client = Client(HTTP_AUTHORIZATION=f"Bearer {person['token']}")
        client.force_login(User.objects.get(email=person["email"]))
        for name, path, headers in pages(account, role):
            client.get(path, **headers)
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                response = client.get(path, **headers)
                total = time.perf_counter() - started
            results.append(
                {
                    "name": name,
                    "role": role,
                    "status": response.status_code,
                    "queries": len(queries.captured_queries),
                    "sql_ms": sum(float(q["time"]) for q in queries.captured_queries) * 1000,
                    "total_ms": total * 1000,
                    "slowest": slowest(queries.captured_queries),
                }
            )
    # The plans of the slowest query of the two slowest pages.
    for result in sorted(results, key=lambda r: -r["sql_ms"])[:2]:
        if result["slowest"]:
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + result["slowest"][0]["sql"])
                result["explain"] = [row[0] for row in cursor.fetchall()]
    Path(args.out).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
