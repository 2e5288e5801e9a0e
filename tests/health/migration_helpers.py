"""Migrate the usage facts back to an older schema, fill them there, migrate forward, and
compare what the facts add up to (shared by the SQLite test and the PostgreSQL one)."""

from __future__ import annotations

from datetime import date, timedelta

from django.db import connection
from django.db.migrations.executor import MigrationExecutor


def migrate_to(target: list[tuple[str, str]]) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(target)


def latest() -> list[tuple[str, str]]:
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes("health")


def legacy_rows(account_ids: list[int], days: int = 70) -> list[tuple]:
    """Facts as the seven-column schema held them: several dimension tuples, three months."""
    start = date(2026, 1, 20)
    rows = []
    for n, account_id in enumerate(account_ids):
        for d in range(days):
            day = start + timedelta(days=d)
            rows.append((account_id, day, "units", "developer", "ethereum", "", "", 100.0 + n + d))
            rows.append((account_id, day, "units", "explorer", "base", "", "", 7.5 * (d % 5)))
            rows.append((account_id, day, "queries", "", "", "", "", float(d)))
            if d % 9 == 0:
                rows.append(
                    (account_id, day, "failed_queries", "", "solana", "", "chain_not_covered", 2.0)
                )
            if d % 4 == 0:
                rows.append(
                    (
                        account_id,
                        day,
                        "queries",
                        "",
                        "ethereum",
                        "ethereum.core.blocks",
                        "",
                        3.0,
                    )
                )
    return rows


def insert_legacy(rows: list[tuple]) -> None:
    with connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO health_usagefact (account_id, date, metric, product, chain, dataset, "
            "reason, value) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            rows,
        )


def totals_by_account_day() -> dict[tuple[int, str], tuple[int, float]]:
    """{(account, day): (facts, sum of values)} as the database holds them now."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT account_id, date, COUNT(*), SUM(value) FROM health_usagefact "
            "GROUP BY account_id, date"
        )
        return {(a, str(d)[:10]): (int(n), round(float(s), 6)) for a, d, n, s in cursor.fetchall()}


def expected_totals(rows: list[tuple]) -> dict[tuple[int, str], tuple[int, float]]:
    out: dict[tuple[int, str], list] = {}
    for account_id, day, *_, value in rows:
        entry = out.setdefault((account_id, day.isoformat()), [0, 0.0])
        entry[0] += 1
        entry[1] += value
    return {k: (n, round(s, 6)) for k, (n, s) in out.items()}
