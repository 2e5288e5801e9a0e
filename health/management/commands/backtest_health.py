from datetime import date

from django.core.management.base import BaseCommand, CommandError

from health.backtest import (
    Backtest,
    backtest_model,
    backtest_model_run,
    rate,
    reason_words,
)


def _date(raw: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise CommandError(f"--as-of '{raw}' is not a date in YYYY-MM-DD form") from None


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _were(n: int) -> str:
    return f"{n:,} {'was' if n == 1 else 'were'}"


def _auc(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _value(value: float | None, kind: str) -> str:
    if value is None:
        return "—"
    return f"{value:.2f}" if kind == "usage_trend" else f"{value:g}"


def _range(row: dict, kind: str) -> str:
    if row["low"] is None:
        text = ""
    elif row["low"] == row["high"]:
        text = _value(row["low"], kind)
    else:
        text = f"{_value(row['low'], kind)}–{_value(row['high'], kind)}"
    if row["no_value"]:
        none = "never active" if kind == "days_since_active" else "no trend"
        text = f"{text}, {none}" if text else none
    return text


def report(bt: Backtest) -> list[str]:
    """The backtest in words and tables, for a manager at a terminal."""
    version = f"v{bt.model_version}" if bt.model_version else "the default model (unsaved)"
    lines = [
        f"Backtest of health model {version} as of {bt.as_of}; outcomes over the next "
        f"{bt.horizon_days} days (to {bt.outcome_through}).",
        f"Book: {bt.accounts:,} accounts scored on {bt.as_of}.",
    ]
    reasons = ", ".join(f"{n:,} {reason_words([k])}" for k, n in bt.reasons.items() if n)
    lines.append(
        f"Went bad: {bt.bad:,} of {bt.accounts:,} ({_pct(rate(bt.bad, bt.accounts))})"
        + (f": {reasons} (an account can have more than one reason)." if reasons else ".")
    )
    lines += ["", "Ranking the bad accounts first (ROC AUC; 0.5 is a coin toss, 1 is perfect):"]
    lines.append(f"  {'health score':<26} {_auc(bt.model.auc)}")
    for baseline in bt.baselines:
        diff = bt.beats_by(baseline)
        if diff is None:
            verdict = ""
        elif round(diff, 3) == 0:
            verdict = "the model ties it"
        elif diff > 0:
            verdict = f"the model beats it by {diff:.3f}"
        else:
            verdict = f"the model loses to it by {-diff:.3f}"
        lines.append(f"  {baseline.label:<26} {_auc(baseline.auc)}   {verdict}".rstrip())
    if bt.model.auc is None:
        lines.append("  (no AUC: it needs at least one account that went bad and one that did not)")

    words = reason_words([k for k, n in bt.reasons.items() if n])
    lines += ["", f"By band (bad = {words}):"]
    for i, row in enumerate(bt.bands):
        outcome = f"{_pct(row['bad_rate']):>4}" + (f" {words}" if i == 0 else "")
        lines.append(
            f"  {row['band']:<7}{row['accounts']:>7,} account{'s' if row['accounts'] != 1 else ' '}"
            f"  {outcome} ({row['bad']:,})"
        )
    if bt.lift is not None:
        lines.append(f"Lift: red accounts went bad {bt.lift:.1f}× as often as green ones.")
    else:
        lines.append("Lift: — (no green account went bad, or a band is empty)")
    c = bt.confusion
    lines.append(
        f"At the band line (flagged = red or yellow): of the {c['bad']:,} bad accounts "
        f"{_were(c['bad_flagged'])} flagged and {_were(c['bad_missed'])} not; "
        f"{c['false_alarms']:,} flagged account{'s' if c['false_alarms'] != 1 else ''} did not "
        "go bad (false alarms)."
    )

    lines += ["", "Calibration by score decile (1 = lowest scores):"]
    lines.append(f"  {'decile':>6}  {'scores':<9}{'accounts':>9}{'bad':>6}  bad rate")
    for row in bt.model.deciles:
        lines.append(
            f"  {row['decile']:>6}  {_range(row, 'score'):<9}{row['accounts']:>9,}"
            f"{row['bad']:>6,}  {_pct(row['bad_rate']):>8}"
        )
    return lines


class Command(BaseCommand):
    help = (
        "Backtest the health model: score the book as of a past day (writing nothing) and "
        "report how well the score ranked what happened over the following days."
    )

    def add_arguments(self, parser):
        parser.add_argument("--as-of", dest="as_of", required=True, help="YYYY-MM-DD")
        parser.add_argument(
            "--horizon", type=int, required=True, help="days after --as-of to judge outcomes over"
        )
        parser.add_argument(
            "--model", type=int, help="health model version (default: the current one)"
        )

    def handle(self, *args, as_of, horizon, model=None, **options):
        day = _date(as_of)
        try:
            chosen = backtest_model(model)
        except LookupError as exc:
            raise CommandError(str(exc)) from None
        try:
            result = backtest_model_run(as_of=day, horizon_days=horizon, model=chosen)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write("\n".join(report(result)))
