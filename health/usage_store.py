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

from django.db import DatabaseError, DataError, connection, transaction

from accounts.models import Account
from cs_portal.imports import (
    MAX_REPORTED_ERRORS,
    ImportResult,
    ImportTooLarge,
    WriteStats,
    import_committing,
)

from .models import UsageDims
from .partitions import months, partition_name, partitioned, usage_partitions_ensure

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

    Optimistic: a good file costs the COPY, one survey of its distinct values and one
    `INSERT … SELECT` ordered by key, where the database's own constraints catch what the
    survey cannot see per row (a value that is not a number, a key given twice). Only when
    the survey finds a bad value or the database rejects the write does the diagnostic pass
    run, which names every bad row with the same messages as the row path.
    """
    header = _csv_header(file)
    if header is None:
        return False
    started = time.monotonic()
    with transaction.atomic(), connection.cursor() as cursor:
        if not _stage(cursor, header, file, progress):
            return False
        phases = {"copy": time.monotonic()}
        # Statistics for the write's joins (a sample: cheap), or it plans the file as tiny.
        cursor.execute("ANALYZE usage_stage")
        survey = _survey(cursor, kind)
        result.rows = survey.rows
        if result.rows == 0:
            result.add_error(1, "", "the file has a header but no rows")
            return True
        if progress:
            progress("validating", result.rows, result.rows)
        written = survey.clean and _prepare(cursor, survey)
        phases["validate"] = time.monotonic()
        if written:
            if progress:
                progress("writing", result.rows, result.rows)
            written = _write(cursor, survey, result, optimistic=True)
        if not written and not _diagnose(cursor, kind, survey, result):
            return True  # rejected: every bad row is named, nothing is written
        phases["upsert"] = time.monotonic()
        import_committing(kind, [], result)
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
    # ON COMMIT DROP only fires at the outermost commit: inside a caller's transaction the
    # previous import's staging table is still there. No line number here: only the
    # diagnostic pass needs one, and numbering every row costs a fifth of the COPY.
    cursor.execute("DROP TABLE IF EXISTS pg_temp.usage_stage")
    cursor.execute(
        "CREATE TEMP TABLE usage_stage ("
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


# ---------------------------------------------------------------------------------------------
# The optimistic path: survey the distinct values, map them, one ordered INSERT … SELECT


class Survey:
    """What one pass over the staged file found: its row count, and per raw value of the
    account, date and (metric, product, chain, dataset, reason) columns what it stands for."""

    def __init__(self) -> None:
        self.rows = 0
        self.clean = True
        self.accounts: dict[str, int] = {}  # raw cell → account id
        self.days: dict[str, date] = {}  # raw cell → day
        # (raw metric, raw product, chain, dataset, reason; None as '') → (metric, dims tuple)
        self.tuples: dict[tuple[str, ...], tuple[str, tuple[str, str, str, str]]] = {}
        self.dims: dict[tuple[str, str, str, str], int] = {}


def _survey(cursor, kind) -> Survey:
    """The staged file's distinct accounts, dates and dimension tuples (three hash aggregates:
    one GROUPING SETS pass sorted instead, four times slower), each checked with the kind's own
    parsers. Any value they reject marks the survey unclean (the diagnostic pass then names
    the rows)."""
    parsers = {c.name: c.parse for c in kind.columns}
    survey = Survey()
    cursor.execute("SELECT date, COUNT(*) FROM usage_stage GROUP BY date")
    for day, count in cursor.fetchall():
        survey.rows += count
        try:
            survey.days[day] = parsers["date"](day.strip())
        except (AttributeError, ValueError):  # None: a missing date
            survey.clean = False
    cursor.execute(
        "SELECT metric, product, chain, dataset, reason FROM usage_stage "
        "GROUP BY metric, product, chain, dataset, reason"
    )
    for metric, *dims in cursor.fetchall():
        _survey_tuple(survey, parsers, metric, dims)
    cursor.execute("SELECT account FROM usage_stage GROUP BY account")
    raw_accounts: set[str | None] = {row[0] for row in cursor.fetchall()}
    wanted = {raw.strip() for raw in raw_accounts if raw and raw.strip()}
    known = dict(
        Account.objects.filter(external_id__in=list(wanted)).values_list("external_id", "id")
    )
    survey.accounts = {
        raw: known[raw.strip()] for raw in raw_accounts if raw and raw.strip() in known
    }
    if len(survey.accounts) != len(raw_accounts):
        survey.clean = False  # a missing or unknown account
    return survey


def _survey_tuple(survey: Survey, parsers: dict, metric: str | None, dims: list) -> None:
    try:
        name = parsers["metric"]((metric or "").strip())
        parsed = tuple(
            parsers[c](raw.strip()) if raw and raw.strip() else ""
            for c, raw in zip(("product", "chain", "dataset", "reason"), dims, strict=True)
        )
    except ValueError:
        survey.clean = False
        return
    if parsed[3] and name != "failed_queries":
        survey.clean = False
        return
    key = (metric, *(raw or "" for raw in dims))
    survey.tuples[key] = (name, tuple(v or "" for v in parsed))


def _prepare(cursor, survey: Survey) -> bool:
    """Intern the file's dimension tuples, make the months' partitions, and load the raw →
    id maps the write joins the staged rows to (temporary tables of a few thousand rows)."""
    survey.dims = UsageDims.intern({dims for _, dims in survey.tuples.values()})
    if survey.days:
        usage_partitions_ensure(min(survey.days.values()), max(survey.days.values()))
    cursor.execute("DROP TABLE IF EXISTS pg_temp.usage_stage_accounts, pg_temp.usage_stage_dims")
    cursor.execute(
        "CREATE TEMP TABLE usage_stage_accounts (raw text PRIMARY KEY, account_id bigint) "
        "ON COMMIT DROP"
    )
    cursor.execute(
        "CREATE TEMP TABLE usage_stage_dims (key text PRIMARY KEY, name text, dims_id int) "
        "ON COMMIT DROP"
    )
    with cursor.cursor.copy("COPY usage_stage_accounts FROM STDIN") as copy:
        for raw, account_id in survey.accounts.items():
            copy.write_row((raw, account_id))
    with cursor.cursor.copy("COPY usage_stage_dims FROM STDIN") as copy:
        for raw, (name, dims) in survey.tuples.items():
            copy.write_row(("|".join(raw), name, survey.dims[dims]))
    cursor.execute("ANALYZE usage_stage_accounts")
    cursor.execute("ANALYZE usage_stage_dims")
    return True


# The staged rows with their ids, in key order. A value the row path would refuse becomes NULL
# so the fact table's NOT NULL rejects the write: NaN and infinities (which float8 reads), a
# negative zero (the COPY path has always refused "-0"); a negative number fails the table's
# CHECK and text that is not a number the cast itself. In the upsert, a key the file gives
# twice gets a NULL account the same way: the upsert's WHERE would otherwise skip two rows
# equal to a stored fact without a word. The dimension tuple is matched on one text key, so the
# planner estimates the join right (five separate columns multiply into "one row").
DIMS_KEY = "||'|'||".join(
    ["s.metric", *(f"coalesce(s.{c}, '')" for c in ("product", "chain", "dataset", "reason"))]
)
_MAPPED_SQL = f"""
    SELECT account_id, date, metric, dims_id,
           CASE WHEN v >= 0 AND v < 'Infinity'::float8 AND NOT (v = 0 AND raw LIKE '-%%')
                THEN v END AS value
    FROM (
        SELECT a.account_id, s.date::date AS date, d.name AS metric, d.dims_id,
               s.value::float8 AS v, ltrim(s.value) AS raw
        FROM usage_stage s
        JOIN usage_stage_accounts a ON a.raw = s.account
        JOIN usage_stage_dims d ON d.key = {DIMS_KEY}
    ) r
