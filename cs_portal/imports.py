"""The one import pipeline.

Every import kind (users, accounts, contracts, ... and whatever later apps register) goes through
`run_import`, whichever door it came in by: the `import_data` command, the browser upload or
`POST /api/v1/import/{kind}`. The pipeline reads the table, parses every cell, checks natural-key
duplicates and references set-based, and only when *no* row is bad writes everything in one
transaction. A rejected import reports every bad row and writes nothing.

Apps register kinds in their own `imports.py` with `@register`; the pipeline never changes.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import json
import re
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import IO, Any, ClassVar

from django.conf import settings
from django.db import connection, models, transaction

from .models import ImportRun
from .params import control_character_error

MAX_REPORTED_ERRORS = 5000
MAX_STORED_ERRORS = 1000  # kept on the ImportRun so a background job's outcome can be shown

# progress(phase, done, total): called while a long import runs, e.g. ("reading rows", 50000,
# None) or ("copying", bytes_sent, bytes_total). The command draws a bar; the browser polls.
Progress = Callable[[str, int, "int | None"], None]

# ---------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class RowError:
    row: int  # CSV: the line number as a spreadsheet shows it (header = 1); JSON: 1-based index
    column: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "message": self.message}


@dataclass
class WriteStats:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def __iadd__(self, other: WriteStats) -> WriteStats:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        return self


@dataclass
class ImportResult:
    kind: str
    rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0
    stats: WriteStats = field(default_factory=WriteStats)
    seconds: float = 0.0
    run_id: int | None = None
    touched_accounts: set[int] = field(default_factory=set)  # filled by bulk paths
    touched_days: set[date] = field(default_factory=set)  # days of usage a bulk path wrote

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    def add_error(self, row: int, column: str, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(RowError(row, column, message))

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "ok": self.ok,
            "rows": self.rows,
            "created": self.stats.created,
            "updated": self.stats.updated,
            "unchanged": self.stats.unchanged,
            "error_count": self.error_count,
            "errors": [e.as_dict() for e in self.errors],
            "seconds": round(self.seconds, 3),
        }


class ImportRejected(Exception):
    """Raised inside a kind's write step to abort the whole transaction with row errors."""

    def __init__(self, errors: list[RowError]):
        super().__init__(f"{len(errors)} bad rows")
        self.errors = errors


# ---------------------------------------------------------------------------------------------
# Cell parsers: take a non-empty string, return a value or raise ValueError(reason).


def parse_str(max_length: int = 255) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if len(raw) > max_length:
            raise ValueError(f"longer than {max_length} characters")
        # Text shows on pages and in exports: what a form refuses, an import refuses too
        # (newlines and tabs stay: a note may hold lines).
        if problem := control_character_error(raw):
            raise ValueError(problem)
        return raw

    return parse


IDENTIFIER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:-]{0,63}")
IDENTIFIER_RULE = "1-64 letters, digits, '-', '_', '.' or ':' (not starting with '-', '.' or ':')"


def parse_identifier(raw: str) -> str:
    """An identifier another system gave a record (an account's external_id, an incident's
    key): it appears in page addresses, so it keeps to IDENTIFIER's alphabet."""
    if not IDENTIFIER.fullmatch(raw):
        shown = raw if len(raw) <= 70 else raw[:67] + "..."
        raise ValueError(f"'{shown}' is not an identifier: use {IDENTIFIER_RULE}")
    return raw


def parse_email(raw: str) -> str:
    value = raw.strip().lower()
    local, _, domain = value.partition("@")
    if not local or "." not in domain or " " in value:
        raise ValueError(f"'{raw}' is not an email address")
    if len(value) > 254:  # the database column's limit; longer would fail mid-write
        raise ValueError("longer than 254 characters")
    return value


def parse_date(raw: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"'{raw}' is not a date in YYYY-MM-DD form") from None


