from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts, contracts and people"

    def ready(self) -> None:
        from django.urls import register_converter

        from .converters import ExternalIdConverter

        # Before any URLconf is read: every app's account pages use it.
        register_converter(ExternalIdConverter, "external_id")
