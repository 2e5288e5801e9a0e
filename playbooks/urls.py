from django.urls import path

from .views import editor, inbox, nudges, plays, routing, success, tiering, work

urlpatterns = [
    # the alert inbox
    path("inbox/", inbox.inbox, name="inbox"),
    path("inbox/<int:pk>/read", inbox.alert_read, name="alert_read"),
    path("inbox/<int:pk>/acknowledge", inbox.alert_acknowledge, name="alert_acknowledge"),
    path("inbox/<int:pk>/snooze", inbox.alert_snooze, name="alert_snooze"),
    path("inbox/<int:pk>/reopen", inbox.alert_reopen, name="alert_reopen"),
    path("inbox/read-all", inbox.alerts_read_all, name="alerts_read_all"),
    path("inbox/story/acknowledge", inbox.story_acknowledge, name="story_acknowledge"),
    # alert routing (managers) and each person's preferences
    path("alerts/routing/", routing.routing_rules, name="routing_rules"),
    path("alerts/preferences/", routing.alert_preferences, name="alert_preferences"),
    # My work, plays and the playbook editor
    path("work/", work.my_work, name="my_work"),
    path("work/tasks/<int:task_id>/complete", work.task_complete, name="task_complete"),
    path("work/tasks/<int:task_id>/claim", work.task_claim, name="task_claim"),
    path("accounts/<external_id:external_id>/plays/", plays.account_plays, name="account_plays"),
    path("accounts/<external_id:external_id>/plays/start", plays.play_start, name="play_start"),
    path(
        "accounts/<external_id:external_id>/plays/<int:play_id>/cancel",
        plays.play_cancel,
        name="play_cancel",
    ),
    path("playbooks/", editor.playbook_list, name="playbook_list"),
    path("playbooks/new/", editor.playbook_create, name="playbook_create"),
    path("playbooks/<slug:key>/", editor.playbook_edit, name="playbook_edit"),
    # success plans
    path(
        "accounts/<external_id:external_id>/success/",
        success.account_success,
        name="account_success",
    ),
    path(
        "accounts/<external_id:external_id>/success/plan",
        success.success_plan_update,
        name="success_plan_update",
    ),
    path(
        "accounts/<external_id:external_id>/success/milestones",
        success.milestones_start,
        name="milestones_start",
    ),
    path(
        "accounts/<external_id:external_id>/success/milestones/<int:pk>/complete",
        success.milestone_complete,
        name="milestone_complete",
    ),
    # the tier queue
    path("tiers/queue/", tiering.tier_queue, name="tier_queue"),
    path(
        "tiers/suggestions/<int:pk>/approve",
        tiering.tier_suggestion_approve,
        name="tier_suggestion_approve",
    ),
    path(
        "tiers/suggestions/<int:pk>/dismiss",
        tiering.tier_suggestion_dismiss,
        name="tier_suggestion_dismiss",
    ),
    # digital-tier nudges
    path("nudges/", nudges.nudges_page, name="nudges"),
]