def parse_decimal(
    minimum: Decimal | None = Decimal(0),
    *,
    max_digits: int | None = None,
    decimal_places: int | None = None,
) -> Callable[[str], Decimal]:
    def parse(raw: str) -> Decimal:
        try:
            value = Decimal(raw.replace("_", ""))
        except InvalidOperation:
            raise ValueError(f"'{raw}' is not a number") from None
        if not value.is_finite():
            raise ValueError(f"'{raw}' is not a finite number")
        if minimum is not None and value < minimum:
            raise ValueError(f"{raw} is negative; it must be at least {minimum}")
        # Match the column: more digits would make the database reject the whole write, more
        # decimals would be rounded on write (so re-importing would "update" the row every time).
        if max_digits is not None:
            places = decimal_places or 0
            largest = Decimal(10) ** (max_digits - places) - Decimal(1).scaleb(-places)
            if abs(value) > largest:
                raise ValueError(f"{raw} is too large; the most it can be is {largest:,}")
        if decimal_places is not None and value != round(value, decimal_places):
            raise ValueError(f"{raw} has more than {decimal_places} decimal places")
        return value

    return parse


def parse_int(minimum: int | None = 0, maximum: int | None = None) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"'{raw}' is not a whole number") from None
        if minimum is not None and value < minimum:
            raise ValueError(f"{value} is below the minimum of {minimum}")
        if maximum is not None and value > maximum:
            raise ValueError(f"{value} is above the maximum of {maximum}")
        return value

    return parse


def parse_enum(choices: Iterable[str]) -> Callable[[str], str]:
    allowed = tuple(choices)

    def parse(raw: str) -> str:
        value = raw.strip().lower()
        if value not in allowed:
            raise ValueError(f"'{raw}' is not one of: {', '.join(allowed)}")
        return value

    return parse


def parse_tier(raw: str) -> int:
    if raw.strip() not in {"1", "2", "3"}:
        raise ValueError(f"'{raw}' is not a tier (1, 2 or 3)")
    return int(raw)


# ---------------------------------------------------------------------------------------------
# Kinds


@dataclass(frozen=True)
class Column:
    name: str
    parse: Callable[[str], Any]
    required: bool = False
    help: str = ""


@dataclass
class Row:
    number: int
    values: dict[str, Any]
    refs: dict[str, Any] = field(default_factory=dict)  # resolved references (e.g. account id)


class ImportKind:
    """One importable kind. Subclasses declare columns and implement resolve() and write()."""

    key: ClassVar[str]
    label: ClassVar[str]
    columns: ClassVar[list[Column]]
    natural_key: ClassVar[tuple[str, ...]]
    description: ClassVar[str] = ""
    # Which permission roles may import this kind (None = any role with import rights).
    order: ClassVar[int] = 100
    # The row path parses, checks and writes a file a chunk at a time; False: the kind's hooks
    # read `result` (see chunk_written), so no parsed row is kept past its chunk.
    keeps_rows: ClassVar[bool] = True

    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def resolve(self, rows: list[Row], result: ImportResult) -> None:
        """Look up references set-based; add_error for each one that does not exist."""

    def write(self, rows: list[Row], columns: set[str]) -> WriteStats:  # pragma: no cover
        """Write the rows. `columns` are the columns the file had: a column left out of a file
        must leave that field untouched on existing records, never blank it."""
        raise NotImplementedError

    def bulk_csv(self, file: IO[bytes], result: ImportResult, progress: Progress | None) -> bool:
        """Optional fast path for a whole CSV. Return False to use the row-by-row path.

        `file` is a seekable binary file at its start; read it in chunks, never whole, and
        leave it anywhere (the pipeline rewinds it before falling back to the row path). A
        kind that returns True has validated every row into `result` and, only if none was
        bad, written them inside its own transaction.
        """
        return False

    def affected_accounts(self, rows: list[Row]) -> set[int]:
        """The ids of the accounts this import changed (listeners rescore them)."""
        return {r.refs["account"] for r in rows if r.refs.get("account")}

    def chunk_written(self, rows: list[Row], result: ImportResult) -> None:
        """Note what one written chunk touched, for the hooks: a kind with `keeps_rows =
        False` sees no rows in before_commit/after_commit, only `result`."""
        result.touched_accounts |= self.affected_accounts(rows)

    def before_commit(self, rows: list[Row], result: ImportResult) -> None:
        """Work that must follow this import, written inside its transaction (an outbox row,
        an announcement), so it commits with the data or not at all."""

    def after_commit(self, rows: list[Row], result: ImportResult) -> None:
        """Hook run after the data is committed (e.g. clear a cache)."""


