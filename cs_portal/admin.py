from django.contrib import admin

from .models import ImportRun


@admin.register(ImportRun)
class ImportRunAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "kind",
        "origin",
        "status",
        "rows",
        "created",
        "updated",
        "unchanged",
        "error_count",
        "user",
        "created_at",
    )
    list_filter = ("kind", "status", "origin")
    readonly_fields = [f.name for f in ImportRun._meta.fields]
