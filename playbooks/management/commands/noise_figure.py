"""Print the alert noise figure: the last weeks' alerts routed everywhere (as before routing
existed) and by the routing rules in force, side by side. Writes nothing."""

from __future__ import annotations

from datetime import date

from django.core.management.base import BaseCommand, CommandError

from playbooks.routing.rules import everywhere_rules, rules_parse
from playbooks.routing.selectors import Noise, alert_noise, noise_window
from playbooks.routing.services import routing_rules_current


def _pct(noise: Noise) -> str:
    return "—" if noise.share is None else f"{noise.share:.0%}"


def _at_once(noise: Noise) -> str:
    return "—" if noise.at_once_per_csm_week is None else f"{noise.at_once_per_csm_week:.1f}"


def _per_week(noise: Noise) -> str:
    return "—" if noise.per_csm_week is None else f"{noise.per_csm_week:.1f}"


class Command(BaseCommand):
    help = (
        "The alert noise figure over the last weeks (alerts per CSM per week, share acted on): "
        "every alert everywhere, as before routing, beside the routing rules in force."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--weeks", type=int, default=4, help="weeks back (default 4)")
        parser.add_argument("--until", help="last alert day, YYYY-MM-DD (default yesterday)")

    def handle(self, *args, weeks: int, until: str | None, **options) -> None:
        if not 1 <= weeks <= 52:
            raise CommandError("--weeks must be from 1 to 52")
        try:
            last = date.fromisoformat(until) if until else None
        except ValueError:
            raise CommandError(f"--until must be a date (YYYY-MM-DD), not '{until}'") from None
        since, end = noise_window(until=last, weeks=weeks)
        version, rules = routing_rules_current()
        before = alert_noise(since=since, until=end, rules=rules_parse(everywhere_rules()))
        after = alert_noise(since=since, until=end, rules=rules, version=version)
        lines = [
            f"Alert noise, {since} to {end} ({weeks} weeks, {before.alerts} alerts, "
            f"{len(before.rows)} CSMs)",
            f"{'':<32}{'everywhere':>12}{f'routing v{version}':>14}",
            f"{'alerts per CSM per week':<32}{_per_week(before):>12}{_per_week(after):>14}",
            f"{'  of which at once (inbox/Slack)':<32}{_at_once(before):>12}{_at_once(after):>14}",
            f"{'share acted on':<32}{_pct(before):>12}{_pct(after):>14}",
        ]
        for label, b, a in (
            ("alerts delivered to CSMs", before.delivered, after.delivered),
            ("  of which acted on", before.acted, after.acted),
            ("inbox entries", before.channels["inbox"], after.channels["inbox"]),
            ("Slack messages", before.channels["slack"], after.channels["slack"]),
            ("digest lines", before.channels["email"], after.channels["email"]),
            ("to a pool queue only", before.pooled, after.pooled),
            ("to nobody", before.silent, after.silent),
        ):
            lines.append(f"{label:<32}{b:>12}{a:>14}")
        lines.append("per CSM: alerts in the window (of which at once)")
        for b, a in zip(before.rows, after.rows, strict=True):
            at = f"{b.delivered} ({b.at_once})"
            lines.append(f"  {b.name:<30}{at:>12}{f'{a.delivered} ({a.at_once})':>14}")
        self.stdout.write("\n".join(lines))