_REGISTRY: dict[str, ImportKind] = {}
# Apps above the pipeline hear about every accepted import inside its transaction:
# listener(*, kind: str, account_ids: set[int]) -> None. Registered from AppConfig.ready().
_IMPORT_LISTENERS: list[Callable[..., None]] = []


def on_import(listener: Callable[..., None]) -> Callable[..., None]:
    if listener not in _IMPORT_LISTENERS:
        _IMPORT_LISTENERS.append(listener)
    return listener


def import_committing(kind: ImportKind, rows: list[Row], result: ImportResult) -> None:
    """Call inside the import's transaction, after its rows are written (the bulk paths call
    it themselves): the kind's own follow-up work, then the listeners. An import that changed
    nothing (the same file twice) has nothing to follow up."""
    if not (result.stats.created or result.stats.updated):
        return
    kind.before_commit(rows, result)
    account_ids = set(result.touched_accounts or ()) or kind.affected_accounts(rows)
    for listener in list(_IMPORT_LISTENERS):
        listener(kind=kind.key, account_ids=account_ids)


def register(cls: type[ImportKind]) -> type[ImportKind]:
    _REGISTRY[cls.key] = cls()
    return cls


def get_kind(key: str) -> ImportKind | None:
    return _REGISTRY.get(key)


def all_kinds() -> list[ImportKind]:
    return sorted(_REGISTRY.values(), key=lambda k: (k.order, k.key))


# ---------------------------------------------------------------------------------------------
# Reading the table


class TableError(Exception):
    def __init__(self, row: int, column: str, message: str):
        super().__init__(message)
        self.error = RowError(row, column, message)


class ImportTooLarge(TableError):
    """The file is over IMPORT_MAX_BYTES: refused before its body is read, or as soon as a
    stream of unknown length passes the limit."""

    def __init__(self, size: int | None = None):
        limit = _size(settings.IMPORT_MAX_BYTES)
        got = _size(size) if size is not None else f"more than {limit}"
        super().__init__(
            0,
            "",
            f"the file is too large ({got}); imports take at most {limit}. "
            "Split it into smaller files and import them one after another.",
        )
        self.message = self.error.message


def _size(n: int) -> str:
    for unit, scale in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def import_size_check(size: int | None) -> None:
    """Raise ImportTooLarge when a body's announced size is over the limit (None: unknown)."""
    if size is not None and size > settings.IMPORT_MAX_BYTES:
        raise ImportTooLarge(size)


def import_request_check(request: Any) -> None:
    """Raise ImportTooLarge when a request announces a body over the limit, before anything
    reads it (a missing or malformed Content-Length is left to the counting read)."""
    try:
        size = int(request.META.get("CONTENT_LENGTH") or "")
    except ValueError:
        return
    import_size_check(size)


class LimitedReader:
    """A binary file that raises ImportTooLarge once more than IMPORT_MAX_BYTES were read
    from it, so a body of unknown length is never held whole past the limit."""

    def __init__(self, raw: Any):
        self.raw = raw
        self.limit = settings.IMPORT_MAX_BYTES
        self.position = 0

    def _count(self, chunk: bytes) -> bytes:
        self.position += len(chunk)
        if self.position > self.limit:
            raise ImportTooLarge()
        return chunk

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = self.limit + 1 - self.position
        return self._count(self.raw.read(max(size, 1)))

    def readline(self, size: int = -1) -> bytes:
        return self._count(self.raw.readline(size))

    def seek(self, offset: int, whence: int = 0) -> int:
        self.position = self.raw.seek(offset, whence)
        return self.position

    def tell(self) -> int:
        return self.position

    def total(self) -> int | None:
        """The file's length without reading it, when it is seekable."""
        try:
            here = self.raw.tell()
            end = self.raw.seek(0, io.SEEK_END)
            self.raw.seek(here)
        except (AttributeError, OSError, ValueError):
            return None
        return end


