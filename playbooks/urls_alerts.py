from django.urls import path

from . import views_inbox

urlpatterns = [
    path("inbox/", views_inbox.inbox, name="inbox"),
    path("inbox/<int:pk>/read", views_inbox.alert_read, name="alert_read"),
    path("inbox/<int:pk>/acknowledge", views_inbox.alert_acknowledge, name="alert_acknowledge"),
    path("inbox/<int:pk>/snooze", views_inbox.alert_snooze, name="alert_snooze"),
    path("inbox/<int:pk>/reopen", views_inbox.alert_reopen, name="alert_reopen"),
    path("inbox/read-all", views_inbox.alerts_read_all, name="alerts_read_all"),
]
