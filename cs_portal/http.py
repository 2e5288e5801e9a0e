from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails

if TYPE_CHECKING:  # the user model lives in accounts, a layer above this core module
    from accounts.models import User


class AuthedRequest(HttpRequest):
    """A request behind the login wall, with django-htmx's details attached."""

    user: User
    htmx: HtmxDetails
