from django.conf import settings
from django.db import models


class ImportRun(models.Model):
    """One attempt to import a file or a batch of rows, accepted or rejected."""

    class Status(models.TextChoices):
        RUNNING = "running"
        ACCEPTED = "accepted"
        REJECTED = "rejected"
        FAILED = "failed"  # crashed: nothing was written (the import is one transaction)

    class Origin(models.TextChoices):
        CLI = "cli", "command"
        WEB = "web", "browser upload"
        API = "api", "API"

    kind = models.CharField(max_length=40)
    origin = models.CharField(max_length=10, choices=Origin.choices)
    filename = models.CharField(max_length=255, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    status = models.CharField(max_length=10, choices=Status.choices)
    rows = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    seconds = models.FloatField(default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} import #{self.pk} ({self.status})"


class Versioned(models.Model):
    """A settings table kept as versions: a change saves a new row, the highest version is in
    force and every earlier one stays (expansion's triggers, the alert routing). Subclasses add
    the JSON of what they keep; `version_current` and `version_next` read and write them."""

    version = models.PositiveIntegerField(unique=True)
    note = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True
        ordering = ["-version"]


def version_current[V: Versioned](model: type[V], **defaults) -> V:
    """The version in force; `defaults` as version 1 on first use."""
    current = model.objects.order_by("-version").first()
    if current is None:
        current, _ = model.objects.get_or_create(
            version=1, defaults={**defaults, "note": "Defaults"}
        )
    return current


def version_next[V: Versioned](model: type[V], *, user, note: str, **fields) -> V:
    """Save the next version (inside the caller's transaction: the latest row is locked, so
    two saves at once number their versions one after the other)."""
    latest = model.objects.select_for_update().order_by("-version").first()
    return model.objects.create(
        version=(latest.version + 1) if latest else 1,
        note=note.strip()[:300],
        created_by=user,
        **fields,
    )
