from django.urls import path

from . import views_inbox

urlpatterns = [
    path("inbox/", views_inbox.inbox, name="inbox"),
    path("inbox/<int:pk>/read", views_inbox.alert_read, name="alert_read"),
    path("inbox/read-all", views_inbox.alerts_read_all, name="alerts_read_all"),
]
