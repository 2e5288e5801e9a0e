"""`manage.py demo_logins`: print who to log in as after `seed_demo` (used by `make run`)."""

from django.conf import settings
from django.core.management.base import BaseCommand

from accounts.models import User
from demo import book as demo


class Command(BaseCommand):
    help = "Print the demo logins (URL, emails per role, password) created by seed_demo."

    def handle(self, *args, **options):
        self.stdout.write(demo.logins_text(settings.SITE_URL))
        if not User.objects.filter(email=demo.MANAGER).exists():
            # Printing logins that do not exist would send someone to a failing login page.
            self.stderr.write("The demo users do not exist yet: run `python manage.py seed_demo`.")
