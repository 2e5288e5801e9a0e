from django.apps import AppConfig


class VocConfig(AppConfig):
    name = "voc"
    verbose_name = "Voice of the customer: feedback, themes and closing the loop"

    def ready(self) -> None:
        # The `feedback` import kind (voc/imports.py) is found by cs_portal's autodiscovery.
        from health import events

        from .services import after_recompute

        events.on_recompute(after_recompute)
