"""The inbox's unread count for the nav badge, on every page."""

import operator

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject, new_method_proxy

from .inbox.selectors import inbox_unread_count


class LazyCount(SimpleLazyObject):
    """An int computed on first use; templates print, compare and pluralize it."""

    __int__ = new_method_proxy(int)
    __float__ = new_method_proxy(float)
    __index__ = new_method_proxy(operator.index)


def inbox(request: HttpRequest) -> dict:
    """{"inbox_unread": N}: the logged-in user's unread alerts, 0 for anonymous visitors.

    Lazy: the one COUNT query runs only when a template shows the badge, so htmx fragments
    (which render through the same context processors) do not pay for it.
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"inbox_unread": 0}
    return {"inbox_unread": LazyCount(lambda: inbox_unread_count(user=user))}
