"""Writing usage facts fast.

Two paths behind one interface: rows already parsed by the pipeline are upserted with one
`INSERT … ON CONFLICT` statement per batch (both backends); on PostgreSQL a CSV goes through
COPY into a temporary staging table, one set-based validation query, then one upsert.
"""

from __future__ import annotations

import csv
from datetime import date

from django.db import connection, transaction

from cs_portal.imports import ImportResult, WriteStats

from .models import FailureReason, Metric, Product

TABLE = "health_usagefact"
KEY = "account_id, date, metric, product, chain, dataset, reason"
UPSERT_TAIL = (
    f"ON CONFLICT ({KEY}) DO UPDATE SET value = EXCLUDED.value "
    f"WHERE {TABLE}.value <> EXCLUDED.value"
)


def _count_in(cursor, account_ids: set[int], first: date, last: date) -> int:
    ids = sorted(account_ids)
    cursor.execute(
        f"SELECT COUNT(*) FROM {TABLE} WHERE date >= %s AND date <= %s "
        f"AND account_id IN ({', '.join(['%s'] * len(ids))})", [first, last, *ids])
    return cursor.fetchone()[0]


def usage_upsert(facts: list[tuple]) -> WriteStats:
    """Upsert (account_id, date, metric, product, chain, dataset, reason, value) tuples.

    New rows are inserted, changed values updated, identical rows left alone; the counts come
    from the row count before and after plus the statement's affected-row count.
    """
    if not facts:
        return WriteStats()
    accounts = {f[0] for f in facts}
    first, last = min(f[1] for f in facts), max(f[1] for f in facts)
    sql = (f"INSERT INTO {TABLE} ({KEY}, value) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
           f"{UPSERT_TAIL}")
    affected = 0
    with connection.cursor() as cursor:
        before = _count_in(cursor, accounts, first, last)
        for start in range(0, len(facts), 5000):
            batch = facts[start:start + 5000]
            cursor.executemany(sql, batch)
            affected += max(cursor.rowcount, 0)
        after = _count_in(cursor, accounts, first, last)
    created = after - before
    updated = affected - created if connection.vendor == "postgresql" or affected else 0
    return WriteStats(created=created, updated=max(updated, 0),
                      unchanged=len(facts) - created - max(updated, 0))


# ---------------------------------------------------------------------------------------------
# PostgreSQL: COPY → staging → validate → upsert

STAGE_COLUMNS = ("account", "date", "metric", "value", "product", "chain", "dataset", "reason")
NUMBER = r"^\s*[0-9]+(\.[0-9]*)?([eE][+-]?[0-9]+)?\s*$"
NEGATIVE = r"^\s*-\s*[0-9]+(\.[0-9]*)?([eE][+-]?[0-9]+)?\s*$"
SLUG = r"^[a-z0-9_]{1,40}$"
DATASET = r"^[a-z0-9_]+(\.[a-z0-9_*]+){1,2}$"


def _enum_list(values) -> str:
    return ", ".join(f"'{v}'" for v in values)


def usage_copy_import(kind, data: bytes, result: ImportResult, progress) -> bool:
    """Validate and write a usage CSV set-based. Returns False to fall back to the row path.

    Row numbers are spreadsheet line numbers: the staging table numbers records in file order.
    Structural problems COPY cannot read (wrong field count, broken quoting) fall back to the
    row-by-row reader, which names every bad row.
    """
    try:
        head = data[:65536].decode("utf-8-sig")
    except UnicodeDecodeError:
        return False  # the row reader reports the encoding problem with its line number
    first_line = head.lstrip("\r\n").split("\n", 1)[0].rstrip("\r")
    if "\n" not in head or "," not in first_line:
        return False
    header = [h.strip().lower() for h in next(csv.reader([first_line]))]
    if (len(set(header)) != len(header) or not set(header) <= set(STAGE_COLUMNS)
            or not {"account", "date", "metric", "value"} <= set(header)):
        return False  # the row reader reports header problems precisely
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("CREATE TEMP SEQUENCE IF NOT EXISTS usage_stage_line")
        cursor.execute("ALTER SEQUENCE usage_stage_line RESTART WITH 2")
        cursor.execute(
            "CREATE TEMP TABLE usage_stage (line bigint DEFAULT nextval('usage_stage_line'), "
            + ", ".join(f"{c} text" for c in STAGE_COLUMNS) + ") ON COMMIT DROP")
        copy_sql = (f"COPY usage_stage ({', '.join(header)}) FROM STDIN "
                    "WITH (FORMAT csv, HEADER true)")
        try:
            with transaction.atomic(), cursor.cursor.copy(copy_sql) as copy:
                view = memoryview(data)
                step = 8 * 1024 * 1024
                for offset in range(0, len(data), step):
                    copy.write(view[offset:offset + step])
        except Exception:  # noqa: BLE001 - COPY could not read the file: use the row path
            return False
        cursor.execute("SELECT COUNT(*) FROM usage_stage")
        result.rows = cursor.fetchone()[0]
        if progress:
            progress(result.rows)
        if result.rows == 0:
            result.add_error(1, "", "the file has a header but no rows")
            return True
        _validate(cursor, result)
        if not result.ok:
            # Already rejected: also name duplicate keys so one pass reports every bad row.
            _report_duplicates(cursor, result)
            result.errors.sort(key=lambda e: e.row)
            return True
        sid = transaction.savepoint()
        try:
            cursor.execute(_INSERT_SQL)
            created, affected = cursor.fetchone()
        except Exception as exc:  # noqa: BLE001
            transaction.savepoint_rollback(sid)
            if "cannot affect row a second time" not in str(exc):
                raise
            _report_duplicates(cursor, result)
            return True
        transaction.savepoint_commit(sid)
        cursor.execute("SELECT DISTINCT a.id FROM (SELECT DISTINCT account FROM usage_stage) s "
                       "JOIN accounts_account a ON a.external_id = s.account")
        result.touched_accounts = {row[0] for row in cursor.fetchall()}
        result.stats = WriteStats(created=created, updated=affected - created,
                                  unchanged=result.rows - affected)
    return True


