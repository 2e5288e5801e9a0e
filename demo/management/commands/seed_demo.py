"""`manage.py seed_demo`: load the demo book through the import pipeline, then score it.

The rows come from `demo.book.build_book(today)` plus `demo.usage.apply_stories` (which
tunes a few story accounts and writes 240 days of usage and the data-trust incidents), and go in
through `run_import`, kind by kind (users → accounts → contracts → contacts → touchpoints →
incidents → usage), exactly as a customer's files would; usage goes as one CSV, which PostgreSQL
loads through COPY. A rejected kind stops the seed with the pipeline's own row errors. Then the
last 90 days of health snapshots are backfilled so the trend charts have a history, and the
command prints the band counts and where each story lives.

The book is a pure function of its anchor date, and usage is relative to it: a book anchored on
an older day would look as if every customer had stopped using the product. So:
- by default the anchor is today; if the existing demo book was anchored on another day, its
  accounts (and, by cascade, their contracts, contacts, touchpoints, usage and snapshots) and its
  incidents are deleted and the book is re-seeded at today;
- `--today` pins the anchor on purpose (a reproducible demo or test); a pinned book is reused by
  later runs without `--today` until another `--today` moves it;
- re-running with the same anchor changes nothing: every import upserts on natural keys and
  reports 0 new / 0 updated, and the snapshot backfill is skipped when nothing changed.
The anchor is recorded in the import history (the runs' filename).
"""

from __future__ import annotations

import csv
import io
import logging
import re
import time
from collections import Counter
from contextlib import contextmanager
from datetime import date, timedelta
from typing import NamedTuple

from django.conf import settings
from django.contrib.auth.hashers import check_password, is_password_usable
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Account, Contact, Contract, Role, Touchpoint, User
from cs_portal.imports import run_import
from cs_portal.models import ImportRun
from demo import book as demo
from demo import datatrust as datatrust_demo
from demo import usage as health_demo
from demo.expansion import demo_expansion_seed, demo_expansion_summary
from demo.qbr import demo_qbr_seed, demo_qbr_summary
from demo.success import demo_success_seed
from demo.voc import demo_voc_seed, demo_voc_summary, shape_usage
from health.events import announce_recompute, paused
from health.imports import USAGE_COLUMNS
from health.models import HealthSnapshot, Incident, UsageFact
from health.services import health_backfill, last_complete_day
from playbooks.models import Alert, Play
from playbooks.plays.library import playbooks_load_defaults

ANCHOR_LABEL = "seed_demo anchor="
PINNED = " pinned"
BACKFILL_DAYS = 90
ALERT_CATCH_UP_DAYS = 30
ANALYZE_TABLES = tuple(
    model._meta.db_table for model in (Account, Contract, Contact, Touchpoint, Incident, UsageFact)
)


class Anchor(NamedTuple):
    day: date
    pinned: bool


def previous_anchor() -> Anchor | None:
    """The anchor date the existing demo book was seeded with, if there is one."""
    run = (
        ImportRun.objects.filter(
            kind="accounts", status=ImportRun.Status.ACCEPTED, filename__startswith=ANCHOR_LABEL
        )
        .order_by("-created_at", "-id")
        .first()
    )
    if run is None or not Account.objects.filter(external_id="acct-0001").exists():
        return None
    match = re.fullmatch(
        re.escape(ANCHOR_LABEL) + r"(\d{4}-\d{2}-\d{2})(" + PINNED + ")?", run.filename
    )
    return Anchor(date.fromisoformat(match.group(1)), bool(match.group(2))) if match else None


