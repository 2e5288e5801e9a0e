from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from .models import Account, ApiToken, Contact, Contract, TierChange, Touchpoint, User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ("email",)
    list_display = ("email", "name", "role", "is_active", "is_staff", "last_login")
    list_filter = ("role", "is_active", "is_staff")
    search_fields = ("email", "name")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("name", "role")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {"classes": ("wide",), "fields": ("email", "name", "role", "password1", "password2")},
        ),
    )


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("prefix", "name", "user", "created_at", "last_used_at", "expires_at", "revoked")
    list_filter = ("revoked",)
    readonly_fields = ("prefix", "token_hash", "created_at", "last_used_at", "revoked_at")
    list_select_related = ("user",)


class ContractInline(admin.TabularInline):
    model = Contract
    extra = 0


class ContactInline(admin.TabularInline):
    model = Contact
    extra = 0


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ("name", "external_id", "segment", "tier", "csm", "seats")
    list_filter = ("tier", "segment")
    search_fields = ("name", "external_id")
    list_select_related = ("csm",)
    autocomplete_fields = ("csm", "ae", "se")
    inlines = [ContractInline, ContactInline]


@admin.register(Contract)
class ContractAdmin(admin.ModelAdmin):
    list_display = ("account", "start", "end", "arr", "plan", "commit_units")
    list_filter = ("plan",)
    search_fields = ("account__name", "account__external_id")
    list_select_related = ("account",)
    raw_id_fields = ("account",)


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ("email", "name", "role", "account", "last_engaged", "left")
    list_filter = ("role",)
    search_fields = ("email", "name", "account__name")
    list_select_related = ("account",)
    raw_id_fields = ("account",)


@admin.register(Touchpoint)
class TouchpointAdmin(admin.ModelAdmin):
    list_display = ("account", "date", "kind", "score", "contact", "logged_by")
    list_filter = ("kind",)
    search_fields = ("account__name", "note")
    list_select_related = ("account", "contact", "logged_by")
    raw_id_fields = ("account", "contact")


@admin.register(TierChange)
class TierChangeAdmin(admin.ModelAdmin):
    list_display = ("account", "from_tier", "to_tier", "changed_by", "changed_at")
    list_filter = ("to_tier",)
    search_fields = ("account__name", "reason")
    list_select_related = ("account", "changed_by")
    raw_id_fields = ("account",)
