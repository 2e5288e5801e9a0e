from django.contrib import admin

from .models import Opportunity, StageChange, TriggerSettings


class StageChangeInline(admin.TabularInline):
    model = StageChange
    extra = 0
    readonly_fields = ("from_stage", "to_stage", "changed_by", "changed_at", "note")


@admin.register(Opportunity)
class OpportunityAdmin(admin.ModelAdmin):
    list_display = ("account", "kind", "target", "stage", "arr_potential", "owner", "ae")
    list_filter = ("stage", "kind")
    search_fields = ("account__name", "account__external_id", "target")
    raw_id_fields = ("account", "owner", "ae")
    inlines = [StageChangeInline]


@admin.register(TriggerSettings)
class TriggerSettingsAdmin(admin.ModelAdmin):
    list_display = ("version", "created_by", "created_at", "note")
