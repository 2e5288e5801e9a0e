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
