from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails

from accounts.models import User


class AuthedRequest(HttpRequest):
    """A request behind the login wall, with django-htmx's details attached."""

    user: User
    htmx: HtmxDetails
