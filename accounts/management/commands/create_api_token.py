from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from accounts.services import api_token_create


class Command(BaseCommand):
    help = "Create an API token for a user and print it once (only its hash is stored)."

    def add_arguments(self, parser):
        parser.add_argument("email")

    def handle(self, *args, email: str, **options):
        user = User.objects.filter(email=email.strip().lower()).first()
        if user is None:
            raise CommandError(f"no user with email {email}; import or create the user first")
        self.stdout.write(api_token_create(user=user))