_INSERT_SQL = f"""
    WITH written AS (
        INSERT INTO {TABLE} ({KEY}, value)
        SELECT a.id, s.date::date, lower(trim(s.metric)), coalesce(lower(trim(s.product)), ''),
               coalesce(lower(trim(s.chain)), ''), coalesce(lower(trim(s.dataset)), ''),
               coalesce(lower(trim(s.reason)), ''), s.value::float8
        FROM usage_stage s JOIN accounts_account a ON a.external_id = trim(s.account)
        {UPSERT_TAIL}
        RETURNING (xmax = 0) AS inserted
    )
    SELECT COUNT(*) FILTER (WHERE inserted), COUNT(*) FROM written
"""


def _validate(cursor, result: ImportResult) -> None:
    metrics, products, reasons = Metric.values, Product.values, FailureReason.values
    checks = [
        ("account", "coalesce(trim(s.account), '') = ''", "'required value is missing'"),
        ("date", "coalesce(trim(s.date), '') = ''", "'required value is missing'"),
        ("metric", "coalesce(trim(s.metric), '') = ''", "'required value is missing'"),
        ("value", "coalesce(trim(s.value), '') = ''", "'required value is missing'"),
        ("date", r"trim(s.date) <> '' AND trim(s.date) !~ '^\d{4}-\d{2}-\d{2}$'",
         "'''' || s.date || ''' is not a date in YYYY-MM-DD form'"),
        ("metric", f"trim(s.metric) <> '' AND lower(trim(s.metric)) NOT IN ({_enum_list(metrics)})",
         f"'''' || s.metric || ''' is not one of: {', '.join(metrics)}'"),
        ("value", f"trim(s.value) <> '' AND s.value ~ '{NEGATIVE}'",
         "s.value || ' is negative; usage cannot be below zero'"),
        ("value", f"trim(s.value) <> '' AND s.value !~ '{NUMBER}' AND s.value !~ '{NEGATIVE}'",
         "'''' || s.value || ''' is not a number'"),
        ("product",
         f"coalesce(trim(s.product), '') <> '' AND lower(trim(s.product)) NOT IN "
         f"({_enum_list(products)})",
         f"'''' || s.product || ''' is not one of: {', '.join(products)}'"),
        ("reason",
         f"coalesce(trim(s.reason), '') <> '' AND lower(trim(s.reason)) NOT IN "
         f"({_enum_list(reasons)})",
         f"'''' || s.reason || ''' is not one of: {', '.join(reasons)}'"),
        ("reason",
         "coalesce(trim(s.reason), '') <> '' AND lower(trim(s.metric)) <> 'failed_queries'",
         "'only failed_queries rows carry a reason'"),
        ("chain", f"coalesce(trim(s.chain), '') <> '' AND lower(trim(s.chain)) !~ '{SLUG}'",
         "'''' || s.chain || ''' is not a chain slug (like ethereum, base, solana)'"),
        ("dataset",
         f"coalesce(trim(s.dataset), '') <> '' AND lower(trim(s.dataset)) !~ '{DATASET}'",
         "'''' || s.dataset || ''' is not a dataset name (chain.schema.table)'"),
        ("account",
         "coalesce(trim(s.account), '') <> '' AND NOT EXISTS (SELECT 1 FROM accounts_account a "
         "WHERE a.external_id = trim(s.account))",
         "'unknown account ''' || s.account || '''; import it first'"),
    ]
    union = " UNION ALL ".join(
        f"SELECT s.line, '{column}', {message} FROM usage_stage s WHERE {condition}"
        for column, condition, message in checks
    )
    cursor.execute(f"SELECT line, col, msg FROM ({union}) e(line, col, msg) "
                   "ORDER BY line LIMIT 5001")
    rows = cursor.fetchall()
    # Dates of the right shape can still be impossible (2026-02-30): check the distinct ones.
    cursor.execute(r"SELECT DISTINCT trim(date) FROM usage_stage "
                   r"WHERE trim(date) ~ '^\d{4}-\d{2}-\d{2}$'")
    impossible = []
    for (value,) in cursor.fetchall():
        try:
            date.fromisoformat(value)
        except ValueError:
            impossible.append(value)
    if impossible:
        cursor.execute("SELECT line, 'date', '''' || date || ''' is not a real date' "
                       "FROM usage_stage WHERE trim(date) = ANY(%s) ORDER BY line LIMIT 5001",
                       [impossible])
        rows += cursor.fetchall()
    if rows:
        cursor.execute(f"SELECT COUNT(*) FROM ({union}) e")
        total = cursor.fetchone()[0]
        for line, column, message in sorted(rows)[:5000]:
            result.add_error(line, column, message)
        result.error_count = max(result.error_count, total)


def _report_duplicates(cursor, result: ImportResult) -> None:
    cursor.execute("""
        SELECT line, first FROM (
            SELECT line, MIN(line) OVER (PARTITION BY trim(account), trim(date),
                lower(trim(metric)), coalesce(lower(trim(product)), ''),
                coalesce(lower(trim(chain)), ''), coalesce(lower(trim(dataset)), ''),
                coalesce(lower(trim(reason)), '')) AS first
            FROM usage_stage) d
        WHERE line <> first ORDER BY line LIMIT 5000
    """)
    for line, first in cursor.fetchall():
        result.add_error(line, "account,date,metric,product,chain,dataset,reason",
                         f"duplicate of row {first}; each key may appear once per import")

