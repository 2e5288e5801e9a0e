from django.urls import path

from . import views

urlpatterns = [
    path("cockpit/", views.cockpit, name="cockpit"),
    path("cockpit/noise/", views.cockpit_noise, name="cockpit_noise"),
    path("cockpit/panels/<slug:name>/", views.cockpit_panel, name="cockpit_panel"),
]
