from django.urls import path

from . import views

urlpatterns = [
    path("accounts/<external_id:external_id>/health/", views.account_health, name="account_health"),
    path(
        "accounts/<external_id:external_id>/health/charts/<str:key>/",
        views.account_health_chart,
        name="account_health_chart",
    ),
    path("health/model/", views.health_model, name="health_model"),
    path("health/model/backtest/", views.health_model_backtest, name="health_model_backtest"),
]
