from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import HttpResponse
from django.urls import include, path
from django.views.decorators.http import require_GET

from accounts import views as account_views

from . import views
from .api import api


@require_GET
def healthz(request):
    return HttpResponse("ok", content_type="text/plain")


healthz.login_required = False

urlpatterns = [
    path("", account_views.home, name="home"),
    path("healthz", healthz, name="healthz"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("book/", account_views.book, name="book"),
    path("accounts/<str:external_id>/", account_views.account_detail, name="account"),
    path(
        "accounts/<str:external_id>/touchpoints",
        account_views.touchpoint_create,
        name="touchpoint_create",
    ),
    path("accounts/<str:external_id>/tier", account_views.tier_update, name="tier_update"),
    path("imports/", views.import_page, name="imports"),
    path("imports/jobs/<int:run_id>/", views.import_job, name="import_job"),
    path("", include("health.urls")),
    path("", include("playbooks.urls")),
    path("", include("datatrust.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
]

handler400 = "cs_portal.errors.bad_request"
handler403 = "cs_portal.errors.permission_denied"
handler404 = "cs_portal.errors.page_not_found"
handler500 = "cs_portal.errors.server_error"
