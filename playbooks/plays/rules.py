"""Triggers, owners and pools, and the playbook editor's input rules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.core.exceptions import ValidationError

from accounts.models import Account, User
from accounts.permissions import (
    can_work_item,
    is_csm,
    sees_whole_team,
)
from cs_portal.params import whole_number
from playbooks.models import (
    Alert,
    AlertKind,
    MilestoneKey,
    OwnerRule,
    Playbook,
    Task,
)

OVERRIDE_KEYS = ("sharp_drop", "coasting", "data_trust_incident", "champion_left")
BANDS = ("green", "yellow", "red")
COMMIT_SHARES = ("70", "90")
# kind -> the details it accepts (a fixed list) ...
CHOICE_DETAILS: dict[str, tuple[str, ...]] = {
    AlertKind.OVERRIDE: OVERRIDE_KEYS,
    AlertKind.BAND_CHANGE: BANDS,
    AlertKind.COMMIT_THRESHOLD: COMMIT_SHARES,
    AlertKind.ONBOARDING_OVERDUE: tuple(MilestoneKey.values),
}
# ... or a whole number in a range, with what it counts.
NUMBER_DETAILS: dict[str, tuple[int, int, str]] = {
    AlertKind.RENEWAL_RISK: (1, 365, "days to renewal"),
    AlertKind.SCORE_DROP: (1, 100, "points of score lost in 7 days"),
    AlertKind.USAGE_SPIKE: (1, 1000, "times the prior daily average"),
}
# The alert kinds a playbook can start on: the health crossings (a notice another app sends,
# such as an expansion hand-off, is news for one person, not a trigger for a play).
TRIGGER_KINDS = tuple(k for k in AlertKind.values if k != AlertKind.EXPANSION_HANDOFF)
TIERS = (1, 2, 3)
MAX_STEPS = 30
MAX_DUE_DAYS = 730  # two years: an offset beyond any contract period is a typo
WEEK_DAYS = 7
TRIGGER_EXAMPLES = ("override:coasting", "renewal_risk", "commit_threshold:90", "usage_spike")


# --- triggers -------------------------------------------------------------------------------


def trigger_normalise(raw: str) -> str:
    """Validate a trigger and return it in canonical form (lowercase, no spaces).

    Raises ValidationError with a message a manager can act on."""
    text = (raw or "").strip().lower().replace(" ", "")
    if not text:
        raise ValidationError(
            "Give a trigger: an alert kind, optionally kind:detail (for example "
            + ", ".join(TRIGGER_EXAMPLES)
            + ")."
        )
    kind, sep, detail = text.partition(":")
    if kind not in TRIGGER_KINDS:
        raise ValidationError(
            f"Unknown trigger '{raw.strip()}': the kind before ':' must be one of "
            + ", ".join(TRIGGER_KINDS)
            + "."
        )
    if not sep:
        return kind
    if not detail:
        raise ValidationError(
            f"Trigger '{raw.strip()}' ends with ':'; give a detail after it or use just '{kind}'."
        )
    if kind in CHOICE_DETAILS:
        allowed = CHOICE_DETAILS[kind]
        if detail not in allowed:
            raise ValidationError(
                f"Unknown trigger detail '{detail}' for {kind}: use one of "
                + ", ".join(allowed)
                + "."
            )
        return f"{kind}:{detail}"
    if kind in NUMBER_DETAILS:
        low, high, what = NUMBER_DETAILS[kind]
        number = whole_number(detail)
        if number is None or not low <= number <= high:
            raise ValidationError(
                f"The detail of {kind} must be a whole number of {what} "
                f"from {low} to {high}, not '{detail}'."
            )
        return f"{kind}:{int(detail)}"
    raise ValidationError(f"The trigger {kind} takes no detail; use just '{kind}'.")


def trigger_matches(trigger: str, alert: Alert) -> bool:
    """Whether a (validated) trigger fires on this alert; see the module docstring."""
    kind, _, detail = trigger.partition(":")
    if alert.kind != kind:
        return False
    if not detail:
        return True
    data = alert.data or {}
    try:
        if kind == AlertKind.OVERRIDE:
            return data.get("override") == detail
        if kind == AlertKind.BAND_CHANGE:
            return data.get("band") == detail
        if kind == AlertKind.COMMIT_THRESHOLD:
            return round(float(data["threshold"]) * 100) == int(detail)
        if kind == AlertKind.ONBOARDING_OVERDUE:
            return data.get("milestone") == detail
        if kind == AlertKind.RENEWAL_RISK:
            return (date.fromisoformat(data["renewal"]) - alert.as_of).days <= int(detail)
        if kind == AlertKind.SCORE_DROP:
            return float(data["points"]) >= int(detail)
        if kind == AlertKind.USAGE_SPIKE:
            return float(data["spike_ratio"]) >= int(detail)
    except (KeyError, TypeError, ValueError):
        return False  # an alert without the number cannot prove the detail
    return False


def trigger_help() -> list[tuple[str, str, str]]:
    """(kind, label, what may follow ':') for every trigger kind, for the editor's help."""
    out = []
    for kind, label in AlertKind.choices:
        if kind not in TRIGGER_KINDS:
            continue
        if kind in CHOICE_DETAILS:
            detail = "one of " + ", ".join(CHOICE_DETAILS[kind])
        else:
            low, high, what = NUMBER_DETAILS[kind]
            detail = f"{low}-{high} ({what})"
        out.append((kind, label, detail))
    return out


def playbook_tiers(playbook: Playbook) -> set[int]:
    return {int(t) for t in (playbook.tiers or []) if str(t) in {"1", "2", "3"}}


