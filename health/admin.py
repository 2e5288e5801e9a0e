from django.contrib import admin

from .models import HealthModel, HealthSnapshot, Incident, UsageFact


@admin.register(UsageFact)
class UsageFactAdmin(admin.ModelAdmin):
    list_display = ("account", "date", "metric", "value", "product", "chain", "dataset", "reason")
    list_filter = ("metric", "dims__product")
    search_fields = ("account__external_id", "account__name", "dims__chain", "dims__dataset")
    list_select_related = ("account", "dims")
    raw_id_fields = ("account",)
    date_hierarchy = "date"
    show_full_result_count = False  # millions of rows: no COUNT(*) on every page


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    list_display = ("key", "kind", "severity", "started", "resolved", "title")
    list_filter = ("kind", "severity")
    search_fields = ("key", "title")


@admin.register(HealthModel)
class HealthModelAdmin(admin.ModelAdmin):
    list_display = ("version", "green_min", "yellow_min", "created_by", "created_at", "note")
    readonly_fields = ("version", "weights", "green_min", "yellow_min", "created_by", "created_at")

    def has_change_permission(self, request, obj=None):
        return False  # versions are immutable; edit the model on the Health model page


@admin.register(HealthSnapshot)
class HealthSnapshotAdmin(admin.ModelAdmin):
    list_display = ("account", "date", "score", "band", "model")
    list_filter = ("band", "date")
    search_fields = ("account__external_id", "account__name")
    list_select_related = ("account", "model")
    raw_id_fields = ("account",)
    date_hierarchy = "date"
    show_full_result_count = False
