from django.urls import path

from . import views

urlpatterns = [
    path("pipeline/", views.pipeline_board, name="pipeline_board"),
    path("pipeline/table/", views.pipeline_table, name="pipeline_table"),
    path("pipeline/triggers/", views.expansion_triggers, name="expansion_triggers"),
    path("opportunities/<int:pk>/move", views.opportunity_move, name="opportunity_move"),
    path(
        "accounts/<external_id:external_id>/expansion/",
        views.account_expansion,
        name="account_expansion",
    ),
]
