from collections.abc import Callable

from django.contrib.auth.middleware import LoginRequiredMiddleware as _LoginRequired
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_vary_headers


class LoginRequiredMiddleware(_LoginRequired):
    """Every page needs a login; the JSON API authenticates by token instead."""

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.path.startswith("/api/"):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)


class HtmxVaryMiddleware:
    """Responses differ for htmx requests (fragment vs page), so caches must key on it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        patch_vary_headers(response, ("HX-Request",))
        return response
