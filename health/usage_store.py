"""Writing usage facts fast.

Two paths behind one interface: rows already parsed by the pipeline are upserted with one
`INSERT … ON CONFLICT` statement per batch (both backends); on PostgreSQL a CSV goes through
COPY into a temporary staging table, one set-based validation query, then one upsert.
"""

from __future__ import annotations

import codecs
import csv
import logging
import re
import time
from datetime import date

from django.db import IntegrityError, connection, transaction

from accounts.models import Account
from cs_portal.imports import (
    MAX_REPORTED_ERRORS,
    ImportResult,
    ImportTooLarge,
    WriteStats,
    import_committing,
)

from .models import UsageDims
from .partitions import usage_partitions_ensure

log = logging.getLogger(__name__)

TABLE = "health_usagefact"
# The staged rows name accounts by external id; accounts sits below health, so its table and
# column are read from the model rather than spelled out.
ACCOUNTS = Account._meta.db_table
EXTERNAL_ID = Account._meta.get_field("external_id").column
DIMS = UsageDims._meta.db_table
KEY = "account_id, date, metric, dims_id"
UPSERT_TAIL = (
    f"ON CONFLICT ({KEY}) DO UPDATE SET value = EXCLUDED.value "
    f"WHERE {TABLE}.value <> EXCLUDED.value"
)


UNIQUE_VIOLATION = "23505"


def _count_in(cursor, account_ids: set[int], first: date, last: date) -> int:
    ids = sorted(account_ids)
    cursor.execute(
        f"SELECT COUNT(*) FROM {TABLE} WHERE date >= %s AND date <= %s "
        f"AND account_id IN ({', '.join(['%s'] * len(ids))})",
        [first, last, *ids],
    )
    return cursor.fetchone()[0]


def usage_upsert(facts: list[tuple]) -> WriteStats:
    """Upsert (account_id, date, metric, product, chain, dataset, reason, value) tuples.

    New rows are inserted, changed values updated, identical rows left alone; the counts come
    from the row count before and after plus the statement's affected-row count.
    """
    if not facts:
        return WriteStats()
    dims = UsageDims.intern(f[3:7] for f in facts)
    facts = [(f[0], f[1], f[2], dims[f[3:7]], f[7]) for f in facts]
    accounts = {f[0] for f in facts}
    first, last = min(f[1] for f in facts), max(f[1] for f in facts)
    usage_partitions_ensure(first, last)
    sql = f"INSERT INTO {TABLE} ({KEY}, value) VALUES (%s, %s, %s, %s, %s) {UPSERT_TAIL}"
    affected = 0
    with connection.cursor() as cursor:
        before = _count_in(cursor, accounts, first, last)
        for start in range(0, len(facts), 5000):
            batch = facts[start : start + 5000]
            cursor.executemany(sql, batch)
            affected += max(cursor.rowcount, 0)
        after = _count_in(cursor, accounts, first, last)
    created = after - before
    updated = affected - created if connection.vendor == "postgresql" or affected else 0
    return WriteStats(
        created=created, updated=max(updated, 0), unchanged=len(facts) - created - max(updated, 0)
    )


# ---------------------------------------------------------------------------------------------
# PostgreSQL: COPY → staging → validate → upsert

STAGE_COLUMNS = ("account", "date", "metric", "value", "product", "chain", "dataset", "reason")
# What PostgreSQL's float8 cast and the row path's parser both accept as a usage value.
NUMBER = r"^\s*[+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?\s*$"


def usage_copy_import(kind, file, result: ImportResult, progress) -> bool:
    """Validate and write a usage CSV set-based. Returns False to fall back to the row path.

    The file streams into COPY in chunks, so an import's memory does not grow with the file.
    Row numbers are spreadsheet line numbers: the staging table numbers records in file order.
    Structural problems COPY cannot read (wrong field count, broken quoting, bytes that are
    not UTF-8) fall back to the row-by-row reader, which names every bad row.
    """
    header = _csv_header(file)
    if header is None:
        return False
    started = time.monotonic()
    with transaction.atomic(), connection.cursor() as cursor:
        if not _stage(cursor, header, file, progress):
            return False
        phases = {"copy": time.monotonic()}
        cursor.execute("SELECT COUNT(*) FROM usage_stage")
        result.rows = cursor.fetchone()[0]
        if progress:
            progress("validating", result.rows, result.rows)
        if result.rows == 0:
            result.add_error(1, "", "the file has a header but no rows")
            return True
        cursor.execute("ANALYZE usage_stage")
        _validate(cursor, kind, result)
        phases["validate"] = time.monotonic()
        if not result.ok:
            _report_duplicates(cursor, result)  # so one pass names every bad row
            result.errors.sort(key=lambda e: e.row)
            return True
        # Appending days the account has no facts for yet (the usual daily feed) needs no
        # conflict handling: the unique key itself catches a key given twice. Anything
        # overlapping stored facts takes the upsert, and there duplicates must be found first:
        # two rows equal to a stored fact would both be skipped by the upsert's WHERE.
        if progress:
            progress("writing", result.rows, result.rows)
        if not _upsert(cursor, kind, result):
            return True
        phases["upsert"] = time.monotonic()
        log.info(
            "usage COPY import of %d rows: copy %.2fs, validate %.2fs, upsert %.2fs",
            result.rows,
            phases["copy"] - started,
            phases["validate"] - phases["copy"],
            phases["upsert"] - phases["validate"],
        )
    return True


