"""What an alert delivery says: the Slack message and the digest email."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from accounts.models import Account, Tier
from accounts.selectors import accounts_with_commercials
from playbooks.models import (
    Alert,
    AlertKind,
    MilestoneKey,
)

# In one account's message, what crossed reads from the headline down.
KIND_ORDER = [
    AlertKind.BAND_CHANGE,
    AlertKind.OVERRIDE,
    AlertKind.SCORE_DROP,
    AlertKind.RENEWAL_RISK,
    AlertKind.COMMIT_THRESHOLD,
    AlertKind.USAGE_SPIKE,
    AlertKind.ONBOARDING_OVERDUE,
    AlertKind.EXPANSION_HANDOFF,
]
ACCOUNT_NUMBERS = ("ARR", "Renewal")
MAX_IN_MESSAGE = 10  # alerts quoted in one message (Block Kit allows 50 blocks)


def account_link(account: Account) -> str:
    return f"{settings.SITE_URL}/accounts/{account.external_id}/health/"


def _esc(text: str) -> str:
    """Slack mrkdwn treats &, < and > as control characters."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _money(value) -> str:
    return f"${float(value):,.0f}"


def _day(raw) -> str:
    return raw if isinstance(raw, str) else raw.isoformat()


def key_numbers(*, alert: Alert, account: Account | None) -> list[tuple[str, str]]:
    """The numbers behind an alert, as (label, value) pairs: the health score and band (and
    what they were), ARR, renewal, and what crossed (commit used, spike, override, milestone)."""
    data = alert.data or {}
    out: list[tuple[str, str]] = []
    if data.get("score") is not None:
        health = f"{data['score']} · {data.get('band', '')}"
        if data.get("from_score") is not None:
            was = f"{data['from_score']}" + (
                f" · {data['from_band']}" if data.get("from_band") else ""
            )
            health += f" (was {was})"
        out.append(("Health", health))
    if data.get("points"):
        out.append(("Drop", f"−{data['points']} points in 7 days"))
    if data.get("override"):
        out.append(("Override", f"{data['override']} → at most {data.get('cap_band', '')}"))
    if data.get("consumed_share") is not None:
        used = f"{data['consumed_share']:.0%} used"
        if data.get("consumed") is not None and data.get("commit"):
            used += f" ({data['consumed']:,.0f} of {data['commit']:,.0f} units)"
        out.append(("Commit", used))
    if data.get("spike_ratio") is not None:
        out.append(("Usage", f"{data['spike_ratio']:.1f}× its normal level"))
    if data.get("milestone"):
        label = dict(MilestoneKey.choices).get(data["milestone"], data["milestone"])
        out.append(("Milestone", f"{label}, due {data.get('due', '?')}"))
    if data.get("arr_potential") is not None:
        out.append(("ARR potential", _money(data["arr_potential"])))
    arr = data.get("arr", getattr(account, "current_arr", None))
    if arr is not None:
        out.append(("ARR", _money(arr)))
    renewal = data.get("renewal") or getattr(account, "renewal_date", None)
    if renewal:
        days = (datetime.fromisoformat(_day(renewal)).date() - alert.as_of).days
        out.append(("Renewal", f"{_day(renewal)} ({days} days)"))
    return out


def slack_message(*, alerts: list[Alert]) -> dict:
    """One Block Kit message for one account's new alerts: the account, what crossed, why in
    numbers, and a button to the account's health page. Returns {"text", "blocks"}."""
    alerts = sorted(alerts, key=lambda a: (KIND_ORDER.index(a.kind), a.pk))[:MAX_IN_MESSAGE]
    first = alerts[0]
    account = (
        accounts_with_commercials(as_of=first.as_of).filter(pk=first.account_id).first()
        or first.account
    )
    # A notice from another app names the page it is about (an expansion hand-off: the
    # account's Expansion tab); an alert links the account's health.
    path = (first.data or {}).get("path")
    link = f"{settings.SITE_URL}{path}" if path else account_link(account)
    owner = first.owner.display_name if first.owner_id and first.owner else "pooled queue"
    numbers: dict[str, str] = {}
    for alert in alerts:
        for label, value in key_numbers(alert=alert, account=account):
            numbers.setdefault(label, value)
    # What crossed first, then the account's money and date.
    ordered = sorted(numbers.items(), key=lambda item: item[0] in ACCOUNT_NUMBERS)
    fields = [
        {"type": "mrkdwn", "text": f"*{_esc(label)}*\n{_esc(value)}"} for label, value in ordered
    ][:10]
    blocks: list[dict] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": account.name[:150], "emoji": True},
        },
    ]
    blocks += [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": f"*{_esc(a.title)}*\n{_esc(a.detail)}"[:3000]},
        }
        for a in alerts
    ]
    if fields:
        blocks.append({"type": "section", "fields": fields})
    crossed = " + ".join(dict.fromkeys(AlertKind(a.kind).label for a in alerts))
    blocks += [
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": _esc(
                        f"{crossed} · as of {first.as_of} · {Tier(account.tier).label} · "
                        f"owner: {owner}"
                    ),
                }
            ],
        },
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": "open_account",
                    "url": link,
                    "style": "primary",
                    "text": {
                        "type": "plain_text",
                        "text": "Open in CS Portal" if path else "Open account health",
                    },
                }
            ],
        },
    ]
    return {"text": f"{account.name}: " + "; ".join(a.title for a in alerts), "blocks": blocks}


def digest_email(*, owner, alerts: list[Alert]) -> EmailMultiAlternatives:
    """One CSM's digest: a plain-text body and a simple HTML alternative."""
    count = len(alerts)
    subject = f"CS Portal: {count} new alert{'s' if count != 1 else ''} routed to you"
    items = [{"alert": a, "link": account_link(a.account)} for a in alerts]
    lines = [
        f"Hi {owner.display_name},",
        "",
        f"{count} alert{'s' if count != 1 else ''} routed to you since the last digest:",
        "",
    ]
    for item in items:
        a = item["alert"]
        lines += [f"* {a.account.name}: {a.title}", f"  {a.detail}", f"  {item['link']}", ""]
    lines += [f"Your inbox: {settings.SITE_URL}/inbox/"]
    html = render_to_string(
        "playbooks/alerts_digest_email.html",
        {
            "owner": owner,
            "items": items,
            "count": count,
            "inbox_url": f"{settings.SITE_URL}/inbox/",
        },
    )
    email = EmailMultiAlternatives(
        subject=subject,
        body="\n".join(lines),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[owner.email],
    )
    email.attach_alternative(html, "text/html")
    return email
