from django.core.management.base import BaseCommand, CommandError

from playbooks.plays.library import DEFAULT_PLAYBOOKS, playbooks_load_defaults


class Command(BaseCommand):
    help = (
        "Create the default playbooks that are missing. Existing playbooks are never "
        "overwritten (managers' edits survive); --reset KEY puts one back to the default."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--reset",
            nargs="+",
            default=[],
            metavar="KEY",
            help="restore these default playbooks to the shipped version",
        )

    def handle(self, *args, reset: list[str], **options):
        try:
            created, restored = playbooks_load_defaults(reset=reset)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        total = len(DEFAULT_PLAYBOOKS)
        self.stdout.write(
            f"{created} playbooks created, {restored} reset, "
            f"{total - created - restored} of {total} defaults left as they were."
        )
