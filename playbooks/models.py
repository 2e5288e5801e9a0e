"""Alerts, playbooks and plays, tasks, success plans, onboarding milestones, tier suggestions
and digital-tier nudges: what turns a score into action."""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.db import models
from django.db.models import Q

from accounts.models import Account, Tier
from cs_portal.models import Versioned


class AlertKind(models.TextChoices):
    BAND_CHANGE = "band_change", "Band change"
    OVERRIDE = "override", "Override fired"
    SCORE_DROP = "score_drop", "Score drop"
    RENEWAL_RISK = "renewal_risk", "Renewal at risk"
    ONBOARDING_OVERDUE = "onboarding_overdue", "Onboarding overdue"
    COMMIT_THRESHOLD = "commit_threshold", "Commit threshold"
    USAGE_SPIKE = "usage_spike", "Usage spike"
    EXPANSION_HANDOFF = "expansion_handoff", "Expansion hand-off"


class AlertStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    SNOOZED = "snoozed", "Snoozed"
    RESOLVED = "resolved", "Resolved"


class InboxRoute(models.TextChoices):
    OWNER = "owner", "The owner's inbox (the pooled queue when it has none)"
    TEAM = "team", "Only the managers' whole-team view"
    NONE = "none", "No inbox"


class Alert(models.Model):
    """One threshold crossing on one account. `key` names the crossing, so recomputing, a
    backfill or a retried task can never raise it twice.

    Lifecycle: `open` → `acknowledged` (someone is on it) or `snoozed` (until a date; from that
    date on it reads as open again) → `resolved`, set by the recompute when the condition no
    longer holds, with the reason in words. See playbooks/lifecycle.py.
    """

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="alerts")
    kind = models.CharField(max_length=24, choices=AlertKind.choices)
    key = models.CharField(max_length=120)
    as_of = models.DateField()
    title = models.CharField(max_length=200)
    detail = models.TextField()
    data = models.JSONField(default=dict, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="alerts",
    )
    read_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    status = models.CharField(max_length=12, choices=AlertStatus.choices, default=AlertStatus.OPEN)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    snoozed_until = models.DateField(
        null=True, blank=True, help_text="reads as open again from this day on"
    )
    snoozed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    snoozed_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_as_of = models.DateField(
        null=True, blank=True, help_text="the snapshot day on which the condition had cleared"
    )
    resolved_reason = models.CharField(max_length=300, blank=True)
    # Routing (playbooks/routing): which recompute's story it belongs to (one account's alerts
    # of one recompute read as one inbox entry and one Slack message), whose inbox shows it, and
    # the decision itself (rule version, channels, people, what preferences muted).
    story = models.CharField(max_length=80, blank=True, db_index=True)
    inbox = models.CharField(max_length=6, choices=InboxRoute.choices, default=InboxRoute.OWNER)
    routing = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "kind", "key"], name="alert_once"),
        ]
        indexes = [
            models.Index(fields=["owner", "status"], name="alert_owner_status"),
            models.Index(fields=["status", "account"], name="alert_status_account"),
        ]

    def __str__(self) -> str:
        return f"{self.account}: {self.title}"

    def status_on(self, day: date) -> str:
        """The status a reader sees on `day`: a snooze that has run out reads as open."""
        if self.status == AlertStatus.SNOOZED and self.snoozed_until and self.snoozed_until <= day:
            return AlertStatus.OPEN
        return self.status


class Channel(models.TextChoices):
    INBOX = "inbox", "In-app inbox"
    SLACK = "slack", "Slack"
    EMAIL = "email", "Email digest"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    RETRYING = "retrying", "Retrying"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Not configured"
    DROPPED = "dropped", "Condition cleared before sending"


