from django.apps import AppConfig


class ExpansionConfig(AppConfig):
    name = "expansion"
    verbose_name = "Expansion opportunities"

    def ready(self) -> None:
        from health import events

        from .services import opportunities_refresh_after_recompute

        # Triggers are judged on the aggregates each recompute scored from (see services).
        events.on_recompute(opportunities_refresh_after_recompute)
