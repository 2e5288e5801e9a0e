from django.apps import AppConfig


class PlaybooksConfig(AppConfig):
    name = "playbooks"
    verbose_name = "Alerts, plays and success plans"

    def ready(self) -> None:
        from health import events

        from .hooks import after_recompute

        events.on_recompute(after_recompute)
