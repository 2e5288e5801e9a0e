from django.apps import AppConfig


class DatatrustConfig(AppConfig):
    name = "datatrust"
    verbose_name = "Data trust: datasets, freshness and schema changes"

    def ready(self) -> None:
        # Import kinds (datatrust/imports.py) are found by cs_portal's autodiscovery.
        from health import events

        from .services import heads_ups_on_incidents

        events.on_incidents(heads_ups_on_incidents)
