from django.urls import path

from . import views

urlpatterns = [
    path("datasets/", views.dataset_list, name="datasets"),
    path("datasets/new/", views.dataset_edit, name="dataset_create"),
    path("datasets/<str:name>/edit/", views.dataset_edit, name="dataset_edit"),
    path("incidents/", views.incident_list, name="incidents"),
    path("incidents/<path:key>/", views.incident_detail, name="incident"),
]
