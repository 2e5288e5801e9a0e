from django.urls import path

from . import tokens, views

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
    path("settings/tokens/", tokens.api_tokens, name="api_tokens"),
    path("settings/tokens/revoke", tokens.api_token_revoke, name="api_token_revoke"),
]
