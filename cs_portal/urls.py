from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse
from django.urls import include, path
from django.views.decorators.http import require_GET

from . import views
from .api import api
from .errors import json_not_allowed


@login_not_required
@require_GET
def healthz(request):
    return HttpResponse("ok", content_type="text/plain")


def token_auth_only(urls: tuple) -> tuple:
    """The JSON API authenticates every call by token and answers a 401 JSON itself: the login
    wall (Django's LoginRequiredMiddleware) must never redirect it to the login page."""
    patterns, app_name, namespace = urls
    for pattern in patterns:
        pattern.callback = json_not_allowed(login_not_required(pattern.callback))
    return patterns, app_name, namespace


urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("accounts.urls")),
    path("imports/", views.import_page, name="imports"),
    path("imports/jobs/<int:run_id>/", views.import_job, name="import_job"),
    path("", include("health.urls")),
    path("", include("playbooks.urls")),
    path("", include("datatrust.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", token_auth_only(api.urls)),
]

handler400 = "cs_portal.errors.bad_request"
handler403 = "cs_portal.errors.permission_denied"
handler404 = "cs_portal.errors.page_not_found"
handler500 = "cs_portal.errors.server_error"
