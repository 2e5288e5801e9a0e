"""Demo QBRs: `demo_qbr_seed(today)`, called by seed_demo once the book, its success plans,
pipeline and feedback are in.

The demo CSM's first tier-1 account with a success plan gets two QBRs:
- a held one over the quarter before last, held two weeks into the last quarter (with its `qbr`
  touchpoint, logged through the same service as a CSM's click) and a usage sentence in the
  CSM's own words, and
- a prepared one over the last full quarter: saved as a snapshot, not held yet, with a mutual
  action plan of two next steps (which are tasks on the account).

Deterministic for a given `today` and idempotent: an account that already has a QBR for a
period keeps it, so a re-seed changes nothing.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.db import transaction

from accounts.models import Account, User
from demo import book as book_demo
from playbooks.models import SuccessPlan
from qbr import services
from qbr.models import Qbr
from qbr.rules import last_full_quarter


def demo_qbr_account() -> Account | None:
    csm = User.objects.filter(email=book_demo.CSM).first()
    with_plan = SuccessPlan.objects.values("account_id")
    return (
        Account.objects.filter(tier=1, csm=csm, pk__in=with_plan).order_by("external_id").first()
        if csm
        else None
    )


@transaction.atomic
def demo_qbr_seed(today: date) -> dict[str, int]:
    account = demo_qbr_account()
    if account is None:
        return {"held": 0, "prepared": 0}
    csm = account.csm
    start, end = last_full_quarter(today)
    before_start, before_end = last_full_quarter(start)
    counts = {"held": 0, "prepared": 0}
    if not Qbr.objects.filter(account=account, period_start=before_start).exists():
        held = services.qbr_prepare(account=account, by=csm, start=before_start, end=before_end)
        services.qbr_section_edit(
            qbr=held,
            by=csm,
            key="usage",
            sentence="Usage held steady through the quarter on five chains: the monitoring "
            "pipeline is now part of the daily run.",
        )
        services.qbr_mark_held(qbr=held, by=csm, on=start + timedelta(days=14))
        counts["held"] = 1
    if not Qbr.objects.filter(account=account, period_start=start).exists():
        draft = services.qbr_prepare(account=account, by=csm, start=start, end=end)
        services.qbr_steps_save(
            qbr=draft,
            by=csm,
            steps=[
                services.StepInput(
                    text="Two-week eval of the Solana DEX trades dataset",
                    due=today + timedelta(days=14),
                    customer_owner="Their head of data",
                ),
                services.StepInput(
                    text="Joint adoption plan: move the second team onto the feed",
                    due=today + timedelta(days=30),
                    owner=csm,
                ),
            ],
        )
        services.qbr_save(qbr=draft, by=csm)
        counts["prepared"] = 1
    return counts


def demo_qbr_summary() -> str:
    account = demo_qbr_account()
    if account is None:
        return "none: no tier-1 account of the demo CSM has a success plan"
    qbrs = list(Qbr.objects.filter(account=account).order_by("period_start"))
    return f"{account.name} ({account.external_id}): " + ", ".join(
        f"{q.get_status_display().lower()} {q.period_start:%b %Y}–{q.period_end:%b %Y}"
        for q in qbrs
    )
