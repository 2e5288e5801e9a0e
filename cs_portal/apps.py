from django.apps import AppConfig


class CsPortalConfig(AppConfig):
    name = "cs_portal"
    verbose_name = "CS Portal"

    def ready(self) -> None:
        # Each app registers the import kinds it owns in its imports.py.
        from django.utils.module_loading import autodiscover_modules

        autodiscover_modules("imports")
        from . import checks  # noqa: F401  (registers the deploy checks)
