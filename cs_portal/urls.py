from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path

from accounts.login import ThrottledLoginView

from . import probes, views
from .api import api
from .errors import json_not_allowed


def token_auth_only(urls: tuple) -> tuple:
    """The JSON API authenticates every call by token and answers a 401 JSON itself: the login
    wall (Django's LoginRequiredMiddleware) must never redirect it to the login page."""
    patterns, app_name, namespace = urls
    for pattern in patterns:
        pattern.callback = json_not_allowed(login_not_required(pattern.callback))
    return patterns, app_name, namespace


urlpatterns = [
    path("healthz", probes.healthz, name="healthz"),
    path("readyz", probes.readyz, name="readyz"),
    path("login/", ThrottledLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("accounts.urls")),
    path("imports/", views.import_page, name="imports"),
    path("imports/jobs/<int:run_id>/", views.import_job, name="import_job"),
    path("imports/jobs/<int:run_id>/retry/", views.import_job_retry_view, name="import_job_retry"),
    path("", include("health.urls")),
    path("", include("playbooks.urls")),
    path("", include("datatrust.urls")),
    path("", include("expansion.urls")),
    path("", include("voc.urls")),
    path("", include("qbr.urls")),
    path("", include("cockpit.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", token_auth_only(api.urls)),
]

handler400 = "cs_portal.errors.bad_request"
handler403 = "cs_portal.errors.permission_denied"
handler404 = "cs_portal.errors.page_not_found"
handler500 = "cs_portal.errors.server_error"
