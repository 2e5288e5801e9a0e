from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("book/", views.book, name="book"),
    path("accounts/<external_id:external_id>/", views.account_detail, name="account"),
    path(
        "accounts/<external_id:external_id>/touchpoints",
        views.touchpoint_create,
        name="touchpoint_create",
    ),
    path("accounts/<external_id:external_id>/tier", views.tier_update, name="tier_update"),
]
