"""Data trust: the dataset catalogue with freshness SLAs, freshness observations pushed by the
platform, and the schema-change heads-ups sent to the accounts a change touches.

Incidents themselves live in `health` (they feed the `data_trust` signal); this app sits above
`health` and `playbooks`: it opens and resolves freshness incidents from observations and turns
a schema change into tasks and nudges for exactly the accounts that used the dataset.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from accounts.models import Account


class Dataset(models.Model):
    """One table in the catalogue (`chain.schema.table`; `crosschain.*` spans chains)."""

    name = models.CharField(max_length=120, unique=True)
    chains = models.JSONField(default=list, blank=True)
    freshness_sla_minutes = models.PositiveIntegerField(
        null=True, blank=True, help_text="lag above this many minutes breaches the SLA"
    )
    description = models.CharField(max_length=300, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class FreshnessObservation(models.Model):
    """How far behind the chain tip a dataset was at one moment, as the platform measured it."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="observations")
    observed_at = models.DateTimeField()
    lag_minutes = models.FloatField()

    class Meta:
        ordering = ["-observed_at"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "observed_at"], name="observation_once"),
        ]

    def __str__(self) -> str:
        return f"{self.dataset_id} {self.observed_at:%Y-%m-%d %H:%M}: {self.lag_minutes:g} min"


class HeadsUp(models.Model):
    """A schema-change heads-up to one account: a task for its CSM (tiers 1-2) or a nudge on the
    product's webhook (tier 3). One per incident and account, so a re-import sends nothing new."""

    incident = models.ForeignKey(
        "health.Incident", on_delete=models.CASCADE, related_name="heads_ups"
    )
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="heads_ups")
    task = models.ForeignKey(
        "playbooks.Task", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    nudge = models.ForeignKey(
        "playbooks.Nudge", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    datasets = models.JSONField(default=list, help_text="what of the change this account used")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["incident", "account"], name="heads_up_once"),
        ]
