from django.urls import path

from . import views

urlpatterns = [
    path("voc/", views.theme_list, name="voc_themes"),
    path("voc/themes.csv", views.theme_list_csv, name="voc_themes_csv"),
    path("voc/themes/<slug:key>/", views.theme_detail, name="voc_theme"),
    path("voc/themes/<slug:key>/edit", views.theme_edit, name="voc_theme_edit"),
    path("voc/themes/<slug:key>/status", views.theme_status, name="voc_theme_status"),
    path("voc/themes/<slug:key>/merge", views.theme_merge, name="voc_theme_merge"),
    path("voc/themes/<slug:key>/items", views.theme_items, name="voc_theme_items"),
    path("voc/themes/<slug:key>/vote", views.theme_vote, name="voc_theme_vote"),
    path(
        "accounts/<external_id:external_id>/feedback/",
        views.account_feedback,
        name="account_feedback",
    ),
]
