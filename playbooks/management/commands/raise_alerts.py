from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from cs_portal.clock import last_complete_day
from playbooks.alerts.services import alerts_raise, alerts_resolve


class Command(BaseCommand):
    help = (
        "Resolve the alerts whose condition cleared, then raise alerts (and start plays) for "
        "the crossings of a day. After a first backfill, --since-days 30 raises what crossed "
        "in the last 30 days and still holds."
    )

    def add_arguments(self, parser):
        parser.add_argument("--as-of", dest="as_of", help="YYYY-MM-DD (default: yesterday)")
        parser.add_argument("--since-days", dest="since_days", type=int, default=1)

    def handle(self, *args, as_of=None, since_days=1, **options):
        try:
            day = date.fromisoformat(as_of) if as_of else last_complete_day()
        except ValueError:
            raise CommandError(f"'{as_of}' is not a date in YYYY-MM-DD form") from None
        if since_days < 1:
            raise CommandError("--since-days must be at least 1")
        with transaction.atomic():
            resolved = alerts_resolve(as_of=day)
            alerts = alerts_raise(as_of=day, since_days=since_days)
        self.stdout.write(
            self.style.SUCCESS(f"resolved {resolved} and raised {len(alerts)} alerts as of {day}")
        )
