"""QBRs: one per account and period, its layout (the CSM's sentences, visibility and order), the
frozen snapshot of its sections once saved, and its next steps (the mutual action plan)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from accounts.models import Account


class QbrStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PREPARED = "prepared", "Prepared"
    HELD = "held", "Held"


class Qbr(models.Model):
    """A QBR of one account over a period.

    A draft is assembled from live data every time it is shown; saving freezes the assembled
    sections into `snapshot` (numbers, sentences, visibility and order), and the page, the
    printable page and the deck render from it ever after. `layout` keeps the CSM's edits
    (sentences by section, hidden sections, order) in both states.
    """

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="qbrs")
    period_start = models.DateField()
    period_end = models.DateField()
    status = models.CharField(max_length=10, choices=QbrStatus.choices, default=QbrStatus.DRAFT)
    layout = models.JSONField(default=dict, blank=True)
    snapshot = models.JSONField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    saved_at = models.DateTimeField(null=True, blank=True)
    saved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    held_on = models.DateField(null=True, blank=True)
    touchpoint = models.ForeignKey(
        "accounts.Touchpoint", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-period_end", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(period_end__gte=F("period_start")), name="qbr_period_ordered"
            ),
        ]
        indexes = [models.Index(fields=["account", "-period_end"], name="qbr_account_period")]

    def __str__(self) -> str:
        return f"QBR {self.account} {self.period_start}–{self.period_end}"

    @property
    def is_frozen(self) -> bool:
        return self.snapshot is not None


class NextStep(models.Model):
    """One row of the mutual action plan: what, who (ours, or a person at the customer), by
    when. Saving the plan creates one playbooks task per row and remembers it here, so saving
    again revises the same task instead of adding another."""

    qbr = models.ForeignKey(Qbr, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField(default=0)
    text = models.CharField(max_length=200)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    customer_owner = models.CharField(max_length=120, blank=True)
    due = models.DateField()
    task = models.ForeignKey(
        "playbooks.Task", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.text

    @property
    def owner_label(self) -> str:
        if self.customer_owner:
            return self.customer_owner
        return self.owner.display_name if self.owner else "—"
