from django.apps import AppConfig


class PlaybooksConfig(AppConfig):
    name = "playbooks"
    verbose_name = "Alerts, plays and success plans"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from accounts.notices import on_notice
        from health import events

        from . import tasks  # noqa: F401 (registers the tasks the services queue by name)
        from .alerts.services import alert_from_notice
        from .hooks import after_recompute
        from .plays.library import playbooks_create_missing
        from .success.selectors import onboarding_inputs

        events.on_recompute(after_recompute)
        events.on_inputs(onboarding_inputs)  # the onboarding signal's milestones
        on_notice(alert_from_notice)  # e.g. an expansion hand-off to the account's AE
        # Every install has the default playbooks right after `migrate` (never overwriting
        # an edited one). A framework hook, not a domain event: hence a Django signal.
        post_migrate.connect(
            playbooks_create_missing, sender=self, dispatch_uid="playbooks_create_missing"
        )
