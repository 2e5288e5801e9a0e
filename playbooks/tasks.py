"""Celery entry points of the playbooks app (autodiscovered through this module)."""

from .delivery import deliver_alert, send_digests  # noqa: F401
from .nudges import deliver_nudge  # noqa: F401
