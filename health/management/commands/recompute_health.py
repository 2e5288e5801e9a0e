from datetime import date

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Account
from health import services
from health.landing import usage_landed_through


def _date(raw: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise CommandError(f"'{raw}' is not a date in YYYY-MM-DD form") from None


class Command(BaseCommand):
    help = (
        "Recompute health snapshots as of a day (default: yesterday, UTC); with --since, "
        "backfill one snapshot per day up to --as-of."
    )

    def add_arguments(self, parser):
        parser.add_argument("--account", help="external_id of one account (default: all)")
        parser.add_argument("--as-of", dest="as_of", help="YYYY-MM-DD (default: yesterday)")
        parser.add_argument("--since", help="YYYY-MM-DD: backfill every day from this one")

    def handle(self, *args, account=None, as_of=None, since=None, **options):
        as_of_day = _date(as_of) if as_of else services.last_complete_day()
        ids = None
        if account:
            found = Account.objects.filter(external_id=account).values_list("id", flat=True)
            if not found:
                raise CommandError(f"no account '{account}'")
            ids = list(found)
        if since:
            since_day = _date(since)
            if since_day > as_of_day:
                raise CommandError(f"--since {since_day} is after --as-of {as_of_day}")
            count = services.health_backfill(since=since_day, until=as_of_day, account_ids=ids)
            days = (as_of_day - since_day).days + 1
            self.stdout.write(
                self.style.SUCCESS(
                    f"backfilled {count} snapshots over {days} days ({since_day} to {as_of_day})"
                )
            )
        else:
            count = services.health_recompute(as_of=as_of_day, account_ids=ids)
            if count == 0 and usage_landed_through() is None:
                self.stdout.write(
                    self.style.WARNING(
                        "no usage has landed yet, so nothing was scored (every account is "
                        "awaiting usage): import usage first"
                    )
                )
                return
            self.stdout.write(self.style.SUCCESS(f"recomputed {count} accounts as of {as_of_day}"))
