"""Accounts (customer logos), their contracts, people, touchpoints and tier history."""

from __future__ import annotations

import hashlib
from datetime import date

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.db.models import Q


class Role(models.TextChoices):
    CSM = "csm", "CSM"
    MANAGER = "manager", "CS manager"
    PRODUCT = "product", "Product"
    AE = "ae", "Account executive"
    SE = "se", "Solutions engineer"
    ADMIN = "admin", "Admin"


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra):
        if not email:
            raise ValueError("An email is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        extra.setdefault("role", Role.ADMIN)
        return self._create_user(email, password, **extra)


class User(AbstractUser):
    """A person at our company. Logs in with email; the role decides what they may change."""

    username = None
    first_name = None
    last_name = None
    email = models.EmailField("email", unique=True)
    name = models.CharField(max_length=150, blank=True)
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.CSM)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = UserManager()

    class Meta:
        ordering = ["name", "email"]

    def __str__(self) -> str:
        return self.name or self.email

    @property
    def display_name(self) -> str:
        return self.name or self.email.split("@")[0]

    @property
    def is_manager(self) -> bool:
        return self.role in (Role.MANAGER, Role.ADMIN)

    def get_full_name(self) -> str:
        return self.display_name

    def get_short_name(self) -> str:
        return self.display_name


class ApiToken(models.Model):
    """A bearer token for the JSON API. Only a SHA-256 hash is stored."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True, help_text="What the token is for")
    prefix = models.CharField(max_length=12, help_text="First characters, to recognise a token")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: never expires")
    # Recorded at most once a minute per token (api_token_authenticate), not on every call.
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked = models.BooleanField(default=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"

    @staticmethod
    def hash(raw: str) -> str:
        return hashlib.sha256(raw.encode()).hexdigest()


class Segment(models.TextChoices):
    INSTITUTION = "institution", "Institution"
    SELF_SERVE = "self_serve", "Self-serve"


class Tier(models.IntegerChoices):
    STRATEGIC = 1, "Tier 1 · strategic"
    SCALED = 2, "Tier 2 · scaled"
    DIGITAL = 3, "Tier 3 · digital"


class Plan(models.TextChoices):
    EXPLORER = "explorer", "Explorer"
    DEVELOPER = "developer", "Developer"
    DATASTREAMS = "datastreams", "Datastreams"
    CREDITS = "credits", "Legacy credits"


class Account(models.Model):
    """A customer logo. `external_id` is the key every import uses."""

    external_id = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    segment = models.CharField(max_length=20, choices=Segment.choices)
    tier = models.PositiveSmallIntegerField(choices=Tier.choices, db_index=True)
    csm = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="csm_accounts"
    )
    ae = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="ae_accounts"
    )
    se = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="se_accounts"
    )
    seats = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["csm", "tier"])]

    def __str__(self) -> str:
        return self.name


class Contract(models.Model):
    """Commercial terms over a period. ARR on a date = sum over the contracts active that day."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="contracts")
    start = models.DateField()
    end = models.DateField()
    arr = models.DecimalField(max_digits=14, decimal_places=2)
    plan = models.CharField(max_length=20, choices=Plan.choices)
    commit_units = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True)

    class Meta:
        ordering = ["-start"]
        constraints = [
            models.UniqueConstraint(fields=["account", "start"], name="contract_account_start"),
            models.CheckConstraint(
                condition=Q(end__gte=models.F("start")), name="contract_end_after_start"
            ),
            models.CheckConstraint(condition=Q(arr__gte=0), name="contract_arr_non_negative"),
        ]
        indexes = [models.Index(fields=["account", "start", "end"])]

    def __str__(self) -> str:
        return f"{self.account} {self.start}–{self.end}"

    def is_active(self, on: date) -> bool:
        return self.start <= on <= self.end


class ContactRole(models.TextChoices):
    EXEC_SPONSOR = "exec_sponsor", "Exec sponsor"
    CHAMPION = "champion", "Champion"
    DATA_ENGINEER = "data_engineer", "Data engineer"
    ANALYST = "analyst", "Analyst"
    OTHER = "other", "Other"


class Contact(models.Model):
    """A person at the customer."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="contacts")
    email = models.EmailField()
    name = models.CharField(max_length=150, blank=True)
    role = models.CharField(max_length=20, choices=ContactRole.choices)
    last_engaged = models.DateField(null=True, blank=True)
    left = models.DateField(null=True, blank=True, help_text="Date they left the company")

    class Meta:
        ordering = ["role", "name"]
        constraints = [
            models.UniqueConstraint(fields=["account", "email"], name="contact_account_email"),
        ]

    def __str__(self) -> str:
        return self.name or self.email


class TouchpointKind(models.TextChoices):
    MEETING = "meeting", "Meeting"
    QBR = "qbr", "QBR"
    EMAIL = "email", "Email"
    SLACK = "slack", "Slack"
    NPS = "nps", "NPS response"
    CSAT = "csat", "CSAT response"


class Touchpoint(models.Model):
    """A contact moment with the customer. Imported rows carry a key so re-imports are no-ops."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="touchpoints")
    date = models.DateField()
    kind = models.CharField(max_length=10, choices=TouchpointKind.choices)
    score = models.SmallIntegerField(null=True, blank=True)
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="touchpoints"
    )
    note = models.TextField(blank=True)
    logged_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="touchpoints_logged"
    )
    import_key = models.CharField(max_length=64, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-date", "-created_at"]
        indexes = [models.Index(fields=["account", "-date"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} with {self.account} on {self.date}"


class TierChange(models.Model):
    """Tier history: who moved an account, when, from which tier to which, and why."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="tier_changes")
    changed_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL)
    changed_at = models.DateTimeField(auto_now_add=True)
    from_tier = models.PositiveSmallIntegerField(choices=Tier.choices, null=True, blank=True)
    to_tier = models.PositiveSmallIntegerField(choices=Tier.choices)
    reason = models.TextField()

    class Meta:
        ordering = ["-changed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.account}: {self.from_tier} → {self.to_tier}"
