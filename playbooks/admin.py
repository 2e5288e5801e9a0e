from django.contrib import admin

from .models import (
    Alert,
    AlertDelivery,
    Milestone,
    Nudge,
    Play,
    Playbook,
    PlaybookStep,
    RoutingPreference,
    RoutingRules,
    SuccessPlan,
    Task,
    TierSuggestion,
)


class AlertDeliveryInline(admin.TabularInline):
    model = AlertDelivery
    extra = 0
    readonly_fields = (
        "channel",
        "recipient",
        "status",
        "attempts",
        "last_error",
        "sent_at",
        "updated_at",
    )


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = (
        "account",
        "kind",
        "title",
        "as_of",
        "owner",
        "status",
        "resolved_reason",
        "read_at",
        "created_at",
    )
    list_filter = ("status", "kind", "as_of")
    search_fields = ("account__name", "account__external_id", "title")
    list_select_related = ("account", "owner")
    raw_id_fields = ("account", "owner", "acknowledged_by", "snoozed_by")
    inlines = [AlertDeliveryInline]


@admin.register(AlertDelivery)
class AlertDeliveryAdmin(admin.ModelAdmin):
    list_display = ("alert", "channel", "status", "attempts", "sent_at", "updated_at")
    list_filter = ("channel", "status")
    list_select_related = ("alert", "alert__account")
    raw_id_fields = ("alert",)


class PlaybookStepInline(admin.TabularInline):
    model = PlaybookStep
    extra = 0


@admin.register(Playbook)
class PlaybookAdmin(admin.ModelAdmin):
    list_display = ("name", "key", "trigger", "owner_rule", "active", "updated_at")
    list_filter = ("active", "owner_rule")
    search_fields = ("name", "key", "trigger")
    inlines = [PlaybookStepInline]


class TaskInline(admin.TabularInline):
    model = Task
    extra = 0
    raw_id_fields = ("account", "owner", "completed_by")


@admin.register(Play)
class PlayAdmin(admin.ModelAdmin):
    list_display = ("playbook", "account", "status", "owner", "pool", "started_on")
    list_filter = ("status", "playbook", "pool")
    search_fields = ("account__name", "account__external_id")
    list_select_related = ("playbook", "account", "owner")
    raw_id_fields = ("account", "owner", "alert")
    inlines = [TaskInline]


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ("title", "account", "owner", "pool", "due", "status")
    list_filter = ("status", "pool")
    search_fields = ("title", "account__name")
    list_select_related = ("account", "owner")
    raw_id_fields = ("account", "play", "owner", "completed_by")


@admin.register(SuccessPlan)
class SuccessPlanAdmin(admin.ModelAdmin):
    list_display = ("account", "status", "currency", "ftes_saved", "infra_avoided_per_year")
    list_filter = ("status", "currency")
    search_fields = ("account__name",)
    raw_id_fields = ("account",)


@admin.register(Milestone)
class MilestoneAdmin(admin.ModelAdmin):
    list_display = ("account", "key", "due", "completed_on", "evidence")
    list_filter = ("key",)
    search_fields = ("account__name", "account__external_id")
    list_select_related = ("account",)
    raw_id_fields = ("account",)


@admin.register(TierSuggestion)
class TierSuggestionAdmin(admin.ModelAdmin):
    list_display = ("account", "from_tier", "to_tier", "reason", "status", "created_at")
    list_filter = ("status", "to_tier")
    search_fields = ("account__name",)
    list_select_related = ("account",)
    raw_id_fields = ("account", "decided_by")


@admin.register(Nudge)
class NudgeAdmin(admin.ModelAdmin):
    list_display = ("account", "kind", "message", "status", "attempts", "created_at")
    list_filter = ("kind", "status")
    search_fields = ("account__name", "message")
    list_select_related = ("account",)
    raw_id_fields = ("account",)


@admin.register(RoutingRules)
class RoutingRulesAdmin(admin.ModelAdmin):
    """Read-only: versions are saved from the routing editor, never edited in place."""

    list_display = ("version", "note", "created_by", "created_at")
    readonly_fields = ("version", "rules", "note", "created_by", "created_at")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(RoutingPreference)
class RoutingPreferenceAdmin(admin.ModelAdmin):
    list_display = ("user", "muted_kinds", "muted_channels", "updated_at")
    raw_id_fields = ("user",)
