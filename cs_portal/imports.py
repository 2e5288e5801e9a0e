"""The one import pipeline.

Every import kind (users, accounts, contracts, ... and whatever later apps register) goes through
`run_import`, whichever door it came in by: the `import_data` command, the browser upload or
`POST /api/v1/import/{kind}`. The pipeline reads the table, parses every cell, checks natural-key
duplicates and references set-based, and only when *no* row is bad writes everything in one
transaction. A rejected import reports every bad row and writes nothing.

Apps register kinds in their own `imports.py` with `@register`; the pipeline never changes.
"""

from __future__ import annotations

import csv
import io
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from django.db import models, transaction

from .models import ImportRun

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

    def bulk_csv(self, data: bytes, result: ImportResult, progress: Progress | None) -> bool:
        """Optional fast path for a whole CSV. Return False to use the row-by-row path.

        A kind that returns True has validated every row into `result` and, only if none was
        bad, written them inside its own transaction.
        """
        return False

    def affected_accounts(self, rows: list[Row]) -> set[int]:
        """The ids of the accounts this import changed (listeners rescore them)."""
        return {r.refs["account"] for r in rows if r.refs.get("account")}

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


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise TableError(
            line,
            "",
            f"the file is not UTF-8 encoded (bad byte 0x{data[exc.start]:02x} on line "
            f"{line}); save it as 'CSV UTF-8' and upload again",
        ) from None


def _read_csv(
    text: str, kind: ImportKind, present: set[str]
) -> Iterator[tuple[int, dict[str, str]]]:
    if not text.strip():
        raise TableError(1, "", "the file is empty; it needs a header row and at least one row")
    first_line = text.lstrip("\r\n").splitlines()[0]
    if "," not in first_line:
        for delim, name in ((";", "semicolons"), ("\t", "tabs"), ("|", "pipes")):
            if delim in first_line:
                raise TableError(
                    1,
                    "",
                    f"the file is separated by {name}, not commas; export it as "
                    "comma-separated CSV",
                )
    reader = csv.reader(io.StringIO(text))
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


def _parse_rows(
    table: Iterable[tuple[int, dict[str, str]]],
    kind: ImportKind,
    result: ImportResult,
    progress: Progress | None,
) -> list[Row]:
    rows: list[Row] = []
    seen_keys: dict[tuple, int] = {}
    columns = kind.columns
    for number, raw in table:
        result.rows += 1
        if progress and result.rows % 5000 == 0:
            progress("reading rows", result.rows, None)
        if "__width__" in raw:
            result.add_error(number, "", raw["__width__"])
            continue
        if "__unknown__" in raw:
            result.add_error(number, raw["__unknown__"], "unknown column(s) in this row")
            continue
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
        if bad:
            continue
        key = tuple(values[name] for name in kind.natural_key)
        first = seen_keys.get(key)
        if first is not None:
            shown = ", ".join(str(k) for k in key if k not in (None, ""))  # blanks say nothing
            result.add_error(
                number,
                ",".join(kind.natural_key),
                f"duplicate of row {first} ({shown}); each key may appear once per import",
            )
            continue
        seen_keys[key] = number
        rows.append(Row(number, values))
    return rows


def run_import(
    kind_key: str,
    *,
    data: bytes | str | None = None,
    json_rows: Any = None,
    origin: str = "cli",
    user: Any = None,
    filename: str = "",
    progress: Progress | None = None,
    run: Any = None,
) -> ImportResult:
    """Validate every row of one import and write all of it, or none of it.

    Pass CSV as `data` (bytes or text) or a list of dicts as `json_rows`. The outcome is
    recorded as an ImportRun whatever it is, so the upload page can show the history.
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


def _run(kind, result, started, data, json_rows, origin, user, filename, progress, run):
    rows: list[Row] = []
    present: set[str] = set()
    try:
        if json_rows is None and isinstance(data, bytes) and kind.bulk_csv(data, result, progress):
            # The kind validated and wrote the file set-based (e.g. COPY on PostgreSQL).
            return _finish(kind, result, started, origin, user, filename, rows=None, run=run)
        if json_rows is not None:
            table = _read_json_rows(json_rows, kind, present)
        else:
            text = _decode(data) if isinstance(data, bytes) else (data or "")
            table = _read_csv(text, kind, present)
        rows = _parse_rows(table, kind, result, progress)
        if result.rows == 0 and result.ok:
            result.add_error(1, "", "the file has a header but no rows")
    except TableError as exc:
        result.add_error(exc.error.row, exc.error.column, exc.error.message)
    except HeaderError as exc:
        for err in exc.errors:
            result.add_error(err.row, err.column, err.message)
    except csv.Error as exc:
        result.add_error(0, "", f"the CSV could not be read: {exc}")

    if rows:
        # Check references even when some rows failed to parse, so one pass reports everything.
        if progress:
            progress("checking references", result.rows, result.rows)
        kind.resolve(rows, result)
    if result.ok:
        if progress:
            progress("writing", result.rows, result.rows)
        try:
            with transaction.atomic():
                result.stats = kind.write(rows, present)
                import_committing(kind, rows, result)
                transaction.on_commit(lambda: kind.after_commit(rows, result))
        except ImportRejected as exc:
            for err in exc.errors:
                result.add_error(err.row, err.column, err.message)
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
        transaction.on_commit(lambda: kind.after_commit([], result))
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

    One query per batch fetches the existing rows, then bulk_create / bulk_update.
    """
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
