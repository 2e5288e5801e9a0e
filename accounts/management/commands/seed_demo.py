"""`manage.py seed_demo`: load the demo book through the import pipeline.

The rows come from `accounts.demo.build_book(today)` and go in through `run_import`, kind by kind
(users → accounts → contracts → contacts → touchpoints), exactly as a customer's CSVs would. A
rejected kind stops the seed with the pipeline's own row errors.

Re-running is a no-op because the pipeline upserts on natural keys and the book is a pure
function of its anchor date. Contract starts and touchpoint dates are part of those keys, so a
book anchored on a later day would *add* shifted contracts next to the old ones. The anchor is
therefore recorded in the import history (the runs' filename) and reused on later runs while
the demo book exists; `--today` moves it on purpose.
"""

from __future__ import annotations

import re
import time
from datetime import date

from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts import demo
from accounts.models import Account, Role, User
from cs_portal.imports import run_import
from cs_portal.models import ImportRun

ANCHOR_LABEL = "seed_demo anchor="


def previous_anchor() -> date | None:
    """The anchor date the existing demo book was seeded with, if there is one."""
    run = (ImportRun.objects
           .filter(kind="accounts", status=ImportRun.Status.ACCEPTED,
                   filename__startswith=ANCHOR_LABEL)
           .order_by("-created_at", "-id").first())
    if run is None or not Account.objects.filter(external_id="acct-0001").exists():
        return None
    match = re.fullmatch(re.escape(ANCHOR_LABEL) + r"(\d{4}-\d{2}-\d{2})", run.filename)
    return date.fromisoformat(match.group(1)) if match else None


def set_demo_passwords(emails: list[str]) -> int:
    """Give every demo user the published demo password; returns how many users changed.

    PBKDF2 costs ~0.8 s per hash, so hashing once per user would dominate the seed. One
    set_password() call produces the hash and the other demo users share it (a shared salt is
    harmless for a password printed on screen), and each distinct stored hash is verified once,
    so a re-run costs one check and writes nothing.
    """
    users = list(User.objects.filter(email__in=emails).order_by("email"))
    verified: dict[str, bool] = {}
    new_hash: str | None = None
    changed = 0
    for user in users:
        fields: list[str] = []
        if user.password not in verified:
            verified[user.password] = check_password(demo.DEMO_PASSWORD, user.password)
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


class Command(BaseCommand):
    help = ("Load a realistic demo book (~475 accounts with contracts, contacts and touchpoints) "
            "through the import pipeline, plus demo users for every role. Safe to re-run.")

    def add_arguments(self, parser):
        parser.add_argument(
            "--today", type=date.fromisoformat, default=None, metavar="YYYY-MM-DD",
            help="anchor date for the book (default: the anchor of the existing demo book, "
                 "else today)",
        )

    def handle(self, *args, today: date | None = None, **options):
        started = time.monotonic()
        reused = None if today else previous_anchor()
        today = today or reused or timezone.localdate()
        book = demo.build_book(today)
        # Re-anchoring an existing book would add shifted contracts beside the old ones.
        note = (" (the existing demo book's anchor; to re-anchor, seed an empty database)"
                if reused else "")
        self.stdout.write(f"Seeding the demo book anchored at {today.isoformat()}{note}")

        label = f"{ANCHOR_LABEL}{today.isoformat()}"
        for kind in demo.IMPORT_ORDER:
            result = run_import(kind, json_rows=book[kind], origin="cli", filename=label)
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
            self.stdout.write(
                f"  {kind:<12} {result.rows:>5} rows: {stats.created} new, {stats.updated} "
                f"updated, {stats.unchanged} unchanged ({result.seconds:.2f} s)"
            )
            if kind == "users":
                changed = set_demo_passwords([row["email"] for row in book["users"]])
                self.stdout.write(f"  {'passwords':<12} {changed} demo user(s) updated")

        tiers = [row["tier"] for row in book["accounts"]]
        arr = demo.arr_on(book["contracts"], today)
        self.stdout.write(self.style.SUCCESS(
            f"Demo book: {len(tiers)} accounts (tier 1: {tiers.count(1)}, tier 2: "
            f"{tiers.count(2)}, tier 3: {tiers.count(3)}), ARR ${arr:,} on {today.isoformat()}, "
            f"seeded in {time.monotonic() - started:.1f} s"
        ))
        self.stdout.write("")
        self.stdout.write(demo.logins_text(settings.SITE_URL))
