from django.urls import path

from . import views_success as views

urlpatterns = [
    path("accounts/<str:external_id>/success/", views.account_success, name="account_success"),
    path(
        "accounts/<str:external_id>/success/plan",
        views.success_plan_update,
        name="success_plan_update",
    ),
    path(
        "accounts/<str:external_id>/success/milestones",
        views.milestones_start,
        name="milestones_start",
    ),
    path(
        "accounts/<str:external_id>/success/milestones/<int:pk>/complete",
        views.milestone_complete,
        name="milestone_complete",
    ),
    path("tiers/queue/", views.tier_queue, name="tier_queue"),
    path(
        "tiers/suggestions/<int:pk>/approve",
        views.tier_suggestion_approve,
        name="tier_suggestion_approve",
    ),
    path(
        "tiers/suggestions/<int:pk>/dismiss",
        views.tier_suggestion_dismiss,
        name="tier_suggestion_dismiss",
    ),
    path("nudges/", views.nudges_page, name="nudges"),
]
