"""Usage facts, data-trust incidents, the versioned health model and daily health snapshots."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from accounts.models import Account


class Metric(models.TextChoices):
    QUERIES = "queries", "Queries"
    UNITS = "units", "Units"
    API_CALLS = "api_calls", "API calls"
    STREAM_EVENTS = "stream_events", "Stream events"
    ACTIVE_USERS = "active_users", "Active users"
    FAILED_QUERIES = "failed_queries", "Failed queries"


class Product(models.TextChoices):
    EXPLORER = "explorer", "Explorer units"
    DEVELOPER = "developer", "Developer units"
    DATASTREAMS = "datastreams", "Datastreams"
    CREDITS = "credits", "Legacy credits"


class FailureReason(models.TextChoices):
    CHAIN_NOT_COVERED = "chain_not_covered", "Chain not covered"
    DATASET_NOT_FOUND = "dataset_not_found", "Dataset not found"
    TIMEOUT = "timeout", "Timeout"
    SYNTAX = "syntax", "Syntax error"


class UsageFact(models.Model):
    """One daily fact: (account, date, metric, dimensions) → value.

    Dimensions are empty strings rather than NULL so the natural key can be a plain unique
    constraint on every backend and re-imports are idempotent upserts.
    """

    # No database-level FK or extra index: every import checks the accounts exist, deletes
    # cascade through the ORM, and the natural key (which starts with account_id) serves
    # per-account reads. Each index and FK trigger costs on every one of millions of rows.
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="usage", db_constraint=False, db_index=False
    )
    date = models.DateField()
    metric = models.CharField(max_length=20, choices=Metric.choices)
    product = models.CharField(max_length=20, blank=True, default="")
    chain = models.CharField(max_length=40, blank=True, default="")
    dataset = models.CharField(max_length=120, blank=True, default="")
    reason = models.CharField(max_length=20, blank=True, default="")
    value = models.FloatField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "date", "metric", "product", "chain", "dataset", "reason"],
                name="usage_natural_key",
            ),
            models.CheckConstraint(condition=Q(value__gte=0), name="usage_value_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.date} {self.metric}={self.value}"


class UsageDay(models.Model):
    """A day whose usage has landed: some usage import delivered facts for it.

    The newest such day is the book's usage watermark. Usage for a later day has not arrived
    yet, so a recompute as of that day scores usage through the watermark instead of reading
    the missing day as zero; with no day landed at all, nothing is scored ("awaiting usage").
    A tiny table, so the watermark is one index read, never a scan of the facts.
    """

    date = models.DateField(unique=True)
    first_landed_at = models.DateTimeField(auto_now_add=True)
    last_import_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-date"]

    def __str__(self) -> str:
        return f"usage landed for {self.date}"


class IncidentKind(models.TextChoices):
    FRESHNESS = "freshness", "Freshness"
    ACCURACY = "accuracy", "Accuracy"
    OUTAGE = "outage", "Outage"
    SCHEMA_CHANGE = "schema_change", "Schema change"


class Severity(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


class Incident(models.Model):
    """A data-trust event on the platform side touching datasets and chains."""

    key = models.CharField(max_length=64, unique=True)
    kind = models.CharField(max_length=20, choices=IncidentKind.choices)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    started = models.DateField()
    resolved = models.DateField(null=True, blank=True)
    datasets = models.JSONField(default=list, blank=True)
    chains = models.JSONField(default=list, blank=True)
    title = models.CharField(max_length=200, blank=True)
    # Schema changes: the day the change takes effect and the migration note for customers.
    effective = models.DateField(null=True, blank=True)
    note = models.TextField(blank=True)
    # Opened by the freshness monitor (lag over the dataset's SLA) rather than imported.
    auto = models.BooleanField(default=False)
    opened_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-started"]

    def __str__(self) -> str:
        return self.title or self.key

    def is_open(self, on) -> bool:
        return self.started <= on and (self.resolved is None or self.resolved > on)


class HealthModel(models.Model):
    """One version of the health model's weights and band thresholds. Every version is kept."""

    version = models.PositiveIntegerField(unique=True)
    weights = models.JSONField()
    green_min = models.PositiveSmallIntegerField(default=70)
    yellow_min = models.PositiveSmallIntegerField(default=40)
    note = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-version"]

    def __str__(self) -> str:
        return f"v{self.version}"


class Band(models.TextChoices):
    GREEN = "green", "Green"
    YELLOW = "yellow", "Yellow"
    RED = "red", "Red"


class HealthSnapshot(models.Model):
    """An account's health as of one day, with the full explanation. One per account per day."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="health")
    date = models.DateField()
    model = models.ForeignKey(HealthModel, on_delete=models.PROTECT, related_name="snapshots")
    score = models.PositiveSmallIntegerField()
    weighted_score = models.FloatField()
    band = models.CharField(max_length=10, choices=Band.choices)
    signals = models.JSONField()
    overrides = models.JSONField(default=list)
    facts = models.JSONField(
        default=dict, blank=True, help_text="numbers behind the score (trend, pace, spike, commit)"
    )
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-date"]
        constraints = [
            models.UniqueConstraint(fields=["account", "date"], name="snapshot_account_date"),
        ]
        indexes = [models.Index(fields=["date", "band"], name="snapshot_date_band")]

    def __str__(self) -> str:
        return f"{self.account_id} {self.date}: {self.score} {self.band}"


class RecomputeRequest(models.Model):
    """Work that must follow a commit: rescore these accounts (None: the whole book).

    Written in the same transaction as the data that needs it (a transactional outbox), so it
    is never lost if the broker is down at that moment. Requests settle before they run: the
    relay waits until no new request has arrived for RECOMPUTE_SETTLE_SECONDS, then claims
    every pending one and runs one recompute for their union, so the files of one load (in any
    order, seconds apart) are scored once, together.
    """

    account_ids = models.JSONField(null=True, blank=True, help_text="null: the whole book")
    reason = models.CharField(max_length=60, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        scope = "book" if self.account_ids is None else f"{len(self.account_ids)} accounts"
        return f"rescore {scope} ({self.reason})"
