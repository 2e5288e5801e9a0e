"""Pure decisions of the voice of the customer: how items group into themes, the status
workflow, a behavioural item's words and severity, and whether usage shows an account unblocked.
No database."""

from __future__ import annotations

from dataclasses import dataclass

from .models import FeedbackType, ThemeStatus

# Failed-query reasons that are feedback (the rest, timeouts and syntax, are not ours to build).
BEHAVIORAL_REASONS = ("chain_not_covered", "dataset_not_found")
RISK_RENEWAL_DAYS = 180  # renewing within this many days puts an account's ARR at risk
RISK_BANDS = ("red", "yellow")
# Activity that shows an account using a chain or dataset (the failed queries do not count).
SUCCESS_METRICS = ("queries", "units", "api_calls", "stream_events")

S = ThemeStatus
FORWARD = (S.NEW, S.TRIAGED, S.PLANNED, S.IN_PROGRESS, S.SHIPPED)
# Where product may move a theme from each status. Forward along the workflow (skipping steps is
# fine: a quick fix goes from triaged to shipped), one step back while it is not shipped,
# declined from anywhere before shipping (with a reason), and a declined theme reopened to
# triaged. `loop_closed` follows `shipped` once every account was told.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    S.NEW: (S.TRIAGED, S.PLANNED, S.IN_PROGRESS, S.SHIPPED, S.DECLINED),
    S.TRIAGED: (S.PLANNED, S.IN_PROGRESS, S.SHIPPED, S.DECLINED, S.NEW),
    S.PLANNED: (S.IN_PROGRESS, S.SHIPPED, S.DECLINED, S.TRIAGED),
    S.IN_PROGRESS: (S.SHIPPED, S.DECLINED, S.PLANNED),
    S.SHIPPED: (S.LOOP_CLOSED,),
    S.LOOP_CLOSED: (),
    S.DECLINED: (S.TRIAGED,),
}
OPEN_STATUSES = (S.NEW, S.TRIAGED, S.PLANNED, S.IN_PROGRESS)


class TransitionError(ValueError):
    """A status move the workflow does not allow; the message says why."""


def check_transition(current: str, to: str, *, reason: str = "") -> None:
    if to not in TRANSITIONS.get(current, ()):
        allowed = ", ".join(TRANSITIONS.get(current, ())) or "nothing (the loop is closed)"
        raise TransitionError(f"a {current} theme cannot move to {to}; it can move to {allowed}")
    if to == S.DECLINED and not reason.strip():
        raise TransitionError("say why the theme is declined: the CSMs pass it on")


def grouping(type_: str, chain: str, dataset: str) -> str:
    """The default theme key: type + chain + dataset."""
    return f"{type_}|{chain}|{dataset}"


# How chains are written where a plain capital letter would be wrong.
CHAIN_NAMES = {
    "ton": "TON",
    "bsc": "BNB Chain",
    "near": "NEAR",
    "hyperevm": "HyperEVM",
    "zksync": "zkSync",
    "polygon_zkevm": "Polygon zkEVM",
    "apechain": "ApeChain",
    "dydx": "dYdX",
    "worldchain": "World Chain",
}


def chain_name(chain: str) -> str:
    return CHAIN_NAMES.get(chain, chain.replace("_", " ").capitalize())


def default_title(type_: str, chain: str, dataset: str) -> str:
    label = FeedbackType(type_).label if type_ in FeedbackType.values else type_
    if dataset:
        return f"{label}: {dataset}"
    if chain:
        return f"{label}: {chain_name(chain)}"
    return f"{label} (untagged)"


def behavioral_key(reason: str, chain: str, dataset: str) -> tuple[str, str, str]:
    """One behavioural item per (account, reason, chain or dataset): a chain that is not covered
    is about the chain, whatever table the query aimed at."""
    if reason == "chain_not_covered":
        return reason, chain, ""
    return reason, chain, dataset


def behavioral_title(reason: str, chain: str, dataset: str) -> str:
    if reason == "chain_not_covered":
        return f"Queries fail: chain {chain or '(unnamed)'} is not covered"
    return f"Queries fail: dataset {dataset or chain or '(unnamed)'} not found"


def behavioral_severity(failures: int) -> str:
    if failures >= 500:
        return "high"
    if failures >= 50:
        return "medium"
    return "low"


@dataclass(frozen=True)
class Unblocked:
    """What usage says about one account since the theme shipped."""

    failures_before: float  # failed queries on the theme's chain or dataset before it shipped
    failures_after: float
    used_after: float  # queries, units, API calls, stream events on it since it shipped

    @property
    def verdict(self) -> str:
        """`unblocked` (failures stopped and use started), `still_failing`, `not_using` (no
        more failures but no use either) or `no_signal` (it never failed for them)."""
        if self.failures_after > 0:
            return "still_failing"
        if self.used_after > 0:
            return "unblocked"
        if self.failures_before > 0:
            return "not_using"
        return "no_signal"
