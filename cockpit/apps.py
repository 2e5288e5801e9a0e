from django.apps import AppConfig


class CockpitConfig(AppConfig):
    name = "cockpit"
    verbose_name = "Manager cockpit and retention"

    def ready(self) -> None:
        from health import events

        from .tasks import warm_after_recompute

        # A live recompute makes the cached panels stale: a worker refills them.
        events.on_recompute(warm_after_recompute)
