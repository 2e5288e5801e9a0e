"""`manage.py health_model_doc` (`make health-doc`): regenerate docs/health-model.md.

The document is built from the code, never typed: the signals, their groups and default
weights, the band thresholds and the override constants come from `health.engine`; each
signal's rule is the bullet the engine's docstring gives it; the backtest figures come from
`health.backtest` run on a freshly seeded demo book in a throwaway SQLite database (migrated
and seeded by a child process, so the database this command was started with is never touched).
Only the sentence saying why each signal and override is there lives here, in `WHY`, and a
test fails if the engine grows a signal or override this file does not explain.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from demo import book as demo
from demo.management.commands.seed_demo import previous_anchor
from health import engine
from health.aggregates import data_since
from health.backtest import backtest_run
from health.landing import usage_landed_through

# Why each signal and override is in the model: one sentence a CS leader says out loud.
WHY: dict[str, str] = {
    "usage_trend": "Consumption customers don't announce churn: it shows up first as a quarter "
    "of slowly falling usage, long before anyone says the word renewal.",
    "commit_pace": "If they aren't burning the commit, they won't renew it at that size.",
    "breadth": "When a team quietly stops querying chains and datasets, the projects that "
    "needed them are gone.",
    "active_users": "A platform one person uses is one resignation away from churn.",
    "production_depth": "Daily, API-driven use means our data is wired into their production; "
    "an occasional query is still an experiment.",
    "recency": "The longer since a customer last touched us, the less likely they come back "
    "on their own.",
    "exec_engagement": "Executives sign renewals: if the sponsor hasn't heard from us in a "
    "quarter, we don't own the renewal.",
    "touch_cadence": "A strategic account we haven't talked to this month is an account we're "
    "guessing about.",
    "sentiment": "What they tell us in NPS and CSAT is the cheapest early warning we get.",
    "data_trust": "Customers forgive an incident; they don't forgive finding it before we "
    "tell them.",
    "onboarding": "An account that misses its first milestones rarely reaches value, and "
    "never renews at size.",
    "sharp_drop": "A week at half the usual usage isn't a trend, it's an event: somebody "
    "switched something off, and we call today.",
    "coasting": "A happy customer using a third of what they bought is shelfware, and "
    "shelfware doesn't recommit.",
    "data_trust_incident": "While their data is wrong, nothing else about the account is green.",
    "champion_left": "When the person who chose us leaves, the next person chooses again.",
    "dormant": "Thirty days of silence from a paying customer is churn already in motion.",
}

GROUP_WORDS = {
    "usage": "usage & adoption",
    "relationship": "relationship",
    "trust": "support & trust",
}
# Backtests in the document: as of this many days before the newest usage day, 90 days ahead.
HEADLINE_OFFSET = 90
ALSO_OFFSETS = (120, 150)
HORIZON_DAYS = 90
COMMAND = "make health-doc"


def signal_rules() -> dict[str, str]:
    """Each signal's rule, as the engine's docstring states it ("- key: rule", continued on
    indented lines)."""
    rules: dict[str, str] = {}
    current = None
    for line in (engine.__doc__ or "").splitlines():
        match = re.match(r"^- (\w+): (.*)$", line)
        if match and match.group(1) in engine.SIGNAL_KEYS:
            current = match.group(1)
            rules[current] = match.group(2).strip()
        elif current and line.startswith("  ") and line.strip():
            rules[current] += " " + line.strip()
        else:
            current = None
    return rules


def override_keys() -> list[str]:
    """The overrides the engine can fire, in the order it checks them (read from its source,
    so a new override cannot go undocumented)."""
    source = Path(engine.__file__).read_text()
    keys = re.findall(r'Override\(\s*"(\w+)"', source)
    return list(dict.fromkeys(keys))


def override_rules() -> dict[str, tuple[str, str]]:
    """(cap, rule) per override, worded from the engine's constants."""
    kinds = list(engine.TRUST_KINDS)
    trust = ", ".join(kinds[:-1]) + " or " + kinds[-1] if len(kinds) > 1 else kinds[0]
    return {
        "sharp_drop": (
            "red",
            f"usage on each of the last {engine.SHARP_DROP_DAYS} days below "
            f"{engine.SHARP_DROP_SHARE:.0%} of the prior 28-day daily average.",
        ),
        "coasting": (
            "red",
            f"relationship sub-score ≥ {engine.COASTING_RELATIONSHIP_MIN} but commit pace < "
            f"{engine.COASTING_PACE_MAX:.0%} and usage flat or falling (28-day trend ratio ≤ "
            f"{engine.FLAT_TREND_MAX}).",
        ),
        "data_trust_incident": (
            "yellow",
            f"an open {trust} incident touching datasets they used in the last 28 days.",
        ),
        "champion_left": (
            "yellow",
            "the champion or the exec sponsor has left and nobody in that role replaced them.",
        ),
        "dormant": (
            "red",
            f"no meaningful usage (queries, units, API calls or stream events) for "
            f"{engine.DORMANT_DAYS} days after having been active, or for the first "
            f"{engine.DORMANT_DAYS} days of an active contract.",
        ),
    }