def spool_limited(body: Any, chunk: int = 1024 * 1024) -> IO[bytes]:
    """Copy a request body into a seekable temporary file (on disk past a few MB), refusing
    it once it passes the limit. The caller closes it."""
    # Returned open, so no with-block here.
    spooled = tempfile.SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE)  # noqa: SIM115
    reader = LimitedReader(body)
    try:
        while block := reader.read(chunk):
            spooled.write(block)
    except BaseException:
        spooled.close()
        raise
    spooled.seek(0)
    return spooled


def _as_file(data: Any) -> LimitedReader:
    if data is None:
        data = b""
    if isinstance(data, str):
        data = data.encode("utf-8")
    if isinstance(data, bytes | bytearray | memoryview):
        data = io.BytesIO(data)
    return LimitedReader(data)


def _text_lines(file: LimitedReader) -> Iterator[str]:
    """The file's lines decoded one at a time (no BOM); a bad byte is named with its line."""
    for number, raw in enumerate(iter(file.readline, b""), start=1):
        if number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise TableError(
                number,
                "",
                f"the file is not UTF-8 encoded (bad byte 0x{raw[exc.start]:02x} on line "
                f"{number}); save it as 'CSV UTF-8' and upload again",
            ) from None


def _read_csv(
    file: LimitedReader, kind: ImportKind, present: set[str]
) -> Iterator[tuple[int, dict[str, str]]]:
    lines = _text_lines(file)
    # Only the lines up to the header are looked at before parsing starts; the rest streams.
    leading: list[str] = []
    first_line = next(lines, "")
    while first_line and not first_line.strip():
        leading.append(first_line)
        first_line = next(lines, "")
    if not first_line.strip():
        raise TableError(1, "", "the file is empty; it needs a header row and at least one row")
    if "," not in first_line:
        for delim, name in ((";", "semicolons"), ("\t", "tabs"), ("|", "pipes")):
            if delim in first_line:
                raise TableError(
                    1,
                    "",
                    f"the file is separated by {name}, not commas; export it as "
                    "comma-separated CSV",
                )
    reader = csv.reader(itertools.chain(leading, [first_line], lines))
    header: list[str] | None = None
    # Count records, not physical lines: a quoted cell spanning lines is still one row in a
    # spreadsheet, and blank lines are rows there too.
    for line, raw_row in enumerate(reader, start=1):
        if header is None:
            if not any(cell.strip() for cell in raw_row):
                continue
            header = [cell.strip().lower() for cell in raw_row]
            _check_header(header, kind, line)
            present.update(header)
            continue
        if not any(cell.strip() for cell in raw_row):
            continue  # blank line
        if len(raw_row) != len(header):
            yield line, {"__width__": f"expected {len(header)} fields, found {len(raw_row)}"}
            continue
        yield line, {name: cell.strip() for name, cell in zip(header, raw_row, strict=True)}
    if header is None:
        raise TableError(1, "", "the file is empty; it needs a header row and at least one row")


def _check_header(header: list[str], kind: ImportKind, line: int) -> None:
    known = set(kind.column_names())
    problems: list[RowError] = []
    seen: set[str] = set()
    for name in header:
        if name in seen:
            problems.append(RowError(line, name, "column appears twice in the header"))
        seen.add(name)
        if name not in known:
            problems.append(
                RowError(
                    line,
                    name,
                    f"unknown column; {kind.key} takes: {', '.join(kind.column_names())}",
                )
            )
    for name in kind.required_columns():
        if name not in seen:
            problems.append(RowError(line, name, "required column is missing from the header"))
    if problems:
        raise HeaderError(problems)


class WrongType(str):
    """A JSON cell of a type no column takes (a list or an object), reported as the row's error
    for its column instead of being read as its text."""

    def message(self) -> str:
        kind = "a list" if self == "list" else "an object"
        return f"{kind} where a single value (text, number or true/false) is expected"


class HeaderError(Exception):
    def __init__(self, errors: list[RowError]):
        super().__init__("bad header")
        self.errors = errors


