from django.urls import path

from . import views_work as views

urlpatterns = [
    path("work/", views.my_work, name="my_work"),
    path("work/tasks/<int:task_id>/complete", views.task_complete, name="task_complete"),
    path("work/tasks/<int:task_id>/claim", views.task_claim, name="task_claim"),
    path("accounts/<str:external_id>/plays/", views.account_plays, name="account_plays"),
    path("accounts/<str:external_id>/plays/start", views.play_start, name="play_start"),
    path(
        "accounts/<str:external_id>/plays/<int:play_id>/cancel",
        views.play_cancel,
        name="play_cancel",
    ),
    path("playbooks/", views.playbook_list, name="playbook_list"),
    path("playbooks/new/", views.playbook_create, name="playbook_create"),
    path("playbooks/<slug:key>/", views.playbook_edit, name="playbook_edit"),
]
