"""Usage facts, data-trust incidents, the versioned health model and daily health snapshots."""

from __future__ import annotations

import copy

from django.conf import settings
from django.db import models
from django.db.models import F, Q

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


DIMENSIONS = ("product", "chain", "dataset", "reason")


class UsageDims(models.Model):
    """One distinct dimension tuple (product, chain, dataset, reason), interned.

    A book has a few hundred such tuples and millions of facts: each fact names its tuple by
    this small id, so the facts' natural key is four narrow columns instead of seven, and a
    read that needs a dimension joins this table. Rows are only ever added (never changed or
    deleted), so an id means the same tuple forever.
    """

    id = models.AutoField(primary_key=True)
    product = models.CharField(max_length=20, blank=True, default="")
    chain = models.CharField(max_length=40, blank=True, default="")
    dataset = models.CharField(max_length=120, blank=True, default="")
    reason = models.CharField(max_length=20, blank=True, default="")

    class Meta:
        verbose_name_plural = "usage dimensions"
        constraints = [
            models.UniqueConstraint(fields=list(DIMENSIONS), name="usage_dims_tuple"),
        ]

    def __str__(self) -> str:
        return "/".join(getattr(self, d) or "-" for d in DIMENSIONS)

    @classmethod
    def intern(cls, tuples) -> dict[tuple[str, str, str, str], int]:
        """The id of each (product, chain, dataset, reason) tuple, adding the new ones."""
        wanted = set(tuples)
        ids = cls._ids(wanted)
        missing = wanted - set(ids)
        if missing:
            cls.objects.bulk_create(
                [cls(**dict(zip(DIMENSIONS, t, strict=True))) for t in sorted(missing)],
                ignore_conflicts=True,
            )
            ids.update(cls._ids(missing))
        return ids

    @classmethod
    def _ids(cls, tuples: set) -> dict[tuple[str, str, str, str], int]:
        ids: dict[tuple[str, str, str, str], int] = {}
        chunk = sorted(tuples)
        for start in range(0, len(chunk), 500):
            q = Q()
            for product, chain, dataset, reason in chunk[start : start + 500]:
                q |= Q(product=product, chain=chain, dataset=dataset, reason=reason)
            for row in cls.objects.filter(q).values_list("id", *DIMENSIONS):
                ids[tuple(row[1:])] = row[0]
        return ids


def _dims_path(lookup: str) -> str:
    """`chain__in` → `dims__chain__in`: a dimension named as if it were the fact's own column."""
    return f"dims__{lookup}" if lookup.split("__", 1)[0] in DIMENSIONS else lookup


def _dims_q(node):
    """A Q tree with its dimension lookups (`Q(chain=…) | Q(dataset=…)`) pointed at `dims`."""
    if isinstance(node, Q):
        clone = copy.copy(node)
        clone.children = [_dims_q(child) for child in node.children]
        return clone
    if isinstance(node, tuple) and len(node) == 2 and isinstance(node[0], str):
        return (_dims_path(node[0]), node[1])
    return node


class UsageFactQuerySet(models.QuerySet):
    """Facts filtered, listed and grouped by their dimensions as if these were columns."""

    def _filter_or_exclude(self, negate, args, kwargs):
        return super()._filter_or_exclude(
            negate,
            tuple(_dims_q(arg) for arg in args),
            {_dims_path(k): v for k, v in kwargs.items()},
        )

    def _with_dims(self, fields) -> UsageFactQuerySet:
        wanted = {f for f in fields if f in DIMENSIONS and f not in self.query.annotations}
        return self.annotate(**{f: F(f"dims__{f}") for f in wanted}) if wanted else self

    def values(self, *fields, **expressions):
        return super(UsageFactQuerySet, self._with_dims(fields)).values(*fields, **expressions)

    def values_list(self, *fields, flat=False, named=False):
        return super(UsageFactQuerySet, self._with_dims(fields)).values_list(
            *fields, flat=flat, named=named
        )

    def bulk_create(self, objs, *args, **kwargs):
        objs = list(objs)
        _resolve_dims(objs)
        return super().bulk_create(objs, *args, **kwargs)


def _resolve_dims(facts) -> None:
    # A fact given no dimension at all has the blank tuple.
    pending = [f for f in facts if f._dims_pending is not None or f.dims_id is None]
    if pending:
        ids = UsageDims.intern(f._dims_tuple() for f in pending)
        for fact in pending:
            fact.dims_id = ids[fact._dims_tuple()]
            fact._dims_pending = None


class UsageFact(models.Model):
    """One daily fact: (account, date, metric, dimensions) → value.

    The dimensions (product, chain, dataset, reason; empty strings rather than NULL) are
    interned in `UsageDims`, so the natural key is (account, date, metric, dims): a plain
    unique constraint of narrow columns on every backend, and re-imports are idempotent
    upserts. `fact.chain`, `UsageFact(chain=…)` and `.filter(chain=…)` read and write the
    dimension through it. On PostgreSQL the table is partitioned by month on `date`
    (migration 0007, `health.partitions`); SQLite keeps one plain table.
    """

    # No database-level FK or extra index: every import checks the accounts exist, deletes
    # cascade through the ORM, and the natural key (which starts with account_id) serves
    # per-account reads. Each index and FK trigger costs on every one of millions of rows.
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="usage", db_constraint=False, db_index=False
    )
    date = models.DateField()
    metric = models.CharField(max_length=20, choices=Metric.choices)
    dims = models.ForeignKey(
        UsageDims,
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    value = models.FloatField()

    objects = UsageFactQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "date", "metric", "dims"], name="usage_natural_key"
            ),
            models.CheckConstraint(condition=Q(value__gte=0), name="usage_value_non_negative"),
        ]

    _dims_pending: dict | None = None

    def __str__(self) -> str:
        return f"{self.account_id} {self.date} {self.metric}={self.value}"

    def _dims_tuple(self) -> tuple[str, str, str, str]:
        return tuple(getattr(self, d) or "" for d in DIMENSIONS)

    def save(self, *args, **kwargs):
        _resolve_dims([self])
        super().save(*args, **kwargs)


def _dimension(name: str) -> property:
    def get(fact: UsageFact) -> str:
        if fact._dims_pending is not None and name in fact._dims_pending:
            return fact._dims_pending[name]
        if fact.dims_id is None:
            return ""
        return getattr(fact.dims, name)

    def set_(fact: UsageFact, value: str) -> None:
        if fact._dims_pending is None:
            current = {d: get(fact) for d in DIMENSIONS} if fact.dims_id else {}
            fact._dims_pending = current
        fact._dims_pending[name] = value or ""

    return property(get, set_)


for _name in DIMENSIONS:
    setattr(UsageFact, _name, _dimension(_name))


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