def _read_json_rows(
    rows: Any, kind: ImportKind, present: set[str]
) -> Iterator[tuple[int, dict[str, str]]]:
    if not isinstance(rows, list) or not rows:
        raise TableError(0, "", 'expected {"rows": [...]} with at least one row')
    known = set(kind.column_names())
    for index, item in enumerate(rows, start=1):
        if not isinstance(item, dict):
            yield index, {"__width__": "each row must be a JSON object of column: value"}
            continue
        unknown = sorted(set(item) - known)
        if unknown:
            yield index, {"__unknown__": ", ".join(unknown)}
            continue
        present.update(item)
        values = {}
        for name in kind.column_names():
            value = item.get(name)
            if value is None:
                values[name] = ""
            elif isinstance(value, bool):
                values[name] = "true" if value else "false"
            elif isinstance(value, str | int | float):
                values[name] = str(value).strip()
            else:  # a list or an object: no column holds one, and its str() is not the value
                values[name] = WrongType(type(value).__name__)
        yield index, values


# ---------------------------------------------------------------------------------------------
# The pipeline


CHUNK_ROWS = 20_000  # rows the row path parses, checks and writes at a time


class SeenKeys:
    """The natural keys of the chunks already read, in a temporary table inside the import's
    transaction instead of the Python heap, so a row-path import's memory stays flat however
    long the file is; one chunk's own keys are a dict (at most CHUNK_ROWS of them).

    A key is stored as the 64-bit Python hash of its tuple of parsed values, as the in-memory
    index before it did: hash() agrees with == across the parsed types (Decimal("1.0") and
    Decimal("1") are one key), which a digest of the values' text would not, and two different
    keys sharing a hash is as unlikely as it was then. Hashes of text vary between processes,
    never within one import.

    The table is created only when a file runs past its first chunk (most files never do), is
    named per import, and goes with the transaction: ON COMMIT DROP on PostgreSQL, a rollback
    on either backend, and `drop()` once the import is over.
    """

    def __init__(self) -> None:
        self.table = f"import_keys_{uuid.uuid4().hex[:16]}"
        self.created = False

    def _name(self) -> str:
        schema = "pg_temp" if connection.vendor == "postgresql" else "temp"
        return f"{schema}.{self.table}"

    def earlier(self, keys: Iterable[int]) -> dict[int, int]:
        """The first row of each of `keys` that an earlier chunk had."""
        if not self.created:
            return {}
        keys = sorted(keys)  # in index order: each page of the index is read once per chunk
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(
                    f"SELECT t.key_hash, t.first_row FROM {self._name()} AS t "
                    "JOIN unnest(%s::bigint[]) AS k(key_hash) ON k.key_hash = t.key_hash",
                    [keys],
                )
            else:
                cursor.execute(
                    f"SELECT t.key_hash, t.first_row FROM {self._name()} AS t "
                    "JOIN json_each(%s) AS k ON k.value = t.key_hash",
                    [json.dumps(keys)],
                )
            return dict(cursor.fetchall())

    def add(self, firsts: dict[int, int]) -> None:
        """Remember a chunk's new keys (key hash -> the row it first appeared on)."""
        pairs = sorted(firsts.items())  # in index order, as in earlier()
        with connection.cursor() as cursor:
            if not self.created:
                if connection.vendor == "postgresql":
                    cursor.execute(
                        f"CREATE TEMPORARY TABLE {self.table} (key_hash bigint PRIMARY KEY, "
                        "first_row integer NOT NULL) ON COMMIT DROP"
                    )
                else:  # INTEGER PRIMARY KEY: the key is the rowid, one b-tree
                    cursor.execute(
                        f"CREATE TEMP TABLE {self.table} (key_hash INTEGER PRIMARY KEY, "
                        "first_row INTEGER NOT NULL)"
                    )
                self.created = True
            if connection.vendor == "postgresql":
                cursor.execute(
                    f"INSERT INTO {self._name()} (key_hash, first_row) "
                    "SELECT * FROM unnest(%s::bigint[], %s::integer[])",
                    [[key for key, _ in pairs], [row for _, row in pairs]],
                )
            else:
                cursor.executemany(
                    f"INSERT INTO {self._name()} (key_hash, first_row) VALUES (%s, %s)",
                    pairs,
                )

    def drop(self) -> None:
        """Drop the table once the import's transaction is over. Nothing to do when it was
        never created, when a rollback already took it, or on PostgreSQL when the transaction
        ended (ON COMMIT DROP); a caller's transaction still open keeps it until now."""
        if not self.created or connection.needs_rollback:
            return
        if connection.vendor == "postgresql" and not connection.in_atomic_block:
            return
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {self._name()}")
        self.created = False