def check_coverage() -> None:
    """Fail loudly if the engine has a signal or override this document cannot explain."""
    rules, overrides = signal_rules(), override_rules()
    missing = [k for k in engine.SIGNAL_KEYS if k not in rules or k not in WHY]
    missing += [k for k in override_keys() if k not in overrides or k not in WHY]
    if missing:
        raise CommandError(
            "health_model_doc does not know how to explain: " + ", ".join(missing) + " (add a "
            "rule bullet to the engine's docstring or the override to override_rules(), and a "
            "sentence to WHY)"
        )


# --- figures: run inside the throwaway database -------------------------------------------------


def backtest_figures() -> dict:
    """The default model's backtests on the book in the current database, JSON-ready."""
    landed = usage_landed_through()
    if landed is None:
        raise CommandError("no usage has landed in this database: nothing to backtest")
    runs = []
    for offset in (HEADLINE_OFFSET, *ALSO_OFFSETS):
        as_of = landed - timedelta(days=offset)
        result = backtest_run(
            as_of=as_of,
            horizon_days=HORIZON_DAYS,
            weights=engine.DEFAULT_WEIGHTS,
            green_min=engine.DEFAULT_GREEN_MIN,
            yellow_min=engine.DEFAULT_YELLOW_MIN,
        )
        runs.append({"offset": offset, **result.as_dict()})
    anchor = previous_anchor()
    book: dict = {}
    if anchor is not None:
        plans = demo.build_plans(anchor.day)
        book = {
            "anchor": anchor.day.isoformat(),
            "accounts": len(plans),
            "tiers": dict(Counter(str(p.tier) for p in plans)),
            "outcomes": [
                [p.tier, p.outcome.kind, p.outcome.shape] for p in plans if p.outcome is not None
            ],
        }
    first = data_since()
    return {
        "landed": landed.isoformat(),
        "first": first.isoformat() if first else None,
        "book": book,
        "runs": runs,
    }


# --- the document --------------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _auc(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _by(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:+.3f}".replace("-", "−")


def _range(row: dict, kind: str) -> str:
    def fmt(v):
        if kind == "usage_trend":
            return f"{v:.2f}"
        return f"{v:g}"

    if row["low"] is None:
        text = ""
    elif row["low"] == row["high"]:
        text = fmt(row["low"])
    else:
        text = f"{fmt(row['low'])}–{fmt(row['high'])}"
    if row["no_value"]:
        none = "never active" if kind == "days_since_active" else "no trend"
        text = f"{text}; {row['no_value']} with {none}" if text else f"all {none}"
    return text


def _reason_words(reasons: dict[str, int]) -> str:
    words = {"fell_by_half": "fell by half", "dormant": "went dormant"}
    return ", ".join(f"{n} {words.get(k, k)}" for k, n in reasons.items() if n)


