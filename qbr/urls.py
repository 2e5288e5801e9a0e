from django.urls import path

from . import views

urlpatterns = [
    path("accounts/<external_id:external_id>/qbrs/", views.account_qbrs, name="account_qbrs"),
    path("qbrs/due/", views.qbrs_due, name="qbrs_due"),
    path("qbrs/<int:pk>/", views.qbr_detail, name="qbr"),
    path("qbrs/<int:pk>/section", views.qbr_section, name="qbr_section"),
    path("qbrs/<int:pk>/save", views.qbr_save, name="qbr_save"),
    path("qbrs/<int:pk>/held", views.qbr_held, name="qbr_held"),
    path("qbrs/<int:pk>/steps", views.qbr_steps, name="qbr_steps"),
    path("qbrs/<int:pk>/print/", views.qbr_print, name="qbr_print"),
    path("qbrs/<int:pk>/deck.pptx", views.qbr_pptx, name="qbr_pptx"),
]