def _natural_key(kind: ImportKind, values: dict[str, Any]) -> tuple:
    return tuple(values[name] for name in kind.natural_key)


def _duplicate_error(result: ImportResult, kind: ImportKind, number: int, first: int, key):
    shown = ", ".join(str(k) for k in key if k not in (None, ""))  # blanks say nothing
    result.add_error(
        number,
        ",".join(kind.natural_key),
        f"duplicate of row {first} ({shown}); each key may appear once per import",
    )


def _without_repeats(
    rows: list[Row],
    firsts: dict[int, int],
    repeats: list[tuple[int, int, tuple]],
    kind: ImportKind,
    result: ImportResult,
    seen: SeenKeys,
    last: bool,
) -> list[Row]:
    """A full chunk's rows minus those whose key an earlier chunk had (each reported against
    that chunk's row, as are the chunk's own repeats of it); then the chunk's new keys join
    the earlier ones, unless this is the file's last chunk."""
    earlier = seen.earlier(firsts)
    for number, key_hash, key in repeats:
        _duplicate_error(result, kind, number, earlier.get(key_hash, firsts[key_hash]), key)
    if earlier:
        repeated = {firsts.pop(key_hash): first for key_hash, first in earlier.items()}
        kept = []
        for row in rows:
            if row.number in repeated:
                key = _natural_key(kind, row.values)
                _duplicate_error(result, kind, row.number, repeated[row.number], key)
            else:
                kept.append(row)
        rows = kept
    if not last and firsts:
        seen.add(firsts)
    return rows


def _parse_row(
    number: int, raw: dict[str, str], columns: list[Column], result: ImportResult
) -> dict[str, Any] | None:
    """One row's parsed values, or None after reporting each of its bad cells."""
    if "__width__" in raw:
        result.add_error(number, "", raw["__width__"])
        return None
    if "__unknown__" in raw:
        result.add_error(number, raw["__unknown__"], "unknown column(s) in this row")
        return None
    values: dict[str, Any] = {}
    bad = False
    for column in columns:
        cell = raw.get(column.name, "")
        if isinstance(cell, WrongType):
            result.add_error(number, column.name, cell.message())
            bad = True
            continue
        if "\x00" in cell:  # PostgreSQL cannot store it; it would fail mid-write
            result.add_error(number, column.name, "contains a NUL character (0x00)")
            bad = True
            continue
        if cell == "":
            if column.required:
                result.add_error(number, column.name, "required value is missing")
                bad = True
            values[column.name] = None
            continue
        try:
            values[column.name] = column.parse(cell)
        except ValueError as exc:
            result.add_error(number, column.name, str(exc))
            bad = True
    return None if bad else values


def _parse_chunks(
    table: Iterable[tuple[int, dict[str, str]]],
    kind: ImportKind,
    result: ImportResult,
    progress: Progress | None,
    seen: SeenKeys,
) -> Iterator[list[Row]]:
    """The table's good rows, parsed, CHUNK_ROWS at a time; bad cells go to `result`."""
    rows: list[Row] = []
    # This chunk's keys by hash (-> first row), and its rows that repeat one of them: reported
    # when the chunk is complete, against an earlier chunk's row if one had the key first.
    firsts: dict[int, int] = {}
    repeats: list[tuple[int, int, tuple]] = []
    for number, raw in table:
        result.rows += 1
        if progress and result.rows % 5000 == 0:
            progress("reading rows", result.rows, None)
        values = _parse_row(number, raw, kind.columns, result)
        if values is None:
            continue
        key = _natural_key(kind, values)
        key_hash = hash(key)
        if firsts.setdefault(key_hash, number) != number:
            repeats.append((number, key_hash, key))
        else:
            rows.append(Row(number, values))
        if len(rows) + len(repeats) >= CHUNK_ROWS:
            chunk = _without_repeats(rows, firsts, repeats, kind, result, seen, last=False)
            rows, firsts, repeats = [], {}, []
            if chunk:
                yield chunk
            del chunk
    if rows or repeats:
        chunk = _without_repeats(rows, firsts, repeats, kind, result, seen, last=True)
        if chunk:
            yield chunk