def _verdict(run: dict) -> str:
    """What the headline backtest says, in words chosen by the numbers."""
    parts = []
    for baseline in run["baselines"]:
        by = baseline["model_beats_by"]
        if by is None:
            continue
        if round(by, 3) > 0:
            parts.append(f"beats {baseline['label']} by {by:.3f}")
        elif round(by, 3) < 0:
            parts.append(f"loses to {baseline['label']} by {-by:.3f}")
        else:
            parts.append(f"ties {baseline['label']}")
    auc = run["model"]["auc"]
    text = f"The default model's AUC is {_auc(auc)}: it " + " and ".join(parts) + "."
    if any(b["model_beats_by"] is not None and b["model_beats_by"] < 0 for b in run["baselines"]):
        text += (
            " A one-number baseline ranking better than the whole model means the weights "
            "are worth another look: try a draft in the editor and compare its backtest."
        )
    return text


def render(data: dict, *, generated: date, commit: str | None) -> str:
    rules, overrides = signal_rules(), override_rules()
    weights = engine.DEFAULT_WEIGHTS
    groups: dict[str, list[tuple[str, str]]] = {}
    for key, label, group in engine.SIGNALS:
        groups.setdefault(group, []).append((key, label))
    lines = [
        "# The health model",
        "",
        f"Generated on {generated.isoformat()} by `{COMMAND}` "
        f"(`python manage.py health_model_doc`)"
        + (f" at commit `{commit}`" if commit else "")
        + ". Do not edit by hand: the signals, weights, thresholds and rules come from "
        "`health/engine.py`, the figures from `health/backtest.py` on a freshly seeded demo "
        "book in a throwaway SQLite database, and the sentences saying why each piece is there "
        "from `health/management/commands/health_model_doc.py`.",
        "",
        "## How a score is made",
        "",
        f"Each account gets {len(engine.SIGNAL_KEYS)} signals, each a 0–100 sub-score with a "
        "weight. A signal whose inputs the account structurally lacks (no commit, no seats, no "
        "contacts, no milestones due) does not apply: it is left out and the other weights are "
        "renormalised. Silence is not missing data: once an account has usage history or an "
        "active contract, no usage scores zero. Then the overrides cap the score, and the "
        f"score gives the band: **green ≥ {engine.DEFAULT_GREEN_MIN}**, **yellow "
        f"{engine.DEFAULT_YELLOW_MIN}–{engine.DEFAULT_GREEN_MIN - 1}**, **red < "
        f"{engine.DEFAULT_YELLOW_MIN}**. Managers edit the weights and thresholds at "
        "`/health/model/`; these are the defaults.",
        "",
        "| group | signal | key | default weight |",
        "|---|---|---|---|",
    ]
    for group, members in groups.items():
        total = sum(weights.get(k, 0) for k, _ in members)
        for i, (key, label) in enumerate(members):
            name = f"{GROUP_WORDS.get(group, group)} ({total:g})" if i == 0 else ""
            lines.append(f"| {name} | {label} | `{key}` | {weights.get(key, 0):g} |")
    lines += ["", "## Signals", ""]
    for key, label, group in engine.SIGNALS:
        lines += [
            f"### {label} (`{key}`): {GROUP_WORDS.get(group, group)}, weight "
            f"{weights.get(key, 0):g}",
            "",
            f"- **Rule**: {rules[key]}",
            f"- **Why**: {WHY[key]}",
            "",
        ]
    lines += [
        "## Overrides",
        "",
        "Each override has a stable key, says why it fired, and wins over the weighted score: "
        f"*red* caps the score at {engine.DEFAULT_YELLOW_MIN - 1}, *at most yellow* at "
        f"{engine.DEFAULT_GREEN_MIN - 1}.",
        "",
    ]
    for key in override_keys():
        cap, rule = overrides[key]
        effect = "red" if cap == "red" else "at most yellow"
        lines += [
            f"### `{key}` → {effect}",
            "",
            f"- **Rule**: {rule[0].upper()}{rule[1:]}",
            f"- **Why**: {WHY[key]}",
            "",
        ]

    runs = data["runs"]
    head = runs[0]
    book = data.get("book") or {}
    lines += [
        "## How well the default model predicts: a backtest on the demo book",
        "",
        f"The backtest scores the book as of a past day exactly as a recompute would, writing "
        f"nothing, then looks at what happened over the next {HORIZON_DAYS} days. An account "
        "went **bad** if it *churned* (a contract active on the day ended and nothing renewed it "
        "within 30 days), *contracted* (it renewed at a lower ARR), its usage *fell by half* "
        "(its last 28 days of the horizon at most half its 28 days up to the day) or it *went "
        "dormant* (no activity in the horizon's last 30 days after some in the 90 before). The "
        "outcome rules are the backtest's own, independent of the model's signals. AUC is the "
        "chance that a random bad account scored lower than a random good one (0.5 is a coin "
        "toss); the two naive baselines rank by one number each.",
        "",
    ]
    if book:
        outcomes = Counter((kind, shape) for _, kind, shape in book["outcomes"])
        churn = sum(n for (k, _), n in outcomes.items() if k == "churned")
        shapes = ", ".join(
            f"{n} {shape}" for (k, shape), n in sorted(outcomes.items()) if k == "churned"
        )
        lines += [
            f"The demo book is anchored at {book['anchor']} ({book['accounts']} accounts; tier 1: "
            f"{book['tiers'].get('1', 0)}, tier 2: {book['tiers'].get('2', 0)}, tier 3: "
            f"{book['tiers'].get('3', 0)}) with usage from {data['first']} to {data['landed']}. "
            f"{len(book['outcomes'])} accounts have a past written into it: {churn} churned "
            f"({shapes}: usage faded over two to four months, fell off a cliff, or stopped "
            f"without warning), {outcomes[('contracted', '')]} renewed at a lower ARR after "
            f"their usage fell, {outcomes[('recovered', '')]} dipped and recovered, and "
            f"{outcomes[('dormant', '')]} went dormant under contract. Other accounts go bad "
            "the ordinary way (a side project cooling off, a quiet account sliding).",
            "",
        ]
    lines += [
        f"### As of {head['as_of']}, {head['horizon_days']} days ahead (to "
        f"{head['outcome_through']})",
        "",
        f"{head['accounts']} accounts were customers on {head['as_of']}; {head['bad']} "
        f"({_pct(head['bad_rate'])}) went bad: {_reason_words(head['reasons'])} (an account "
        "can have more than one reason).",
        "",
        _verdict(head),
        "",
        "| ranking | AUC | the model beats it by |",
        "|---|---|---|",
        f"| health score (default model) | {_auc(head['model']['auc'])} | |",
    ]
    for baseline in head["baselines"]:
        lines.append(
            f"| {baseline['label']} | {_auc(baseline['auc'])} | {_by(baseline['model_beats_by'])} |"
        )
    lines += ["", "| band | accounts | went bad | bad rate |", "|---|---|---|---|"]
    for row in head["bands"]:
        lines.append(
            f"| {row['band']} | {row['accounts']} | {row['bad']} | {_pct(row['bad_rate'])} |"
        )
    c = head["confusion"]
    lift = head["lift"]
    lines += [
        "",
        (
            f"**Lift**: red accounts went bad {lift:.1f}× as often as green ones. "
            if lift is not None
            else "**Lift**: — (no green account went bad, or a band is empty). "
        )
        + f"At the band line (flagged = red or yellow), {c['bad_flagged']} of the {c['bad']} bad "
        f"accounts were flagged and {c['bad_missed']} were not; {c['false_alarms']} flagged "
        "accounts did not go bad (false alarms).",
        "",
        "Calibration by decile of risk (1 = riskiest tenth; accounts with the same value stay "
        "together, so a decile can be larger or smaller than a tenth):",
        "",
        "| decile | health score | accounts | bad | bad rate | days since last activity | "
        "bad rate of accounts | 28-day usage trend | bad rate of accounts |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    model = {row["decile"]: row for row in head["model"]["deciles"]}
    base = [{row["decile"]: row for row in b["deciles"]} for b in head["baselines"]]
    for decile in range(1, 11):
        cells = [str(decile)]
        row = model.get(decile)
        cells += (
            [_range(row, "score"), str(row["accounts"]), str(row["bad"]), _pct(row["bad_rate"])]
            if row
            else ["", "", "", ""]
        )
        for b, by_decile in zip(head["baselines"], base, strict=True):
            other = by_decile.get(decile)
            cells += (
                [_range(other, b["key"]), f"{_pct(other['bad_rate'])} of {other['accounts']}"]
                if other
                else ["", ""]
            )
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "### The same backtest from other days",
        "",
        "One backtest can be luck; the same model judged from earlier days:",
        "",
        "| as of | accounts | went bad | AUC | "
        + " | ".join(f"{b['label']} (AUC, beaten by)" for b in head["baselines"])
        + " | lift | flagged of bad | false alarms |",
        "|---|---|---|---|" + "---|" * len(head["baselines"]) + "---|---|---|",
    ]
    for run in runs:
        c = run["confusion"]
        cells = [
            run["as_of"],
            str(run["accounts"]),
            f"{run['bad']} ({_pct(run['bad_rate'])})",
            _auc(run["model"]["auc"]),
        ]
        cells += [f"{_auc(b['auc'])}, {_by(b['model_beats_by'])}" for b in run["baselines"]]
        cells += [
            "—" if run["lift"] is None else f"{run['lift']:.1f}×",
            f"{c['bad_flagged']} of {c['bad']}",
            str(c["false_alarms"]),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "The health model editor (`/health/model/`) shows the same backtest for the current "
        "model and a draft side by side before a manager saves, for any as-of day and horizon "
        "the book's usage covers; `python manage.py backtest_health --as-of DAY --horizon DAYS` "
        "and `GET /api/v1/health/backtest` give it in full.",
        "",
    ]
    return "\n".join(lines)