def _csv_header(file) -> list[str] | None:
    """The file's header when COPY can take it (None otherwise), read from its first 64 KB;
    the file is left at the start of the header line (after any BOM)."""
    head_bytes = file.read(65536)
    bom = len(codecs.BOM_UTF8) if head_bytes.startswith(codecs.BOM_UTF8) else 0
    file.seek(bom)
    try:
        # A character cut in two at the 64 KB edge is not an encoding problem.
        head = codecs.getincrementaldecoder("utf-8")().decode(head_bytes[bom:])
    except UnicodeDecodeError:
        return None  # the row reader reports the encoding problem with its line number
    first_line = head.lstrip("\r\n").split("\n", 1)[0].rstrip("\r")
    if "\n" not in head or "," not in first_line:
        return None
    header = [h.strip().lower() for h in next(csv.reader([first_line]))]
    if (
        len(set(header)) != len(header)
        or not set(header) <= set(STAGE_COLUMNS)
        or not {"account", "date", "metric", "value"} <= set(header)
    ):
        return None  # the row reader reports header problems precisely
    return header


COPY_CHUNK = 8 * 1024 * 1024


def _stage(cursor, header: list[str], file, progress) -> bool:
    """COPY the file into a fresh staging table chunk by chunk; False if COPY cannot read it
    (or a chunk is not UTF-8, which the row path then reports with its line)."""
    cursor.execute("CREATE TEMP SEQUENCE IF NOT EXISTS usage_stage_line")
    cursor.execute("ALTER SEQUENCE usage_stage_line RESTART WITH 2")
    # ON COMMIT DROP only fires at the outermost commit: inside a caller's transaction the
    # previous import's staging table is still there.
    cursor.execute("DROP TABLE IF EXISTS pg_temp.usage_stage")
    cursor.execute(
        "CREATE TEMP TABLE usage_stage (line bigint DEFAULT nextval('usage_stage_line'), "
        + ", ".join(f"{c} text" for c in STAGE_COLUMNS)
        + ") ON COMMIT DROP"
    )
    copy_sql = f"COPY usage_stage ({', '.join(header)}) FROM STDIN WITH (FORMAT csv, HEADER true)"
    total = file.total()
    check = codecs.getincrementaldecoder("utf-8")()
    try:
        with transaction.atomic(), cursor.cursor.copy(copy_sql) as copy:
            while chunk := file.read(COPY_CHUNK):
                check.decode(chunk)  # raises on a byte that is not UTF-8: use the row path
                copy.write(chunk)
                if progress:
                    progress("copying", file.tell(), total)
            check.decode(b"", final=True)
    except ImportTooLarge:
        raise
    except Exception:  # noqa: BLE001 - COPY could not read the file: use the row path
        return False
    return True