"""
_APPEND_SQL = f"INSERT INTO {TABLE} ({KEY}, value) SELECT * FROM ({_MAPPED_SQL}) m ORDER BY {KEY}"
_UPSERT_SQL = f"""
    WITH written AS (
        INSERT INTO {TABLE} ({KEY}, value)
        SELECT k.account_id, k.date, k.metric, k.dims_id, k.value
        FROM (
            SELECT CASE WHEN (account_id, date, metric, dims_id)
                             IS NOT DISTINCT FROM lag((account_id, date, metric, dims_id)) OVER w
                        THEN NULL ELSE account_id END AS account_id,
                   date, metric, dims_id, value
            FROM ({_MAPPED_SQL}) m
            WINDOW w AS (ORDER BY {KEY})
        ) k
        -- Only the rows that are new or change a stored value reach the conflict check.
        LEFT JOIN {TABLE} f ON f.account_id = k.account_id AND f.date = k.date
            AND f.metric = k.metric AND f.dims_id = k.dims_id AND f.date BETWEEN %s AND %s
        WHERE f.value IS DISTINCT FROM k.value OR k.value IS NULL OR k.account_id IS NULL
        ORDER BY k.account_id, k.date, k.metric, k.dims_id
        {UPSERT_TAIL}
        RETURNING (id > %s) AS inserted
    )
    SELECT COUNT(*) FILTER (WHERE inserted), COUNT(*) FROM written