def _commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip() or None


class Command(BaseCommand):
    help = (
        "Regenerate docs/health-model.md: each signal and override with its rule, why it is "
        "there and its default weight, and the default model's backtest on a freshly seeded "
        "demo book (in a throwaway SQLite database; the configured database is not touched)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--output",
            default=str(Path(settings.BASE_DIR) / "docs" / "health-model.md"),
            help="where to write the document (default: docs/health-model.md)",
        )
        parser.add_argument(
            "--today",
            type=date.fromisoformat,
            metavar="YYYY-MM-DD",
            help="anchor the demo book on this day (default: today)",
        )
        parser.add_argument(
            "--figures",
            action="store_true",
            help="internal: print the backtest figures of the current database as JSON",
        )

    def handle(self, *args, output: str, today: date | None, figures: bool = False, **options):
        check_coverage()
        if figures:
            self.stdout.write(json.dumps(backtest_figures()))
            return
        generated = datetime.now(UTC).date()
        data = self._seed_and_measure(today)
        text = render(data, generated=generated, commit=_commit())
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        Path(output).write_text(text)
        head = data["runs"][0]
        shown = Path(output).resolve()
        if shown.is_relative_to(Path(settings.BASE_DIR).resolve()):
            shown = shown.relative_to(Path(settings.BASE_DIR).resolve())
        self.stdout.write(
            self.style.SUCCESS(
                f"Wrote {shown}: default model AUC {_auc(head['model']['auc'])} as of "
                f"{head['as_of']} ({head['bad']} of {head['accounts']} accounts went bad)"
            )
        )

    def _seed_and_measure(self, today: date | None) -> dict:
        """Migrate and seed a throwaway SQLite database in child processes, then read the
        figures from it; the database is deleted afterwards."""
        manage = str(Path(settings.BASE_DIR) / "manage.py")
        with tempfile.TemporaryDirectory(prefix="health-doc-") as tmp:
            env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
            env["SQLITE_PATH"] = str(Path(tmp) / "demo.sqlite3")
            env["IMPORT_SPOOL_DIR"] = str(Path(tmp) / "imports")
            seed = ["seed_demo"] + (["--today", today.isoformat()] if today else [])
            steps = [["migrate", "--noinput"], seed, ["health_model_doc", "--figures"]]
            for step in steps:
                self.stdout.write(f"  {' '.join(step)} (throwaway database)")
                done = subprocess.run(
                    [sys.executable, manage, *step],
                    env=env,
                    capture_output=True,
                    text=True,
                    cwd=settings.BASE_DIR,
                )
                if done.returncode:
                    raise CommandError(
                        f"{' '.join(step)} failed in the throwaway database:\n"
                        + (done.stderr or done.stdout)[-3000:]
                    )
        return json.loads(done.stdout.strip().splitlines()[-1])
