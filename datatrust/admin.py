from django.contrib import admin

from .models import Dataset, FreshnessObservation, HeadsUp


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ("name", "freshness_sla_minutes", "updated_at")
    search_fields = ("name", "description")


@admin.register(FreshnessObservation)
class FreshnessObservationAdmin(admin.ModelAdmin):
    list_display = ("dataset", "observed_at", "lag_minutes")
    list_filter = ("dataset",)
    list_select_related = ("dataset",)
    date_hierarchy = "observed_at"


@admin.register(HeadsUp)
class HeadsUpAdmin(admin.ModelAdmin):
    list_display = ("incident", "account", "task", "nudge", "created_at")
    list_select_related = ("incident", "account", "task", "nudge")
    raw_id_fields = ("incident", "account", "task", "nudge")