def _upsert(cursor, kind, result: ImportResult) -> bool:
    """Write the staged rows; False (nothing written) when duplicates were found instead."""
    cursor.execute(_OVERLAP_SQL)
    overlap = cursor.fetchone() is not None
    if overlap:
        _report_duplicates(cursor, result)
        if not result.ok:
            return False
    cursor.execute(_INTERN_SQL)
    cursor.execute("SELECT DISTINCT date FROM usage_stage")
    days = {date.fromisoformat(r[0].strip()) for r in cursor.fetchall()}
    usage_partitions_ensure(min(days), max(days))
    sid = transaction.savepoint_create()
    try:
        cursor.execute(*((_INSERT_SQL, [_id_floor(cursor)]) if overlap else (_APPEND_SQL,)))
        created, affected = cursor.fetchone()
    except IntegrityError as exc:
        transaction.savepoint_rollback(sid)
        # A unique violation names the month's partition's index, not the parent constraint.
        if overlap or getattr(exc.__cause__, "sqlstate", None) != UNIQUE_VIOLATION:
            raise
        _report_duplicates(cursor, result)
        if not result.ok:
            return False
        # Not in the file: another import wrote the same facts meanwhile. Upsert instead.
        sid = transaction.savepoint_create()
        cursor.execute(_INSERT_SQL, [_id_floor(cursor)])
        created, affected = cursor.fetchone()
    transaction.savepoint_commit(sid)
    if created > 100_000:
        # Fresh statistics now, or the next recompute plans for the table as it was.
        cursor.execute(f"ANALYZE {TABLE}")
    cursor.execute(
        "SELECT DISTINCT a.id FROM (SELECT DISTINCT account FROM usage_stage) s "
        f"JOIN {ACCOUNTS} a ON a.{EXTERNAL_ID} = s.account"
    )
    result.touched_accounts = {row[0] for row in cursor.fetchall()}
    result.stats = WriteStats(
        created=created, updated=affected - created, unchanged=result.rows - affected
    )
    if created or affected:
        result.touched_days = days
    import_committing(kind, [], result)
    return True


def _id_floor(cursor) -> int:
    """Ids above this are rows inserted from now on: how an upsert tells the rows it inserted
    from the ones it updated (a partitioned table has no `xmax` to return)."""
    cursor.execute(f"SELECT nextval(pg_get_serial_sequence('{TABLE}', 'id'))")
    return cursor.fetchone()[0]


_NORMAL = {
    c: f"coalesce(lower(trim(s.{c})), '')" for c in ("product", "chain", "dataset", "reason")
}
DIMS_MATCH = " AND ".join(f"d.{c} = {expr}" for c, expr in _NORMAL.items())
_INTERN_SQL = f"""
    INSERT INTO {DIMS} ({", ".join(_NORMAL)})
    SELECT DISTINCT {", ".join(_NORMAL.values())} FROM usage_stage s
    ON CONFLICT DO NOTHING
"""

_INSERT_SQL = f"""
    WITH written AS (
        INSERT INTO {TABLE} ({KEY}, value)
        SELECT a.id, s.date::date, lower(trim(s.metric)), d.id, s.value::float8
        FROM usage_stage s JOIN {ACCOUNTS} a ON a.{EXTERNAL_ID} = trim(s.account)
        JOIN {DIMS} d ON {DIMS_MATCH}
        {UPSERT_TAIL}
        RETURNING (id > %s) AS inserted
    )
    SELECT COUNT(*) FILTER (WHERE inserted), COUNT(*) FROM written
"""


_OVERLAP_SQL = f"""
    SELECT 1 FROM (
        SELECT a.id AS account_id, MIN(s.date::date) AS first, MAX(s.date::date) AS last
        FROM usage_stage s JOIN {ACCOUNTS} a ON a.{EXTERNAL_ID} = trim(s.account)
        GROUP BY a.id
    ) r
    WHERE EXISTS (SELECT 1 FROM {TABLE} f WHERE f.account_id = r.account_id
                  AND f.date BETWEEN r.first AND r.last)
    LIMIT 1
"""

_APPEND_SQL = f"""
    WITH written AS (
        INSERT INTO {TABLE} ({KEY}, value)
        SELECT a.id, s.date::date, lower(trim(s.metric)), d.id, s.value::float8
        FROM usage_stage s JOIN {ACCOUNTS} a ON a.{EXTERNAL_ID} = trim(s.account)
        JOIN {DIMS} d ON {DIMS_MATCH}
        RETURNING 1
    )
    SELECT COUNT(*), COUNT(*) FROM written
"""


def _validate(cursor, kind, result: ImportResult) -> None:
    """Set-based validation with the same rules and messages as the row path.

    Per-row work stays in SQL (required cells, the shape of the value); every categorical
    column (account, date, metric, product, chain, dataset, reason) is checked once per
    *distinct* value with the kind's own cell parsers, so a million rows cost a few queries.
    """
    parsers = {c.name: c.parse for c in kind.columns}
    errors = _row_errors(cursor, parsers)
    bad = _bad_values(_distinct_values(cursor), parsers)
    errors += _bad_value_rows(cursor, bad)
    for line, column, message in sorted(errors):
        result.add_error(line, column, message)


