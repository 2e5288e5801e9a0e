"""Error pages in the portal's layout: a message a person can act on, never a traceback."""

import functools

from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError
from django.http import HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.html import format_html

API_PREFIX = "/api/"
API_MESSAGES = {
    400: "The request could not be understood.",
    403: "This token's user may not do this.",
    404: "There is nothing at this address. See /api/v1/docs for the endpoints.",
    405: "This address does not take that method. See /api/v1/docs.",
    413: "The request body is too large. Send fewer rows per request.",
    500: "Something went wrong; the error has been logged. Try again, and tell the team if it "
    "persists.",
}


def api_error(request, status: int, detail: str = "") -> JsonResponse:
    """The JSON API's error body, {"detail": "..."}, for errors raised outside its endpoints
    (by Django before ninja runs, or unexpected) as for those it raises itself."""
    return JsonResponse({"detail": detail or API_MESSAGES[status]}, status=status)


def json_not_allowed(view):
    """`view` answering a wrong method as the API's other errors do (ninja answers plain text)."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        if isinstance(response, HttpResponseNotAllowed):
            allowed = response["Allow"]
            response = api_error(
                request, 405, f"This address takes {allowed}, not {request.method}."
            )
            response["Allow"] = allowed
        return response

    return wrapped


def _is_api(request) -> bool:
    return request.path.startswith(API_PREFIX)


def _page(request, status: int, title: str, message: str) -> HttpResponse:
    if _is_api(request):
        return api_error(request, status)
    if getattr(request, "htmx", False):
        # Show the message in the flash area instead of replacing the fragment being edited.
        response = HttpResponse(
            format_html('<div class="flash flash-error" role="alert">{}: {}</div>', title, message),
            status=status,
        )
        response["HX-Retarget"] = "#flashes"
        response["HX-Reswap"] = "innerHTML"
        return response
    context = {"status": status, "title": title, "message": message}
    try:
        return render(request, "error.html", context, status=status)
    except DatabaseError:
        # The navigation needs the user, and PostgreSQL is down: the page without it.
        return HttpResponse(render_to_string("error.html", context), status=status)


def bad_request(request, exception=None):
    if isinstance(exception, RequestDataTooBig) and _is_api(request):
        return api_error(request, 413)
    return _page(request, 400, "Bad request", "The request could not be understood.")


def permission_denied(request, exception=None):
    message = (
        str(exception)
        if exception and str(exception)
        else ("Your role does not allow this. Ask a CS manager if you need access.")
    )
    return _page(request, 403, "Not allowed", message)


def page_not_found(request, exception=None):
    return _page(
        request,
        404,
        "Not found",
        "There is nothing at this address. Go back to the book and search for the account.",
    )


def server_error(request):
    if _is_api(request):
        return api_error(request, 500)
    # Rendered without the request: no context processor runs, so nothing reads the session,
    # the user or the inbox badge. The error may be that PostgreSQL is down, and a page that
    # queries it would fail too, leaving Django's bare fallback text.
    return HttpResponse(
        render_to_string(
            "error.html",
            {
                "status": 500,
                "title": "Something went wrong",
                "message": "The error has been logged. Try again, and tell the team if it "
                "persists.",
            },
        ),
        status=500,
    )