"""
# Does any stored fact share an account and a day span with the file? (One index probe per
# account: the natural key leads with account_id and date.) If not, the rows are appended.
_OVERLAP_SQL = f"""
    SELECT 1 FROM usage_stage_accounts a
    WHERE EXISTS (SELECT 1 FROM {TABLE} f WHERE f.account_id = a.account_id
                  AND f.date BETWEEN %s AND %s)
    LIMIT 1
"""
# Database errors that mean "this file has a bad row" rather than "the database is unwell".
REJECTIONS = {"23502", "23505", "23514", "22P02", "22003", "22007", "22008"}


def _write(cursor, survey: Survey, result: ImportResult, *, optimistic: bool) -> bool:
    """Write the staged rows: appended when no stored fact shares an account and a day with
    them, else upserted. False (nothing written) when the database rejects them."""
    first, last = min(survey.days.values()), max(survey.days.values())
    cursor.execute(_OVERLAP_SQL, [first, last])
    # Past the diagnostic pass, another import may have written the same facts: upsert.
    append = cursor.fetchone() is None and optimistic
    cursor.execute("SET LOCAL work_mem = '256MB'")  # the key-order sort, in memory
    sid = transaction.savepoint_create()
    try:
        if append:
            cursor.execute(_APPEND_SQL)
            created = affected = cursor.rowcount
            if created != result.rows:  # every staged row maps to one fact, or none is kept
                raise DataError("a staged usage row did not map to a fact")
        else:
            cursor.execute(_UPSERT_SQL, [first, last, _id_floor(cursor)])
            created, affected = cursor.fetchone()
    except DatabaseError as exc:
        transaction.savepoint_rollback(sid)
        rejected = getattr(exc.__cause__, "sqlstate", None) in REJECTIONS or exc.__cause__ is None
        if not optimistic or not rejected:
            raise
        return False
    transaction.savepoint_commit(sid)
    cursor.execute("RESET work_mem")
    if created > 100_000:
        # Fresh statistics for the months written, or the next recompute plans for them empty.
        names = [p for p in map(partition_name, months(first, last)) if partitioned()]
        cursor.execute(f"ANALYZE {', '.join(names) or TABLE}")
    result.touched_accounts = set(survey.accounts.values())
    result.stats = WriteStats(
        created=created, updated=affected - created, unchanged=result.rows - affected
    )
    if created or affected:
        result.touched_days = set(survey.days.values())
    return True


def _diagnose(cursor, kind, survey: Survey, result: ImportResult) -> bool:
    """The file was refused: name every bad row (True only if none is found, after which the
    rows are written with the upsert: another import wrote the same facts meanwhile)."""
    _number_lines(cursor)
    _validate(cursor, kind, result)
    _report_duplicates(cursor, result)  # so one pass names every bad row
    if not result.ok:
        result.errors.sort(key=lambda e: e.row)
        return False
    if not survey.clean:  # the survey saw a problem the row checks do not name: be safe
        raise RuntimeError("the usage survey and the row checks disagree about this file")
    if not survey.dims:
        _prepare(cursor, survey)
    return _write(cursor, survey, result, optimistic=False)


def _number_lines(cursor) -> None:
    """Give the staged rows their spreadsheet line numbers (the header is line 1): a table
    COPY has just filled holds its records in file order, so the physical order numbers them."""
    cursor.execute(
        "CREATE TEMP TABLE usage_stage_lines ON COMMIT DROP AS "
        "SELECT row_number() OVER (ORDER BY ctid) + 1 AS line, * FROM usage_stage"
    )
    cursor.execute("DROP TABLE usage_stage")
    cursor.execute("ALTER TABLE usage_stage_lines RENAME TO usage_stage")
    cursor.execute("ANALYZE usage_stage")


def _id_floor(cursor) -> int:
    """Ids above this are rows inserted from now on: how an upsert tells the rows it inserted
    from the ones it updated (a partitioned table has no `xmax` to return)."""
    cursor.execute(f"SELECT nextval(pg_get_serial_sequence('{TABLE}', 'id'))")
    return cursor.fetchone()[0]


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