def playbook_applies(playbook: Playbook, *, tier: int) -> bool:
    tiers = playbook_tiers(playbook)
    return not tiers or tier in tiers


def owner_for(*, rule: str, account: Account) -> tuple[int | None, str]:
    """(owner id, pool) for a new play on `account` under an owner rule."""
    pool = f"tier{account.tier}"
    if rule == OwnerRule.POOL and account.tier != 1:
        return None, pool
    if account.csm_id:
        return account.csm_id, ""
    return None, pool


def user_pools(user: User) -> list[str]:
    """The pool queues a user works: managers see every pool; a CSM the tiers they own accounts
    in plus the digital tier's; other roles none."""
    if sees_whole_team(user):
        return [f"tier{t}" for t in TIERS]
    if not is_csm(user):
        return []
    owned = set(Account.objects.filter(csm=user).values_list("tier", flat=True).distinct())
    return [f"tier{t}" for t in TIERS if t in owned or t == 3]


# --- working tasks --------------------------------------------------------------------------


def task_can_work(user: User, task: Task) -> bool:
    """Who may complete a task: its owner, the account's CSM, managers; a pooled (unclaimed)
    task, any CSM."""
    return can_work_item(user, owner_id=task.owner_id, account=task.account, pooled=bool(task.pool))


# --- editing playbooks ----------------------------------------------------------------------


@dataclass
class StepInput:
    """One step as typed in the editor; `due_days` is validated by `playbook_save`."""

    title: str
    detail: str = ""
    due_days: str | int = ""

    @property
    def blank(self) -> bool:
        return not (
            str(self.title).strip() or str(self.detail).strip() or str(self.due_days).strip()
        )


def _due_days(raw: str | int) -> int:
    text = str(raw).strip()
    if not text:
        raise ValidationError("give the due day as a whole number of days after the start")
    if text.startswith("-") and text[1:].isdigit():
        raise ValidationError(
            f"the due day cannot be negative ({text}); 0 means the day the play starts"
        )
    if not (text.isascii() and text.isdigit()):
        raise ValidationError(f"the due day must be a whole number of days, not '{text}'")
    value = int(text)
    if value > MAX_DUE_DAYS:
        raise ValidationError(f"the due day must be at most {MAX_DUE_DAYS} days, not {value}")
    return value


def tiers_clean(raw: list) -> list[int]:
    out = set()
    for t in raw or []:
        text = str(t).strip()
        if text not in {"1", "2", "3"}:
            raise ValidationError(f"tiers must be 1, 2 or 3, not '{text}'")
        out.add(int(text))
    return sorted(out)


def _is_slug(text: str) -> bool:
    return text.isascii() and all(c.isalnum() or c in "-_" for c in text) and text[0].isalnum()


def tasks_with_days(tasks: list[Task], *, on: date) -> list[Task]:
    """Set `days_left` (negative when overdue) and `days_late` on each task, for display."""
    for t in tasks:
        t.days_left = (t.due - on).days
        t.days_late = max(-t.days_left, 0)
    return tasks


MAX_KEY_LENGTH = 60
RESERVED_KEYS = ("new",)  # "playbooks/new/" is the create page
MAX_NAME_LENGTH = 120
MAX_STEP_TITLE_LENGTH = 200


def playbook_key_problems(key: str) -> list[str]:
    """What is wrong with a new playbook's key (already stripped and lowercased)."""
    if not key:
        return ["Give the playbook a key, e.g. 'renewal-cadence'."]
    if not _is_slug(key) or len(key) > MAX_KEY_LENGTH:
        return [
            "The key may use lowercase letters, digits, '-' and '_' "
            f"(at most {MAX_KEY_LENGTH} characters)."
        ]
    if key in RESERVED_KEYS:
        return [f"'{key}' is reserved; choose another key."]
    return []


def playbook_name_problems(name: str) -> list[str]:
    if not name:
        return ["Give the playbook a name."]
    if len(name) > MAX_NAME_LENGTH:
        return [f"The name must be at most {MAX_NAME_LENGTH} characters."]
    return []


def _step_problems(
    title: str, due: int | None, due_problems: list[str], previous: int | None
) -> list[str]:
    problems = []
    if not title:
        problems.append("give it a title")
    elif len(title) > MAX_STEP_TITLE_LENGTH:
        problems.append(f"the title must be at most {MAX_STEP_TITLE_LENGTH} characters")
    problems += due_problems
    if due is not None and previous is not None and due < previous:
        problems.append(
            f"it is due on day {due}, before the step above it (day "
            f"{previous}); order the steps by due day"
        )
    return problems


def steps_clean(steps: list[StepInput]) -> tuple[list[tuple[str, str, int]], list[str]]:
    """The non-blank steps as (title, detail, due day), in the order given, and one message per
    bad step (by number): a title, a whole non-negative due day, due days never going back."""
    clean: list[tuple[str, str, int]] = []
    errors: list[str] = []
    previous = None
    for n, step in enumerate((s for s in steps if not s.blank), start=1):
        title = str(step.title).strip()
        try:
            due, due_problems = _due_days(step.due_days), []
        except ValidationError as exc:
            due, due_problems = None, exc.messages
        problems = _step_problems(title, due, due_problems, previous)
        if due is not None:
            previous = due
        if problems:
            errors.append(f"Step {n}: " + "; ".join(problems) + ".")
        clean.append((title, str(step.detail).strip(), due if due is not None else 0))
    if not clean:
        errors.append("Add at least one step.")
    elif len(clean) > MAX_STEPS:
        errors.append(f"A playbook has at most {MAX_STEPS} steps.")
    return clean, errors
