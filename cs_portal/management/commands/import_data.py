from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from cs_portal.imports import ImportTooLarge, all_kinds, get_kind, import_size_check, run_import


class Command(BaseCommand):
    help = "Import a CSV of one kind, all or nothing (same pipeline as the upload page and API)."

    def add_arguments(self, parser):
        parser.add_argument("kind", help="one of the registered kinds, e.g. accounts")
        parser.add_argument("path", help="path to a UTF-8, comma-separated CSV with a header")

    def handle(self, *args, kind: str, path: str, **options):
        if get_kind(kind) is None:
            raise CommandError(
                f"unknown kind '{kind}'; use one of: " + ", ".join(k.key for k in all_kinds())
            )
        file = Path(path)
        if not file.is_file():
            raise CommandError(f"no such file: {path}")
        try:
            import_size_check(file.stat().st_size)
        except ImportTooLarge as exc:
            raise CommandError(exc.message) from None
        bar = None

        def progress(phase: str, done: int, total: int | None) -> None:
            nonlocal bar
            if not self.stdout.isatty():
                return
            if bar is None or bar.desc != phase:
                if bar is not None:
                    bar.close()
                unit = "B" if phase == "copying" else " rows"
                bar = tqdm(total=total, desc=phase, unit=unit, unit_scale=unit == "B", leave=False)
            bar.n = done
            bar.refresh()

        with file.open("rb") as stream:
            result = run_import(
                kind, data=stream, origin="cli", filename=file.name, progress=progress
            )
        if bar is not None:
            bar.close()
        if not result.ok:
            for err in result.errors:
                column = f" [{err.column}]" if err.column else ""
                self.stderr.write(f"row {err.row}{column}: {err.message}")
            raise CommandError(
                f"rejected: {result.error_count} problem(s) in {result.rows} rows; "
                "nothing was imported"
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"imported {result.rows} {kind} rows: {result.stats.created} new, "
                f"{result.stats.updated} updated, {result.stats.unchanged} unchanged "
                f"({result.seconds:.2f} s)"
            )
        )