class AlertDelivery(models.Model):
    """Where one alert went, per channel (and for the digest per person), with the outcome of
    the last attempt. `recipient` is empty for the inbox and Slack (the alert's owner or pool
    reads them) and for digests recorded before routing (they went to the owner)."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="alert_deliveries",
    )
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["alert", "channel"],
                condition=Q(recipient__isnull=True),
                name="delivery_once",
            ),
            models.UniqueConstraint(
                fields=["alert", "channel", "recipient"],
                condition=Q(recipient__isnull=False),
                name="delivery_once_per_recipient",
            ),
        ]


class OwnerRule(models.TextChoices):
    CSM = "csm", "The account's CSM"
    POOL = "pool", "The tier's pool queue (tier 2/3), else the CSM"


class Playbook(models.Model):
    """A template: a trigger and ordered tasks with due-day offsets."""

    key = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    trigger = models.CharField(
        max_length=40,
        help_text="alert kind, optionally kind:detail (e.g. override:coasting, renewal_risk:90)",
    )
    tiers = models.JSONField(default=list, blank=True, help_text="tiers it applies to; empty=all")
    owner_rule = models.CharField(max_length=10, choices=OwnerRule.choices, default=OwnerRule.CSM)
    active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PlaybookStep(models.Model):
    playbook = models.ForeignKey(Playbook, on_delete=models.CASCADE, related_name="steps")
    order = models.PositiveSmallIntegerField()
    title = models.CharField(max_length=200)
    detail = models.TextField(blank=True)
    due_days = models.PositiveSmallIntegerField(help_text="days after the play starts")

    class Meta:
        ordering = ["order"]
        constraints = [
            models.UniqueConstraint(fields=["playbook", "order"], name="step_order"),
        ]


class PlayStatus(models.TextChoices):
    OPEN = "open", "Open"
    DONE = "done", "Done"
    CANCELLED = "cancelled", "Cancelled"
    CLEARED = "cleared", "Condition cleared"


class Play(models.Model):
    """One running playbook on one account. At most one open play per account and playbook."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="plays")
    playbook = models.ForeignKey(Playbook, on_delete=models.PROTECT, related_name="plays")
    status = models.CharField(max_length=10, choices=PlayStatus.choices, default=PlayStatus.OPEN)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="plays",
    )
    pool = models.CharField(max_length=20, blank=True, help_text="queue when no owner")
    alert = models.ForeignKey(
        Alert, null=True, blank=True, on_delete=models.SET_NULL, related_name="plays"
    )
    started_on = models.DateField()
    finished_at = models.DateTimeField(null=True, blank=True)
    closed_reason = models.CharField(
        max_length=300, blank=True, help_text="why the system closed it (status cleared)"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-started_on", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "playbook"], condition=Q(status="open"), name="one_open_play"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.playbook} on {self.account}"


class TaskStatus(models.TextChoices):
    OPEN = "open", "Open"
    DONE = "done", "Done"
    CANCELLED = "cancelled", "Cancelled"


class Task(models.Model):
    """A to-do on an account, from a play or on its own."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="tasks")
    play = models.ForeignKey(
        Play, null=True, blank=True, on_delete=models.CASCADE, related_name="tasks"
    )
    title = models.CharField(max_length=200)
    detail = models.TextField(blank=True)
    due = models.DateField()
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tasks",
    )
    pool = models.CharField(max_length=20, blank=True)
    status = models.CharField(max_length=10, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["due", "id"]
        indexes = [models.Index(fields=["owner", "status", "due"])]

    def __str__(self) -> str:
        return self.title


class SuccessPlan(models.Model):
    """What the customer wants, and the ROI baseline in their currency."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ON_TRACK = "on_track", "On track"
        AT_RISK = "at_risk", "At risk"
        ACHIEVED = "achieved", "Achieved"

    account = models.OneToOneField(Account, on_delete=models.CASCADE, related_name="success_plan")
    outcomes = models.TextField(help_text="one outcome per line")
    currency = models.CharField(max_length=3, default="USD")
    ftes_saved = models.DecimalField(max_digits=6, decimal_places=1, null=True, blank=True)
    infra_avoided_per_year = models.DecimalField(
        max_digits=14, decimal_places=2, null=True, blank=True
    )
    time_to_market_days = models.PositiveIntegerField(null=True, blank=True)
    targets = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    updated_at = models.DateTimeField(auto_now=True)


class MilestoneKey(models.TextChoices):
    VALUE_DEFINED = "value_defined", "Value defined"
    ACCESS_PROVISIONED = "access_provisioned", "Access provisioned"
    FIRST_QUERY = "first_query", "First query"
    FIRST_API_CALL = "first_api_call", "First API call"
    FIRST_STREAM_EVENT = "first_stream_event", "First stream event"
    FIRST_PRODUCTION_PIPELINE = "first_production_pipeline", "First production pipeline"
    FIRST_DEPENDENT_CONSUMER = "first_dependent_consumer", "First dependent consumer"


class Milestone(models.Model):
    """An onboarding step with a due date; the ones usage can prove complete themselves."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="milestones")
    key = models.CharField(max_length=30, choices=MilestoneKey.choices)
    due = models.DateField()
    completed_on = models.DateField(null=True, blank=True)
    evidence = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["due", "id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "key"], name="milestone_once"),
        ]


class SuggestionStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    DISMISSED = "dismissed", "Dismissed"


class TierSuggestion(models.Model):
    """The system's proposal to move an account between tiers, with its evidence."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="tier_suggestions")
    from_tier = models.PositiveSmallIntegerField(choices=Tier.choices)
    to_tier = models.PositiveSmallIntegerField(choices=Tier.choices)
    reason = models.CharField(max_length=200)
    evidence = models.JSONField(default=dict)
    status = models.CharField(
        max_length=10, choices=SuggestionStatus.choices, default=SuggestionStatus.PENDING
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["account"], condition=Q(status="pending"), name="one_pending_suggestion"
            ),
        ]


class Nudge(models.Model):
    """A digital-tier event for the product's own messaging (delivered to a webhook)."""

    class Kind(models.TextChoices):
        THROUGHPUT_70 = "throughput_70", "70% of committed throughput"
        THROUGHPUT_90 = "throughput_90", "90% of committed throughput"
        CROSS_CHAIN = "cross_chain", "Cross-chain suggestion"
        SCHEMA_CHANGE = "schema_change", "Schema change heads-up"
        FEEDBACK_SHIPPED = "feedback_shipped", "What they asked for shipped"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="nudges")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    key = models.CharField(max_length=120)
    message = models.CharField(max_length=300)
    payload = models.JSONField(default=dict)
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["account", "kind", "key"], name="nudge_once"),
        ]


class RoutingRules(Versioned):
    """One version of the alert routing rules: per alert kind, direction and tier, the
    channels, the audience and whether preferences may mute it (see playbooks/routing). A change
    saves a new version; the latest is in force and every earlier one is kept."""

    rules = models.JSONField(help_text="see playbooks.routing.rules")

    class Meta(Versioned.Meta):
        verbose_name_plural = "routing rules"

    def __str__(self) -> str:
        return f"alert routing v{self.version}"


class RoutingPreference(models.Model):
    """What one person muted for themselves: alert kinds and channels (never what a rule
    marks required)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="routing_preference"
    )
    muted_kinds = models.JSONField(default=list, blank=True)
    muted_channels = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