def run_import(
    kind_key: str,
    *,
    data: bytes | str | IO[bytes] | None = None,
    json_rows: Any = None,
    origin: str = "cli",
    user: Any = None,
    filename: str = "",
    progress: Progress | None = None,
    run: Any = None,
) -> ImportResult:
    """Validate every row of one import and write all of it, or none of it.

    Pass CSV as `data` (bytes, text or a binary file, read as a stream and only up to
    IMPORT_MAX_BYTES) or a list of dicts as `json_rows`. The outcome is recorded as an
    ImportRun whatever it is, so the upload page can show the history.
    """
    started = time.monotonic()
    kind = get_kind(kind_key)
    result = ImportResult(kind=kind_key)
    if kind is None:
        result.add_error(
            0,
            "",
            f"unknown import kind '{kind_key}'; use one of: "
            + ", ".join(k.key for k in all_kinds()),
        )
        return result

    if run is None:
        # Recorded as running from the start (outside the import's transaction), so the
        # recompute relay can see a load is still arriving and wait for it to finish.
        run = _run_started(kind, origin, user, filename)
    try:
        return _run(kind, result, started, data, json_rows, origin, user, filename, progress, run)
    except BaseException:
        ImportRun.objects.filter(pk=run.pk, status=ImportRun.Status.RUNNING).update(
            status=ImportRun.Status.FAILED, seconds=time.monotonic() - started
        )
        raise


def _run_started(kind: ImportKind, origin: str, user: Any, filename: str):
    return ImportRun.objects.create(
        kind=kind.key,
        origin=origin,
        filename=filename[:255],
        user=user if getattr(user, "pk", None) else None,
        status=ImportRun.Status.RUNNING,
    )


def _check_and_write(kind, table, result, present, progress, seen) -> list[Row]:
    """Parse, check and (while no row so far was bad) write the table a chunk at a time, so
    memory holds a chunk, not the file. Returns the rows the kind's hooks read (keeps_rows)."""
    rows: list[Row] = []
    for chunk in _parse_chunks(table, kind, result, progress, seen):
        if progress:
            progress("checking references", result.rows, None)
        kind.resolve(chunk, result)
        if result.ok:
            if progress:
                progress("writing", result.rows, None)
            result.stats += kind.write(chunk, present)
            kind.chunk_written(chunk, result)
        if kind.keeps_rows:
            rows.extend(chunk)
        del chunk  # or it stays alive while the next chunk is read: two chunks, not one
    return rows


def _run(kind, result, started, data, json_rows, origin, user, filename, progress, run):
    rows: list[Row] = []
    present: set[str] = set()
    try:
        file = _as_file(data)
        if json_rows is None and not isinstance(data, str | None):
            if kind.bulk_csv(file, result, progress):
                # The kind validated and wrote the file set-based (e.g. COPY on PostgreSQL).
                return _finish(kind, result, started, origin, user, filename, rows=None, run=run)
            file.seek(0)
        if json_rows is not None:
            table = _read_json_rows(json_rows, kind, present)
        else:
            table = _read_csv(file, kind, present)
        seen = SeenKeys()
        try:
            # One transaction: a bad row anywhere rolls all of it back.
            with transaction.atomic():
                rows = _check_and_write(kind, table, result, present, progress, seen)
                if result.rows == 0 and result.ok:
                    result.add_error(1, "", "the file has a header but no rows")
                if result.ok:
                    import_committing(kind, rows, result)
                    # robust: the rows are committed; a failing follow-up is logged, not the
                    # import's outcome (an API client would retry a committed file on a 500).
                    transaction.on_commit(lambda: kind.after_commit(rows, result), robust=True)
                else:
                    transaction.set_rollback(True)
        finally:
            seen.drop()
    except TableError as exc:
        result.add_error(exc.error.row, exc.error.column, exc.error.message)
    except (HeaderError, ImportRejected) as exc:
        for err in exc.errors:
            result.add_error(err.row, err.column, err.message)
    except csv.Error as exc:
        result.add_error(0, "", f"the CSV could not be read: {exc}")
    if not result.ok:
        result.stats = WriteStats()  # rolled back: nothing was written
    # Resolve checks run after parsing; list problems top to bottom as the file reads.
    result.errors.sort(key=lambda e: e.row)
    return _finish(kind, result, started, origin, user, filename, rows=rows, run=run)


