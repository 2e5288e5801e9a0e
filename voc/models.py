"""Voice of the customer: feedback items (typed by a CSM, imported, or drawn from failed
queries), the themes that group them, each theme's status history, and the "tell the customer"
work a shipped theme sends out."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from accounts.models import Account


class FeedbackType(models.TextChoices):
    COVERAGE_GAP = "coverage_gap", "Coverage gap"
    DATA_QUALITY = "data_quality", "Data quality"
    SCHEMA = "schema", "Schema"
    FRESHNESS = "freshness", "Freshness"
    DOCS = "docs", "Docs"
    FEATURE = "feature", "Feature"


class FeedbackSeverity(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


SEVERITY_RANK = {"low": 0, "medium": 1, "high": 2, "critical": 3}


class Source(models.TextChoices):
    QBR = "qbr", "QBR"
    TICKET = "ticket", "Ticket"
    SLACK = "slack", "Slack"
    CHURN_REASON = "churn_reason", "Churn reason"
    BEHAVIORAL = "behavioral", "Behavioural (failed queries)"


class ThemeStatus(models.TextChoices):
    NEW = "new", "New"
    TRIAGED = "triaged", "Triaged"
    PLANNED = "planned", "Planned"
    IN_PROGRESS = "in_progress", "In progress"
    SHIPPED = "shipped", "Shipped"
    LOOP_CLOSED = "loop_closed", "Loop closed"
    DECLINED = "declined", "Declined"


class Theme(models.Model):
    """A group of feedback items product works on. `grouping` is the default key (type, chain,
    dataset) new items are routed by; a theme merged into another forwards its items there."""

    key = models.SlugField(max_length=90, unique=True)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    type = models.CharField(max_length=20, choices=FeedbackType.choices)
    chain = models.CharField(max_length=40, blank=True, default="")
    dataset = models.CharField(max_length=120, blank=True, default="")
    grouping = models.CharField(max_length=200, null=True, blank=True, unique=True)
    status = models.CharField(max_length=12, choices=ThemeStatus.choices, default=ThemeStatus.NEW)
    declined_reason = models.CharField(max_length=300, blank=True)
    shipped_on = models.DateField(null=True, blank=True)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged_from"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title", "id"]
        indexes = [models.Index(fields=["status"], name="voc_theme_status")]

    def __str__(self) -> str:
        return self.title


class FeedbackItem(models.Model):
    """One thing one account told us (or showed us by failing queries). It keeps the account's
    ARR, tier and band when it was logged; the account's current ones are a join away."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="feedback")
    theme = models.ForeignKey(Theme, on_delete=models.PROTECT, related_name="items")
    date = models.DateField(help_text="the day it was heard (behavioural: first seen)")
    type = models.CharField(max_length=20, choices=FeedbackType.choices)
    severity = models.CharField(max_length=10, choices=FeedbackSeverity.choices)
    title = models.CharField(max_length=200)
    detail = models.TextField(blank=True)
    chain = models.CharField(max_length=40, blank=True, default="")
    dataset = models.CharField(max_length=120, blank=True, default="")
    source = models.CharField(max_length=14, choices=Source.choices, blank=True, default="")
    # Behavioural items: the failure reason, when failures were first and last seen, how many.
    reason = models.CharField(max_length=20, blank=True, default="")
    first_seen = models.DateField(null=True, blank=True)
    last_seen = models.DateField(null=True, blank=True)
    failures = models.PositiveIntegerField(default=0)
    # The account when the item was logged.
    arr_at_log = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    tier_at_log = models.PositiveSmallIntegerField(null=True, blank=True)
    band_at_log = models.CharField(max_length=10, blank=True, default="")
    logged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-date", "-id"]
        constraints = [
            # The `feedback` import's natural key (behavioural items have their own).
            models.UniqueConstraint(
                fields=["account", "date", "title"],
                condition=~Q(source="behavioral"),
                name="feedback_natural_key",
            ),
            models.UniqueConstraint(
                fields=["account", "reason", "chain", "dataset"],
                condition=Q(source="behavioral"),
                name="feedback_behavioral_once",
            ),
        ]
        indexes = [models.Index(fields=["theme", "account"], name="voc_item_theme_account")]

    def __str__(self) -> str:
        return self.title


class FailureDay(models.Model):
    """A behavioural item's failed queries on one day, as the usage said when last read: the
    item's count is their sum, and the theme's chart draws them without reading usage again."""

    item = models.ForeignKey(FeedbackItem, on_delete=models.CASCADE, related_name="days")
    date = models.DateField()
    failures = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "date"], name="failure_day_once"),
        ]


class ThemeEvent(models.Model):
    """The theme's history: every status transition (who, when, why) and every rename, merge,
    split and move."""

    class Kind(models.TextChoices):
        STATUS = "status", "Status"
        RENAME = "rename", "Renamed"
        MERGE = "merge", "Merged"
        SPLIT = "split", "Split"
        MOVE = "move", "Items moved"
        LOOP = "loop", "Loop"

    theme = models.ForeignKey(Theme, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    from_status = models.CharField(max_length=12, choices=ThemeStatus.choices, blank=True)
    to_status = models.CharField(max_length=12, choices=ThemeStatus.choices, blank=True)
    note = models.CharField(max_length=300, blank=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]


class LoopTell(models.Model):
    """One "tell the customer it shipped" per theme and account, ever: a task for the CSM
    (tiers 1-2) or a nudge on the product's webhook (tier 3)."""

    theme = models.ForeignKey(Theme, on_delete=models.CASCADE, related_name="tells")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    task = models.ForeignKey(
        "playbooks.Task", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    nudge = models.ForeignKey(
        "playbooks.Nudge", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["theme", "account"], name="loop_tell_once"),
        ]