def set_demo_passwords(emails: list[str]) -> int:
    """Give every demo user the published demo password; returns how many users changed.

    PBKDF2 costs ~0.8 s per hash, so hashing once per user would dominate the seed. One
    set_password() call produces the hash and the other demo users share it (a shared salt is
    harmless for a password printed on screen), and each distinct usable stored hash is verified
    once, so a re-run costs one check and writes nothing.
    """
    users = list(User.objects.filter(email__in=emails).order_by("email"))
    verified: dict[str, bool] = {}
    new_hash: str | None = None
    changed = 0
    for user in users:
        fields: list[str] = []
        if user.password not in verified:
            # An unusable password cannot match; skip the check, which would still spend a full
            # PBKDF2 round on a dummy hash (Django's timing-attack guard).
            verified[user.password] = is_password_usable(user.password) and check_password(
                demo.DEMO_PASSWORD, user.password
            )
        if not verified[user.password]:
            if new_hash is None:
                user.set_password(demo.DEMO_PASSWORD)
                new_hash = user.password
            else:
                user.password = new_hash
            fields.append("password")
        # The manager and admin use Django admin too; only grant, never revoke, so a re-seed
        # does not undo what someone set up by hand.
        wants_staff = user.role in (Role.MANAGER, Role.ADMIN)
        if wants_staff and not user.is_staff:
            user.is_staff = True
            fields.append("is_staff")
        if user.role == Role.ADMIN and not user.is_superuser:
            user.is_superuser = True
            fields.append("is_superuser")
        if fields:
            user.save(update_fields=fields)
            changed += 1
    return changed