def _finish(
    kind: ImportKind,
    result: ImportResult,
    started: float,
    origin: str,
    user: Any,
    filename: str,
    rows: list[Row] | None,
    run: Any,
) -> ImportResult:
    """Record the outcome on the import's ImportRun, whatever it was."""
    if rows is None and result.ok:
        # A bulk path committed on its own: run the kind's follow-up now.
        transaction.on_commit(lambda: kind.after_commit([], result), robust=True)
    result.seconds = time.monotonic() - started
    fields = {
        "kind": kind.key,
        "origin": origin,
        "filename": filename[:255],
        "user": user if getattr(user, "pk", None) else None,
        "status": ImportRun.Status.ACCEPTED if result.ok else ImportRun.Status.REJECTED,
        "rows": result.rows,
        "created": result.stats.created,
        "updated": result.stats.updated,
        "unchanged": result.stats.unchanged,
        "error_count": result.error_count,
        "errors": [e.as_dict() for e in result.errors[:MAX_STORED_ERRORS]],
        "seconds": result.seconds,
    }
    # The run was recorded as running when the import started (run_import); finish it.
    for name, value in fields.items():
        setattr(run, name, value)
    run.save()
    result.run_id = run.pk
    return result


# ---------------------------------------------------------------------------------------------
# Set-based upsert used by the kinds' write() steps


def present_fields(columns: set[str], field_for: dict[str, str]) -> tuple[str, ...]:
    """The model fields an import may update: only those whose column the file had."""
    return tuple(field for column, field in field_for.items() if column in columns)


def upsert(
    model: type[models.Model],
    items: list[dict[str, Any]],
    *,
    key: tuple[str, ...],
    fields: tuple[str, ...],
    batch_size: int = 2000,
) -> WriteStats:
    """Insert new rows and update changed ones, keyed on `key`; identical rows are left alone.

    One query per batch fetches the existing rows, then bulk_create / bulk_update. Call it
    inside the import's transaction: on PostgreSQL it first waits for any other import writing
    the same table to commit, so two imports creating the same new keys at once both succeed
    (the second sees the first's rows and updates them) instead of one failing on the key.
    """
    _wait_for_other_writers(model)
    stats = WriteStats()
    for start in range(0, len(items), batch_size):
        batch = items[start : start + batch_size]
        existing = _existing_by_key(model, batch, key)
        to_create, to_update = [], []
        for item in batch:
            obj = existing.get(tuple(item[k] for k in key))
            if obj is None:
                to_create.append(model(**item))
                continue
            changed = False
            for name in fields:
                if getattr(obj, name) != item[name]:
                    setattr(obj, name, item[name])
                    changed = True
            if changed:
                to_update.append(obj)
            else:
                stats.unchanged += 1
        model.objects.bulk_create(to_create, batch_size=batch_size)
        if to_update:
            model.objects.bulk_update(to_update, fields, batch_size=500)
        stats.created += len(to_create)
        stats.updated += len(to_update)
    return stats


def _wait_for_other_writers(model: type[models.Model]) -> None:
    """Take this table's import lock until the transaction ends (PostgreSQL only; SQLite
    already lets one writer in at a time)."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtext(%s))", [f"import:{model._meta.db_table}"]
        )


def _existing_by_key(model, batch, key):
    if len(key) == 1:
        values = {item[key[0]] for item in batch}
        qs = model.objects.filter(**{f"{key[0]}__in": values})
    else:
        # Narrow by the first key part, then match the full key in Python.
        first = {item[key[0]] for item in batch}
        qs = model.objects.filter(**{f"{key[0]}__in": first})
    wanted = {tuple(item[k] for k in key) for item in batch}
    found = {}
    for obj in qs:
        obj_key = tuple(getattr(obj, k) for k in key)
        if obj_key in wanted:
            found[obj_key] = obj
    return found
