"""Expansion opportunities drawn from usage evidence, their stage history, and the versioned
trigger settings that decide when one is drawn."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from accounts.models import Account
from cs_portal.models import Versioned


class OpportunityKind(models.TextChoices):
    COMMIT_UPSIZE = "commit_upsize", "Commit upsize"
    UPGRADE = "upgrade", "Upgrade"
    BREADTH = "breadth", "Breadth"
    SEATS = "seats", "Seats"


class Stage(models.TextChoices):
    IDENTIFIED = "identified", "Identified"
    QUALIFIED = "qualified", "Qualified"
    HANDED_OFF = "handed_off", "Handed off"
    WON = "won", "Won"
    LOST = "lost", "Lost"


OPEN_STAGES = (Stage.IDENTIFIED, Stage.QUALIFIED, Stage.HANDED_OFF)


class LostReason(models.TextChoices):
    BUDGET = "budget", "Budget"
    TIMING = "timing", "Timing"
    COMPETITOR = "competitor", "Competitor"
    NO_NEED = "no_need", "No need"
    OTHER = "other", "Other"


class Opportunity(models.Model):
    """One expansion thesis on one account, backed by the numbers that drew it.

    `target` names what is sold (the plan upgraded to, the chain or dataset, the contract period
    for a commit upsize); at most one opportunity per (account, kind, target) is open at a time.
    The trigger that drew it refreshes `evidence`, `thesis` and `arr_potential` while it holds;
    when it stops holding, `trigger_holds` turns False and the opportunity stays.
    """

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="opportunities")
    kind = models.CharField(max_length=16, choices=OpportunityKind.choices)
    target = models.CharField(max_length=120, blank=True, default="")
    stage = models.CharField(max_length=12, choices=Stage.choices, default=Stage.IDENTIFIED)
    thesis = models.TextField()
    evidence = models.JSONField(default=dict, blank=True)
    arr_potential = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    won_arr = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    lost_reason = models.CharField(max_length=12, choices=LostReason.choices, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="opportunities_owned",
        help_text="the CSM who works it",
    )
    ae = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="opportunities_as_ae",
    )
    trigger_holds = models.BooleanField(default=True)
    evidence_as_of = models.DateField(help_text="the day of the latest evidence")
    stage_changed_at = models.DateTimeField()
    closed_on = models.DateField(null=True, blank=True, help_text="won or lost on")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "opportunities"
        constraints = [
            models.UniqueConstraint(
                fields=["account", "kind", "target"],
                condition=Q(stage__in=["identified", "qualified", "handed_off"]),
                name="opportunity_open_once",
            ),
            models.CheckConstraint(
                condition=Q(arr_potential__gte=0), name="opportunity_arr_non_negative"
            ),
        ]
        indexes = [models.Index(fields=["stage", "kind"], name="opportunity_stage_kind")]

    def __str__(self) -> str:
        return f"{self.account}: {self.get_kind_display()} {self.target}".strip()

    @property
    def is_open(self) -> bool:
        return self.stage in OPEN_STAGES


class StageChange(models.Model):
    """Who moved an opportunity, when, from which stage to which."""

    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="changes")
    from_stage = models.CharField(max_length=12, choices=Stage.choices, blank=True)
    to_stage = models.CharField(max_length=12, choices=Stage.choices)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField()
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["changed_at", "id"]

    def __str__(self) -> str:
        return f"{self.opportunity_id}: {self.from_stage or '—'} → {self.to_stage}"


class TriggerSettings(Versioned):
    """One version of the expansion triggers' switches, thresholds and ARR rules. A change
    saves a new version; the latest is in force and every earlier one is kept."""

    values = models.JSONField(help_text="see expansion.rules.SETTINGS")

    class Meta(Versioned.Meta):
        verbose_name_plural = "trigger settings"

    def __str__(self) -> str:
        return f"expansion triggers v{self.version}"