def usage_csv(rows: list[dict]) -> bytes:
    """The usage rows as one CSV file (the bulk path: COPY on PostgreSQL)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=USAGE_COLUMNS, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


@transaction.atomic
def drop_demo_book(anchor: date) -> int:
    """Delete the demo book seeded at `anchor`: its accounts (cascading to everything hanging
    off them) and its incidents. Demo users stay. Returns the number of accounts deleted."""
    book = demo.build_book(anchor)
    ids = [row["external_id"] for row in book["accounts"]]
    Incident.objects.filter(
        key__in=[i["key"] for i in health_demo.story_incidents(anchor)]
    ).delete()
    _, per_model = Account.objects.filter(external_id__in=ids).delete()
    return per_model.get(Account._meta.label, 0)


@contextmanager
def quiet_logs(*names: str):
    """Mute the per-recompute INFO lines while seeding: the command prints its own summary."""
    names = names or (
        "health.services",
        "health.usage_store",
        "celery.app.trace",
        "playbooks.alerts",
        "playbooks.plays",
        "playbooks.tiering",
        "playbooks.nudges",
        "playbooks.success",
        "playbooks.delivery",
        "expansion.services",
        "voc.services",
    )
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


class Command(BaseCommand):
    help = (
        "Load a realistic demo book (~475 accounts with contracts, contacts, touchpoints, "
        "incidents and 240 days of usage) through the import pipeline, plus demo users for "
        "every role, and backfill 90 days of health snapshots. Safe to re-run."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--today",
            type=date.fromisoformat,
            default=None,
            metavar="YYYY-MM-DD",
            help="pin the book's anchor date (default: today, or the pinned anchor of the "
            "existing demo book)",
        )

    def handle(self, *args, today: date | None = None, **options):
        started = time.monotonic()
        calendar_today = timezone.localdate()
        previous = previous_anchor()
        explicit = today is not None
        if today is not None:
            anchor = Anchor(today, today != calendar_today)
        elif previous is not None and previous.pinned:
            anchor = previous
        else:
            anchor = Anchor(calendar_today, False)
        today = anchor.day

        if previous is not None and previous.day != today:
            dropped = drop_demo_book(previous.day)
            self.stdout.write(
                f"Re-anchored the demo book from {previous.day.isoformat()} to "
                f"{today.isoformat()}: deleted its {dropped} accounts with their contracts, "
                "contacts, touchpoints, usage and snapshots, and re-seeding"
            )
        note = ""
        if previous is not None and previous.day == today:
            note = " (the existing demo book's anchor)"
            if anchor.pinned and not explicit:
                note = " (pinned by an earlier --today; pass --today to move it)"
        self.stdout.write(f"Seeding the demo book anchored at {today.isoformat()}{note}")

        book = demo.build_book(today)
        story = health_demo.apply_stories(book, today, demo.SEED)
        # The shipped VoC theme's outcome, in the usage (only a live book gets VoC, see _voc).
        live = today - timedelta(days=1) >= last_complete_day() - timedelta(days=1)
        shipped = shape_usage(book, story, today) if live else None
        label = f"{ANCHOR_LABEL}{today.isoformat()}{PINNED if anchor.pinned else ''}"
        with quiet_logs(), paused():
            changed = self._import(book, story, label)
            # The dataset catalogue, freshness and a schema change (after usage: it reads it).
            changed = (
                datatrust_demo.demo_load(today, label=label, write=self.stdout.write) or changed
            )
            ids = list(
                Account.objects.filter(
                    external_id__in=[row["external_id"] for row in book["accounts"]]
                ).values_list("id", flat=True)
            )
            self._playbooks(today)
            self._snapshots(today, ids, changed)
        self._alerts(today)
        self._expansion(today)
        self._voc(today, shipped)
        self._qbr(today)
        datatrust_demo.demo_announce(today, write=self.stdout.write)

        tiers = [row["tier"] for row in book["accounts"]]
        arr = demo.arr_on(book["contracts"], today)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo book: {len(tiers)} accounts (tier 1: {tiers.count(1)}, tier 2: "
                f"{tiers.count(2)}, tier 3: {tiers.count(3)}), ARR ${arr:,} "
                f"on {today.isoformat()}, "
                f"{len(story['usage']):,} usage facts, seeded in {time.monotonic() - started:.1f} s"
            )
        )
        self._summary(today, book, story["stories"])
        self.stdout.write("")
        self.stdout.write(demo.logins_text(settings.SITE_URL))

    def _import(self, book: dict, story: dict, label: str) -> bool:
        """Every kind through the pipeline, in order; True if any of them wrote something."""
        changed = False
        for kind in demo.IMPORT_ORDER:
            rows = book[kind] if kind in demo.BOOK_KINDS else story[kind]
            if kind == "usage":
                result = run_import(kind, data=usage_csv(rows), origin="cli", filename=label)
            else:
                result = run_import(kind, json_rows=rows, origin="cli", filename=label)
            if not result.ok:
                first = "\n".join(
                    f"  row {e.row}{f' [{e.column}]' if e.column else ''}: {e.message}"
                    for e in result.errors[:10]
                )
                raise CommandError(
                    f"{kind} import rejected ({result.error_count} problem(s) in {result.rows} "
                    f"rows); nothing of it was written. First errors:\n{first}"
                )
            stats = result.stats
            changed = changed or bool(stats.created or stats.updated)
            self.stdout.write(
                f"  {kind:<12} {result.rows:>6} rows: {stats.created} new, {stats.updated} "
                f"updated, {stats.unchanged} unchanged ({result.seconds:.2f} s)"
            )
            if kind == "users":
                changed_users = set_demo_passwords([row["email"] for row in book["users"]])
                self.stdout.write(f"  {'passwords':<12} {changed_users} demo user(s) updated")
        return changed

    def _snapshots(self, today: date, ids: list[int], changed: bool) -> None:
        """Backfill the last 90 days of snapshots, unless they are complete and nothing moved."""
        since, until = today - timedelta(days=BACKFILL_DAYS), today - timedelta(days=1)
        days = (until - since).days + 1
        # The imports' own recompute scores "yesterday" by the calendar: after a pinned anchor
        # in the past, that is a day the book holds no usage for. Drop those snapshots.
        HealthSnapshot.objects.filter(account_id__in=ids, date__gt=until).delete()
        have = (
            HealthSnapshot.objects.filter(account_id__in=ids, date__gte=since, date__lte=until)
            .values("date")
            .distinct()
            .count()
        )
        if not changed and have == days:
            self.stdout.write(f"  {'snapshots':<12} {days} days up to date")
            return
        clock = time.monotonic()
        if connection.vendor == "postgresql" and changed:
            # A bulk load leaves the planner's statistics stale until autovacuum catches up;
            # with them the backfill's aggregates pick plans for empty tables (~3x slower).
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE " + ", ".join(ANALYZE_TABLES))
        # One transaction for the whole history: all or nothing, and one commit instead of 90.
        with transaction.atomic():
            written = health_backfill(since=since, until=until, account_ids=ids)
        self.stdout.write(
            f"  {'snapshots':<12} {written:>6} for {days} days ({since.isoformat()} to "
            f"{until.isoformat()}, {time.monotonic() - clock:.1f} s)"
        )

    def _playbooks(self, today: date) -> None:
        """The default playbook library and the success plans and onboarding milestones, before
        the snapshots, so the live day's alerts start plays and milestones can complete."""
        created, _ = playbooks_load_defaults()
        counts = demo_success_seed(today)
        self.stdout.write(
            f"  {'playbooks':<12} {created} new default playbook(s); success data: "
            + ", ".join(f"{v} {k}" for k, v in counts.items())
        )

    def _alerts(self, today: date) -> None:
        """Act on the book as it stands: complete milestones from usage, raise what crossed in
        the last 30 days and still holds (starting plays), refresh tier suggestions and nudges.
        The history above was loaded with these paused. Idempotent like every alert."""
        as_of = today - timedelta(days=1)
        if as_of < last_complete_day() - timedelta(days=1):
            self.stdout.write(f"  {'alerts':<12} none: the book is anchored in the past")
            return
        with quiet_logs(), transaction.atomic():
            announce_recompute(as_of=as_of, account_ids=None, since_days=ALERT_CATCH_UP_DAYS)
        kinds = Counter(Alert.objects.values_list("kind", flat=True))
        plays = Play.objects.filter(status="open").count()
        self.stdout.write(
            f"  {'alerts':<12} {sum(kinds.values())} ("
            + ", ".join(f"{n} {k}" for k, n in kinds.most_common())
            + f"), {plays} open plays"
        )

    def _expansion(self, today: date) -> None:
        """The pipeline: the live recompute above drew what the usage supports; walk some of
        it along the stages and add the commit-upsize history (see demo/expansion.py)."""
        if today - timedelta(days=1) < last_complete_day() - timedelta(days=1):
            self.stdout.write(f"  {'expansion':<12} none: the book is anchored in the past")
            return
        with quiet_logs():
            demo_expansion_seed(today)
        self.stdout.write(f"  {'expansion':<12} {demo_expansion_summary()}")

    def _voc(self, today: date, shipped) -> None:
        """The voice of the customer: behavioural items from the whole usage history, typed
        feedback, and product's themes along the workflow (see demo/voc.py)."""
        if today - timedelta(days=1) < last_complete_day() - timedelta(days=1):
            self.stdout.write(f"  {'voc':<12} none: the book is anchored in the past")
            return
        with quiet_logs():
            demo_voc_seed(today, shipped)
        self.stdout.write(f"  {'voc':<12} {demo_voc_summary()}")

    def _qbr(self, today: date) -> None:
        """A held QBR from last quarter and a prepared one for the last full quarter on the
        demo CSM's first tier-1 account (see demo/qbr.py); after VoC, whose loop it shows."""
        if today - timedelta(days=1) < last_complete_day() - timedelta(days=1):
            self.stdout.write(f"  {'qbr':<12} none: the book is anchored in the past")
            return
        with quiet_logs():
            demo_qbr_seed(today)
        self.stdout.write(f"  {'qbr':<12} {demo_qbr_summary()}")

    def _summary(self, today: date, book: dict, stories: dict[str, str]) -> None:
        as_of = today - timedelta(days=1)
        names = {row["external_id"]: row["name"] for row in book["accounts"]}
        latest = {
            ext: (band, score, [o["key"] for o in overrides])
            for ext, band, score, overrides in HealthSnapshot.objects.filter(
                date=as_of, account__external_id__in=list(names)
            ).values_list("account__external_id", "band", "score", "overrides")
        }
        bands = Counter(band for band, _, _ in latest.values())
        unscored = len(names) - len(latest)
        self.stdout.write(
            f"Health as of {as_of.isoformat()}: {len(latest)} accounts scored"
            + (f" ({unscored} without a live contract are not)" if unscored else "")
        )
        for band in ("green", "yellow", "red"):
            share = bands[band] / len(latest) if latest else 0
            self.stdout.write(f"  {band:<7} {bands[band]:>4} accounts ({share:.0%})")
        self.stdout.write("Stories (where to look):")
        for key, ext in stories.items():
            band, score, overrides = latest.get(ext, ("-", 0, []))
            self.stdout.write(
                f"  {key:<14} {names.get(ext, ext)} ({ext}): {band} {score}"
                + (f", overrides: {', '.join(overrides)}" if overrides else "")
                + f" - {health_demo.STORY_NOTES[key]}"
            )