CATEGORICAL = ("account", "date", "metric", "product", "chain", "dataset", "reason")


def _row_errors(cursor, parsers: dict) -> list[tuple[int, str, str]]:
    """Per-row problems, found in SQL: required cells, the value's shape, a stray reason."""
    errors: list[tuple[int, str, str]] = []
    cursor.execute(f"""
        SELECT line, account, date, metric, value, reason FROM usage_stage
        WHERE coalesce(trim(account), '') = '' OR coalesce(trim(date), '') = ''
           OR coalesce(trim(metric), '') = '' OR coalesce(trim(value), '') = ''
           OR value !~ '{NUMBER}' OR value ~ '[eE][+]?[0-9]{{3,}}'
           OR (coalesce(trim(reason), '') <> '' AND lower(trim(metric)) <> 'failed_queries')
        ORDER BY line LIMIT {MAX_REPORTED_ERRORS + 1}
    """)
    for line, account, day, metric, value, reason in cursor.fetchall():
        for column, cell in (
            ("account", account),
            ("date", day),
            ("metric", metric),
            ("value", value),
        ):
            if not (cell or "").strip():
                errors.append((line, column, "required value is missing"))
        if (value or "").strip():
            try:
                parsers["value"](value.strip())
            except ValueError as exc:
                errors.append((line, "value", str(exc)))
            else:
                if not re.match(NUMBER, value):
                    errors.append((line, "value", f"'{value}' is not a number"))
        if (reason or "").strip() and (metric or "").strip().lower() != "failed_queries":
            errors.append((line, "reason", "only failed_queries rows carry a reason"))
    return errors


def _distinct_values(cursor) -> dict[str, set[str]]:
    """Every distinct non-blank value of each categorical column, in one query."""
    cursor.execute(f"""
        SELECT GROUPING({", ".join(CATEGORICAL)}), {", ".join(CATEGORICAL)}
        FROM usage_stage
        GROUP BY GROUPING SETS ({", ".join(f"({c})" for c in CATEGORICAL)})
    """)
    distinct: dict[str, set[str]] = {c: set() for c in CATEGORICAL}
    for row in cursor.fetchall():
        # GROUPING() has a 0 bit for the one column this set groups by.
        mask = row[0]
        column_index = next(
            i for i in range(len(CATEGORICAL)) if not mask & (1 << (len(CATEGORICAL) - 1 - i))
        )
        value = row[1 + column_index]
        if value is not None and value.strip():
            distinct[CATEGORICAL[column_index]].add(value)
    return distinct


def _bad_values(distinct: dict[str, set[str]], parsers: dict) -> dict[str, dict[str, str]]:
    """Per column, the values the kind's parsers reject (accounts: those not in the book),
    each with its message."""
    bad: dict[str, dict[str, str]] = {c: {} for c in CATEGORICAL}
    for column in CATEGORICAL:
        if column == "account":
            continue
        for raw in distinct[column]:
            try:
                parsers[column](raw.strip())
            except ValueError as exc:
                bad[column][raw] = str(exc)
    accounts = {raw.strip(): raw for raw in distinct["account"]}
    known = set(
        Account.objects.filter(external_id__in=list(accounts)).values_list("external_id", flat=True)
    )
    for stripped, raw in accounts.items():
        if stripped not in known:
            bad["account"][raw] = f"unknown account '{stripped}'; import it first"
    return bad


def _bad_value_rows(cursor, bad: dict[str, dict[str, str]]) -> list[tuple[int, str, str]]:
    """The rows holding a rejected value (up to the reporting limit), one error per cell."""
    errors: list[tuple[int, str, str]] = []
    if any(bad.values()):
        clauses, params = [], []
        for column in CATEGORICAL:
            if bad[column]:
                clauses.append(f"{column} = ANY(%s)")
                params.append(list(bad[column]))
        cursor.execute(
            f"SELECT line, {', '.join(CATEGORICAL)} FROM usage_stage "
            f"WHERE {' OR '.join(clauses)} ORDER BY line LIMIT {MAX_REPORTED_ERRORS + 1}",
            params,
        )
        for row in cursor.fetchall():
            for i, column in enumerate(CATEGORICAL):
                message = bad[column].get(row[1 + i])
                if message:
                    errors.append((row[0], column, message))
    return errors


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
        result.add_error(
            line,
            "account,date,metric,product,chain,dataset,reason",
            f"duplicate of row {first}; each key may appear once per import",
        )
