from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("book/", views.book, name="book"),
    path("accounts/<str:external_id>/", views.account_detail, name="account"),
    path(
        "accounts/<str:external_id>/touchpoints",
        views.touchpoint_create,
        name="touchpoint_create",
    ),
    path("accounts/<str:external_id>/tier", views.tier_update, name="tier_update"),
]
