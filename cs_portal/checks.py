"""Deployment checks of our own, on top of Django's `check --deploy`."""

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def secret_key_from_environment(app_configs, **kwargs) -> list[Warning]:
    """Django's own check accepts the per-install key generated into var/ (it is random); a
    deployment must still set SECRET_KEY, or each machine (web, worker) signs with its own."""
    if getattr(settings, "SECRET_KEY_FROM_ENV", True):
        return []
    return [
        Warning(
            "SECRET_KEY is not set in the environment: the key generated for this install "
            "(var/secret_key) is in use, and other machines of the deployment will not share it.",
            hint="Set SECRET_KEY (50+ random characters) for every process of the deployment.",
            id="cs_portal.W001",
        )
    ]
